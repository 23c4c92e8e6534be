package reliability_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConnections_IdleFloodStaysWithinTheLimit opens 2,000 keep-alive connections to
// the real binary, each with one request sent, as a client that never lets go would.
// With --max-connections 100 the process never holds more than about 100 of them
// (its file descriptors are counted from outside), and once --idle-timeout has closed
// the idle ones and the flood is gone, a new client is answered.
func TestConnections_IdleFloodStaysWithinTheLimit(t *testing.T) {
	t.Parallel()
	const (
		limit = 100
		flood = 2000
	)
	svc := newService(t, "connections-test-key-0123456789", "--max-connections", strconv.Itoa(limit), "--idle-timeout", "1s")
	svc.start()
	svc.client.CloseIdleConnections() // the readiness checks' connection holds no room
	pid := svc.cmd.Process.Pid
	fdsBefore, rssBefore := procFDs(t, pid), procRSSKiB(t, pid)

	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	addr := strings.TrimPrefix(svc.base, "http://")
	for range flood {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: trackhook\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// Sample while the flood waits: the limit bounds what the process holds.
	maxFDs := 0
	for range 20 {
		maxFDs = max(maxFDs, procFDs(t, pid))
		time.Sleep(100 * time.Millisecond)
	}
	rssFlood := procRSSKiB(t, pid)
	t.Logf("%d connections against --max-connections %d: file descriptors %d before, at most %d during; RSS %d KiB before, %d KiB during",
		flood, limit, fdsBefore, maxFDs, rssBefore, rssFlood)
	if maxFDs > fdsBefore+limit+8 {
		t.Errorf("the process held %d file descriptors, %d before: more than --max-connections %d allows", maxFDs, fdsBefore, limit)
	}

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	eventually(t, 30*time.Second, "a new client answered after the flood", func() (bool, string) {
		resp, err := client.Get(svc.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// procFDs counts the open file descriptors of process pid (Linux /proc).
func procFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count the file descriptors of the service: %v", err)
	}
	return len(entries)
}

// procRSSKiB returns the resident memory of process pid in KiB (Linux /proc), or 0.
func procRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kib
		}
	}
	return 0
}
