package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const importTestKey = "import-test-key-0123456789"

// serveForImport runs the real service on a loopback port with importTestKey as its
// bootstrap key, and returns its base URL; it stops when the test ends.
func serveForImport(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	e, _, stderr := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": importTestKey})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "import.db")}, e)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	})
	base := "http://" + addr
	waitReady(t, base+"/readyz", stderr)
	return base
}

// runImport runs the import command on a file with content, with key in the environment.
func runImport(t *testing.T, base, key, content string, extra ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "refs.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	e, stdout, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key})
	args := append([]string{"import", path, "--url", base}, extra...)
	err := run(context.Background(), args, e)
	return stdout.String(), err
}

func TestImport_ReportsEachLineAgainstARunningService(t *testing.T) {
	base := serveForImport(t)
	file := "container_id,booking_number,carrier_code,poll_interval,event_types,metadata.order\n" +
		"MSCU1234566,,MSCU,1h,shipment.updated;tracking.failed,PO-1\n" +
		"mscu1234566,,mscu,,,PO-dup\n" +
		"MSCU1234567,,MSCU,,,PO-bad\n" +
		",BK123456,MAEU,,,\"PO\n2\"\n" +
		"TGHU1234567,,,,,\n"
	out, err := runImport(t, base, importTestKey, file)
	if !errors.Is(err, errLinesFailed) || exitCode(err) != 1 {
		t.Fatalf("import returned %v (exit %d), want some lines failed (exit 1); output:\n%s", err, exitCode(err), out)
	}
	wantLines := []string{
		`^line 2: created (ref_\w+)$`,
		`^line 3: exists (ref_\w+)$`,
		`^line 4: error container_id: .*check digit`,
		`^line 5: created ref_\w+$`,
		`^line 7: error carrier_code: is required`,
		`^2 created, 1 already tracked, 2 failed$`,
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("output:\n%s\nwant %d lines", out, len(wantLines))
	}
	var ids []string
	for i, w := range wantLines {
		m := regexp.MustCompile(w).FindStringSubmatch(got[i])
		if m == nil {
			t.Fatalf("line %d of the report %q does not match %s", i, got[i], w)
		}
		if len(m) > 1 {
			ids = append(ids, m[1])
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("line 3 names %s, want line 2's %s", ids[1], ids[0])
	}
	ref := getJSON(t, base+"/references/"+ids[0])
	if ref["metadata"].(map[string]any)["order"] != "PO-1" || fmt.Sprint(ref["event_types"]) != "[shipment.updated tracking.failed]" || ref["poll_interval"] != "1h0m0s" {
		t.Errorf("stored reference: %v", ref)
	}

	// The same file again replays: the same references, reported the same way.
	again, err := runImport(t, base, importTestKey, file)
	if !errors.Is(err, errLinesFailed) || again != out {
		t.Errorf("second run: %v\n%s\nwant the first run's report:\n%s", err, again, out)
	}
}

func TestImport_SendsBatchesOfAThousand(t *testing.T) {
	base := serveForImport(t)
	var b strings.Builder
	b.WriteString("booking_number,carrier_code\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "BK%06d,MAEU\n", i)
	}
	out, err := runImport(t, base, importTestKey, b.String())
	if err != nil {
		t.Fatalf("import: %v\n%.500s", err, out)
	}
	if !strings.Contains(out, "line 1501: created ref_") || !strings.HasSuffix(out, "1500 created, 0 already tracked, 0 failed\n") {
		t.Errorf("report ends:\n%s", out[max(0, len(out)-200):])
	}
	page := getJSON(t, base+"/references?limit=500")
	if n := len(page["references"].([]any)); n != 500 {
		t.Errorf("first page has %d references, want 500", n)
	}
}

func TestImport_BadUsageIsOneLine(t *testing.T) {
	base := serveForImport(t)
	good := "container_id,carrier_code\nMSCU1234566,MSCU\n"
	tests := []struct {
		name, key, file string
		args            []string
		want            string
	}{
		{"no file", importTestKey, "", []string{"import", "--url", base}, "give one CSV file"},
		{"no url", importTestKey, good, []string{"--url", ""}, "--url"},
		{"url without scheme", importTestKey, good, []string{"--url", "localhost:1"}, "http://"},
		{"no key", "", good, nil, "TRACKHOOK_API_KEY"},
		{"unknown flag", importTestKey, good, []string{"--key", "x"}, "-h"},
		{"unknown column", importTestKey, "container,carrier_code\nX,Y\n", nil, `unknown column "container"`},
		{"wrong key", "thk_wrong", good, nil, "401 unauthorized"},
		{"missing file", importTestKey, "", []string{"import", "/nonexistent/refs.csv", "--url", base}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			var out string
			if tt.file == "" {
				e, stdout, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": tt.key})
				err = run(context.Background(), tt.args, e)
				out = stdout.String()
			} else {
				out, err = runImport(t, base, tt.key, tt.file, tt.args...)
			}
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v (exit %d), want one line with %q", err, exitCode(err), tt.want)
			}
			if strings.Contains(out, "created") {
				t.Errorf("output %q", out)
			}
		})
	}
	if page := getJSON(t, base+"/references"); len(page["references"].([]any)) != 0 {
		t.Errorf("references created by refused imports: %v", page)
	}
}

// getJSON GETs url with importTestKey and decodes a 200 answer.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+importTestKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return out
}
