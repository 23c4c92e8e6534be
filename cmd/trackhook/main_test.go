package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/webhook"
)

// newTestEnv returns an env with the given variables and buffers for output.
func newTestEnv(vars map[string]string) (env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return env{stdout: &syncWriter{w: &stdout}, stderr: &syncWriter{w: &stderr}, getenv: func(k string) string { return vars[k] }}, &stdout, &stderr
}

// syncWriter serialises writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestRun_CommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"launch"}, `unknown command "launch"`},
		{"unknown flag", []string{"serve", "--nope"}, "flag provided but not defined: -nope"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, "--log-format must be text or json"},
		{"bad duration", []string{"serve", "--poll-interval", "soon"}, `invalid value "soon"`},
		{"interval below minimum", []string{"serve", "--poll-interval", "1m"}, "--poll-interval (1m0s) must be at least --min-poll-interval (5m0s)"},
		{"no connections", []string{"serve", "--max-connections", "0"}, "--max-connections and --idle-timeout must be above 0"},
		{"flag of another keys subcommand", []string{"keys", "revoke", "key_X", "--admin"}, `flag provided but not defined: -admin ("trackhook keys revoke -h" lists the flags)`},
		{"revoke two keys", []string{"keys", "revoke", "key_X", "key_Y"}, `keys revoke takes one key id (key_...) or key prefix, got ["key_X" "key_Y"]`},
		{"unknown keys subcommand", []string{"keys", "rotate"}, `keys: unknown subcommand "rotate"`},
		{"keys without subcommand", []string{"keys"}, "give create, list or revoke"},
		{"serve with arguments", []string{"serve", "extra"}, "serve takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(nil)
			err := run(context.Background(), tt.args, e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestRun_EnvironmentFillsFlags(t *testing.T) {
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_POLL_INTERVAL": "soon"})
	err := run(context.Background(), []string{"serve"}, e)
	if err == nil || !strings.Contains(err.Error(), "TRACKHOOK_POLL_INTERVAL") {
		t.Fatalf("bad environment value: %v", err)
	}
}

// TestKeys_CreateListRevoke: on a store file and on PostgreSQL, whose schema keys
// creates on an empty database.
func TestKeys_CreateListRevoke(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { testKeysCreateListRevoke(t, filepath.Join(t.TempDir(), "keys.db")) })
	t.Run("postgres", func(t *testing.T) { testKeysCreateListRevoke(t, newPostgresDB(t)) })
}

func testKeysCreateListRevoke(t *testing.T, db string) {
	ctx := context.Background()
	e, out, _ := newTestEnv(nil)
	if err := run(ctx, []string{"keys", "create", "--db", db, "--account", "acme"}, e); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "thk_") {
		t.Fatalf("created key %q", key)
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "list", "--db", db}, e); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), key) || !strings.Contains(out.String(), key[:12]) || !strings.Contains(out.String(), "acme") {
		t.Fatalf("list must show the prefix and account, never the key:\n%s", out)
	}
	fields := strings.Fields(strings.Split(out.String(), "\n")[1])
	out.Reset()
	if err := run(ctx, []string{"keys", "revoke", "--db", db, fields[0]}, e); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"keys", "revoke", "--db", db, "key_doesnotexist"}, e); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServe_EndToEnd runs the real service with the demo carrier at high speed and
// checks that a created reference produces verified webhooks and a feed, and that the
// service shuts down cleanly.
func TestServe_EndToEnd(t *testing.T) {
	const key = "e2e-test-key-0123456789"
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	received := make(chan []byte, 100)
	var gotHeaders http.Header
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotHeaders = r.Header.Clone()
		mu.Unlock()
		received <- body
	}))
	defer receiver.Close()

	ctx, cancel := context.WithCancel(context.Background())
	e, _, stderr := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "e2e.db"),
			"--demo-speed", "200000", "--poll-interval", "1s", "--min-poll-interval", "1s",
			"--allow-insecure-callbacks", "--allow-private-callbacks", "--metrics-addr", metricsAddr}, e)
	}()
	base := "http://" + addr
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	waitReady(t, base+"/readyz", stderr)

	status, ref := call("POST", "/references", map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": receiver.URL, "poll_interval": "1s"})
	if status != 201 {
		t.Fatalf("create: %d %v", status, ref)
	}
	_, sec := call("GET", "/account/webhook-secret", nil)
	secret, _ := sec["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("webhook secret: %v", sec)
	}

	select {
	case body := <-received:
		mu.Lock()
		h := gotHeaders
		mu.Unlock()
		if err := webhook.Verify([]string{secret}, h, body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("webhook does not verify: %v", err)
		}
		p, err := webhook.Decode(body)
		if err != nil || p.Data.ReferenceID != ref["id"] || p.Data.Sequence != 1 {
			t.Fatalf("payload: %+v, %v", p, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no webhook within 20s; log:\n%s", stderr)
	}
	status, feed := call("GET", fmt.Sprintf("/references/%s/updates", ref["id"]), nil)
	if status != 200 || len(feed["updates"].([]any)) == 0 {
		t.Fatalf("feed: %d %v", status, feed)
	}

	// With --metrics-addr, /metrics is served there and not on the API's port.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(scrape, []byte("trackhook_polls_total")) {
		t.Fatalf("metrics port: %d\n%.300s", resp.StatusCode, scrape)
	}
	if status, _ := call("GET", "/metrics", nil); status != 404 {
		t.Fatalf("/metrics on the API port: %d, want 404", status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of the signal")
	}
}

func waitReady(t *testing.T, url string, log fmt.Stringer) {
	t.Helper()
	waitReadyWith(t, http.DefaultClient, url, log)
}

// waitReadyWith waits up to 15 s for url to answer 200 to client.
func waitReadyWith(t *testing.T, client *http.Client, url string, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not ready in 15s (%v); log:\n%s", errors.Join(err), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
