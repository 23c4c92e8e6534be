// Package retention deletes what the store no longer needs to keep: delivered updates
// older than the retention period, entries of the delivery log and endpoint messages
// older than theirs (a message still waiting is dropped and logged as expired),
// expired idempotency keys, and references unsubscribed long enough ago (with
// everything of theirs, once their feed is drained). It deletes in bounded batches so
// no single commit grows large, and runs on internal/workloop like the poller and the
// notifier.
package retention

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/workloop"
	"github.com/trackhook/trackhook/references"
)

// Store is what retention needs: references.Maintenance's Prune.
type Store interface {
	Prune(ctx context.Context, req references.PruneRequest) (references.PruneCounts, error)
}

// DefaultKeep is the default of each retention period: 30 days.
const DefaultKeep = 30 * 24 * time.Hour

// Options configures a Pruner. Zero values take the defaults in parentheses.
type Options struct {
	// Keep is how long delivered updates stay in the feed (DefaultKeep).
	Keep time.Duration
	// KeepDeliveryLog is how long entries of the delivery log stay, and endpoint
	// messages (DefaultKeep): one still waiting to be sent after that long is dropped,
	// on a disabled endpoint too, and its log says it expired.
	KeepDeliveryLog time.Duration
	// KeepUnsubscribed is how long an unsubscribed reference stays after its
	// unsubscribe, with its snapshot, feed and delivery log (DefaultKeep). One whose
	// feed is still being delivered stays until it is drained.
	KeepUnsubscribed time.Duration
	// Every is how often a prune runs (10m); the first runs at Start.
	Every time.Duration
	// Batch is how many records one transaction deletes at most (500). A
	// transaction cannot reuse the pages it frees itself, so large ones grow the
	// store's file: in the load tool's voyage phase (10,000 references) the prunes
	// grew the file 66-97 MB past its peak of 315 MB with 5,000, about 10 MB with
	// 500. Smaller ones also hold the store's writer for less time.
	Batch  int
	Clock  clock.Clock
	Logger *slog.Logger
}

// Pruner runs retention. Start it once; Stop waits for a prune under way.
type Pruner struct {
	store   Store
	opts    Options
	loop    *workloop.Loop[time.Time]
	pending atomic.Bool // a prune is queued or running
}

// New returns a Pruner over store; it does nothing until Start.
func New(store Store, opts Options) *Pruner {
	for _, d := range []*time.Duration{&opts.Keep, &opts.KeepDeliveryLog, &opts.KeepUnsubscribed} {
		if *d <= 0 {
			*d = DefaultKeep
		}
	}
	if opts.Every <= 0 {
		opts.Every = 10 * time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	opts.Clock = clock.OrReal(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pruner{store: store, opts: opts}
	p.loop = workloop.New(workloop.Config[time.Time]{
		Name: "retention",
		// The work due at each scan is one prune, up to the cutoffs of that moment,
		// unless one is queued or running still.
		Claim: func(context.Context, int) ([]time.Time, error) {
			if !p.pending.CompareAndSwap(false, true) {
				return nil, nil
			}
			return []time.Time{opts.Clock.Now()}, nil
		},
		Work: func(ctx context.Context, now time.Time) {
			defer p.pending.Store(false)
			p.Prune(ctx, now)
		},
		Release: func(context.Context, time.Time) { p.pending.Store(false) },
		Workers: 1,
		// Room for two while a scan hands out one: a scan that fills the queue
		// would make the loop scan again at once instead of waiting for Every.
		Queue:    2,
		Schedule: workloop.Every(opts.Every),
		Clock:    opts.Clock,
		Logger:   opts.Logger,
	})
	return p
}

// Start prunes now and then every Options.Every until Stop.
func (p *Pruner) Start(ctx context.Context) { p.loop.Start(ctx) }

// Stop stops the schedule and waits for a prune under way until ctx is done.
func (p *Pruner) Stop(ctx context.Context) { p.loop.Stop(ctx) }

// Request is the prune due at now: each kind's cutoff is now less its retention
// period (idempotency keys: those expired by now; endpoint messages: the delivery
// log's), in batches of Options.Batch.
func (p *Pruner) Request(now time.Time) references.PruneRequest {
	return references.PruneRequest{
		Updates:         now.Add(-p.opts.Keep),
		Attempts:        now.Add(-p.opts.KeepDeliveryLog),
		Messages:        now.Add(-p.opts.KeepDeliveryLog),
		IdempotencyKeys: now,
		Unsubscribed:    now.Add(-p.opts.KeepUnsubscribed),
		Sessions:        now,
		Max:             p.opts.Batch,
	}
}

// Prune deletes what is due at now (see Request), batch after batch, and returns what
// it deleted. It stops early when ctx ends or the store fails (logged).
func (p *Pruner) Prune(ctx context.Context, now time.Time) references.PruneCounts {
	req := p.Request(now)
	var total references.PruneCounts
	for ctx.Err() == nil {
		got, err := p.store.Prune(ctx, req)
		total.Add(got)
		if err != nil {
			if ctx.Err() == nil {
				p.opts.Logger.Error("prune", "err", err)
			}
			break
		}
		if got.Total() < int64(req.Max) {
			break
		}
	}
	if total.Total() > 0 {
		p.opts.Logger.Info("pruned", "updates", total.Updates, "delivery_attempts", total.Attempts,
			"idempotency_keys", total.IdempotencyKeys, "references", total.References,
			"messages", total.Messages, "expired_messages", total.ExpiredMessages)
	}
	return total
}
