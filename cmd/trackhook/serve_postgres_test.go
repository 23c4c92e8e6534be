package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// hookLog records the webhooks a receiver got, per reference, in arrival order.
type hookLog struct {
	mu   sync.Mutex
	seqs map[string][]uint64 // reference id -> sequences received
	ids  map[string]string   // reference id/sequence -> webhook-id (the update id)
	bad  []string
}

func newHookLog() *hookLog {
	return &hookLog{seqs: map[string][]uint64{}, ids: map[string]string{}}
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, err := webhook.Decode(body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.bad = append(h.bad, fmt.Sprintf("undecodable webhook: %v: %.200s", err, body))
		return
	}
	key := fmt.Sprintf("%s/%d", p.Data.ReferenceID, p.Data.Sequence)
	id := r.Header.Get("webhook-id")
	if prev, ok := h.ids[key]; ok && prev != id {
		h.bad = append(h.bad, fmt.Sprintf("%s came as %s and as %s", key, prev, id))
	}
	h.ids[key] = id
	h.seqs[p.Data.ReferenceID] = append(h.seqs[p.Data.ReferenceID], p.Data.Sequence)
}

// received returns the sequences refID's webhooks carried, in arrival order.
func (h *hookLog) received(refID string) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint64(nil), h.seqs[refID]...)
}

// TestServe_PostgresOutage: serve on a PostgreSQL server that is stopped for a while
// and started again. Meanwhile the instance is not ready (and says why) but alive, a
// request that could not be written is not acknowledged, the poller and the notifier
// log their failures and keep trying; once the database is back the instance is
// ready again by itself, polls and deliveries go on, and every update of every feed
// reaches the receiver, in order per reference, none with a changed id.
func TestServe_PostgresOutage(t *testing.T) {
	const key = "pg-outage-test-key-0123456789"
	srv := pgtest.StartServer(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE trackhook"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	db := withPassword(t, pgtest.WithDatabase(t, srv.URL, "trackhook"))

	hooks := newHookLog()
	receiver := httptest.NewServer(hooks)
	defer receiver.Close()

	addr := freeAddr(t)
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	e, _, stderr := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key, "TRACKHOOK_DB": db})
	done := make(chan error, 1)
	go func() {
		// A voyage of the demo carrier takes 30 to 90 s at this speed: updates keep
		// coming before, during and after the outage.
		done <- run(serveCtx, []string{"serve", "--addr", addr, "--demo-speed", "15000",
			"--poll-interval", "1s", "--min-poll-interval", "1s", "--lease", "3s", "--delivery-timeout", "1s",
			"--allow-insecure-callbacks", "--allow-private-callbacks"}, e)
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
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
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	second := fmt.Sprintf("MSCU765432%d", references.ContainerCheckDigit("MSCU765432"))
	var created []string // the references the API acknowledged
	create := func(container string) (int, map[string]any) {
		t.Helper()
		status, ref := call("POST", "/references", map[string]any{
			"container_id": container, "carrier_code": "MSCU", "callback_url": receiver.URL, "poll_interval": "1s",
		})
		if status == 201 {
			created = append(created, ref["id"].(string))
		}
		return status, ref
	}
	eventually := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; log:\n%s\nserver log:\n%s", what, within, stderr, srv.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	readyz := func() (int, string) {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitReady(t, base+"/readyz", stderr)

	if status, ref := create("MSCU1234566"); status != 201 {
		t.Fatalf("create: %d %v", status, ref)
	}
	eventually("a first webhook", 30*time.Second, func() bool { return len(hooks.received(created[0])) > 0 })

	// The instance names its connections, which `store copy` looks for.
	var names int
	if err := pgxQueryRow(t, srv.URL, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trackhook serve'", &names); err != nil || names == 0 {
		t.Errorf("connections named \"trackhook serve\": %d, %v", names, err)
	}
	// A PostgreSQL store is backed up with pg_dump, not through the API.
	status, body := call("GET", "/admin/backup", nil)
	if status != 501 || body["error"].(map[string]any)["code"] != "not_implemented" || !strings.Contains(fmt.Sprint(body), "pg_dump") {
		t.Errorf("GET /admin/backup on PostgreSQL: %d %v", status, body)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually("not ready while the database is down", 10*time.Second, func() bool {
		status, body := readyz()
		return status == 503 && strings.Contains(body, `"code":"unavailable"`) &&
			strings.Contains(body, "the server is not ready to serve requests: the database does not answer")
	})
	if resp, err := client.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz while the database is down: %v %v", resp, err)
	}
	if status, ref := create(second); status == 201 || status < 500 {
		t.Fatalf("a create the database could not take was answered %d %v", status, ref)
	}
	time.Sleep(3 * time.Second) // scans fail and back off meanwhile
	select {
	case err := <-done:
		t.Fatalf("serve returned during the outage: %v; log:\n%s", err, stderr)
	default:
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	eventually("ready again once the database is back", 30*time.Second, func() bool { status, _ := readyz(); return status == 200 })
	if status, ref := create(second); status != 201 {
		t.Fatalf("create after the outage: %d %v", status, ref)
	}
	eventually("a webhook of a reference created after the outage", 30*time.Second, func() bool { return len(hooks.received(created[1])) > 0 })

	// Every update of every feed reaches the receiver, in order per reference.
	_, list := call("GET", "/references?limit=100", nil)
	if n := len(list["references"].([]any)); n != len(created) {
		t.Errorf("%d references listed, %d acknowledged: %v", n, len(created), list)
	}
	for _, id := range created {
		var feed []any
		eventually("every update of "+id+" delivered", 60*time.Second, func() bool {
			_, page := call("GET", "/references/"+id+"/updates?limit=500", nil)
			feed, _ = page["updates"].([]any)
			got := hooks.received(id)
			return len(feed) > 0 && len(got) > 0 && got[len(got)-1] >= uint64(len(feed))
		})
		var next uint64 = 1 // the first receipt of each sequence comes in order: no gap
		for _, seq := range hooks.received(id) {
			switch {
			case seq == next:
				next++
			case seq > next:
				t.Errorf("%s: update %d arrived before %d: %v", id, seq, next, hooks.received(id))
			}
		}
		for _, u := range feed {
			u := u.(map[string]any)
			k := fmt.Sprintf("%s/%v", id, u["sequence"])
			hooks.mu.Lock()
			got := hooks.ids[k]
			hooks.mu.Unlock()
			if got != u["id"] {
				t.Errorf("%s: webhook-id %q, the feed's update %v", k, got, u["id"])
			}
		}
	}
	hooks.mu.Lock()
	for _, b := range hooks.bad {
		t.Error(b)
	}
	hooks.mu.Unlock()

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	log := stderr.String()
	if !strings.Contains(log, "scan failed") || !strings.Contains(log, "scan works again") {
		t.Errorf("the outage is not in the log (scan failed, then works again):\n%s", log)
	}
	for _, never := range []string{testPassword, "panic"} {
		if strings.Contains(log, never) {
			t.Errorf("the log shows %q:\n%s", never, log)
		}
	}
	if !strings.Contains(log, "postgres://postgres:xxxxx@127.0.0.1:") {
		t.Errorf("the log does not name the database, password hidden:\n%s", log)
	}
}

// pgxQueryRow runs one query on the database at dbURL and scans its row into dest.
func pgxQueryRow(t *testing.T, dbURL, sql string, dest ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest...)
}
