package notifier

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

const (
	sendSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sendOldSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	sendUpdateID  = "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	sendBody      = `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_2KWPBgLlAfxdpx2AI54pPJ85f4W"}}`
)

var sendTime = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// sendBundle is a Sender wired to a loopback receiver, with the request the receiver saw.
type sendBundle struct {
	sender *Sender
	srv    *httptest.Server
	mu     sync.Mutex
	got    []*receivedRequest
}

type receivedRequest struct {
	header http.Header
	body   []byte
	path   string
	remote string
}

func (b *sendBundle) requests() []*receivedRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*receivedRequest(nil), b.got...)
}

func (b *sendBundle) request() Request {
	return Request{URL: b.srv.URL + "/hook", UpdateID: sendUpdateID, Body: []byte(sendBody), Secrets: []string{sendSecret}}
}

// setupSend starts a receiver running handler (after recording the request) and a
// Sender allowed to reach it, with the clock fixed at sendTime unless opts sets one.
func setupSend(t *testing.T, opts SenderOptions, handler http.HandlerFunc) *sendBundle {
	t.Helper()
	b := &sendBundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, &receivedRequest{header: r.Header.Clone(), body: body, path: r.URL.Path, remote: r.RemoteAddr})
		b.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(b.srv.Close)
	opts.AllowPrivate = true
	if opts.Now == nil {
		opts.Now = clock.NewFake(sendTime).Now
	}
	b.sender = NewSender(opts)
	t.Cleanup(b.sender.CloseIdleConnections)
	return b
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func TestSender_SendsSignedJSONThatVerifies(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{UserAgent: "trackhook/1.2.3"}, status(http.StatusNoContent))
	req := b.request()
	req.Secrets = []string{sendSecret, sendOldSecret}
	res := b.sender.Send(context.Background(), req)
	if res.Outcome != references.OutcomeDelivered || res.Err != nil {
		t.Fatalf("Send() = %+v, want delivered", res)
	}
	got := b.requests()
	if len(got) != 1 {
		t.Fatalf("receiver saw %d requests, want 1", len(got))
	}
	r := got[0]
	if string(r.body) != sendBody {
		t.Errorf("body = %s, want %s", r.body, sendBody)
	}
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "trackhook/1.2.3",
		"Webhook-Id":        sendUpdateID,
		"Webhook-Timestamp": "1740821400",
	} {
		if v := r.header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if !res.At.Equal(sendTime) {
		t.Errorf("At = %v, want %v", res.At, sendTime)
	}
	// A receiver configured with either secret of the rotation verifies the request.
	for _, secret := range []string{sendSecret, sendOldSecret} {
		if err := webhook.Verify([]string{secret}, r.header, r.body, 0, sendTime.Add(time.Second)); err != nil {
			t.Errorf("webhook.Verify with %s... = %v", secret[:10], err)
		}
	}
}

func TestSender_Outcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		wantOutcome references.AttemptOutcome
		wantStatus  int
		wantBody    string
		wantRetry   time.Duration
	}{
		{name: "200", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "thanks") },
			wantOutcome: references.OutcomeDelivered, wantStatus: 200, wantBody: "thanks"},
		{name: "202", handler: status(http.StatusAccepted), wantOutcome: references.OutcomeDelivered, wantStatus: 202},
		{name: "299", handler: status(299), wantOutcome: references.OutcomeDelivered, wantStatus: 299},
		{name: "410 gone", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, "unsubscribed")
		}, wantOutcome: references.OutcomeGone, wantStatus: 410, wantBody: "unsubscribed"},
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database is down", http.StatusInternalServerError)
		}, wantOutcome: references.OutcomeFailed, wantStatus: 500, wantBody: "database is down\n"},
		{name: "404", handler: status(http.StatusNotFound), wantOutcome: references.OutcomeFailed, wantStatus: 404},
		{name: "400", handler: status(http.StatusBadRequest), wantOutcome: references.OutcomeFailed, wantStatus: 400},
		{name: "429 with Retry-After seconds", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		}, wantOutcome: references.OutcomeFailed, wantStatus: 429, wantRetry: 2 * time.Minute},
		{name: "503 with Retry-After date", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", sendTime.Add(time.Hour).Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		}, wantOutcome: references.OutcomeFailed, wantStatus: 503, wantRetry: time.Hour},
		{name: "300 is not success", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusMultipleChoices)
		}, wantOutcome: references.OutcomeFailed, wantStatus: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSend(t, SenderOptions{}, tt.handler)
			res := b.sender.Send(context.Background(), b.request())
			if res.Outcome != tt.wantOutcome || res.StatusCode != tt.wantStatus || res.Body != tt.wantBody || res.RetryAfter != tt.wantRetry {
				t.Fatalf("Send() = %+v; want outcome %s, status %d, body %q, retry after %s",
					res, tt.wantOutcome, tt.wantStatus, tt.wantBody, tt.wantRetry)
			}
			var se *StatusError
			switch {
			case tt.wantOutcome == references.OutcomeDelivered && res.Err != nil:
				t.Fatalf("Err = %v on a delivered attempt", res.Err)
			case tt.wantOutcome != references.OutcomeDelivered && (!errors.As(res.Err, &se) || se.StatusCode != tt.wantStatus):
				t.Fatalf("Err = %v, want a *StatusError for %d", res.Err, tt.wantStatus)
			}
		})
	}
}

func TestSender_DoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, "/moved", http.StatusPermanentRedirect)
		}
	})
	res := b.sender.Send(context.Background(), b.request())
	if res.Outcome != references.OutcomeFailed || res.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("Send() = %+v, want a failed 308", res)
	}
	if n := len(b.requests()); n != 1 {
		t.Fatalf("receiver saw %d requests, want 1 (the redirect must not be followed)", n)
	}
	if !strings.Contains(res.ErrText(), "/moved") {
		t.Fatalf("ErrText() = %q, want it to name the redirect target", res.ErrText())
	}
}

func TestSender_TimesOutOnASilentReceiver(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setupSend(t, SenderOptions{Timeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	start := time.Now()
	res := b.sender.Send(context.Background(), b.request())
	elapsed := time.Since(start)
	if res.Outcome != references.OutcomeFailed || res.StatusCode != 0 || !errors.Is(res.Err, ErrNoResponse) {
		t.Fatalf("Send() = %+v, want a failed attempt with no response", res)
	}
	var ne net.Error
	if !errors.As(res.Err, &ne) || !ne.Timeout() {
		t.Fatalf("Err = %v, want a timeout", res.Err)
	}
	if elapsed > 3*time.Second {
		t.Fatalf("Send took %s with a 200ms timeout", elapsed)
	}
}

func TestSender_SlowDripBodyIsCutAtTimeout(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{Timeout: 300 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	})
	start := time.Now()
	res := b.sender.Send(context.Background(), b.request())
	elapsed := time.Since(start)
	if elapsed > 3*time.Second {
		t.Fatalf("Send took %s against a dripping receiver with a 300ms timeout", elapsed)
	}
	// The receiver said 200: the update was delivered, whatever the body did after.
	if res.Outcome != references.OutcomeDelivered || res.StatusCode != 200 || res.Body == "" || strings.Trim(res.Body, "x") != "" {
		t.Fatalf("Send() = %+v, want delivered with the x's read before the timeout", res)
	}
}

func TestSender_KeepsOnlyTheStartOfABigBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size int
	}{
		{name: "just over the cap, drained", size: 1000},
		{name: "far over the drain limit", size: 4 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSend(t, SenderOptions{MaxResponseBytes: 100}, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, strings.Repeat("e", tt.size))
			})
			res := b.sender.Send(context.Background(), b.request())
			if res.StatusCode != 500 || res.Body != strings.Repeat("e", 100) || !res.Truncated {
				t.Fatalf("Send() = status %d, body %d bytes, truncated %v; want 500, 100, true", res.StatusCode, len(res.Body), res.Truncated)
			}
			// The next attempt works whether the connection was kept or dropped.
			if res := b.sender.Send(context.Background(), b.request()); res.StatusCode != 500 {
				t.Fatalf("second Send() = %+v", res)
			}
		})
	}
}

func TestSender_ReusesConnections(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{}, status(http.StatusOK))
	for range 5 {
		if res := b.sender.Send(context.Background(), b.request()); res.Outcome != references.OutcomeDelivered {
			t.Fatalf("Send() = %+v", res)
		}
	}
	// One client port for all requests means one kept-alive connection.
	ports := map[string]bool{}
	for _, r := range b.requests() {
		ports[r.remote] = true
	}
	if len(ports) != 1 {
		t.Fatalf("5 sequential deliveries came from %d connections, want 1", len(ports))
	}
}

func TestSender_ConnectionReset(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{}, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // close with RST instead of FIN
		conn.Close()
	})
	res := b.sender.Send(context.Background(), b.request())
	if res.Outcome != references.OutcomeFailed || res.StatusCode != 0 || !errors.Is(res.Err, ErrNoResponse) {
		t.Fatalf("Send() = %+v, want a failed attempt with no response", res)
	}
}

func TestSender_ConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s := NewSender(SenderOptions{AllowPrivate: true})
	res := s.Send(context.Background(), Request{URL: "http://" + addr + "/", UpdateID: sendUpdateID, Body: []byte("{}"), Secrets: []string{sendSecret}})
	if !errors.Is(res.Err, ErrNoResponse) || !strings.Contains(res.ErrText(), "refused") {
		t.Fatalf("Send() = %+v, want connection refused", res)
	}
}

func TestSender_CancelledContextIsReported(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	b := setupSend(t, SenderOptions{}, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	res := b.sender.Send(ctx, b.request())
	if !errors.Is(res.Err, context.Canceled) || !errors.Is(res.Err, ErrNoResponse) {
		t.Fatalf("Send() = %+v, want an error wrapping context.Canceled", res)
	}
}

func TestSender_GuardRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	s := NewSender(SenderOptions{})
	res := s.Send(context.Background(), Request{URL: srv.URL, UpdateID: sendUpdateID, Body: []byte("{}"), Secrets: []string{sendSecret}})
	if !errors.Is(res.Err, ErrForbiddenDestination) || hits.Load() != 0 {
		t.Fatalf("Send() to %s = %+v (receiver hit %d times), want ErrForbiddenDestination", srv.URL, res, hits.Load())
	}
}

func TestSender_RefusesUnsendableRequests(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	s := NewSender(SenderOptions{AllowPrivate: true})
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{name: "bad secret", req: Request{URL: srv.URL, UpdateID: sendUpdateID, Secrets: []string{"whsec_nope"}}, want: webhook.ErrInvalidSecret},
		{name: "no secret", req: Request{URL: srv.URL, UpdateID: sendUpdateID}, want: webhook.ErrInvalidSecret},
		{name: "bad id", req: Request{URL: srv.URL, UpdateID: "a.b", Secrets: []string{sendSecret}}, want: webhook.ErrInvalidID},
		{name: "bad scheme", req: Request{URL: "ftp://example.com/", UpdateID: sendUpdateID, Secrets: []string{sendSecret}}, want: ErrInvalidCallbackURL},
		{name: "no host", req: Request{URL: "http:///x", UpdateID: sendUpdateID, Secrets: []string{sendSecret}}, want: ErrInvalidCallbackURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Send(context.Background(), tt.req)
			if !errors.Is(res.Err, tt.want) || res.Outcome != references.OutcomeFailed || errors.Is(res.Err, ErrNoResponse) {
				t.Fatalf("Send() = %+v, want %v", res, tt.want)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("receiver was hit %d times", hits.Load())
	}
}

func TestSender_MeasuresLatencyWithTheClock(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(sendTime.Add(250 * time.Millisecond))
	b := setupSend(t, SenderOptions{Now: clk.Now}, func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(250 * time.Millisecond) // the receiver takes its time
		w.WriteHeader(http.StatusOK)
	})
	res := b.sender.Send(context.Background(), b.request())
	if res.Latency != 250*time.Millisecond || !res.At.Equal(sendTime.Add(250*time.Millisecond)) {
		t.Fatalf("At %v, Latency %s; want %v and 250ms", res.At, res.Latency, sendTime.Add(250*time.Millisecond))
	}
}
