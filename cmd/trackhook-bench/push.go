package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/fakecarrier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

// pushSource is the carrier code of the push phase's DCSA T&T 2.2 source.
const pushSource = "MAEU"

// pushEventPrefix starts the ids of the events the phase pushes.
const pushEventPrefix = "bench-push-"

// defaultPollInterval is trackhook serve's --poll-interval default, against which the
// push phase's latency is compared: a change waits for the next poll, half an interval
// on average.
const defaultPollInterval = 15 * time.Minute

// pushFigures are the push phase's results: each figure is the median of the runs'.
// Latency is from the carrier sending a push (the request handed to its HTTP
// transport) to the callback receiver having the webhook of the update the push made
// in hand; the answer latency is from the same moment to trackhook's 2xx to the
// carrier, which comes once the push is recorded.
type pushFigures struct {
	References int     `json:"references"`
	Rate       float64 `json:"rate"` // pushes per second offered
	Pushes     int     `json:"pushes_per_run"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	AnswerP50  float64 `json:"answer_p50_ms"`
	AnswerP99  float64 `json:"answer_p99_ms"`
	// PollingAverageMs is what polling at the default interval gives instead: half the
	// interval on average before the change is seen, before any delivery.
	PollingAverageMs float64   `json:"polling_average_ms"`
	Runs             []pushRun `json:"runs"`
}

// pushRun is one run of the push phase, on a fresh store.
type pushRun struct {
	Offered   rate    `json:"offered"`   // pushes sent at the rate
	Steps     int     `json:"steps"`     // carrier steps that sent them
	Batched   int64   `json:"batched"`   // pushes that waited for the carrier's step before them
	Accepted  int     `json:"accepted"`  // answered 2xx
	Delivered int     `json:"delivered"` // pushed events whose webhook arrived
	Missing   int     `json:"missing"`   // pushed events whose webhook did not arrive
	P50Ms     float64 `json:"p50_ms"`
	P90Ms     float64 `json:"p90_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	AnswerP50 float64 `json:"answer_p50_ms"`
	AnswerP99 float64 `json:"answer_p99_ms"`
}

// runPush runs the push phase cfg.pushRuns times and returns the medians.
func runPush(ctx context.Context, cfg config, st storage, prog *progress) (pushFigures, error) {
	f := pushFigures{References: cfg.pushRefs, Rate: cfg.pushRate, Pushes: cfg.pushCount,
		PollingAverageMs: float64(defaultPollInterval/2) / float64(time.Millisecond)}
	for i := range cfg.pushRuns {
		run, err := runPushOnce(ctx, cfg, st, prog, i+1)
		if err != nil {
			return f, fmt.Errorf("run %d: %w", i+1, err)
		}
		f.Runs = append(f.Runs, run)
	}
	med := func(get func(pushRun) float64) float64 {
		vs := make([]float64, len(f.Runs))
		for i, r := range f.Runs {
			vs[i] = get(r)
		}
		slices.Sort(vs)
		if len(vs)%2 == 1 {
			return vs[len(vs)/2]
		}
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	f.P50Ms = med(func(r pushRun) float64 { return r.P50Ms })
	f.P90Ms = med(func(r pushRun) float64 { return r.P90Ms })
	f.P99Ms = med(func(r pushRun) float64 { return r.P99Ms })
	f.MaxMs = med(func(r pushRun) float64 { return r.MaxMs })
	f.AnswerP50 = med(func(r pushRun) float64 { return r.AnswerP50 })
	f.AnswerP99 = med(func(r pushRun) float64 { return r.AnswerP99 })
	return f, nil
}

// runPushOnce measures one run: references of a DCSA T&T 2.2 carrier (the fake
// carrier of internal/fakecarrier) with push on, subscribed by their first polls as
// trackhook serve subscribes them; then cfg.pushCount events, each new to its
// reference (one reference after the other), published by the carrier at cfg.pushRate
// and pushed to the inbound route at once, each push signed with its subscription's
// secret. trackhook verifies it, merges it, records the update and wakes the
// notifier, which delivers it to the receiver.
//
// The service is wired as trackhook serve wires it, in this process: the store, the
// poller with its push options (ApplyPush), the notifier, and the inbound routes on
// an echo server of their own at the public URL (serve shares the API's; the API's
// middleware is not on this path).
func runPushOnce(ctx context.Context, cfg config, st storage, prog *progress, n int) (f pushRun, err error) {
	name := fmt.Sprintf("push-%d", n)
	prog.begin(fmt.Sprintf("push %d/%d: set up", n, cfg.pushRuns))

	rcv, err := startReceiver(time.Now, 0)
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, rcv.close(context.WithoutCancel(ctx))) }()
	timing := newPushTiming()
	rcv.tap.Store(&timing.received)

	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second)) // the voyages stay put: only the injected events are pushed
	fc, err := fakecarrier.New(fakecarrier.Options{
		Clock: clk, Seed: uint64(n), Concurrency: 32,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: timing.transport()},
	})
	if err != nil {
		return f, err
	}
	carrier, err := serveLoopback(fc.Handler())
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, carrier.close(context.WithoutCancel(ctx))) }()
	in, err := listenLoopback()
	if err != nil {
		return f, err
	}
	public, _ := url.Parse(in.url)

	idents := make([]string, cfg.pushRefs)
	err = prepare(ctx, st, name, func(db benchStore) error {
		now := time.Now().UTC()
		if _, err := db.EnsureAccount(ctx, benchAccount, references.NewWebhookSecret(), now); err != nil {
			return err
		}
		for i := range idents {
			idents[i] = fmt.Sprintf("PSHU%07d", i)
			at := now
			ref := references.Reference{
				ID: references.NewID("ref_"), AccountID: benchAccount, ContainerID: idents[i], CarrierCode: pushSource,
				CallbackURL: rcv.url + "/hooks", Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &at,
			}
			if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
				return err
			}
			if err := fc.AddShipment(references.Reference{ContainerID: idents[i], CreatedAt: clk.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	one := cfg
	one.instances = 1
	r, err := openRig(ctx, st, name, rcv, one)
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, r.close(ctx)) }()

	client, err := dcsa.New(pushSource, dcsa.Config{BaseURL: carrier.url, Timeout: 10 * time.Second})
	if err != nil {
		return f, err
	}
	var wake func()
	var wakeMu sync.Mutex
	p, err := poller.New(r.db, poller.Options{
		// Guarded as serve guards each source of the sources file, under its carrier
		// code: the name the push settings are found by.
		Router:          poller.Router{ByCarrier: map[string]poller.Source{pushSource: poller.Guard(pushSource, client, poller.GuardOptions{})}},
		Workers:         cfg.pollWorkers,
		DefaultInterval: defaultPollInterval,
		Push: poller.PushOptions{
			PublicURL: public,
			Sources:   map[string]poller.PushConfig{pushSource: {Model: poller.PushSubscription, PollInterval: poller.DefaultPushPollInterval}},
		},
	})
	if err != nil {
		return f, err
	}
	var accepted atomic.Int64
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	err = inbound.Register(e, inbound.Options{
		Applier: p, Store: r.db,
		Sources: map[string]inbound.Source{pushSource: {Model: poller.PushSubscription}},
		Logger:  slog.New(slog.DiscardHandler),
		Observe: func(rep inbound.Report) {
			if rep.Outcome == inbound.OutcomeApplied || rep.Outcome == inbound.OutcomeDuplicate {
				accepted.Add(1)
			}
			if rep.Updates > 0 {
				wakeMu.Lock()
				if wake != nil {
					wake()
				}
				wakeMu.Unlock()
			}
		},
	})
	if err != nil {
		return f, err
	}
	inSrv := in.serve(e)
	defer func() { err = errors.Join(err, inSrv.close(context.WithoutCancel(ctx))) }()

	// The first polls subscribe every reference.
	p.Start(ctx)
	defer p.Stop(context.WithoutCancel(ctx))
	prog.show(func() string {
		return fmt.Sprintf("%d of %d references subscribed", len(fc.Subscriptions()), cfg.pushRefs)
	})
	if err := waitFor(ctx, time.Minute, func() bool { return len(fc.Subscriptions()) == cfg.pushRefs }); err != nil {
		return f, fmt.Errorf("%d of %d references subscribed at the carrier: %w", len(fc.Subscriptions()), cfg.pushRefs, err)
	}
	stop := r.startNotifier(ctx)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	wakeMu.Lock()
	wake = r.notifiers[0].Wake
	wakeMu.Unlock()
	// The first polls' updates are delivered before the measure.
	if err := drain(ctx, r); err != nil {
		return f, err
	}

	prog.begin(fmt.Sprintf("push %d/%d: offered", n, cfg.pushRuns))
	prog.show(func() string {
		return fmt.Sprintf("%d pushed, %d accepted, %d webhooks", timing.sentCount(), accepted.Load(), timing.receivedCount())
	})
	d, steps, batched, err := offerPushes(ctx, fc, idents, cfg.pushRate, cfg.pushCount, timing)
	if err != nil {
		return f, err
	}
	f.Offered, f.Steps, f.Batched = newRate(int64(cfg.pushCount), d), steps, batched

	prog.begin(fmt.Sprintf("push %d/%d: drain", n, cfg.pushRuns))
	_ = waitFor(ctx, cfg.drainTimeout, func() bool { return timing.receivedCount() >= cfg.pushCount })
	wakeMu.Lock()
	wake = nil
	wakeMu.Unlock()
	stop()
	stop = nil

	var answers []time.Duration
	for _, ps := range fc.Pushes() {
		if len(ps.EventIDs) == 1 && strings.HasPrefix(ps.EventIDs[0], pushEventPrefix) && ps.Accepted() {
			f.Accepted++
			answers = append(answers, ps.Latency)
		}
	}
	lat := timing.latencies()
	f.Delivered, f.Missing = len(lat), cfg.pushCount-len(lat)
	f.P50Ms, f.P90Ms, f.P99Ms, f.MaxMs = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99), percentile(lat, 1)
	f.AnswerP50, f.AnswerP99 = percentile(answers, 0.50), percentile(answers, 0.99)
	if f.Accepted != cfg.pushCount {
		return f, fmt.Errorf("%d of %d pushes accepted", f.Accepted, cfg.pushCount)
	}
	return f, nil
}

// offerPushes publishes count events at rate, the i-th for reference idents[i mod
// len], and has the carrier push them: a goroutine steps the carrier whenever events
// wait, so that an event published while a step is under way (its pushes not all
// answered yet) goes with the next step, as a carrier's next batch. It returns how
// long the offering took, the steps and how many events waited for a step.
func offerPushes(ctx context.Context, fc *fakecarrier.Carrier, idents []string, rate float64, count int, timing *pushTiming) (time.Duration, int, int64, error) {
	pending := make(chan struct{}, 1)
	var stepping atomic.Bool
	var batched atomic.Int64
	steps := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range pending {
			stepping.Store(true)
			fc.Step(ctx)
			stepping.Store(false)
			steps++
		}
	}()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var err error
	for i := 0; i < count; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			if err = sleep(ctx, wait); err != nil {
				break
			}
		}
		ident := idents[i%len(idents)]
		// A new milestone each time (an inspection at a yard of its own), so that each
		// push makes one update: its id is what the receiver looks for.
		id := fmt.Sprintf("%s%08d", pushEventPrefix, i)
		_, err = fc.Inject(ident, references.Event{
			ID: id, Type: references.EventEquipment, Code: "INSP", Classifier: references.ClassifierActual,
			Time: base.Add(time.Duration(i) * time.Minute), EquipmentReference: ident, EmptyIndicator: references.EmptyIndicatorLaden,
			Location: &references.Location{Name: fmt.Sprintf("Bench yard %d", i)},
		})
		if err != nil {
			break
		}
		timing.expect(id)
		if stepping.Load() {
			batched.Add(1)
		}
		select {
		case pending <- struct{}{}:
		default: // a step is asked for already: it takes this event too
		}
	}
	close(pending)
	<-done
	return time.Since(start), steps, batched.Load(), err
}

// pushTiming notes when each pushed event left the carrier and when its webhook
// reached the receiver.
type pushTiming struct {
	mu       sync.Mutex
	expected map[string]bool
	sent     map[string]time.Time
	got      map[string]time.Duration
	received func(body []byte, at time.Time)
}

func newPushTiming() *pushTiming {
	t := &pushTiming{expected: map[string]bool{}, sent: map[string]time.Time{}, got: map[string]time.Duration{}}
	t.received = t.onWebhook
	return t
}

func (t *pushTiming) expect(id string) {
	t.mu.Lock()
	t.expected[id] = true
	t.mu.Unlock()
}

// transport is the carrier's HTTP transport: it notes the moment each push is sent.
func (t *pushTiming) transport() http.RoundTripper {
	base := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Body != nil {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(body))
			var events []struct {
				EventID string `json:"eventID"`
			}
			if json.Unmarshal(body, &events) == nil {
				now := time.Now()
				t.mu.Lock()
				for _, e := range events {
					if _, ok := t.sent[e.EventID]; !ok {
						t.sent[e.EventID] = now
					}
				}
				t.mu.Unlock()
			}
		}
		return base.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// onWebhook notes the latency of the pushed events a webhook names, the first time.
func (t *pushTiming) onWebhook(body []byte, at time.Time) {
	var p struct {
		Data struct {
			Changes []struct {
				Event *struct {
					ID string `json:"id"`
				} `json:"event"`
			} `json:"changes"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &p) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range p.Data.Changes {
		if c.Event == nil || !t.expected[c.Event.ID] {
			continue
		}
		if _, seen := t.got[c.Event.ID]; seen {
			continue
		}
		if sent, ok := t.sent[c.Event.ID]; ok {
			t.got[c.Event.ID] = at.Sub(sent)
		}
	}
}

func (t *pushTiming) sentCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent)
}

func (t *pushTiming) receivedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.got)
}

func (t *pushTiming) latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, len(t.got))
	for _, d := range t.got {
		out = append(out, d)
	}
	return out
}

// waitFor checks cond every 5 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// loopback is a listener on a free loopback port and its URL.
type loopback struct {
	ln  net.Listener
	url string
}

func listenLoopback() (*loopback, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &loopback{ln: ln, url: "http://" + ln.Addr().String()}, nil
}

// httpServer is a server running on a loopback listener.
type httpServer struct {
	srv    *http.Server
	url    string
	served chan error
}

func (l *loopback) serve(h http.Handler) *httpServer {
	s := &httpServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, url: l.url, served: make(chan error, 1)}
	go func() { s.served <- s.srv.Serve(l.ln) }()
	return s
}

func serveLoopback(h http.Handler) (*httpServer, error) {
	l, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	return l.serve(h), nil
}

func (s *httpServer) close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
