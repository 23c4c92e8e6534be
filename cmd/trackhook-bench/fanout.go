package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// The fan-out phase: the account's references have no callback, and every update goes
// to each of the account's endpoints (all of them match every update). Each endpoint
// POSTs to a receiver of its own, on its own loopback port. The notifier keys its
// breakers, its in-flight cap (3/4 of the workers) and the sender's connection limit
// (16) by the resolved address and port, as it should for separate receivers; with
// every endpoint on one port, they would share one cap and one breaker, so one
// endpoint answering 503 would open the breaker of all of them: a different path on
// one host is one receiver to trackhook, a different port is another.

// fanoutFigures are the fan-out phase's results: the same number of updates delivered
// to one endpoint and to Endpoints endpoints, each against a raw POST loop to the same
// receivers; and the latency of the healthy endpoints while one is down. The CPU
// figures derived here (ratios, write and update CPU) count the PostgreSQL server's
// CPU time with the process's when it is measured.
type fanoutFigures struct {
	Endpoints  int `json:"endpoints"`
	References int `json:"references"`
	// NoEndpointPolls are the same polls in an account without endpoints (and
	// references without a callback): an update appended with no message to write.
	NoEndpointPolls rate      `json:"no_endpoint_polls"`
	One             fanoutRun `json:"one_endpoint"`
	Many            fanoutRun `json:"many_endpoints"`
	// DeliveryCPURatio is the CPU time per delivery with Endpoints endpoints over
	// that with one: at most 1 when sending an update to Endpoints endpoints costs at
	// most Endpoints times sending it to one.
	DeliveryCPURatio float64 `json:"delivery_cpu_ratio"`
	// UpdateCPURatio is the same with the writing of the messages at poll time
	// counted: Many.UpdateCPUMicro / (Endpoints x One.UpdateCPUMicro). Target: <= 1.
	UpdateCPURatio float64 `json:"update_cpu_ratio"`
	// Latency is detect -> 2xx of the healthy endpoints: with all healthy, then with
	// one endpoint down in each mode of --fanout-down.
	Latency []fanoutLatency `json:"latency,omitempty"`
}

// fanoutRun is one account's updates delivered to its endpoints.
type fanoutRun struct {
	Endpoints int   `json:"endpoints"`
	Updates   int64 `json:"updates"` // appended by the polls, each sent to every endpoint
	// Polls are the polls that appended the updates (--fanout-rounds per reference);
	// each writes one message per endpoint in the transaction of its update.
	Polls rate `json:"polls"`
	// Baseline is the raw net/http POST loop to the run's receivers, in turn, with
	// the payloads of the backlog (PayloadBytes on average).
	Baseline     rate `json:"baseline"`
	PayloadBytes int  `json:"payload_bytes"`
	// Deliveries is the whole backlog, Updates x Endpoints webhooks, read, signed,
	// POSTed, answered 2xx and recorded durably, from the notifier's start until no
	// stream has anything waiting.
	Deliveries        rate    `json:"deliveries"`
	Ratio             float64 `json:"ratio"`     // Deliveries / Baseline, by rate
	CPURatio          float64 `json:"cpu_ratio"` // Baseline / Deliveries, by CPU time per operation
	AttemptsPerCommit float64 `json:"attempts_per_commit"`
	// WriteCPUMicro is what a poll cost more than one without endpoints: writing
	// the update's message for each endpoint, in the same transaction.
	WriteCPUMicro float64 `json:"write_cpu_us"`
	// UpdateCPUMicro is the CPU time one update takes to reach every endpoint: its
	// messages written and Endpoints deliveries.
	UpdateCPUMicro float64 `json:"update_cpu_us"`
	// What the receivers got beyond what each endpoint should have: every update of
	// every reference once, in order.
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	OutOfOrder int64 `json:"out_of_order"`
	Failed     int64 `json:"failed_attempts"`
	// Signatures of a sample of the webhooks, checked with each endpoint's secret.
	SignaturesChecked int `json:"signatures_checked"`
	SignaturesBad     int `json:"signatures_bad"`
}

// sampleEvery is how often a receiver of the delivery runs keeps a webhook to check
// its signature.
const sampleEvery = 64

// runFanout runs the fan-out phase: the polls without endpoints, the backlog with one
// endpoint, then with cfg.fanoutEndpoints, then the latency runs.
func runFanout(ctx context.Context, cfg config, st storage, prog *progress) (fanoutFigures, error) {
	k := cfg.fanoutEndpoints
	f := fanoutFigures{Endpoints: k, References: cfg.fanoutRefs}
	var err error
	if f.NoEndpointPolls, err = fanoutPollsOnly(ctx, cfg, st, "fanout-0", prog); err != nil {
		return f, fmt.Errorf("no endpoint: %w", err)
	}
	base := f.NoEndpointPolls.totalCPUMicro()
	if f.One, err = fanoutDeliveries(ctx, cfg, st, "fanout-1", 1, base, prog); err != nil {
		return f, fmt.Errorf("1 endpoint: %w", err)
	}
	if f.Many, err = fanoutDeliveries(ctx, cfg, st, fmt.Sprintf("fanout-%d", k), k, base, prog); err != nil {
		return f, fmt.Errorf("%d endpoints: %w", k, err)
	}
	if c := f.One.Deliveries.totalCPUMicro(); c > 0 {
		f.DeliveryCPURatio = f.Many.Deliveries.totalCPUMicro() / c
	}
	if c := f.One.UpdateCPUMicro; c > 0 {
		f.UpdateCPURatio = f.Many.UpdateCPUMicro / (float64(k) * c)
	}
	if cfg.fanoutRate == 0 {
		return f, nil
	}
	for i, down := range append([]string{""}, cfg.fanoutDown...) {
		l, err := fanoutLatencyRun(ctx, cfg, st, fmt.Sprintf("fanout-latency-%d", i), down, prog)
		if err != nil {
			return f, fmt.Errorf("latency, %s: %w", downName(down), err)
		}
		f.Latency = append(f.Latency, l)
	}
	return f, nil
}

// fanoutRig is a fresh store of cfg.fanoutRefs references without a callback, in an
// account with one endpoint per receiver, and the rig over it.
type fanoutRig struct {
	*rig
	ids       []string
	rcvs      []*receiver
	endpoints []references.Endpoint // endpoints[i] POSTs to rcvs[i]
}

// newFanoutRig starts k receivers and makes the phase's store name, seeded with the
// set-up writes and opened again by each instance.
func newFanoutRig(ctx context.Context, cfg config, st storage, name string, k int, sampleEvery int64, prog *progress) (_ *fanoutRig, err error) {
	f := &fanoutRig{}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.close(ctx))
		}
	}()
	for range k {
		rcv, err := startReceiver(time.Now, sampleEvery)
		if err != nil {
			return nil, fmt.Errorf("receiver: %w", err)
		}
		f.rcvs = append(f.rcvs, rcv)
	}
	err = prepare(ctx, st, name, func(db benchStore) error {
		var err error
		if f.ids, err = seed(ctx, db, cfg.fanoutRefs, 1, "", prog); err == nil {
			f.endpoints, err = addEndpoints(ctx, db, f.rcvs)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if f.rig, err = openRig(ctx, st, name, nil, cfg); err != nil {
		return nil, err
	}
	return f, nil
}

// addEndpoints gives the bench account one endpoint per receiver, made as the
// service makes them (enabled, standard format and headers, a secret of its own),
// matching every update.
func addEndpoints(ctx context.Context, db benchStore, rcvs []*receiver) ([]references.Endpoint, error) {
	var eps []references.Endpoint
	for i, rcv := range rcvs {
		now := time.Now().UTC()
		ep := references.Endpoint{
			ID: references.NewID("ep_"), AccountID: benchAccount, Enabled: true,
			Format: references.FormatStandard, Headers: references.HeadersStandard,
			DisableAfter: references.DefaultDisableAfter,
			Secrets:      []references.WebhookSecret{{Secret: references.NewWebhookSecret(), CreatedAt: now}},
			CreatedAt:    now, UpdatedAt: now,
		}
		url, desc := rcv.url+"/hooks", fmt.Sprintf("receiver %d of the fan-out", i+1)
		if err := ep.Apply(references.EndpointPatch{URL: &url, Description: &desc}, now); err != nil {
			return nil, err
		}
		ep, err := db.CreateEndpoint(ctx, ep, 0)
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// close closes the stores and the receivers.
func (f *fanoutRig) close(ctx context.Context) error {
	var err error
	if f.rig != nil {
		err = f.rig.close(ctx)
	}
	for _, rcv := range f.rcvs {
		err = errors.Join(err, rcv.close(context.WithoutCancel(ctx)))
	}
	return err
}

// delivered counts the webhooks the receivers answered 2xx.
func delivered(rcvs []*receiver) int64 {
	var n int64
	for _, rcv := range rcvs {
		n += rcv.webhooks.Load()
	}
	return n
}

// fanoutPollsOnly measures the polls of a fan-out run in an account without
// endpoints: what a poll costs before any message is written.
func fanoutPollsOnly(ctx context.Context, cfg config, st storage, name string, prog *progress) (_ rate, err error) {
	prog.begin("fan-out to 0: create")
	f, err := newFanoutRig(ctx, cfg, st, name, 0, 0, prog)
	if err != nil {
		return rate{}, err
	}
	defer func() { err = errors.Join(err, f.close(ctx)) }()
	prog.begin("fan-out to 0: polls")
	return f.pollRounds(ctx, "fanout-0-polls", prog)
}

// pollRounds polls every reference --fanout-rounds times and measures it.
func (f *fanoutRig) pollRounds(ctx context.Context, profileName string, prog *progress) (rate, error) {
	ps, err := f.newPollers()
	if err != nil {
		return rate{}, err
	}
	stopProfile, err := f.cfg.profile(profileName)
	if err != nil {
		return rate{}, err
	}
	start, cpu0 := time.Now(), f.markCPU()
	prog.show(func() string {
		return fmt.Sprintf("%d polls, %d updates", f.polls.total.Load(), f.polls.updates.Load())
	})
	for range f.cfg.fanoutRounds {
		if err = pollAll(ctx, ps, f.ids, f.cfg.pollWorkers); err != nil {
			break
		}
	}
	r := newRate(f.polls.total.Load(), time.Since(start))
	cpu0.fill(&r)
	return r, errors.Join(err, stopProfile())
}

// fanoutDeliveries makes --fanout-rounds updates per reference with k endpoints,
// measures the raw loop to the k receivers, then the notifier delivering the whole
// backlog, and checks what each receiver got. basePollCPU is the CPU time of a poll
// without endpoints, to tell what writing the messages cost.
func fanoutDeliveries(ctx context.Context, cfg config, st storage, storeName string, k int, basePollCPU float64, prog *progress) (run fanoutRun, err error) {
	run.Endpoints = k
	name := fmt.Sprintf("fan-out to %d: ", k)
	prog.begin(name + "create")
	f, err := newFanoutRig(ctx, cfg, st, storeName, k, sampleEvery, prog)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, f.close(ctx)) }()

	prog.begin(name + "polls")
	if run.Polls, err = f.pollRounds(ctx, fmt.Sprintf("fanout-%d-polls", k), prog); err != nil {
		return run, err
	}
	run.Updates = f.polls.updates.Load()

	prog.begin(name + "baseline")
	bodies, err := feedPayloads(ctx, f, 64)
	if err != nil {
		return run, err
	}
	urls := make([]string, k)
	for i, rcv := range f.rcvs {
		urls[i] = rcv.url + baselinePath
	}
	for _, b := range bodies {
		run.PayloadBytes += len(b)
	}
	run.PayloadBytes /= len(bodies)
	if run.Baseline, err = baseline(ctx, urls, bodies, cfg.deliveryWorkers, cfg.fanoutDuration, prog); err != nil {
		return run, err
	}

	prog.begin(name + "deliveries")
	if err := f.deliverBacklog(ctx, &run, fmt.Sprintf("fanout-%d-deliveries", k), prog); err != nil {
		return run, err
	}
	if run.Baseline.PerSec > 0 {
		run.Ratio = run.Deliveries.PerSec / run.Baseline.PerSec
	}
	if c := run.Deliveries.totalCPUMicro(); c > 0 {
		run.CPURatio = run.Baseline.CPUMicro / c
	}
	run.WriteCPUMicro = run.Polls.totalCPUMicro() - basePollCPU
	run.UpdateCPUMicro = run.WriteCPUMicro + float64(k)*run.Deliveries.totalCPUMicro()
	return run, f.check(ctx, &run)
}

// deliverBacklog starts the notifier and measures it until the backlog is delivered.
func (f *fanoutRig) deliverBacklog(ctx context.Context, run *fanoutRun, profileName string, prog *progress) error {
	commits0, err := f.st.commits(ctx, f.db)
	if err != nil {
		return err
	}
	stopProfile, err := f.cfg.profile(profileName)
	if err != nil {
		return err
	}
	attempts0, got0, start, cpu0 := f.attempts.Load(), delivered(f.rcvs), time.Now(), f.markCPU()
	prog.show(func() string {
		n := delivered(f.rcvs) - got0
		return fmt.Sprintf("%d of %d delivered, %.0f/s", n, run.Updates*int64(run.Endpoints), float64(n)/time.Since(start).Seconds())
	})
	stop := f.startNotifier(ctx)
	err = drain(ctx, f.rig)
	run.Deliveries = newRate(delivered(f.rcvs)-got0, time.Since(start))
	cpu0.fill(&run.Deliveries)
	stop()
	if err = errors.Join(err, stopProfile()); err != nil {
		return err
	}
	commits1, err := f.st.commits(ctx, f.db)
	if c := commits1 - commits0; err == nil && c > 0 {
		run.AttemptsPerCommit = float64(f.attempts.Load()-attempts0) / float64(c)
	}
	return err
}

// check counts what the receivers did not get as they should and checks the sampled
// signatures with each endpoint's secret.
func (f *fanoutRig) check(ctx context.Context, run *fanoutRun) error {
	last, err := lastSequences(ctx, f.rig, f.ids)
	if err != nil {
		return err
	}
	var verr error
	for i, rcv := range f.rcvs {
		run.Missing += rcv.missing(last)
		dups, gaps := rcv.anomalies()
		run.Duplicates += dups
		run.OutOfOrder += gaps
		checked, bad, err := rcv.sample.verify(f.endpoints[i].Secrets[0].Secret)
		run.SignaturesChecked += checked
		run.SignaturesBad += bad
		if verr == nil && err != nil {
			verr = fmt.Errorf("endpoint %d: a signature does not verify: %w", i+1, err)
		}
	}
	run.Failed = f.failed.Load()
	if run.SignaturesChecked == 0 {
		return errors.New("no webhook was kept to check its signature")
	}
	return verr
}

// lastSequences returns each reference's last sequence: what every endpoint should
// have received last.
func lastSequences(ctx context.Context, r *rig, ids []string) (map[string]uint64, error) {
	last := make(map[string]uint64, len(ids))
	for _, id := range ids {
		ref, err := r.db.GetReference(ctx, benchAccount, id)
		if err != nil {
			return nil, err
		}
		last[id] = ref.LastSequence
	}
	return last, nil
}

// pollAll polls every reference once through the pollers' PollOne from workers
// goroutines per poller. A reference whose voyage has ended is skipped.
func pollAll(ctx context.Context, ps []*poller.Poller, ids []string, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var pollErr error
	var once sync.Once
	for w := range workers * len(ps) {
		p := ps[w%len(ps)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(ids) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := p.PollOne(ctx, ids[i]); err != nil && !errors.Is(err, references.ErrConflict) {
					once.Do(func() { pollErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(pollErr, ctx.Err())
}

// feedPayloads encodes every update of up to n references, as the notifier sends
// them: the same mix of first and later updates as the backlog, for the raw loop to
// POST.
func feedPayloads(ctx context.Context, f *fanoutRig, n int) ([][]byte, error) {
	var bodies [][]byte
	for _, id := range f.ids[:min(n, len(f.ids))] {
		ups, err := f.db.ListUpdates(ctx, benchAccount, id, 0, references.MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			b, err := webhook.Encode(u)
			if err != nil {
				return nil, err
			}
			bodies = append(bodies, b)
		}
	}
	if len(bodies) == 0 {
		return nil, errors.New("no update to deliver after the polls")
	}
	return bodies, nil
}
