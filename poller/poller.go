// Package poller finds references that are due, fetches their shipment from a
// tracking source, diffs it against the stored snapshot and records the result: the
// new state, the update in the reference's feed and the next poll time, in one store
// transaction. A robfig/cron entry ticks the scan; a bounded pool of workers polls.
//
// The sources come from drivers (poller/demo, poller/dcsa) that cmd/trackhook
// registers with a Registry, which also reads the --sources file. That reading (YAML
// or JSON, unknown keys refused, ${NAME}, errors naming the line and key) lives here,
// not in cmd, because each driver decodes its own block of the file through a Block,
// which must know the file's format and positions, and the drivers cannot import cmd.
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trackhook/trackhook/internal/inflight"
	"github.com/trackhook/trackhook/references"
)

// Store is what the poller needs of persistence.
type Store interface {
	DueReferences(ctx context.Context, now time.Time, limit int) ([]string, error)
	Reference(ctx context.Context, id string) (references.Reference, error)
	Shipment(ctx context.Context, refID string) (*references.Shipment, error)
	RecordPoll(ctx context.Context, refID string, res references.PollResult) (references.Reference, error)
}

// Options configures a Poller. Zero values take the defaults in parentheses.
type Options struct {
	Router Router
	// DefaultInterval is the poll interval of references that have none (15m).
	DefaultInterval time.Duration
	// Workers is how many polls run at once (16).
	Workers int
	// TickSchedule is the cron spec of the due scan ("@every 1s").
	TickSchedule string
	// PollTimeout bounds one fetch (60s).
	PollTimeout time.Duration
	// Jitter spreads polls: each interval is scaled by a random factor in
	// [1-Jitter, 1+Jitter] (0.1).
	Jitter float64
	// BackoffBase and BackoffMax bound the exponential backoff after failures (1m, 6h).
	BackoffBase, BackoffMax time.Duration
	// FailedUpdateAfter is how many failures in a row make a tracking.failed update (3).
	FailedUpdateAfter int
	// MaxAge unsubscribes references older than this (90 days).
	MaxAge time.Duration
	// NotFoundFor unsubscribes references the source has not known for this long (72h).
	NotFoundFor time.Duration
	// Terminal says which events end tracking (DefaultTerminalRule).
	Terminal TerminalRule
	Now      func() time.Time
	Rand     func() float64 // in [0, 1); math/rand/v2 by default
	Logger   *slog.Logger
	// Observe, when set, is called after every recorded poll: for metrics, and to wake
	// the notifier when updates were appended.
	Observe func(PollReport)
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.DefaultInterval <= 0 {
		o.DefaultInterval = 15 * time.Minute
	}
	if o.TickSchedule == "" {
		o.TickSchedule = "@every 1s"
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = time.Minute
	}
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = time.Minute
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 6 * time.Hour
	}
	if o.FailedUpdateAfter == 0 {
		o.FailedUpdateAfter = 3
	}
	if o.MaxAge == 0 {
		o.MaxAge = 90 * 24 * time.Hour
	}
	if o.NotFoundFor == 0 {
		o.NotFoundFor = 72 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Poller schedules and runs polls. Start it once; Stop drains in-flight polls.
type Poller struct {
	store Store
	opts  Options
	log   *slog.Logger

	inFlight *inflight.Set // references queued or being polled: one poll each at a time
	jobs     chan string
	room     chan struct{} // the queue is half empty again: a full scan may go on
	stopping chan struct{} // closed by Stop: the scan returns

	cron    *cron.Cron
	cancel  context.CancelFunc
	workers sync.WaitGroup
}

// PollReport describes one finished poll, for metrics and logs.
type PollReport struct {
	ReferenceID string
	Carrier     string
	Outcome     string // changed, unchanged, failed, not_found, unsubscribed
	Updates     int
	Duration    time.Duration
}

// New returns a Poller over store. It does nothing until Start.
func New(store Store, opts Options) *Poller {
	opts.defaults()
	return &Poller{
		store:    store,
		opts:     opts,
		log:      opts.Logger,
		inFlight: inflight.New(),
		jobs:     make(chan string, opts.Workers*4),
		room:     make(chan struct{}, 1),
		stopping: make(chan struct{}),
	}
}

// Start launches the workers and the cron tick. They run until Stop; ctx is the
// parent of every poll.
func (p *Poller) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	for range p.opts.Workers {
		p.workers.Add(1)
		go p.work(ctx)
	}
	logger := cron.PrintfLogger(slogPrintf{p.log})
	p.cron = cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	if _, err := p.cron.AddFunc(p.opts.TickSchedule, func() { p.scan(ctx) }); err != nil {
		p.cancel()
		close(p.jobs)
		p.workers.Wait()
		return fmt.Errorf("poll schedule %q: %w", p.opts.TickSchedule, err)
	}
	p.cron.Start()
	return nil
}

// Stop stops the tick, lets the polls already running finish (until ctx is done,
// then cancels them) and waits for the workers. Queued polls that did not start stay
// due in the store and run after the next start.
func (p *Poller) Stop(ctx context.Context) {
	close(p.stopping)
	<-p.cron.Stop().Done() // no tick runs after this: closing the queue is safe
	close(p.jobs)
	done := make(chan struct{})
	go func() { p.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		p.cancel()
		<-done
	}
	p.cancel()
}

// scan queues every due reference that is not in flight, until nothing more is due or
// Stop is called; when the queue is full it waits for the workers to take half of it.
// Each cron tick starts it, and SkipIfStillRunning keeps one at a time. Queuing only
// one queue's worth per tick would cap polling at Workers*4 polls per tick, whatever
// the number of references due.
func (p *Poller) scan(ctx context.Context) {
	for {
		_, more, err := p.tick(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("poll scan failed", "err", err)
			}
			return
		}
		if !more {
			return
		}
		select {
		case <-p.room:
		case <-p.stopping:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Tick scans the store for due references and queues those not already in flight,
// without waiting for any poll. It returns how many it queued.
func (p *Poller) Tick(ctx context.Context) (int, error) {
	n, _, err := p.tick(ctx)
	return n, err
}

// tick is Tick; more reports that the queue filled up with references still due.
func (p *Poller) tick(ctx context.Context) (queued int, more bool, err error) {
	free := cap(p.jobs) - len(p.jobs)
	if free == 0 {
		return 0, true, nil
	}
	mark := p.inFlight.Scan()
	defer p.inFlight.EndScan(mark)
	// Ask for more than fits: the most overdue may be in flight already.
	limit := free + p.inFlight.Len()
	ids, err := p.store.DueReferences(ctx, p.opts.Now(), limit)
	if err != nil {
		return 0, false, err
	}
	for _, id := range ids {
		if !p.inFlight.Claim(id, mark) {
			continue
		}
		select {
		case p.jobs <- id:
			queued++
		default:
			p.inFlight.Unclaim(id)
			return queued, true, nil // the queue is full; the rest stay due
		}
	}
	return queued, len(ids) == limit, nil
}

func (p *Poller) work(ctx context.Context) {
	defer p.workers.Done()
	for id := range p.jobs {
		// Each scan walks the schedule from its start: let the queue empty by half
		// before asking for another, not after every job.
		if len(p.jobs) <= cap(p.jobs)/2 {
			select {
			case p.room <- struct{}{}:
			default:
			}
		}
		if ctx.Err() == nil {
			if err := p.PollOne(ctx, id); err != nil && ctx.Err() == nil {
				p.log.Error("poll failed", "reference_id", id, "err", err)
			}
		}
		p.inFlight.Release(id)
	}
}

// PollOne polls one reference now and records the outcome. Errors of the source are
// recorded on the reference, not returned; an error return means the store failed
// or ctx ended (then nothing is recorded and the reference stays due).
func (p *Poller) PollOne(ctx context.Context, id string) error {
	start := p.opts.Now()
	ref, err := p.store.Reference(ctx, id)
	if err != nil {
		return fmt.Errorf("poll %s: %w", id, err)
	}
	if !ref.Active() {
		return nil
	}
	res, outcome, err := p.poll(ctx, ref, start)
	if err != nil {
		return fmt.Errorf("poll %s: %w", id, err)
	}
	if _, err := p.store.RecordPoll(ctx, id, res); err != nil {
		return fmt.Errorf("poll %s: %w", id, err)
	}
	if p.opts.Observe != nil {
		p.opts.Observe(PollReport{ReferenceID: id, Carrier: ref.CarrierCode, Outcome: outcome, Updates: len(res.Updates), Duration: p.opts.Now().Sub(start)})
	}
	return nil
}

// poll fetches and diffs; it returns the result to record and the outcome name.
func (p *Poller) poll(ctx context.Context, ref references.Reference, now time.Time) (references.PollResult, string, error) {
	res := references.PollResult{PolledAt: now, NextPollAt: p.nextPoll(ref, now)}
	if now.Sub(ref.CreatedAt) >= p.opts.MaxAge {
		p.unsubscribe(&res, references.ReasonMaxAge, now)
		return res, "unsubscribed", nil
	}
	src := p.opts.Router.For(ref.CarrierCode)
	if src == nil {
		return p.failed(ref, res, now, fmt.Errorf("no tracking source is configured for carrier %s", ref.CarrierCode)), "failed", nil
	}
	fetchCtx, cancel := context.WithTimeout(ctx, p.opts.PollTimeout)
	fetched, err := src.Fetch(fetchCtx, ref)
	cancel()
	if ctx.Err() != nil {
		return res, "", ctx.Err() // shutting down: not the source's fault, record nothing
	}
	if errors.Is(err, references.ErrShipmentNotFound) {
		since := now
		if ref.NotFoundSince != nil {
			since = *ref.NotFoundSince
		}
		if now.Sub(since) >= p.opts.NotFoundFor {
			p.unsubscribe(&res, references.ReasonNotFound, now)
			return res, "unsubscribed", nil
		}
		res = p.failed(ref, res, now, err)
		res.NotFoundSince = &since
		return res, "not_found", nil
	}
	if err != nil {
		return p.failed(ref, res, now, err), "failed", nil
	}

	cur := Derive(fetched)
	old, err := p.store.Shipment(ctx, ref.ID)
	if err != nil {
		return res, "", err
	}
	changes := Diff(old, cur)
	if len(changes) == 0 {
		return res, "unchanged", nil
	}
	res.Shipment = cur
	res.Updates = append(res.Updates, references.Update{
		ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now,
		Changes: changes, Shipment: cur,
	})
	if IsComplete(cur, p.opts.Terminal) {
		p.unsubscribe(&res, references.ReasonTrackingComplete, now)
		return res, "unsubscribed", nil
	}
	return res, "changed", nil
}

// failed records a failed poll: backoff, the error on the reference and, when the
// failures in a row reach FailedUpdateAfter, one tracking.failed update.
func (p *Poller) failed(ref references.Reference, res references.PollResult, now time.Time, err error) references.PollResult {
	res.Error = err.Error()
	res.ConsecutiveFailures = ref.ConsecutiveFailures + 1
	res.NotFoundSince = nil
	backoff := p.opts.BackoffBase << min(res.ConsecutiveFailures-1, 20)
	if backoff > p.opts.BackoffMax || backoff <= 0 {
		backoff = p.opts.BackoffMax
	}
	var se *references.SourceError
	if errors.As(err, &se) && se.RetryAfter > backoff {
		backoff = se.RetryAfter // the source, or its guard, asked for a longer pause
	}
	res.NextPollAt = now.Add(p.jitter(backoff))
	if res.ConsecutiveFailures == p.opts.FailedUpdateAfter {
		res.Updates = append(res.Updates, references.Update{
			ID: references.NewID("upd_"), Type: references.UpdateTrackingFailed, CreatedAt: now,
			Changes: []references.Change{}, Error: res.Error,
		})
	}
	return res
}

// unsubscribe ends tracking with reason, appending the reference.unsubscribed update.
func (p *Poller) unsubscribe(res *references.PollResult, reason references.UnsubscribeReason, now time.Time) {
	res.Unsubscribe = reason
	res.Updates = append(res.Updates, references.Update{
		ID: references.NewID("upd_"), Type: references.UpdateUnsubscribed, CreatedAt: now,
		Changes: []references.Change{}, UnsubscribeReason: reason,
	})
}

func (p *Poller) nextPoll(ref references.Reference, now time.Time) time.Time {
	interval := time.Duration(ref.PollInterval)
	if interval <= 0 {
		interval = p.opts.DefaultInterval
	}
	return now.Add(p.jitter(interval))
}

// jitter scales d by a random factor in [1-Jitter, 1+Jitter].
func (p *Poller) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + p.opts.Jitter*(2*p.opts.Rand()-1)))
}

// slogPrintf adapts slog to cron's Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...), "component", "cron")
}
