// Package poller claims references that are due, fetches their shipment from a
// tracking source, diffs it against the stored snapshot and records the result: the
// new state, the update in the reference's feed and the next poll time, in one store
// transaction, under the claim's lease. internal/workloop runs the scan (on a
// robfig/cron schedule) and the bounded pool of workers.
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
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/workloop"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// Store is what the poller needs of persistence: due polls handed out with leases,
// the last snapshot, and the durable record of a poll.
type Store interface {
	ClaimDuePolls(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PollClaim, error)
	ClaimPoll(ctx context.Context, owner, refID string, lease time.Duration) (references.PollClaim, error)
	Shipment(ctx context.Context, refID string) (*references.Shipment, error)
	RecordPoll(ctx context.Context, lease references.Lease, res references.PollResult) (references.Reference, error)
	RenewLease(ctx context.Context, lease references.Lease, d time.Duration) (references.Lease, error)
	ReleaseLease(ctx context.Context, lease references.Lease) error

	// The queue of subscriptions to delete at carriers (see references.PushStore),
	// which the poller works.
	ClaimPushDeletions(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PushDeletionClaim, error)
	FinishPushDeletion(ctx context.Context, lease references.Lease) error
	RetryPushDeletion(ctx context.Context, lease references.Lease, until time.Time, lastError string) error
	ListPushDeletions(ctx context.Context, limit int) ([]references.PushDeletion, error)
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
	// Terminal says which events end tracking (tracking.DefaultTerminalRule).
	Terminal tracking.TerminalRule
	// Owner names this poller in its leases ("poller"); instances sharing a store
	// need different names.
	Owner string
	// Lease is how long a claimed poll stays this poller's without renewal (30s);
	// it is renewed every third of it while the poll runs.
	Lease time.Duration
	Clock clock.Clock
	Rand  func() float64 // in [0, 1); math/rand/v2 by default
	// Logger gets every failed poll, at warn, within a limit per source (see
	// failureLogBurst); nil discards.
	Logger *slog.Logger
	// Observe, when set, is called after every recorded poll: for metrics, and to wake
	// the notifier when updates were appended. ApplyPush does not call it: a push is
	// not a poll.
	Observe func(PollReport)
	// Push sets up carrier push: the subscriptions of the sources that push, their
	// safety-net polls, and the queue of subscriptions to delete.
	Push PushOptions
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
	if o.Owner == "" {
		o.Owner = "poller"
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	o.Clock = clock.OrReal(o.Clock)
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Push.defaults()
}

// Poller schedules and runs polls. Start it once; Stop drains in-flight polls.
type Poller struct {
	store    Store
	opts     Options
	log      *slog.Logger
	failures *failureLog
	loop     *workloop.Loop[references.PollClaim]
	// deletions works the store's queue of subscriptions to delete at carriers;
	// deleting is whether Start started it.
	deletions *workloop.Loop[references.PushDeletionClaim]
	deleting  bool
}

// PollReport describes one finished poll, for metrics and logs.
type PollReport struct {
	ReferenceID string
	Carrier     string
	Outcome     string // changed, unchanged, failed, not_found, unsubscribed
	Updates     int
	Duration    time.Duration
}

// New returns a Poller over store. It does nothing until Start. A TickSchedule that
// is not a cron spec is an error, and so are push settings the poller cannot work
// with (see PushOptions).
func New(store Store, opts Options) (*Poller, error) {
	opts.defaults()
	schedule, err := workloop.ParseSchedule(opts.TickSchedule)
	if err != nil {
		return nil, fmt.Errorf("poll %w", err)
	}
	if err := opts.Push.check(opts.Router); err != nil {
		return nil, err
	}
	p := &Poller{store: store, opts: opts, log: opts.Logger, failures: newFailureLog(opts.Logger, opts.Clock)}
	p.loop = workloop.New(workloop.Config[references.PollClaim]{
		Name: "poller",
		Claim: func(ctx context.Context, limit int) ([]references.PollClaim, error) {
			return store.ClaimDuePolls(ctx, opts.Owner, limit, opts.Lease)
		},
		Work: p.work,
		Release: func(ctx context.Context, c references.PollClaim) {
			if err := store.ReleaseLease(ctx, c.Lease); err != nil {
				p.log.Warn("releasing a claimed poll", "reference_id", c.Reference.ID, "err", err)
			}
		},
		Renew: func(ctx context.Context, c references.PollClaim) error {
			_, err := store.RenewLease(ctx, c.Lease, opts.Lease)
			return err
		},
		RenewEvery: opts.Lease / 3,
		Workers:    opts.Workers,
		Queue:      opts.Workers * 4,
		Schedule:   schedule,
		Clock:      opts.Clock,
		Logger:     opts.Logger,
	})
	p.deletions = p.newDeletionLoop()
	return p, nil
}

// Start launches the workers and the scan and, when a source makes push
// subscriptions, the loop that deletes those of ended references at their carriers.
// They run until Stop; ctx is the parent of every poll and deletion.
func (p *Poller) Start(ctx context.Context) {
	p.loop.Start(ctx)
	p.startDeletions(ctx)
}

// Stop stops scanning, lets the polls and deletions already running or queued finish
// (until ctx is done, then cancels them and gives back their claims) and waits. Polls
// and deletions that did not run stay due in the store and run after the next start.
func (p *Poller) Stop(ctx context.Context) {
	p.loop.Stop(ctx)
	if p.deleting {
		p.deletions.Stop(ctx)
	}
}

// Wake asks for a scan of due polls now rather than at the next tick (a reference
// was made due at once: a refresh, a resume). It never blocks.
func (p *Poller) Wake() { p.loop.Wake() }

// Tick claims due polls and queues them, without waiting for any. It returns how
// many it queued.
func (p *Poller) Tick(ctx context.Context) (int, error) { return p.loop.Scan(ctx) }

func (p *Poller) work(ctx context.Context, c references.PollClaim) {
	if err := p.pollClaimed(ctx, c); err != nil && ctx.Err() == nil {
		p.log.Error("poll not recorded", "reference_id", c.Reference.ID, "err", err) // the store failed, or the lease was lost
	}
}

// PollOne polls one reference now, due or not, and records the outcome. Errors of
// the source are recorded on the reference, not returned; an error return means the
// store failed, the reference is being polled already (references.ErrBusy) or is no
// longer active (references.ErrConflict), or ctx ended (then nothing is recorded and
// the reference stays due).
func (p *Poller) PollOne(ctx context.Context, id string) error {
	// Nothing renews this claim: it outlives the fetch's own timeout instead, and that
	// of the subscription requests after it (see keepPush) where there are any.
	lease := p.opts.PollTimeout + p.opts.Lease
	if p.opts.Push.subscribes() {
		lease += p.opts.PollTimeout
	}
	c, err := p.store.ClaimPoll(ctx, p.opts.Owner, id, lease)
	if err != nil {
		return fmt.Errorf("poll %s: %w", id, err)
	}
	return p.pollClaimed(ctx, c)
}

// pollClaimed polls a claimed reference and records the outcome under its lease; on
// an error nothing is recorded and the claim is given back.
func (p *Poller) pollClaimed(ctx context.Context, c references.PollClaim) error {
	start := p.opts.Clock.Now()
	ref := c.Reference
	res, outcome, err := p.poll(ctx, ref, start)
	if err == nil {
		_, err = p.store.RecordPoll(ctx, c.Lease, res)
		if err != nil {
			p.undoPush(ctx, ref, res.Push) // a subscription made for a result that is not recorded
		}
	}
	if err != nil {
		if rerr := p.store.ReleaseLease(context.WithoutCancel(ctx), c.Lease); rerr != nil {
			p.log.Warn("releasing a claimed poll", "reference_id", ref.ID, "err", rerr)
		}
		return fmt.Errorf("poll %s: %w", ref.ID, err)
	}
	if res.EndsTracking() {
		p.deletions.Wake() // the store may have queued the deletion of its subscription
	}
	if outcome == "failed" || outcome == "not_found" {
		p.failures.poll(ctx, ref, p.opts.Router.SourceName(ref.CarrierCode), outcome, res)
	}
	if p.opts.Observe != nil {
		p.opts.Observe(PollReport{ReferenceID: ref.ID, Carrier: ref.CarrierCode, Outcome: outcome, Updates: len(res.Updates), Duration: p.opts.Clock.Now().Sub(start)})
	}
	return nil
}

// poll fetches and diffs; it returns the result to record and the outcome name. For a
// reference whose source pushes, it also keeps the carrier subscription (see
// keepPush), merges the fetch into the stored snapshot rather than replacing it, and
// schedules the next poll as the push's safety net.
func (p *Poller) poll(ctx context.Context, ref references.Reference, now time.Time) (references.PollResult, string, error) {
	res := references.PollResult{PolledAt: now, NextPollAt: p.nextPoll(ref, now)}
	if ref.TrackedFor(now) >= p.opts.MaxAge { // time paused does not count
		p.unsubscribe(&res, references.ReasonMaxAge, now)
		p.endPush(ctx, ref, &res)
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
			p.endPush(ctx, ref, &res)
			return res, "unsubscribed", nil
		}
		res = p.failed(ref, res, now, err)
		res.NotFoundSince = &since
		return res, "not_found", nil
	}
	if err != nil {
		return p.failed(ref, res, now, err), "failed", nil
	}

	old, err := p.store.Shipment(ctx, ref.ID)
	if err != nil {
		return res, "", err
	}
	target := p.pushTarget(ref)
	if target.merges(ref) && old != nil {
		// A GET that lags the carrier's pushes must not take back a pushed event.
		fetched = &references.Shipment{Events: tracking.UnionEvents(old.Events, fetched.Events)}
	}
	outcome := p.settle(old, fetched, &res, now)
	if outcome == "unsubscribed" {
		p.endPush(ctx, ref, &res)
		return res, outcome, nil
	}
	p.keepPush(ctx, ref, target, &res, now)
	if target.pushing(ref, res.Push) {
		res.NextPollAt = p.safetyNetPoll(ref, target.config, now)
	}
	return res, outcome, nil
}

// settle is what a poll and a push share once they have the reference's events: it
// derives the snapshot from them, diffs it against the stored one (old, nil before
// any) and fills res with the new snapshot and its update, and with the end of
// tracking when the snapshot is complete. It returns the outcome: unchanged, changed
// or unsubscribed.
func (p *Poller) settle(old, events *references.Shipment, res *references.PollResult, now time.Time) string {
	cur := tracking.Derive(events)
	changes := tracking.Diff(old, cur)
	if len(changes) == 0 {
		if tracking.RevisionsMoved(old, cur) {
			res.Shipment = cur // no news, but the next merge must see the latest revisions
		}
		return "unchanged"
	}
	res.Shipment = cur
	res.Updates = append(res.Updates, references.Update{
		ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now,
		Changes: changes, Shipment: cur,
	})
	if tracking.IsComplete(cur, p.opts.Terminal) {
		p.unsubscribe(res, references.ReasonTrackingComplete, now)
		return "unsubscribed"
	}
	return "changed"
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
	res.Updates = append(res.Updates, references.UnsubscribedUpdate(reason, now))
}

func (p *Poller) nextPoll(ref references.Reference, now time.Time) time.Time {
	return now.Add(p.jitter(p.interval(ref)))
}

// interval is the reference's own poll interval, or the default.
func (p *Poller) interval(ref references.Reference) time.Duration {
	if interval := time.Duration(ref.PollInterval); interval > 0 {
		return interval
	}
	return p.opts.DefaultInterval
}

// jitter scales d by a random factor in [1-Jitter, 1+Jitter].
func (p *Poller) jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + p.opts.Jitter*(2*p.opts.Rand()-1)))
}
