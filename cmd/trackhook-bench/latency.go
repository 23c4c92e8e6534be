package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// latencyFigures are the latency phase's results. Latency is from detection (the
// start of the poll that found the change, the update's created_at) to the receiver
// having the webhook in hand and answering 2xx.
type latencyFigures struct {
	References int     `json:"references"`
	Rate       float64 `json:"rate"`          // updates a second asked for (--latency-rate)
	Offered    rate    `json:"offered_polls"` // polls started at the fixed rate
	Updates    rate    `json:"updates"`       // updates those polls appended
	Late       int64   `json:"late_polls"`    // polls started behind schedule (workers all busy)
	Delivered  int     `json:"delivered"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Missing    int64   `json:"missing"`
	// OfferedFraction is the updates a second appended over Rate; RateOffered says
	// that the rate was held (at least 95 % of it): the tool starts the polls from
	// --poll-workers goroutines, as the poller runs that many at once; when they are
	// all busy (Late), it waits for one and the rate falls.
	OfferedFraction float64 `json:"offered_fraction"`
	RateOffered     bool    `json:"rate_offered"`
}

// runLatency offers updates at a fixed rate on a fresh store and measures how long each
// takes from detection to the receiver. The polls are started at the rate by the tool
// (the poller's cron tick would start a second's worth at once) through the poller's
// PollOne, so persisting, waking the notifier, signing and posting are the service's.
func runLatency(ctx context.Context, cfg config, st storage, rcv *receiver, prog *progress) (f latencyFigures, err error) {
	f.References = cfg.latencyRefs
	prog.begin("latency: create")
	var ids []string
	err = prepare(ctx, st, "latency", func(db benchStore) error {
		var err error
		ids, err = seed(ctx, db, cfg.latencyRefs, cfg.accounts, rcv.url+"/hooks", prog)
		return err
	})
	if err != nil {
		return f, err
	}
	r, err := openRig(ctx, st, "latency", rcv, cfg)
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, r.close(ctx)) }()
	ps, err := r.newPollers()
	if err != nil {
		return f, err
	}
	stop := r.startNotifier(ctx)
	defer func() {
		if stop != nil {
			stop()
		}
	}()

	prog.begin("latency: offered")
	rcv.record()
	updates0 := r.polls.updates.Load()
	var offered, late atomic.Int64
	prog.show(func() string {
		return fmt.Sprintf("%d polls, %d updates, %d late", offered.Load(), r.polls.updates.Load()-updates0, late.Load())
	})
	stopProfile, err := cfg.profile("latency")
	if err != nil {
		return f, err
	}
	d, err := offerPolls(ctx, ps, ids, cfg.latencyRate, cfg.latencyDuration, cfg.pollWorkers, &offered, &late)
	if err = errors.Join(err, stopProfile()); err != nil {
		return f, err
	}
	f.Offered = newRate(offered.Load(), d)
	f.Updates = newRate(r.polls.updates.Load()-updates0, d)
	f.Late = late.Load()
	f.Rate = cfg.latencyRate
	f.OfferedFraction = f.Updates.PerSec / cfg.latencyRate
	f.RateOffered = f.OfferedFraction >= 0.95

	prog.begin("latency: drain")
	if err := drain(ctx, r); err != nil {
		return f, err
	}
	stop()
	stop = nil
	lat := rcv.stopRecording()
	f.Delivered = len(lat)
	f.P50Ms, f.P90Ms, f.P99Ms, f.MaxMs = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99), percentile(lat, 1)
	f.Missing, err = missing(ctx, r, ids, cfg.accounts)
	return f, err
}

// offerPolls polls ids in turn, rate a second for d, through the pollers' PollOne
// from workers goroutines per poller, the i-th poll on poller i mod len(ps) (the
// instances share the load), counting the polls started in offered and those started
// behind schedule, every worker of the poller being busy, in late. A reference whose
// voyage has ended (no longer active) is skipped, and so is one offered again while
// its last poll is still under way (few references and a slow store); either shows
// in the updates appended, against the rate. It returns how long the offering took.
func offerPolls(ctx context.Context, ps []*poller.Poller, ids []string, rate float64, d time.Duration, workers int, offered, late *atomic.Int64) (time.Duration, error) {
	jobs := make([]chan string, len(ps))
	var wg sync.WaitGroup
	var pollErr error
	var once sync.Once
	for i, p := range ps {
		jobs[i] = make(chan string, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range jobs[i] {
					err := p.PollOne(ctx, id)
					if err != nil && !errors.Is(err, references.ErrConflict) && !errors.Is(err, references.ErrBusy) {
						once.Do(func() { pollErr = err })
					}
				}
			}()
		}
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if time.Since(start) >= d || ctx.Err() != nil {
			break
		}
		if wait := time.Until(at); wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				break
			}
		}
		ch := jobs[i%len(jobs)]
		select {
		case ch <- ids[i%len(ids)]:
		default:
			late.Add(1) // every worker is busy: this poll waits
			ch <- ids[i%len(ids)]
		}
		offered.Add(1)
	}
	for _, ch := range jobs {
		close(ch)
	}
	wg.Wait()
	return time.Since(start), pollErr
}

// percentile returns the q-quantile of ds in milliseconds (nearest rank), sorting ds.
func percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	i = min(max(i, 0), len(ds)-1)
	return float64(ds[i]) / float64(time.Millisecond)
}
