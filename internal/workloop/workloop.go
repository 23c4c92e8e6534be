// Package workloop runs one kind of background work the way the poller, the notifier
// and retention all need it: a scan claims due work from the store, a bounded queue
// holds it, a pool of workers does it, leases are renewed while it runs, and Stop
// drains what is under way.
//
// The scan runs when the schedule says (a robfig/cron schedule such as "@every 1s",
// timed by the injected clock), when Wake is called, and again at once while the
// queue keeps filling up: a backlog drains at the workers' pace, not one queue's
// worth per tick. A scan that fails (the store does not answer) is logged and tried
// again after a backoff (scanBackoff); the loop never gives up on its own.
package workloop

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trackhook/trackhook/internal/clock"
)

// Config describes one loop. Claim and Work are required.
type Config[T any] struct {
	// Name is used in log lines ("poller", "notifier", "retention").
	Name string
	// Claim returns up to limit items of due work, each claimed for this loop (no
	// other claimer gets it until it is done or its lease ends).
	Claim func(ctx context.Context, limit int) ([]T, error)
	// Work does one item. ctx ends when Stop gives up waiting, or when the item's
	// lease could not be renewed.
	Work func(ctx context.Context, item T)
	// Release gives back an item that was claimed but not worked because Stop came
	// first. Optional.
	Release func(ctx context.Context, item T)
	// Renew keeps an item's claim alive: once when a worker takes it from the queue
	// (an error skips it), then every RenewEvery while it is worked (an error cancels
	// that item's work). Optional.
	Renew      func(ctx context.Context, item T) error
	RenewEvery time.Duration
	// Workers is how many items are worked at once (1).
	Workers int
	// Queue is how many claimed items may wait for a worker (2*Workers).
	Queue int
	// Schedule is when to scan when nothing wakes the loop (every second).
	Schedule cron.Schedule
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Loop runs a Config. Start it once; Stop drains it.
type Loop[T any] struct {
	cfg   Config[T]
	queue chan T
	wake  chan struct{}
	room  chan struct{} // the queue is half empty again: a full scan may go on

	mu      sync.Mutex
	running map[uint64]*running[T]
	nextID  uint64

	stopScan   context.CancelFunc
	cancelWork context.CancelFunc
	scanning   sync.WaitGroup
	workers    sync.WaitGroup
	renewing   sync.WaitGroup
	stopRenew  chan struct{}
}

type running[T any] struct {
	item   T
	cancel context.CancelFunc
}

// New returns a Loop; it does nothing until Start.
func New[T any](cfg Config[T]) *Loop[T] {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 2 * cfg.Workers
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Every(time.Second)
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Loop[T]{
		cfg:       cfg,
		queue:     make(chan T, cfg.Queue),
		wake:      make(chan struct{}, 1),
		room:      make(chan struct{}, 1),
		running:   map[uint64]*running[T]{},
		stopRenew: make(chan struct{}),
	}
}

// ParseSchedule reads a cron spec ("@every 1s", "*/5 * * * *") for Config.Schedule.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

// Wake asks for a scan now. It never blocks.
func (l *Loop[T]) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Start launches the scan, the workers and the lease renewer; ctx is the parent of
// all the work.
func (l *Loop[T]) Start(ctx context.Context) {
	workCtx, cancelWork := context.WithCancel(ctx)
	scanCtx, stopScan := context.WithCancel(workCtx)
	l.cancelWork, l.stopScan = cancelWork, stopScan
	for range l.cfg.Workers {
		l.workers.Add(1)
		go l.work(workCtx)
	}
	if l.cfg.Renew != nil && l.cfg.RenewEvery > 0 {
		l.renewing.Add(1)
		go l.renewLoop(workCtx)
	}
	l.scanning.Add(1)
	go l.scanLoop(scanCtx)
}

// Stop stops scanning, lets the queued and running work finish until ctx is done,
// then cancels what still runs and releases what never started, and waits.
func (l *Loop[T]) Stop(ctx context.Context) {
	l.stopScan()
	l.scanning.Wait()
	close(l.queue) // only the scan sends, and it has returned
	done := make(chan struct{})
	go func() { l.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		l.cancelWork()
		<-done
	}
	l.cancelWork()
	close(l.stopRenew)
	l.renewing.Wait()
}

// Scan claims due work once and queues it, without waiting for any of it: for tests
// and for a caller that knows work is due. It returns how many items it queued.
func (l *Loop[T]) Scan(ctx context.Context) (int, error) {
	n, _, err := l.scan(ctx)
	return n, err
}

// maxScanBackoff bounds the wait after failed scans (see scanBackoff): once the store
// answers again, the loop finds out within this.
const maxScanBackoff = 10 * time.Second

// scanBackoff is the wait before the next scan after failures scans in a row failed
// (a store that does not answer: a database restarting, say): the schedule's interval
// doubled per failure, up to maxScanBackoff, or the interval itself when that is
// longer. A loop scanning four times a second then tries, and logs, a few times a
// minute while the store is down, and none gives up.
func scanBackoff(interval time.Duration, failures int) time.Duration {
	limit := max(interval, maxScanBackoff)
	d := interval << min(failures-1, 30)
	if d <= 0 || d > limit {
		return limit
	}
	return d
}

func (l *Loop[T]) scanLoop(ctx context.Context) {
	defer l.scanning.Done()
	failures := 0
	for {
		_, more, err := l.scan(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			now := l.cfg.Clock.Now()
			delay := scanBackoff(l.cfg.Schedule.Next(now).Sub(now), failures)
			l.cfg.Logger.Error(l.cfg.Name+" scan failed", "err", err, "failures_in_a_row", failures, "next_try_in", delay)
			if !l.sleep(ctx, delay) {
				return
			}
			continue
		case err == nil && failures > 0:
			l.cfg.Logger.Info(l.cfg.Name+" scan works again", "failures_in_a_row", failures)
			failures = 0
		}
		if more && err == nil {
			select {
			case <-ctx.Done():
				return
			case <-l.room:
			}
			continue
		}
		now := l.cfg.Clock.Now()
		if !l.sleep(ctx, l.cfg.Schedule.Next(now).Sub(now)) {
			return
		}
	}
}

// sleep waits d, or less when Wake is called; it returns false when ctx ended.
func (l *Loop[T]) sleep(ctx context.Context, d time.Duration) bool {
	timer := l.cfg.Clock.NewTimer(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return false
	case <-timer.C():
	case <-l.wake:
		timer.Stop()
	}
	return true
}

// scan claims as much as the queue has room for; more reports that it filled up.
func (l *Loop[T]) scan(ctx context.Context) (queued int, more bool, err error) {
	free := cap(l.queue) - len(l.queue)
	if free == 0 {
		return 0, true, nil
	}
	items, err := l.claim(ctx, free)
	if err != nil {
		return 0, false, err
	}
	for _, it := range items {
		l.queue <- it // never blocks: only the scan sends, and there was room
	}
	return len(items), len(items) == free, nil
}

// claim calls Claim, turning a panic into an error (cron.Recover's job before).
func (l *Loop[T]) claim(ctx context.Context, limit int) (items []T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("claim panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return l.cfg.Claim(ctx, limit)
}

func (l *Loop[T]) work(ctx context.Context) {
	defer l.workers.Done()
	for it := range l.queue {
		if len(l.queue) <= cap(l.queue)/2 {
			select {
			case l.room <- struct{}{}:
			default:
			}
		}
		if ctx.Err() != nil {
			if l.cfg.Release != nil {
				l.cfg.Release(context.WithoutCancel(ctx), it)
			}
			continue
		}
		// The renewer keeps the claims under way, not those waiting here: one that
		// ran out in the queue may have been handed out again (to the next scan, or
		// another instance), and working it would do it twice. Check it is still
		// held, which also extends it.
		if l.cfg.Renew != nil {
			if err := l.cfg.Renew(ctx, it); err != nil {
				if ctx.Err() == nil {
					l.cfg.Logger.Warn(l.cfg.Name+": claim lost while queued, skipped", "err", err)
				}
				continue
			}
		}
		l.do(ctx, it)
	}
}

// do works one item under a context of its own, which the renewer cancels when the
// item's claim is lost.
func (l *Loop[T]) do(ctx context.Context, it T) {
	itemCtx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.nextID++
	id := l.nextID
	l.running[id] = &running[T]{item: it, cancel: cancel}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.running, id)
		l.mu.Unlock()
		cancel()
		if p := recover(); p != nil {
			l.cfg.Logger.Error(l.cfg.Name+" work panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	l.cfg.Work(itemCtx, it)
}

// Running returns how many items are being worked on.
func (l *Loop[T]) Running() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.running)
}

func (l *Loop[T]) renewLoop(ctx context.Context) {
	defer l.renewing.Done()
	timer := l.cfg.Clock.NewTimer(l.cfg.RenewEvery)
	defer timer.Stop()
	for {
		select {
		case <-l.stopRenew:
			return
		case <-timer.C():
		}
		l.mu.Lock()
		list := make([]*running[T], 0, len(l.running))
		for _, r := range l.running {
			list = append(list, r)
		}
		l.mu.Unlock()
		for _, r := range list {
			if err := l.cfg.Renew(ctx, r.item); err != nil {
				if ctx.Err() == nil {
					l.cfg.Logger.Warn(l.cfg.Name+": claim lost, work cancelled", "err", err)
				}
				r.cancel()
			}
		}
		timer.Reset(l.cfg.RenewEvery)
	}
}

// Every is a schedule that fires d after each scan. Unlike cron's "@every", it
// takes durations under a second as they are.
func Every(d time.Duration) cron.Schedule { return every(d) }

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
