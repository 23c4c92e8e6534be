package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// benchAccount owns every reference the tool creates, unless --accounts spreads the
// references of the main run and the latency phase over several (accountOf).
const benchAccount = "bench"

// accountOf is the account of the i-th reference of a phase whose references are
// spread over accounts accounts: in turn, bench-1, bench-2, ...; benchAccount when
// there is one.
func accountOf(i, accounts int) string {
	if accounts <= 1 {
		return benchAccount
	}
	return fmt.Sprintf("%s-%d", benchAccount, i%accounts+1)
}

// rig is one phase's store with the service's poller and notifier over it, wired as
// `trackhook serve` wires them: the poller's Observe wakes the notifier when a poll
// appended updates. With --instances N (PostgreSQL), it is N instances of the service
// on one database: each has a store of its own (its own connection pool), a poller and
// a notifier under names of their own, and a poll wakes its own instance's notifier
// only, as in N processes. Pollers and notifiers cannot be restarted, so each phase
// starts its own.
type rig struct {
	st     storage
	name   string       // of the phase's store
	dbs    []benchStore // one per instance
	db     benchStore   // dbs[0], which the tool's own reads also use
	source *stepSource
	rcv    *receiver
	cfg    config

	polls    pollCounts
	attempts atomic.Int64 // delivery attempts recorded
	failed   atomic.Int64 // attempts not delivered

	mu        sync.Mutex
	notifiers []*notifier.Notifier // the running ones, by instance, or nil
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

// prepare makes the phase's store and seeds it with fill, which gets a store opened
// for set-up writes (not measured) and closed after it.
func prepare(ctx context.Context, st storage, name string, fill func(benchStore) error) error {
	db, err := st.open(ctx, name, true)
	if err != nil {
		return err
	}
	return errors.Join(fill(db), db.Close())
}

// openRig opens the phase's store once per instance and returns the rig over them.
func openRig(ctx context.Context, st storage, name string, rcv *receiver, cfg config) (*rig, error) {
	r := &rig{st: st, name: name, source: newStepSource(cfg.step), rcv: rcv, cfg: cfg}
	for range cfg.instances {
		db, err := st.open(ctx, name, false)
		if err != nil {
			return nil, errors.Join(err, r.close(ctx))
		}
		r.dbs = append(r.dbs, db)
	}
	r.db = r.dbs[0]
	return r, nil
}

// close closes the instances' stores and removes the phase's store.
func (r *rig) close(ctx context.Context) error {
	var err error
	for _, db := range r.dbs {
		err = errors.Join(err, db.Close())
	}
	return errors.Join(err, r.st.remove(context.WithoutCancel(ctx), r.name))
}

// instanceName names instance i's poller or notifier (role) in its leases: the
// service's default name for a single instance, role-1, role-2, ... for several.
func (r *rig) instanceName(role string, i int) string {
	if len(r.dbs) == 1 {
		return ""
	}
	return fmt.Sprintf("%s-%d", role, i+1)
}

// newPollers returns a poller over each instance's store with the stepping demo
// carrier.
func (r *rig) newPollers() ([]*poller.Poller, error) {
	ps := make([]*poller.Poller, len(r.dbs))
	for i, db := range r.dbs {
		var err error
		ps[i], err = poller.New(db, poller.Options{
			Router:          poller.Router{Default: r.source},
			Workers:         r.cfg.pollWorkers,
			DefaultInterval: r.cfg.pollInterval,
			Owner:           r.instanceName("poller", i),
			Observe: func(rep poller.PollReport) {
				r.polls.observe(rep)
				if rep.Updates > 0 {
					r.mu.Lock()
					if r.notifiers != nil {
						r.notifiers[i].Wake()
					}
					r.mu.Unlock()
				}
			},
		})
		if err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// startPollers starts the pollers; stop them with the returned function, which
// waits for the polls under way.
func startPollers(ctx context.Context, ps []*poller.Poller) (stop func()) {
	for _, p := range ps {
		p.Start(ctx)
	}
	return sync.OnceFunc(func() {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Stop(context.WithoutCancel(ctx))
			}()
		}
		wg.Wait()
	})
}

// startNotifier starts a notifier per instance delivering to the receivers; stop
// them with the returned function, which waits for the attempts under way.
func (r *rig) startNotifier(ctx context.Context) (stop func()) {
	ns := make([]*notifier.Notifier, len(r.dbs))
	for i, db := range r.dbs {
		sender := notifier.NewSender(notifier.SenderOptions{
			AllowPrivate: true, UserAgent: "trackhook-bench", Timeout: r.cfg.deliveryTimeout,
		})
		ns[i] = notifier.New(db, sender, notifier.Options{
			Workers: r.cfg.deliveryWorkers,
			Lease:   max(30*time.Second, 3*r.cfg.deliveryTimeout), // as trackhook serve sets it
			Owner:   r.instanceName("notifier", i),
			Observe: func(_ references.DeliveryJob, a references.DeliveryAttempt) {
				r.attempts.Add(1)
				if a.Outcome != references.OutcomeDelivered {
					r.failed.Add(1)
				}
			},
		})
	}
	for _, n := range ns {
		n.Start(ctx)
	}
	r.mu.Lock()
	r.notifiers = ns
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.notifiers = nil
		r.mu.Unlock()
		var wg sync.WaitGroup
		for _, n := range ns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Stop(context.WithoutCancel(ctx))
			}()
		}
		wg.Wait()
	}
}

// markCPU reads the CPU clocks at the start of a measurement.
func (r *rig) markCPU() cpuMark { return markCPU(r.st) }

// seed creates n active references of the demo carrier with a callback to the
// receiver (none when callback is empty), all due now, in accounts accounts (see
// accountOf), from many goroutines (the store commits them together). It returns
// their ids.
func seed(ctx context.Context, db benchStore, n, accounts int, callback string, prog *progress) ([]string, error) {
	return seedWith(ctx, db, n, accounts, func(int) string { return callback }, prog)
}

// seedWith is seed with the i-th reference's callback callbackOf(i).
func seedWith(ctx context.Context, db benchStore, n, accounts int, callbackOf func(i int) string, prog *progress) ([]string, error) {
	now := time.Now().UTC()
	for i := range min(max(accounts, 1), max(n, 1)) {
		if _, err := db.EnsureAccount(ctx, accountOf(i, accounts), references.NewWebhookSecret(), now); err != nil {
			return nil, err
		}
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
					ID: references.NewID("ref_"), AccountID: accountOf(i, accounts),
					ContainerID: fmt.Sprintf("BNCU%07d", i), CarrierCode: demo.CarrierCode,
					CallbackURL: callbackOf(i), Status: references.StatusActive,
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
