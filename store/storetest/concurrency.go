package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/trackhook/trackhook/references"
)

// claimConcurrently has workers goroutines, each its own owner, call claim (which
// claims without recording anything and returns the lease keys it got) until it gets
// nothing. It fails the test when a lease key is handed out twice and returns who
// got each key.
func (f *fixture) claimConcurrently(workers int, claim func(owner string) ([]string, error)) map[string]string {
	f.t.Helper()
	var mu sync.Mutex
	holder := map[string]string{}
	var problems []string
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("owner-%d", w)
		wg.Go(func() {
			for range maxRounds {
				keys, err := claim(owner)
				mu.Lock()
				if err != nil {
					problems = append(problems, err.Error())
				}
				for _, key := range keys {
					if prev, ok := holder[key]; ok {
						problems = append(problems, fmt.Sprintf("%s claimed by %s and %s", key, prev, owner))
					}
					holder[key] = owner
				}
				stop := len(problems) > 0
				mu.Unlock()
				if len(keys) == 0 || err != nil || stop {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		f.t.Error(p)
	}
	return holder
}

// claimPolls and claimDeliveryKeys are claim functions for claimConcurrently.
func (f *fixture) claimPolls(limit int) func(string) ([]string, error) {
	return func(owner string) ([]string, error) {
		claims, err := f.b.ClaimDuePolls(f.ctx, owner, limit, leaseFor)
		var keys []string
		for _, c := range claims {
			keys = append(keys, c.Lease.Key)
		}
		return keys, err
	}
}

func (f *fixture) claimDeliveryKeys(limit int) func(string) ([]string, error) {
	return func(owner string) ([]string, error) {
		claims, err := f.b.ClaimDueDeliveries(f.ctx, owner, limit, leaseFor)
		var keys []string
		for _, c := range claims {
			keys = append(keys, c.Lease.Key)
		}
		return keys, err
	}
}

// maxRounds bounds the loops of the concurrent helpers, and concurrentTimeout the
// time they take, so that a backend that hands work out again and again, or never,
// fails the test instead of hanging it.
const (
	maxRounds         = 2000
	concurrentTimeout = 30 * time.Second
)

// deliverConcurrently has workers goroutines, each its own owner, claim due deliveries
// limit at a time and deliver every job of each claimed stream, until none is left
// once finished reports true. It fails the test when two owners work one stream at
// the same time or an update is handed out out of order.
func (f *fixture) deliverConcurrently(workers, limit int, finished func() bool) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, concurrentTimeout)
	defer cancel()
	var mu sync.Mutex
	busy := map[string]string{} // lease key -> owner working it
	sent := map[string]uint64{} // stream (its lease key) -> last sequence sent
	var problems []string
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	work := func(owner string, c references.DeliveryClaim) {
		mu.Lock()
		if prev, ok := busy[c.Lease.Key]; ok {
			problems = append(problems, fmt.Sprintf("%s worked by %s and %s at once", c.Lease.Key, prev, owner))
		}
		busy[c.Lease.Key] = owner
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(busy, c.Lease.Key)
			mu.Unlock()
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				fail("ReleaseLease: %v", err)
			}
		}()
		job := c.Job
		for range maxRounds {
			id := c.Lease.Key
			mu.Lock()
			if job.Update.Sequence != sent[id]+1 {
				problems = append(problems, fmt.Sprintf("%s: update %d handed out after %d", id, job.Update.Sequence, sent[id]))
				mu.Unlock()
				return
			}
			sent[id] = job.Update.Sequence
			mu.Unlock()
			if _, err := f.b.RecordAttempt(f.ctx, c.Lease, job, f.epAttempt(job, references.OutcomeDelivered), ""); err != nil {
				fail("RecordAttempt: %v", err)
				return
			}
			next, err := f.b.NextDelivery(f.ctx, c.Lease)
			if errNothing(err) {
				return
			}
			if err != nil {
				fail("NextDelivery: %v", err)
				return
			}
			job = next
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("owner-%d", w)
		wg.Go(func() {
			for {
				mu.Lock()
				stop := len(problems) > 0
				mu.Unlock()
				if stop {
					return
				}
				if ctx.Err() != nil {
					fail("%s: deliveries still due after %s", owner, concurrentTimeout)
					return
				}
				last := finished()
				claims, err := f.b.ClaimDueDeliveries(f.ctx, owner, limit, leaseFor)
				if err != nil {
					fail("ClaimDueDeliveries: %v", err)
					return
				}
				if len(claims) == 0 && last {
					return
				}
				if len(claims) == 0 {
					runtime.Gosched()
				}
				for _, c := range claims {
					work(owner, c)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		f.t.Error(p)
	}
}

// pollConcurrently has workers goroutines, each its own owner, claim due polls limit
// at a time and record each with one update, keeping it due, until rounds polls are
// recorded in all. It fails the test when two owners work one reference's poll at the
// same time, and returns how many polls were recorded per reference.
func (f *fixture) pollConcurrently(workers, limit, rounds int) map[string]int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, concurrentTimeout)
	defer cancel()
	var mu sync.Mutex
	busy := map[string]string{} // reference -> owner polling it
	done := map[string]int{}
	total := 0
	var problems []string
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("poller-%d", w)
		wg.Go(func() {
			for {
				mu.Lock()
				stop := total >= rounds || len(problems) > 0
				if !stop && ctx.Err() != nil {
					problems = append(problems, fmt.Sprintf("%s: %d of %d polls recorded after %s", owner, total, rounds, concurrentTimeout))
					stop = true
				}
				mu.Unlock()
				if stop {
					return
				}
				claims, err := f.b.ClaimDuePolls(f.ctx, owner, limit, leaseFor)
				if err != nil {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("ClaimDuePolls: %v", err))
					mu.Unlock()
					return
				}
				for _, c := range claims {
					id := c.Reference.ID
					mu.Lock()
					if prev, ok := busy[id]; ok {
						problems = append(problems, fmt.Sprintf("%s polled by %s and %s at once", id, prev, owner))
					}
					busy[id] = owner
					mu.Unlock()
					runtime.Gosched() // the poll's work, while marked busy
					mu.Lock()
					delete(busy, id) // before the record ends the lease
					mu.Unlock()
					res := references.PollResult{PolledAt: f.now(), NextPollAt: f.now(), Updates: []references.Update{f.update(references.UpdateShipment)}}
					if _, err := f.b.RecordPoll(f.ctx, c.Lease, res); err != nil {
						mu.Lock()
						problems = append(problems, fmt.Sprintf("RecordPoll(%s): %v", id, err))
						mu.Unlock()
						continue
					}
					mu.Lock()
					done[id]++
					total++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		f.t.Error(p)
	}
	return done
}
