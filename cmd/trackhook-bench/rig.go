package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// benchAccount owns every reference the tool creates.
const benchAccount = "bench"

// rig is one store with the service's poller and notifier over it, wired as
// `trackhook serve` wires them: the poller's Observe wakes the notifier when a poll
// appended updates. Pollers and notifiers cannot be restarted, so each phase starts
// its own.
type rig struct {
	db     *store.DB
	source *stepSource
	rcv    *receiver
	cfg    config

	polls    pollCounts
	attempts atomic.Int64 // delivery attempts recorded
	failed   atomic.Int64 // attempts not delivered

	mu       sync.Mutex
	notifier *notifier.Notifier // the running one, or nil
}

// pollCounts counts finished polls by outcome.
type pollCounts struct {
	total, changed, unchanged, unsubscribed, other, updates atomic.Int64
}

func (c *pollCounts) observe(r poller.PollReport) {
	c.total.Add(1)
	c.updates.Add(int64(r.Updates))
	switch r.Outcome {
	case "changed":
		c.changed.Add(1)
	case "unchanged":
		c.unchanged.Add(1)
	case "unsubscribed":
		c.unsubscribed.Add(1)
	default:
		c.other.Add(1)
	}
}

// openStore opens (creating) the store at path. noSync is for seeding only.
func openStore(path string, noSync bool) (*store.DB, error) {
	return store.Open(path, store.Options{NoSync: noSync})
}

func newRig(db *store.DB, rcv *receiver, cfg config) *rig {
	return &rig{db: db, source: newStepSource(cfg.step), rcv: rcv, cfg: cfg}
}

// newPoller returns a poller over the rig's store with the stepping demo carrier.
func (r *rig) newPoller() (*poller.Poller, error) {
	return poller.New(r.db, poller.Options{
		Router:          poller.Router{Default: r.source},
		Workers:         r.cfg.pollWorkers,
		DefaultInterval: r.cfg.pollInterval,
		Observe: func(rep poller.PollReport) {
			r.polls.observe(rep)
			if rep.Updates > 0 {
				r.mu.Lock()
				if r.notifier != nil {
					r.notifier.Wake()
				}
				r.mu.Unlock()
			}
		},
	})
}

// startNotifier starts a notifier delivering to the receiver; stop it with the
// returned function, which waits for the attempts under way.
func (r *rig) startNotifier(ctx context.Context) (stop func()) {
	sender := notifier.NewSender(notifier.SenderOptions{
		AllowPrivate: true, UserAgent: "trackhook-bench", Timeout: r.cfg.deliveryTimeout,
	})
	n := notifier.New(r.db, sender, notifier.Options{
		Workers: r.cfg.deliveryWorkers,
		Lease:   max(30*time.Second, 3*r.cfg.deliveryTimeout), // as trackhook serve sets it
		Observe: func(_ references.DeliveryJob, a references.DeliveryAttempt) {
			r.attempts.Add(1)
			if a.Outcome != references.OutcomeDelivered {
				r.failed.Add(1)
			}
		},
	})
	n.Start(ctx)
	r.mu.Lock()
	r.notifier = n
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.notifier = nil
		r.mu.Unlock()
		n.Stop(context.WithoutCancel(ctx))
	}
}

// seed creates n active references of the demo carrier with a callback to the
// receiver (none when callback is empty), all due now, from many goroutines (the store commits them together). It
// returns their ids.
func seed(ctx context.Context, db *store.DB, n int, callback string, prog *progress) ([]string, error) {
	now := time.Now().UTC()
	if _, err := db.EnsureAccount(ctx, benchAccount, references.NewWebhookSecret(), now); err != nil {
		return nil, err
	}
	ids := make([]string, n)
	var next, done atomic.Int64
	prog.show(func() string { return fmt.Sprintf("%d of %d references created", done.Load(), n) })
	workers := 8 * runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				at := now
				ref := references.Reference{
					ID: references.NewID("ref_"), AccountID: benchAccount,
					ContainerID: fmt.Sprintf("BNCU%07d", i), CarrierCode: demo.CarrierCode,
					CallbackURL: callback, Status: references.StatusActive,
					CreatedAt: now, UpdatedAt: now, NextPollAt: &at,
				}
				if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				ids[i] = ref.ID
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return ids, ctx.Err()
}
