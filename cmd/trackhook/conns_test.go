package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConnectionLimit(t *testing.T) {
	tests := []struct {
		name        string
		want        int
		fdLimit     uint64
		reserve     int
		limit       int
		wantLowered bool
	}{
		{"limit unknown", 4096, 0, 160, 4096, false},
		{"Docker's limit leaves room", 4096, 1 << 20, 160, 4096, false},
		{"exactly enough", 4096, 4096 + 160, 160, 4096, false},
		{"the old default soft limit", 4096, 1024, 160, 1024 - 160, true},
		{"a 20,000 limit under a higher flag", 30000, 20000, 160, 20000 - 160, true},
		{"never below the minimum", 4096, 100, 160, minConnections, true},
		{"never above the flag", 8, 100, 160, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit, lowered := connectionLimit(tt.want, tt.fdLimit, tt.reserve)
			if limit != tt.limit || lowered != tt.wantLowered {
				t.Errorf("connectionLimit(%d, %d, %d) = %d, %v; want %d, %v", tt.want, tt.fdLimit, tt.reserve, limit, lowered, tt.limit, tt.wantLowered)
			}
		})
	}
}

// keepAlive is a client connection that sends requests by hand, so that the test
// decides when it is open, busy or idle.
type keepAlive struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &keepAlive{conn: conn, r: bufio.NewReader(conn)}
}

// get sends GET /healthz and reads the answer until deadline; the connection stays open.
func (k *keepAlive) get(deadline time.Time) error {
	if _, err := io.WriteString(k.conn, "GET /healthz HTTP/1.1\r\nHost: trackhook\r\n\r\n"); err != nil {
		return err
	}
	return k.read(deadline)
}

// read reads one answer to a request already sent.
func (k *keepAlive) read(deadline time.Time) error {
	_ = k.conn.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// TestServe_LimitsConnectionsAndClosesIdleOnes runs serve with room for two
// connections: a third waits, unanswered, while two idle keep-alive connections hold
// the room, and is answered once --idle-timeout has closed them.
func TestServe_LimitsConnectionsAndClosesIdleOnes(t *testing.T) {
	const idle = 2 * time.Second
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	e, _, stderr := newTestEnv(nil)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "conns.db"),
			"--max-connections", "2", "--idle-timeout", idle.String()}, e)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// Ready, on connections that close after each answer, so that none holds room.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	waitReadyWith(t, client, "http://"+addr+"/readyz", stderr)

	first, second := dialKeepAlive(t, addr), dialKeepAlive(t, addr)
	for _, k := range []*keepAlive{first, second} {
		if err := k.get(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatalf("one of the first two connections: %v; log:\n%s", err, stderr)
		}
	}
	idleSince := time.Now()

	third := dialKeepAlive(t, addr) // the kernel completes the handshake; serve does not accept it yet
	err := third.get(time.Now().Add(300 * time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection beyond --max-connections 2 was answered (%v), want it to wait", err)
	}

	// The idle connections are closed by serve after --idle-timeout, not before.
	for _, k := range []*keepAlive{first, second} {
		_ = k.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := k.r.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection: read %v, want EOF (closed by serve)", err)
		}
	}
	if took := time.Since(idleSince); took < idle-200*time.Millisecond {
		t.Errorf("idle connections closed after %v, before --idle-timeout %v", took, idle)
	}
	if err := third.read(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("the waiting connection once room was made: %v; log:\n%s", err, stderr)
	}
}
