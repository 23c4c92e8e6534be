package storetest

import (
	"fmt"
	"sync"

	"github.com/trackhook/trackhook/references"
)

// claimConcurrently has workers goroutines, each its own owner, claim due deliveries
// limit at a time, without recording anything, until none is left. It fails the test
// when a lease key is handed out twice and returns who got each key.
func (f *fixture) claimConcurrently(workers, limit int) map[string]string {
	f.t.Helper()
	var mu sync.Mutex
	holder := map[string]string{}
	var problems []string
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("owner-%d", w)
		wg.Go(func() {
			for {
				claims, err := f.b.ClaimDueDeliveries(f.ctx, owner, limit, leaseFor)
				mu.Lock()
				if err != nil {
					problems = append(problems, err.Error())
				}
				for _, c := range claims {
					if prev, ok := holder[c.Lease.Key]; ok {
						problems = append(problems, fmt.Sprintf("%s claimed by %s and %s", c.Lease.Key, prev, owner))
					}
					holder[c.Lease.Key] = owner
				}
				mu.Unlock()
				if len(claims) == 0 || err != nil {
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

// deliverConcurrently has workers goroutines, each its own owner, claim due deliveries
// limit at a time and deliver every job of each claimed stream, until none is left.
// It fails the test when two owners work one stream at the same time or an update
// is handed out out of order.
func (f *fixture) deliverConcurrently(workers, limit int) {
	f.t.Helper()
	var mu sync.Mutex
	busy := map[string]string{} // lease key -> owner working it
	sent := map[string]uint64{} // reference -> last sequence sent
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
		for {
			id := job.Reference.ID
			mu.Lock()
			if job.Update.Sequence != sent[id]+1 {
				problems = append(problems, fmt.Sprintf("%s: update %d handed out after %d", id, job.Update.Sequence, sent[id]))
			}
			sent[id] = job.Update.Sequence
			mu.Unlock()
			if _, err := f.b.RecordAttempt(f.ctx, c.Lease, job, f.attempt(job, references.OutcomeDelivered), ""); err != nil {
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
				claims, err := f.b.ClaimDueDeliveries(f.ctx, owner, limit, leaseFor)
				if err != nil {
					fail("ClaimDueDeliveries: %v", err)
					return
				}
				if len(claims) == 0 {
					return
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
