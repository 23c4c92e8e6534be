package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// recordEndpointAttempt records one attempt of the endpoint's next message, as the
// notifier would after a POST: it claims the due work, keeps the endpoint's stream
// (or, with resend, its requested resend) and gives the rest back. a gets the job's
// destination, message, URL and time; its outcome, answer and retry are the caller's.
// It returns the job the attempt was of.
func (b *testBundle) recordEndpointAttempt(t testing.TB, endpointID string, resend bool, a references.DeliveryAttempt) references.DeliveryJob {
	t.Helper()
	ctx := context.Background()
	claims, err := b.db.ClaimDueDeliveries(ctx, testOwner, 1000, time.Minute)
	if err != nil {
		t.Fatalf("claim deliveries: %v", err)
	}
	var mine *references.DeliveryClaim
	for i := range claims {
		c := &claims[i]
		if mine == nil && c.Job.Destination == endpointID && c.Job.Redelivery == resend {
			mine = c
			continue
		}
		if err := b.db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Fatalf("release lease: %v", err)
		}
	}
	if mine == nil {
		t.Fatalf("no due work for endpoint %s (resend %v) among %d claims", endpointID, resend, len(claims))
	}
	job := mine.Job
	a.Destination, a.ReferenceID, a.UpdateID = endpointID, job.Reference.ID, job.MessageID()
	a.Sequence, a.Attempt, a.URL, a.At, a.Redelivery = job.Update.Sequence, job.Attempt, job.URL(), b.clock.Now(), job.Redelivery
	if _, err := b.db.RecordAttempt(ctx, mine.Lease, job, a, ""); err != nil {
		t.Fatalf("record attempt: %v", err)
	}
	if err := b.db.ReleaseLease(ctx, mine.Lease); err != nil {
		t.Fatalf("release lease: %v", err)
	}
	return job
}

// failed is a failed attempt answered with 500, to be retried in a minute.
func (b *testBundle) failed(latency int64) references.DeliveryAttempt {
	retry := b.clock.Now().Add(time.Minute)
	return references.DeliveryAttempt{StatusCode: 500, LatencyMS: latency, ResponseBody: "oops", Outcome: references.OutcomeFailed, NextRetryAt: &retry}
}

// messages returns GET /endpoints/:id/messages with the query, failing unless 200.
func (b *testBundle) messages(t testing.TB, endpointID, query string) (MessagePage, []byte) {
	t.Helper()
	resp, body := b.do(t, http.MethodGet, "/endpoints/"+endpointID+"/messages"+query, b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("messages%s: %d %s", query, resp.StatusCode, body)
	}
	return decode[MessagePage](t, body), body
}

func messageIDs(p MessagePage) []string {
	var ids []string
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestMessages_ListNewestFirstAndShowThePayload(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU", "metadata": map[string]string{"po": "4711"}})
	ups := b.seedUpdates(t, ref.ID, 3)

	page, raw := b.messages(t, ep.ID, "")
	if got, want := messageIDs(page), []string{ups[2].ID, ups[1].ID, ups[0].ID}; !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v (newest first)", got, want)
	}
	for i, m := range page.Messages {
		if m.ReferenceID != ref.ID || m.Sequence != uint64(3-i) || m.EventType != string(references.UpdateShipment) ||
			m.Status != references.MessagePending || m.Attempts != 0 || m.LastAttempt != nil || m.FailReason != "" || m.BatchID != "" {
			t.Errorf("message %d: %+v", i, m)
		}
		if !slices.Equal(m.Tags, []string{references.TagStatusChanged}) {
			t.Errorf("message %d: tags %v, want the status change's", i, m.Tags)
		}
	}
	if !strings.Contains(string(raw), `"last_attempt":null`) {
		t.Errorf("an untried message's last_attempt is not null: %s", raw)
	}

	resp, body := b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/messages/"+ups[1].ID, b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get message: %d %s", resp.StatusCode, body)
	}
	var detail struct {
		ID       string           `json:"id"`
		Status   string           `json:"status"`
		Attempts []MessageAttempt `json:"attempts"`
		Payload  json.RawMessage  `json:"payload"`
	}
	if err := json.Unmarshal(body, &detail); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(ups[1]) // the update as the feed shows it
	if err != nil {
		t.Fatal(err)
	}
	if detail.ID != ups[1].ID || detail.Status != "pending" || detail.Attempts == nil || len(detail.Attempts) != 0 {
		t.Errorf("message %s", body)
	}
	if !jsonEqual(t, detail.Payload, want) {
		t.Errorf("payload %s, want the update as the feed has it: %s", detail.Payload, want)
	}

	resp, body = b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/messages/upd_NOSUCH", b.keyA, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	resp, body = b.do(t, http.MethodGet, "/endpoints/ep_NOSUCH/messages", b.keyA, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

func TestMessages_ShowAttempts(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	ups := b.seedUpdates(t, ref.ID, 2)
	b.clock.Advance(time.Second)
	first := b.clock.Now()
	b.recordEndpointAttempt(t, ep.ID, false, b.failed(42))

	page, _ := b.messages(t, ep.ID, "?status=sending")
	if len(page.Messages) != 1 || page.Messages[0].ID != ups[0].ID {
		t.Fatalf("sending messages %+v, want the first update's", page.Messages)
	}
	m := page.Messages[0]
	if m.Attempts != 1 || m.LastAttempt == nil || m.LastAttempt.StatusCode != 500 || m.LastAttempt.LatencyMS != 42 ||
		m.LastAttempt.Outcome != references.OutcomeFailed || !m.LastAttempt.At.Equal(first) ||
		m.NextAttemptAt == nil || !m.NextAttemptAt.Equal(first.Add(time.Minute)) {
		t.Errorf("message after a failed attempt %+v (last %+v)", m, m.LastAttempt)
	}

	b.clock.Advance(time.Minute)
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 204, LatencyMS: 7, Outcome: references.OutcomeDelivered})
	resp, body := b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/messages/"+ups[0].ID, b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get message: %d %s", resp.StatusCode, body)
	}
	d := decode[MessageDetail](t, body)
	if d.Status != references.MessageSucceeded || d.NextAttemptAt != nil || len(d.Attempts) != 2 {
		t.Fatalf("message %s", body)
	}
	a0, a1 := d.Attempts[0], d.Attempts[1]
	if a0.Attempt != 1 || a0.URL != hookURL || a0.StatusCode != 500 || a0.ResponseBody != "oops" || a0.Outcome != references.OutcomeFailed ||
		a0.NextRetryAt == nil || a0.Redelivery || a1.Attempt != 2 || a1.StatusCode != 204 || a1.Outcome != references.OutcomeDelivered {
		t.Errorf("attempts %+v", d.Attempts)
	}
	page, _ = b.messages(t, ep.ID, "?status=pending")
	if got := messageIDs(page); !slices.Equal(got, []string{ups[1].ID}) {
		t.Errorf("pending %v, want the second update's", got)
	}
	page, _ = b.messages(t, ep.ID, "?status=succeeded")
	if got := messageIDs(page); !slices.Equal(got, []string{ups[0].ID}) {
		t.Errorf("succeeded %v, want the first update's", got)
	}
}

func TestMessages_TimeRangeAndPages(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	var ids []string // oldest first, an hour apart
	for range 4 {
		ids = append(ids, b.seedUpdates(t, ref.ID, 1)[len(ids)].ID)
		b.clock.Advance(time.Hour)
	}
	start := b.clock.Now().Add(-4 * time.Hour) // when the first was created
	at := func(h float64) string { return start.Add(time.Duration(h * float64(time.Hour))).Format(time.RFC3339) }

	page, _ := b.messages(t, ep.ID, "?after="+at(0.5)+"&before="+at(2.5))
	if got := messageIDs(page); !slices.Equal(got, []string{ids[2], ids[1]}) {
		t.Errorf("between 0.5 h and 2.5 h: %v, want %v", got, []string{ids[2], ids[1]})
	}
	page, _ = b.messages(t, ep.ID, "?before="+at(1.5))
	if got := messageIDs(page); !slices.Equal(got, []string{ids[1], ids[0]}) {
		t.Errorf("before 1.5 h: %v", got)
	}

	var all []string
	query := "?limit=3"
	for range 3 {
		page, _ := b.messages(t, ep.ID, query)
		all = append(all, messageIDs(page)...)
		if page.NextCursor == "" {
			break
		}
		query = "?limit=3&cursor=" + page.NextCursor
	}
	if want := []string{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(all, want) {
		t.Errorf("paged %v, want %v", all, want)
	}
}

// Bad queries are refused before anything is looked up: the endpoint need not exist.
func TestMessages_QueryValidation(t *testing.T) {
	b := setup(t)
	tests := []struct{ name, query, field string }{
		{"unknown status", "?status=delivered", "status"},
		{"status in capitals", "?status=PENDING", "status"},
		{"after not a time", "?after=yesterday", "after"},
		{"after a date only", "?after=2026-03-01", "after"},
		{"after without a zone", "?after=2026-03-01T12:00:00", "after"},
		{"before out of range", "?before=2026-13-01T00:00:00Z", "before"},
		{"after equal to before", "?after=2026-03-01T12:00:00Z&before=2026-03-01T12:00:00Z", "after"},
		{"after later than before", "?after=2026-03-02T00:00:00Z&before=2026-03-01T00:00:00Z", "after"},
		{"limit zero", "?limit=0", "limit"},
		{"limit over the maximum", "?limit=501", "limit"},
		{"limit not a number", "?limit=ten", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodGet, "/endpoints/ep_ANY/messages"+tt.query, b.keyA, nil)
			wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
		})
	}
}

func TestResendMessage_QueuesOneAttemptOutsideTheStream(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	ups := b.seedUpdates(t, ref.ID, 2)
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 200, Outcome: references.OutcomeDelivered})

	resp, body := b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/messages/"+ups[0].ID+"/resend", b.keyA, nil)
	if resp.StatusCode != http.StatusAccepted || decode[queuedBody](t, body).Status != "queued" {
		t.Fatalf("resend: %d %s", resp.StatusCode, body)
	}
	job := b.recordEndpointAttempt(t, ep.ID, true, references.DeliveryAttempt{StatusCode: 200, LatencyMS: 3, Outcome: references.OutcomeDelivered})
	if job.MessageID() != ups[0].ID || !job.Redelivery {
		t.Errorf("the resend job is of %s (redelivery %v), want %s", job.MessageID(), job.Redelivery, ups[0].ID)
	}
	resp, body = b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/messages/"+ups[0].ID, b.keyA, nil)
	d := decode[MessageDetail](t, body)
	if resp.StatusCode != http.StatusOK || len(d.Attempts) != 2 || !d.Attempts[1].Redelivery || !strings.Contains(string(body), `"resend":true`) {
		t.Errorf("after the resend: %s", body)
	}
	// The second update, pending in its stream, is still the stream's next.
	page, _ := b.messages(t, ep.ID, "?status=pending")
	if got := messageIDs(page); !slices.Equal(got, []string{ups[1].ID}) {
		t.Errorf("pending after a resend: %v", got)
	}

	for _, path := range []string{
		"/endpoints/" + ep.ID + "/messages/upd_NOSUCH/resend",
		"/endpoints/ep_NOSUCH/messages/" + ups[0].ID + "/resend",
	} {
		resp, body := b.do(t, http.MethodPost, path, b.keyA, nil)
		wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	}
}

func TestRecoverMessages_ResendsFailedOnesSince(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL, "max_attempts": 1})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	old := b.seedUpdates(t, ref.ID, 1)[0]
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 503, Outcome: references.OutcomeGaveUp})
	b.clock.Advance(2 * time.Hour)
	recent := b.seedUpdates(t, ref.ID, 2)[1]
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 503, Outcome: references.OutcomeGaveUp})
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 204, Outcome: references.OutcomeDelivered})

	recoverSince := func(t *testing.T, since time.Time) int {
		t.Helper()
		resp, body := b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/recover", b.keyA, map[string]string{"since": since.Format(time.RFC3339)})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("recover: %d %s", resp.StatusCode, body)
		}
		return decode[recoverAnswer](t, body).Queued
	}
	if n := recoverSince(t, b.clock.Now().Add(-time.Hour)); n != 1 {
		t.Errorf("recover since an hour ago queued %d, want 1 (the recent failed one)", n)
	}
	job := b.recordEndpointAttempt(t, ep.ID, true, references.DeliveryAttempt{StatusCode: 200, Outcome: references.OutcomeDelivered})
	if job.MessageID() != recent.ID || !job.Redelivery {
		t.Errorf("recovered %s, want a resend of %s", job.MessageID(), recent.ID)
	}
	if n := recoverSince(t, b.clock.Now().Add(-3*time.Hour)); n != 1 {
		t.Errorf("recover since 3 hours ago queued %d, want 1 (the old one; the recent one succeeded)", n)
	}
	if job := b.recordEndpointAttempt(t, ep.ID, true, references.DeliveryAttempt{StatusCode: 200, Outcome: references.OutcomeDelivered}); job.MessageID() != old.ID {
		t.Errorf("recovered %s, want a resend of %s", job.MessageID(), old.ID)
	}
}

// Bodies of POST /endpoints/:id/recover that are refused before anything is looked
// up: the endpoint need not exist.
func TestRecoverMessages_Validation(t *testing.T) {
	b := setup(t)
	now := b.clock.Now()
	tests := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"since missing", `{}`, 422, references.CodeInvalid, "since"},
		{"since null", `{"since":null}`, 422, references.CodeInvalid, "since"},
		{"since not a time", `{"since":"yesterday"}`, 422, references.CodeInvalid, "since"},
		{"since a date only", `{"since":"2026-03-01"}`, 422, references.CodeInvalid, "since"},
		{"since more than 14 days ago", `{"since":"` + now.Add(-references.MaxRecoverAge-time.Second).Format(time.RFC3339) + `"}`, 422, references.CodeInvalid, "since"},
		{"since in the future", `{"since":"` + now.Add(time.Minute).Format(time.RFC3339) + `"}`, 422, references.CodeInvalid, "since"},
		{"since a number", `{"since":1772366400}`, 400, codeBadRequest, "since"},
		{"unknown field", `{"since":"` + now.Format(time.RFC3339) + `","status":"failed"}`, 400, codeBadRequest, "status"},
		{"empty body", ``, 400, codeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPost, "/endpoints/ep_ANY/recover", b.keyA, tt.body, "Content-Type", "application/json")
			wantError(t, resp, body, tt.status, tt.code, tt.field)
		})
	}
}

// sendTestEvent is the test send the API tests give the Service, standing in for the
// notifier's, which serve wires: an endpoint.test event signed with the endpoint's
// secrets, POSTed to it over loopback, and the receiver's answer. The latency is
// measured on now, which the tests' receivers move.
func sendTestEvent(now func() time.Time) func(context.Context, references.Endpoint) (references.DeliveryAttempt, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, ep references.Endpoint) (references.DeliveryAttempt, error) {
		start := now()
		a := references.DeliveryAttempt{Destination: ep.ID, URL: ep.URL, At: start, Attempt: 1}
		body, err := json.Marshal(map[string]any{"type": references.EventEndpointTest, "timestamp": start.UTC(), "data": map[string]string{"endpoint_id": ep.ID}})
		if err != nil {
			return a, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
		if err != nil {
			return a, err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := webhook.SetHeaders(req.Header, ep.LiveSecrets(start), references.NewID("msg_"), start, body); err != nil {
			return a, err
		}
		resp, err := client.Do(req)
		a.LatencyMS = now().Sub(start).Milliseconds()
		if err != nil {
			a.Error, a.Outcome = err.Error(), references.OutcomeFailed
			return a, nil
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		a.StatusCode, a.ResponseBody, a.Outcome = resp.StatusCode, string(answer), references.OutcomeFailed
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			a.Outcome = references.OutcomeDelivered
		}
		return a, nil
	}
}

// withTestSend lets the Service send test events (see sendTestEvent) to http:// URLs
// on loopback.
func withTestSend(c *setupConfig) {
	c.service.AllowInsecureCallbacks = true
	c.service.TestEndpoint = sendTestEvent(c.service.Now)
}

func TestEndpointTest_ReturnsTheReceiversAnswer(t *testing.T) {
	// The receiver verifies with the secret the test gives it, and takes 25 ms of the
	// bundle's clock to answer.
	var (
		mu     sync.Mutex
		clk    *clock.Fake
		secret string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]string{secret}, r.Header, body, time.Minute, clk.Now()); err != nil {
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		clk.Advance(25 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "thanks for "+typeOf(body))
	}))
	defer receiver.Close()
	b := setup(t, withTestSend)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": receiver.URL + "/hooks", "enabled": false})
	mu.Lock()
	clk, secret = b.clock, b.endpointSecrets(t, b.keyA, ep.ID).Secret
	mu.Unlock()

	resp, body := b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/test", b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("test: %d %s", resp.StatusCode, body)
	}
	got := decode[TestResult](t, body)
	if got.StatusCode != http.StatusAccepted || got.LatencyMS != 25 || got.ResponseBody != "thanks for endpoint.test" || got.Outcome != references.OutcomeDelivered || got.Error != "" {
		t.Errorf("answer %s", body)
	}
	// Nothing is recorded.
	if page, _ := b.messages(t, ep.ID, ""); len(page.Messages) != 0 {
		t.Errorf("a test left messages: %+v", page.Messages)
	}

	// A receiver that refuses is an answer too.
	mu.Lock()
	secret = "whsec_" + strings.Repeat("A", 43) + "="
	mu.Unlock()
	resp, body = b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/test", b.keyA, nil)
	if got := decode[TestResult](t, body); resp.StatusCode != http.StatusOK || got.StatusCode != http.StatusUnauthorized || got.Outcome != references.OutcomeFailed || !strings.Contains(got.ResponseBody, "bad signature") {
		t.Errorf("refused test: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodPost, "/endpoints/ep_NOSUCH/test", b.keyA, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
}

// typeOf returns the type field of a JSON body.
func typeOf(body []byte) string {
	var v struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Type
}

func TestEndpointTest_UnavailableWithoutATestSender(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	resp, body := b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/test", b.keyA, nil)
	wantError(t, resp, body, http.StatusServiceUnavailable, references.CodeUnavailable, "")
}

func TestEndpointStats_CountTheLastDay(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL, "max_attempts": 1})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	b.seedUpdates(t, ref.ID, 3)
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 200, LatencyMS: 100, Outcome: references.OutcomeDelivered})
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 500, LatencyMS: 300, Outcome: references.OutcomeGaveUp})

	stats := func(t *testing.T) (EndpointStats, []byte) {
		t.Helper()
		resp, body := b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/stats", b.keyA, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stats: %d %s", resp.StatusCode, body)
		}
		return decode[EndpointStats](t, body), body
	}
	st, body := stats(t)
	want := map[references.MessageStatus]int{references.MessagePending: 1, references.MessageSending: 0, references.MessageSucceeded: 1, references.MessageFailed: 1}
	for status, n := range want {
		if st.Counts[status] != n {
			t.Errorf("%s: %d, want %d (%s)", status, st.Counts[status], n, body)
		}
	}
	if len(st.Counts) != len(want) || st.SuccessRate != 0.5 || st.Attempts != 2 || st.LatencyP99MS != 300 ||
		st.LatencyP50MS < 100 || st.LatencyP50MS > 300 || !st.Since.Equal(b.clock.Now().Add(-references.StatsPeriod)) {
		t.Errorf("stats %s", body)
	}

	b.clock.Advance(references.StatsPeriod + time.Minute)
	st, body = stats(t)
	if st.Counts[references.MessagePending]+st.Counts[references.MessageSucceeded]+st.Counts[references.MessageFailed] != 0 || st.Attempts != 0 || st.SuccessRate != 0 {
		t.Errorf("a day later %s, want nothing counted", body)
	}
	if !strings.Contains(string(body), `"sending":0`) {
		t.Errorf("a status without messages is left out: %s", body)
	}
}

// The Vision6 policy: one attempt, then the message is given up and the endpoint
// disabled; both are recorded in the account's operational feed and sent to the
// endpoint that subscribes to them.
func TestAccountEvents_RecordGiveUpsAndDisables(t *testing.T) {
	b := setup(t)
	strict := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL, "max_attempts": 1, "disable_after": "0s"})
	ops := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL + "/ops", "event_types": []string{"endpoint.*", "message.attempt.exhausted"}})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	up := b.seedUpdates(t, ref.ID, 1)[0]
	b.recordEndpointAttempt(t, strict.ID, false, references.DeliveryAttempt{
		StatusCode: 500, Outcome: references.OutcomeGaveUp, Disable: references.DisabledFailing,
	})

	resp, body := b.do(t, http.MethodGet, "/account/events", b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	page := decode[AccountEventPage](t, body)
	if len(page.Events) != 2 || page.NextAfter != 2 {
		t.Fatalf("events %s, want two", body)
	}
	byType := map[string]AccountEvent{}
	for i, e := range page.Events {
		if e.Sequence != uint64(i+1) || e.EndpointID != strict.ID || e.EndpointURL != hookURL || !strings.HasPrefix(e.ID, "evt_") {
			t.Errorf("event %d %+v", i, e)
		}
		byType[e.Type] = e
	}
	if d := byType[references.EventEndpointDisabled]; d.DisabledReason != references.DisabledFailing {
		t.Errorf("endpoint.disabled %+v", d)
	}
	if x := byType[references.EventMessageAttemptExhausted]; x.MessageID != up.ID || x.ReferenceID != ref.ID || x.Attempts != 1 || x.LastStatusCode != 500 {
		t.Errorf("message.attempt.exhausted %+v", x)
	}

	resp, body = b.do(t, http.MethodGet, "/endpoints/"+strict.ID, b.keyA, nil)
	if got := decode[Endpoint](t, body); resp.StatusCode != http.StatusOK || got.Enabled || got.DisabledReason != references.DisabledFailing {
		t.Errorf("the endpoint after its policy ran out: %s", body)
	}
	// The subscriber got both events as messages, and no update.
	msgs, _ := b.messages(t, ops.ID, "")
	if len(msgs.Messages) != 2 {
		t.Fatalf("the subscriber's messages %+v, want the two events", msgs.Messages)
	}
	for _, m := range msgs.Messages {
		if m.ReferenceID != "" || byType[m.EventType].ID != m.ID {
			t.Errorf("message %+v is not one of the events", m)
		}
	}
	resp, body = b.do(t, http.MethodGet, "/endpoints/"+ops.ID+"/messages/"+msgs.Messages[0].ID, b.keyA, nil)
	var detail struct {
		Payload webhook.OperationalEvent `json:"payload"`
	}
	if err := json.Unmarshal(body, &detail); err != nil || resp.StatusCode != http.StatusOK || detail.Payload.ID != msgs.Messages[0].ID ||
		detail.Payload.Type != msgs.Messages[0].EventType || detail.Payload.Data.EndpointID != strict.ID {
		t.Errorf("the event message %d %s (%v)", resp.StatusCode, body, err)
	}

	// Paging the feed, and another account's.
	resp, body = b.do(t, http.MethodGet, "/account/events?after=1&limit=5", b.keyA, nil)
	if page := decode[AccountEventPage](t, body); resp.StatusCode != http.StatusOK || len(page.Events) != 1 || page.Events[0].Sequence != 2 || page.NextAfter != 2 {
		t.Errorf("after 1: %s", body)
	}
	resp, body = b.do(t, http.MethodGet, "/account/events?after=2", b.keyA, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"events":[]`) || decode[AccountEventPage](t, body).NextAfter != 2 {
		t.Errorf("at the end: %s", body)
	}
	resp, body = b.do(t, http.MethodGet, "/account/events", b.keyB, nil)
	if page := decode[AccountEventPage](t, body); resp.StatusCode != http.StatusOK || len(page.Events) != 0 || page.NextAfter != 0 {
		t.Errorf("account B's feed: %s", body)
	}
}

func TestAccountEvents_QueryValidation(t *testing.T) {
	b := setup(t)
	for _, tt := range []struct{ query, field string }{
		{"?after=-1", "after"},
		{"?after=x", "after"},
		{"?after=18446744073709551616", "after"},
		{"?limit=0", "limit"},
		{"?limit=501", "limit"},
	} {
		resp, body := b.do(t, http.MethodGet, "/account/events"+tt.query, b.keyA, nil)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
	}
}
