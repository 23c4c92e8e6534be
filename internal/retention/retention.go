// Package retention deletes what the store no longer needs to keep: delivered
// updates older than the retention period, in bounded batches so no single commit
// grows large. It runs on internal/workloop like the poller and the notifier.
package retention

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/workloop"
)

// Store is what retention needs: references.Maintenance's pruning.
type Store interface {
	PruneUpdates(ctx context.Context, cutoff time.Time, max int) (int, error)
}

// Options configures a Pruner. Zero values take the defaults in parentheses.
type Options struct {
	// Keep is how long delivered updates stay in the feed (30 days).
	Keep time.Duration
	// Every is how often a prune runs (10m); the first runs at Start.
	Every time.Duration
	// Batch is how many updates one transaction deletes at most (5,000).
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
	if opts.Keep <= 0 {
		opts.Keep = 30 * 24 * time.Hour
	}
	if opts.Every <= 0 {
		opts.Every = 10 * time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	opts.Clock = clock.OrReal(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pruner{store: store, opts: opts}
	p.loop = workloop.New(workloop.Config[time.Time]{
		Name: "retention",
		// The work due at each scan is one prune, up to the cutoff of that moment,
		// unless one is queued or running still.
		Claim: func(context.Context, int) ([]time.Time, error) {
			if !p.pending.CompareAndSwap(false, true) {
				return nil, nil
			}
			return []time.Time{opts.Clock.Now().Add(-opts.Keep)}, nil
		},
		Work: func(ctx context.Context, cutoff time.Time) {
			defer p.pending.Store(false)
			p.Prune(ctx, cutoff)
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

// Prune deletes what is older than cutoff, batch after batch, and returns how many
// updates it deleted. It stops early when ctx ends or the store fails (logged).
func (p *Pruner) Prune(ctx context.Context, cutoff time.Time) int {
	total := 0
	for ctx.Err() == nil {
		n, err := p.store.PruneUpdates(ctx, cutoff, p.opts.Batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				p.opts.Logger.Error("prune updates", "err", err)
			}
			break
		}
		if n < p.opts.Batch {
			break
		}
	}
	if total > 0 {
		p.opts.Logger.Info("pruned updates", "deleted", total, "older_than", cutoff)
	}
	return total
}
