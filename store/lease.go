package store

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/trackhook/trackhook/references"
)

// leases are the claims on work handed out by ClaimDuePolls, ClaimDueDeliveries and
// ClaimPushDeletions.
// A bbolt file has one process, so they live in memory: after a restart nothing is
// claimed, which is what a lease that ran out means anyway.
//
// A claim reads the due work (the schedule, the outbox), then grants leases on what
// is not leased. Work recorded in between is released after its commit, so the
// claim's list can be stale for it: it would hand the work out again, done. The table
// remembers when each key was last released; a claim that started reading before
// that skips the key (its next claim reads the new state).
type leases struct {
	mu         sync.Mutex
	held       map[string]heldLease
	token      uint64
	released   uint64            // counts releases
	releasedAt map[string]uint64 // key -> value of released at its last release
	claiming   int               // claims between begin and end
}

type heldLease struct {
	owner    string
	token    uint64
	until    time.Time
	recorded bool // its outcome is being committed: it cannot run out meanwhile
}

func newLeases() *leases {
	// Tokens start at a random point, so a lease from before the store was reopened
	// in the same process never matches one granted after.
	return &leases{held: map[string]heldLease{}, releasedAt: map[string]uint64{}, token: rand.Uint64() >> 1}
}

// claimMark is the point a claim started reading at.
type claimMark uint64

// begin marks the start of a claim: call it before reading the due work, and end
// when done granting.
func (l *leases) begin() claimMark {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.claiming++
	return claimMark(l.released)
}

func (l *leases) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claiming--; l.claiming == 0 {
		clear(l.releasedAt) // no claim holds a list older than now
	}
}

// count returns how many leases are held or ran out unreleased: a claim reads that
// many more candidates than it wants, since those may be among the most overdue.
func (l *leases) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// grant leases key to owner until until, unless another lease on it is live or the
// key was released after the claim started at m.
func (l *leases) grant(key, owner string, now, until time.Time, m claimMark) (references.Lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[key]; ok && (h.recorded || h.until.After(now)) {
		return references.Lease{}, false
	}
	if l.releasedAt[key] > uint64(m) {
		return references.Lease{}, false
	}
	l.token++
	l.held[key] = heldLease{owner: owner, token: l.token, until: until}
	return references.Lease{Key: key, Owner: owner, Token: l.token, Until: until}, true
}

// ungrant gives back a lease granted by a claim that could not hand the work out.
func (l *leases) ungrant(lease references.Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[lease.Key]; ok && h.token == lease.Token {
		delete(l.held, lease.Key)
	}
}

// live reports whether lease is held and has not run out at now.
func (l *leases) live(lease references.Lease, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.liveLocked(lease, now)
}

func (l *leases) liveLocked(lease references.Lease, now time.Time) bool {
	h, ok := l.held[lease.Key]
	return ok && h.token == lease.Token && h.owner == lease.Owner && (h.recorded || h.until.After(now))
}

// record marks a live lease as being recorded, so it cannot run out while its commit
// is under way; it returns false for a lost lease. Calling it again (a group commit
// may run its function twice) is harmless.
func (l *leases) record(lease references.Lease, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.liveLocked(lease, now) {
		return false
	}
	h := l.held[lease.Key]
	h.recorded = true
	l.held[lease.Key] = h
	return true
}

// unrecord undoes record after a commit that failed: the lease may run out again.
func (l *leases) unrecord(lease references.Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[lease.Key]; ok && h.token == lease.Token {
		h.recorded = false
		l.held[lease.Key] = h
	}
}

// renew extends a live lease to until.
func (l *leases) renew(lease references.Lease, now, until time.Time) (references.Lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.liveLocked(lease, now) {
		return references.Lease{}, false
	}
	h := l.held[lease.Key]
	if until.After(h.until) {
		h.until = until
	}
	l.held[lease.Key] = h
	lease.Until = h.until
	return lease, true
}

// release ends lease, if it is still the one held on its key, and remembers when.
func (l *leases) release(lease references.Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[lease.Key]
	if !ok || h.token != lease.Token {
		return
	}
	delete(l.held, lease.Key)
	l.released++
	if l.claiming > 0 {
		l.releasedAt[lease.Key] = l.released
	}
}
