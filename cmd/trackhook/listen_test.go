package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

const (
	listenSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	listenOtherSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

// listenNow is the receiver's clock in these tests.
var listenNow = time.Date(2026, 3, 1, 12, 0, 3, 0, time.UTC)

// listenUpdate is a shipment.updated update as trackhook sends it.
func listenUpdate(seq uint64, descriptions ...string) references.Update {
	u := references.Update{
		ID: fmt.Sprintf("upd_%d", seq), ReferenceID: "ref_K3", Sequence: seq, Type: references.UpdateShipment,
		CreatedAt: listenNow.Add(-time.Minute),
		Reference: references.ReferenceSummary{ID: "ref_K3", ContainerID: "MSCU1234566", CarrierCode: "MSCU"},
		Changes:   []references.Change{},
	}
	for _, d := range descriptions {
		u.Changes = append(u.Changes, references.Change{Type: references.ChangeEventAdded, Description: d})
	}
	return u
}

// listenBundle is a receiver on a loopback server with its output captured.
type listenBundle struct {
	srv            *httptest.Server
	stdout, stderr *bytes.Buffer
}

// scriptedRand returns the given values in turn, then 0.99.
func scriptedRand(values ...float64) func() float64 {
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if len(values) == 0 {
			return 0.99
		}
		v := values[0]
		values = values[1:]
		return v
	}
}

func setupListen(t *testing.T, c listenConfig, random func() float64) *listenBundle {
	t.Helper()
	if len(c.secrets) == 0 {
		c.secrets = []string{listenSecret}
	}
	if c.failStatus == 0 {
		c.failStatus = http.StatusServiceUnavailable
	}
	if c.tolerance == 0 {
		c.tolerance = webhook.DefaultTolerance
	}
	if random == nil {
		random = scriptedRand()
	}
	b := &listenBundle{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	rcv, err := newReceiver(c, &syncWriter{w: b.stdout}, &syncWriter{w: b.stderr}, func() time.Time { return listenNow }, random)
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(rcv)
	t.Cleanup(b.srv.Close)
	return b
}

// post sends u's webhook body signed with secrets at ts, after modify has had its way
// with the request, and returns the status.
func (b *listenBundle) post(t *testing.T, u references.Update, secrets []string, ts time.Time, modify func(*http.Request)) int {
	t.Helper()
	body, err := webhook.Encode(u)
	if err != nil {
		t.Fatal(err)
	}
	return b.postBody(t, u.ID, body, references.HeadersStandard, secrets, ts, modify)
}

// postBody sends body with webhook-id id, signed with secrets at ts in header style
// style, after modify has had its way with the request, and returns the status.
func (b *listenBundle) postBody(t *testing.T, id string, body []byte, style references.HeaderStyle, secrets []string, ts time.Time, modify func(*http.Request)) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/hooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := webhook.SetHeadersWithStyle(req.Header, style, secrets, id, ts, body); err != nil {
		t.Fatal(err)
	}
	if modify != nil {
		modify(req)
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestListen_PrintsOneLinePerVerifiedDelivery(t *testing.T) {
	long := strings.Repeat("Estimated arrival at New York moved by two days ", 4)
	tests := []struct {
		name   string
		update references.Update
		want   string
	}{
		{"shipment update", listenUpdate(3, "Departed Rotterdam on MAERSK ESSEN", "ETA at New York moved to 14 March"),
			"12:00:03 verified upd_3 ref_K3 MSCU1234566 shipment.updated #3 -> 204  Departed Rotterdam on MAERSK ESSEN; ETA at New York moved to 14 March"},
		{"long changes are shortened", listenUpdate(4, long),
			"12:00:03 verified upd_4 ref_K3 MSCU1234566 shipment.updated #4 -> 204  " + long[:listenChangesWidth-3] + "..."},
		{"tracking failed", func() references.Update {
			u := listenUpdate(5)
			u.Type, u.Error = references.UpdateTrackingFailed, "carrier API answered 502"
			return u
		}(), "12:00:03 verified upd_5 ref_K3 MSCU1234566 tracking.failed #5 -> 204  error: carrier API answered 502"},
		{"unsubscribed, booking", func() references.Update {
			u := listenUpdate(6)
			u.Reference = references.ReferenceSummary{ID: "ref_K3", BookingNumber: "BK123456", CarrierCode: "HLCU"}
			u.Type, u.UnsubscribeReason = references.UpdateUnsubscribed, references.ReasonTrackingComplete
			return u
		}(), "12:00:03 verified upd_6 ref_K3 BK123456 reference.unsubscribed #6 -> 204  reason: tracking_complete"},
		{"a webhook-id as trackhook makes it is shortened", func() references.Update {
			u := listenUpdate(7, "Loaded at Rotterdam")
			u.ID = "upd_7Q2XK3ABCDEFGHJKMNPQRSTVWX"
			return u
		}(), "12:00:03 verified upd_7Q2XK3AB ref_K3 MSCU1234566 shipment.updated #7 -> 204  Loaded at Rotterdam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupListen(t, listenConfig{}, nil)
			if got := b.post(t, tt.update, []string{listenSecret}, listenNow, nil); got != http.StatusNoContent {
				t.Fatalf("status %d, want 204; stderr: %s", got, b.stderr)
			}
			if got := strings.TrimSuffix(b.stdout.String(), "\n"); got != tt.want {
				t.Errorf("line:\n got: %s\nwant: %s", got, tt.want)
			}
			if b.stderr.Len() != 0 {
				t.Errorf("stderr: %s", b.stderr)
			}
		})
	}
}

func TestListen_FailuresAreShownAndRefused(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		ts      time.Time
		modify  func(*http.Request)
		status  int
		verdict string // NOT VERIFIED unless set
		why     string
	}{
		{name: "wrong secret", secrets: []string{listenOtherSecret}, ts: listenNow, status: 401,
			why: "no matching webhook signature (a different --secret"},
		{name: "tampered body", secrets: []string{listenSecret}, ts: listenNow, status: 401, why: "no matching webhook signature",
			modify: func(r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				body = bytes.Replace(body, []byte("MSCU1234566"), []byte("MSCU7654321"), 1)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}},
		{name: "expired timestamp", secrets: []string{listenSecret}, ts: listenNow.Add(-10 * time.Minute), status: 401,
			why: "before now, the tolerance is 5m0s (check both clocks"},
		{name: "timestamp from the future", secrets: []string{listenSecret}, ts: listenNow.Add(10 * time.Minute), status: 401,
			why: "after now"},
		{name: "no signature header", secrets: []string{listenSecret}, ts: listenNow, status: 401, why: "missing webhook header",
			modify: func(r *http.Request) { r.Header.Del(webhook.HeaderSignature) }},
		{name: "signed but not a webhook payload", secrets: []string{listenSecret}, ts: listenNow, status: 400,
			verdict: "REFUSED", why: "verified, but invalid webhook payload",
			modify: func(r *http.Request) {
				body := []byte(`{"hello":"world"}`)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				if err := webhook.SetHeaders(r.Header, []string{listenSecret}, "upd_3", listenNow, body); err != nil {
					panic(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupListen(t, listenConfig{}, nil)
			if got := b.post(t, listenUpdate(3, "Departed"), tt.secrets, tt.ts, tt.modify); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			verdict := tt.verdict
			if verdict == "" {
				verdict = "NOT VERIFIED"
			}
			line := b.stderr.String()
			if !strings.HasPrefix(line, fmt.Sprintf("12:00:03 %s upd_3 -> %d: ", verdict, tt.status)) || !strings.Contains(line, tt.why) {
				t.Errorf("stderr %q, want %s with %q", line, verdict, tt.why)
			}
			if b.stdout.Len() != 0 {
				t.Errorf("a delivery that failed verification was printed as an event: %s", b.stdout)
			}
			if strings.Contains(line, listenSecret) || strings.Contains(line, listenOtherSecret) {
				t.Errorf("a secret was printed: %s", line)
			}
		})
	}
}

func TestListen_AcceptsEitherSecretDuringARotation(t *testing.T) {
	b := setupListen(t, listenConfig{secrets: []string{listenSecret, listenOtherSecret}}, nil)
	for i, signWith := range [][]string{{listenSecret}, {listenOtherSecret}, {listenOtherSecret, listenSecret}} {
		if got := b.post(t, listenUpdate(uint64(i+1), "x"), signWith, listenNow, nil); got != http.StatusNoContent {
			t.Errorf("signed with %d secret(s): status %d; stderr %s", len(signWith), got, b.stderr)
		}
	}
}

func TestListen_FailRateIsHonoured(t *testing.T) {
	t.Run("draws below the rate fail with --status", func(t *testing.T) {
		b := setupListen(t, listenConfig{failRate: 0.2, failStatus: http.StatusBadGateway}, scriptedRand(0.1, 0.5, 0.19999, 0.2, 0.95))
		var got []int
		for seq := range 5 {
			got = append(got, b.post(t, listenUpdate(uint64(seq+1), "x"), []string{listenSecret}, listenNow, nil))
		}
		want := []int{502, 204, 502, 204, 204}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		if n := strings.Count(b.stdout.String(), "-> 502 (on purpose)"); n != 2 {
			t.Errorf("%d lines show a failure on purpose, want 2:\n%s", n, b.stdout)
		}
	})
	t.Run("over many deliveries the share is the rate", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		b := setupListen(t, listenConfig{failRate: 0.2}, rng.Float64)
		const n = 400
		failed := 0
		for seq := range n {
			if b.post(t, listenUpdate(uint64(seq+1), "x"), []string{listenSecret}, listenNow, nil) == http.StatusServiceUnavailable {
				failed++
			}
		}
		if share := float64(failed) / n; share < 0.15 || share > 0.25 {
			t.Errorf("%d of %d failed (%.2f), want about 0.2", failed, n, share)
		}
	})
	t.Run("a failed delivery retried is accepted and marked", func(t *testing.T) {
		b := setupListen(t, listenConfig{failRate: 0.5}, scriptedRand(0.1, 0.9, 0.9))
		u := listenUpdate(7, "Departed")
		for _, want := range []int{503, 204, 204} {
			if got := b.post(t, u, []string{listenSecret}, listenNow, nil); got != want {
				t.Fatalf("status %d, want %d", got, want)
			}
		}
		lines := strings.Split(strings.TrimSpace(b.stdout.String()), "\n")
		if len(lines) != 3 || strings.Contains(lines[1], "again") || !strings.Contains(lines[2], "(again: already received)") {
			t.Errorf("lines:\n%s", b.stdout)
		}
	})
	t.Run("signature failures never consume a draw", func(t *testing.T) {
		b := setupListen(t, listenConfig{failRate: 0.5}, scriptedRand(0.1))
		if got := b.post(t, listenUpdate(1, "x"), []string{listenOtherSecret}, listenNow, nil); got != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", got)
		}
		if got := b.post(t, listenUpdate(1, "x"), []string{listenSecret}, listenNow, nil); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 from the first draw", got)
		}
	})
}

func TestListen_JSONPrintsTheBodyAsReceived(t *testing.T) {
	b := setupListen(t, listenConfig{json: true, failRate: 0.5}, scriptedRand(0.9, 0.1))
	u1, u2 := listenUpdate(1, "Departed"), listenUpdate(2, "Arrived")
	b.post(t, u1, []string{listenSecret}, listenNow, nil)
	b.post(t, u2, []string{listenSecret}, listenNow, nil) // failed on purpose: not printed
	want, _ := webhook.Encode(u1)
	if got := b.stdout.String(); got != string(want)+"\n" {
		t.Errorf("stdout:\n got: %s\nwant: %s", got, want)
	}
	if !strings.Contains(b.stderr.String(), "upd_2 answered 503 on purpose") {
		t.Errorf("stderr: %s", b.stderr)
	}
}

func TestListen_RefusesOtherMethods(t *testing.T) {
	b := setupListen(t, listenConfig{}, nil)
	resp, err := b.srv.Client().Get(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestListen_VerifiesWhatTheNotifierSends has trackhook's own sender post to listen:
// both use package webhook, so they cannot drift apart.
func TestListen_VerifiesWhatTheNotifierSends(t *testing.T) {
	var out bytes.Buffer
	rcv, err := newReceiver(listenConfig{secrets: []string{listenSecret}, failStatus: 503, tolerance: webhook.DefaultTolerance},
		&syncWriter{w: &out}, io.Discard, time.Now, scriptedRand())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	u := listenUpdate(1, "Departed Rotterdam")
	body, err := webhook.Encode(u)
	if err != nil {
		t.Fatal(err)
	}
	sender := notifier.NewSender(notifier.SenderOptions{AllowPrivate: true})
	defer sender.CloseIdleConnections()
	res := sender.Send(context.Background(), notifier.Request{URL: srv.URL, UpdateID: u.ID, Body: body, Secrets: []string{listenOtherSecret, listenSecret}})
	if res.Outcome != references.OutcomeDelivered || res.StatusCode != http.StatusNoContent {
		t.Fatalf("send: %+v", res)
	}
	if !strings.Contains(out.String(), "verified upd_1 ref_K3 MSCU1234566 shipment.updated #1 -> 204  Departed Rotterdam") {
		t.Errorf("output: %s", out.String())
	}
}

func TestListen_FlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", nil, "listen needs --secret"},
		{"malformed secret", []string{"--secret", "whsec_not base64!"}, "invalid webhook secret"},
		{"fail rate above 1", []string{"--secret", listenSecret, "--fail-rate", "1.5"}, "--fail-rate must be between 0 and 1"},
		{"fail rate NaN", []string{"--secret", listenSecret, "--fail-rate", "NaN"}, "--fail-rate must be between 0 and 1"},
		{"2xx status", []string{"--secret", listenSecret, "--status", "200"}, "--status must be a status from 300 to 599"},
		{"arguments", []string{"--secret", listenSecret, "extra"}, "listen takes no arguments"},
		{"bad address", []string{"--secret", listenSecret, "--addr", "256.0.0.1:1"}, "listen on 256.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(nil)
			err := run(context.Background(), append([]string{"listen"}, tt.args...), e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "not base64!") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestListen_SecretsFromEnvironmentAndCommas(t *testing.T) {
	// The service's own TRACKHOOK_ADDR must not move the receiver onto its port.
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_LISTEN_SECRET": listenSecret + "," + listenOtherSecret, "TRACKHOOK_ADDR": ":8080"})
	c, err := parseListenFlags(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.secrets) != 2 || c.secrets[1] != listenOtherSecret || c.addr != "127.0.0.1:9000" || c.failStatus != 503 {
		t.Errorf("config %+v", c)
	}
}

// lines is an io.Writer that hands each complete line to a channel, so a test can
// wait for output without polling.
type lines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	all  strings.Builder
	next chan string
}

func newLines() *lines { return &lines{next: make(chan string, 1000)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case l.next <- strings.TrimSuffix(line, "\n"):
		default:
		}
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// waitFor returns the first line containing want, failing after timeout.
func (l *lines) waitFor(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line := <-l.next:
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line with %q within %s; got:\n%s", want, timeout, l.String())
		}
	}
}

// TestListen_QuickstartEndToEnd follows the README's quickstart: serve with the demo
// carrier, listen with the account's secret, one reference with listen as its
// callback, and verified webhooks arriving. It then checks /metrics, /admin/status,
// /openapi.yaml, and that the service's JSON logs name references and updates but
// never the API key or the webhook secret.
func TestListen_QuickstartEndToEnd(t *testing.T) {
	const key = "quickstart-key-0123456789"
	serveAddr, listenAddr := freeAddr(t), freeAddr(t)
	serveLog := newLines()
	serveEnv := env{stdout: io.Discard, stderr: serveLog, getenv: func(k string) string {
		return map[string]string{"TRACKHOOK_API_KEY": key}[k]
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--addr", serveAddr, "--db", t.TempDir() + "/quickstart.db",
			"--demo-speed", "200000", "--poll-interval", "1s", "--min-poll-interval", "1s",
			"--allow-insecure-callbacks", "--allow-private-callbacks", "--log-format", "json", "--log-level", "debug"}, serveEnv)
	}()
	base := "http://" + serveAddr
	waitReady(t, base+"/readyz", serveLog)

	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	_, raw := call(http.MethodGet, "/account/webhook-secret", "")
	var sec struct{ Secret string }
	if err := json.Unmarshal(raw, &sec); err != nil || !strings.HasPrefix(sec.Secret, "whsec_") {
		t.Fatalf("webhook secret: %s", raw)
	}

	listenOut, listenErr := newLines(), newLines()
	listened := make(chan error, 1)
	go func() {
		listened <- run(ctx, []string{"listen", "--secret", sec.Secret, "--addr", listenAddr},
			env{stdout: listenOut, stderr: listenErr, getenv: func(string) string { return "" }})
	}()
	listenErr.waitFor(t, "listening on http://"+listenAddr, 10*time.Second)

	status, raw := call(http.MethodPost, "/references",
		`{"container_id":"MSCU1234566","carrier_code":"MSCU","callback_url":"http://`+listenAddr+`/hooks","poll_interval":"1s"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, raw)
	}
	var ref api.Reference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	line := listenOut.waitFor(t, " "+ref.ID+" MSCU1234566 shipment.updated #1 -> 204", 20*time.Second)
	t.Logf("listen printed: %s", line)
	// The line names the delivery by its webhook-id, the update's id, shortened.
	_, raw = call(http.MethodGet, "/references/"+ref.ID+"/updates?after=0&limit=1", "")
	var feed api.UpdatePage
	if err := json.Unmarshal(raw, &feed); err != nil || len(feed.Updates) != 1 {
		t.Fatalf("feed: %s", raw)
	}
	if id := feed.Updates[0].ID; len(id) < listenIDWidth || !strings.Contains(line, " verified "+id[:listenIDWidth]+" "+ref.ID+" ") {
		t.Errorf("the line does not name update %s by its first %d characters: %s", id, listenIDWidth, line)
	}
	serveLog.waitFor(t, `"msg":"webhook delivered"`, 10*time.Second)

	metricsStatus, metricsText := call(http.MethodGet, "/metrics", "") // TRACKHOOK_API_KEY is an admin key
	for _, want := range []string{
		`trackhook_delivery_attempts_total{outcome="delivered"}`, `trackhook_polls_total{outcome="changed",source="default"}`,
		`trackhook_references{status="active"} 1`, "go_goroutines", "process_resident_memory_bytes",
	} {
		if metricsStatus != http.StatusOK || !strings.Contains(string(metricsText), want) {
			t.Errorf("/metrics (%d) lacks %s", metricsStatus, want)
		}
	}
	if status, raw := call(http.MethodGet, "/admin/status", ""); status != http.StatusOK || !strings.Contains(string(raw), `"active_references":1`) {
		t.Errorf("/admin/status: %d %s", status, raw)
	}
	if status, raw := call(http.MethodGet, "/openapi.yaml", ""); status != http.StatusOK || !strings.HasPrefix(string(raw), "openapi: 3") {
		t.Errorf("/openapi.yaml: %d %.40s", status, raw)
	}

	cancel()
	for name, ch := range map[string]chan error{"serve": served, "listen": listened} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s returned %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop", name)
		}
	}
	checkLogs(t, serveLog.String(), key, sec.Secret)
}

// checkLogs checks the service's JSON log lines: every delivery line names its
// reference and update, and no line holds the API key or the webhook secret.
func checkLogs(t *testing.T, logs, apiKey, secret string) {
	t.Helper()
	deliveryLines := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %s", line)
			continue
		}
		for _, s := range []string{apiKey, secret, strings.TrimPrefix(secret, "whsec_")} {
			if strings.Contains(line, s) {
				t.Errorf("log line holds a secret: %s", line)
			}
		}
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "webhook ") {
			deliveryLines++
			if rec["reference_id"] == nil || rec["update_id"] == nil {
				t.Errorf("delivery log line without reference_id and update_id: %s", line)
			}
		}
	}
	if deliveryLines == 0 {
		t.Error("no delivery log line to check")
	}
}

// FuzzListen_Receiver sends arbitrary signed bodies and webhook ids to the receiver.
// It must never panic, answer 204 only for a body DecodeDelivery accepts, and print at
// most one line per update or event.
func FuzzListen_Receiver(f *testing.F) {
	valid, _ := webhook.Encode(listenUpdate(3, "Departed Rotterdam", "ETA moved"))
	f.Add("upd_3", valid)
	f.Add("upd_3", []byte(`{"type":"shipment.updated","timestamp":"2026-03-01T12:00:00Z","data":{"id":"u","changes":[{"description":"a\nb\r\u0000c"}]}}`))
	f.Add("upd_4", []byte("{\n  \"type\": \"x\",\n  \"timestamp\": \"2026-03-01T12:00:00Z\",\n  \"data\": {\"id\": \"u\", \"error\": \"\\u2028\"}\n}"))
	f.Add("x", []byte(`null`))
	f.Add("id", []byte{0xff, 0xfe})
	batch, _ := webhook.EncodeBatch([]references.Update{listenUpdate(4, "a"), listenUpdate(5, "b\nc")})
	f.Add("batch_ep_1_ref_K3_4-5", batch)
	event, _ := webhook.NewTestEvent("evt_1", "ep_1", listenNow).Encode()
	f.Add("evt_1", event)
	f.Add("evt_2", []byte(`{"id":"evt_2","type":"endpoint.disabled","created_at":"2026-03-01T12:00:00Z","data":{"endpoint_url":"a\u2028b","last_error":"\u0000"}}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		for _, asJSON := range []bool{false, true} {
			var out, errOut bytes.Buffer
			rcv, err := newReceiver(listenConfig{secrets: []string{listenSecret}, failStatus: 503, tolerance: time.Minute, json: asJSON},
				&out, &errOut, func() time.Time { return listenNow }, scriptedRand())
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
			if webhook.SetHeaders(req.Header, []string{listenSecret}, id, listenNow, body) != nil {
				req.Header.Set(webhook.HeaderID, id) // an id Sign refuses: the request fails verification
			}
			rec := httptest.NewRecorder()
			rcv.ServeHTTP(rec, req)
			d, decodeErr := webhook.DecodeDelivery(body)
			switch {
			case rec.Code == http.StatusNoContent && decodeErr != nil:
				t.Fatalf("204 for a body DecodeDelivery refuses: %v", decodeErr)
			case rec.Code != http.StatusNoContent && rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized:
				t.Fatalf("status %d", rec.Code)
			}
			// One line per update or event: a batch's updates each have theirs.
			lines := 1
			if decodeErr == nil && d.Batch != nil && !asJSON {
				lines = len(d.Batch.Data)
			}
			for name, s := range map[string]string{"stdout": out.String(), "stderr": errOut.String()} {
				if strings.Count(s, "\n") > lines || (s != "" && !strings.HasSuffix(s, "\n")) {
					t.Fatalf("%s is not %d line(s): %q", name, lines, s)
				}
			}
		}
	})
}
