package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trackhook/trackhook/store"
)

// retention deletes delivered updates older than the retention period, in bounded
// batches so no single commit grows large.
type retention struct {
	db     *store.DB
	keep   time.Duration
	log    *slog.Logger
	cron   *cron.Cron
	cancel context.CancelFunc
}

const pruneBatch = 5000

func newRetention(db *store.DB, keep time.Duration, log *slog.Logger) *retention {
	return &retention{db: db, keep: keep, log: log}
}

// Start prunes every ten minutes until Stop.
func (r *retention) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	logger := cron.PrintfLogger(slogPrintf{r.log})
	r.cron = cron.New(cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	// A constant spec cannot fail to parse.
	_, _ = r.cron.AddFunc("@every 10m", func() { r.prune(ctx) })
	r.cron.Start()
}

func (r *retention) prune(ctx context.Context) {
	cutoff := time.Now().Add(-r.keep)
	total := 0
	for ctx.Err() == nil {
		n, err := r.db.PruneUpdates(ctx, cutoff, pruneBatch)
		total += n
		if err != nil {
			r.log.Error("prune updates", "err", err)
			return
		}
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		r.log.Info("pruned updates", "deleted", total, "older_than", cutoff)
	}
}

// Stop stops the schedule and waits for a prune in progress.
func (r *retention) Stop() {
	r.cancel()
	<-r.cron.Stop().Done()
}

// slogPrintf adapts slog to cron's Printf logger (which it uses for errors only).
type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...), "component", "cron")
}
