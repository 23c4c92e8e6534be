package store

import (
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many functions share one transaction, so that one commit (and
// the memory of its dirty pages) stays bounded however many callers queue.
const maxGroup = 1000

// groupCommit runs write functions from many goroutines in shared transactions: one
// commit, and one fsync, for every function that queued while the previous commit was
// being written. A lone caller commits at once; under load the groups grow by
// themselves to what arrives during one commit.
//
// bbolt's own DB.Batch does the same grouping but starts each group with a timer
// (MaxBatchDelay, 10ms by default) and runs it early only when MaxBatchSize calls have
// queued. With the few dozen concurrent writers trackhook has (poll and delivery
// workers), every call then waits for the timer: about 30 workers / 10ms, some 3,000
// commits a second at most, and 10ms added to every poll and delivery. See
// BENCHMARKS.md for the figures.
//
// There is no goroutine of its own: the first caller to find no commit under way
// becomes the leader and commits the queue; when it is done and more have queued, it
// hands the lead to the oldest waiting caller, so no caller commits for others for
// longer than one extra round.
//
// A caller whose own wait matters little may ask for patience (see doPatient): as
// leader it lets a small group fill a little before committing. Most of a commit's
// cost (the fsync, the meta and freelist pages, the branch pages of the trees) is the
// same for one function or fifty, so fewer, larger commits cost less CPU per change.
type groupCommit struct {
	db *bolt.DB
	// failed, when set, is called after a commit failed although every function
	// of its group succeeded.
	failed func()

	mu      sync.Mutex
	queue   []*commitCall
	leading bool          // a caller is committing
	filled  chan struct{} // when set, closed once fullGroup calls are queued
}

// fullGroup is the size of group a patient leader waits for (or for its patience to
// run out).
const fullGroup = 64

// commitCall is one queued function and where its result goes.
type commitCall struct {
	fn   func(*bolt.Tx) error
	done chan commitResult
}

// commitResult is an error, or the instruction to lead the next commit.
type commitResult struct {
	err  error
	lead bool
}

// do runs fn in a transaction shared with concurrent callers and returns when that
// transaction has committed, or with fn's error (then none of fn's changes are kept).
// fn may run more than once, on a fresh transaction each time, so it must not keep
// effects outside the transaction from an earlier run.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error { return g.doPatient(fn, 0) }

// doPatient is do for a caller who, if it leads the next commit and fewer than
// fullGroup calls are queued, waits up to patience for more to join.
func (g *groupCommit) doPatient(fn func(*bolt.Tx) error, patience time.Duration) error {
	call := &commitCall{fn: fn, done: make(chan commitResult, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, call)
	if g.filled != nil && len(g.queue) >= fullGroup {
		close(g.filled)
		g.filled = nil
	}
	if g.leading {
		g.mu.Unlock()
		res := <-call.done
		if !res.lead {
			return res.err
		}
		// Handed the lead: this call is still queued and is in the group below.
	} else {
		g.leading = true
		g.mu.Unlock()
	}
	if patience > 0 {
		g.await(patience)
	}
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	g.commit(group)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- commitResult{lead: true}
	} else {
		g.leading = false
		g.queue = nil // let the backing array go
	}
	g.mu.Unlock()
	return (<-call.done).err
}

// await waits until fullGroup calls are queued, or for d.
func (g *groupCommit) await(d time.Duration) {
	g.mu.Lock()
	if len(g.queue) >= fullGroup {
		g.mu.Unlock()
		return
	}
	filled := make(chan struct{})
	g.filled = filled
	g.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-filled:
	case <-t.C:
	}
	t.Stop()
	g.mu.Lock()
	if g.filled == filled {
		g.filled = nil
	}
	g.mu.Unlock()
}

// commit runs the group's functions in one transaction. A function that fails gets
// its error, and the transaction is rolled back and run again without it: its error
// is the one it would have had running alone after the others, which is an order the
// callers cannot tell from the real one.
func (g *groupCommit) commit(group []*commitCall) {
	for len(group) > 0 {
		failed := -1
		var failErr error
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range group {
				if err := safeCall(c.fn, tx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			group[failed].done <- commitResult{err: failErr}
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		if err != nil && g.failed != nil {
			g.failed()
		}
		for _, c := range group {
			c.done <- commitResult{err: err}
		}
		return
	}
}

// safeCall runs fn, turning a panic into an error so that one bad call cannot leave
// the others of its group waiting for ever.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in store transaction: %v", p)
		}
	}()
	return fn(tx)
}
