// Package inflight keeps the set of keys a pool of workers is busy with, for the
// poller and the notifier: a scanner reads the keys that are due from the store and
// queues them, and each key must be worked on once at a time.
//
// The list a scan reads can be stale by the time it queues from it: a key whose work
// ended in between is still listed as due. Set remembers when work ended, so such a
// key is not queued again by that scan.
package inflight

import "sync"

// Set is the keys being worked on. It is safe for concurrent use.
type Set struct {
	mu       sync.Mutex
	busy     map[string]bool
	ended    uint64            // counts the Release calls
	endedAt  map[string]uint64 // key -> the value of ended at its last Release
	scanning int               // scans between Scan and EndScan
}

// New returns an empty Set.
func New() *Set {
	return &Set{busy: map[string]bool{}, endedAt: map[string]uint64{}}
}

// Mark is the point a scan started at.
type Mark uint64

// Scan marks the start of a scan. Call it before reading the due keys, and EndScan
// when done queuing them.
func (s *Set) Scan() Mark {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scanning++
	return Mark(s.ended)
}

// EndScan ends the scan started at m.
func (s *Set) EndScan(m Mark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scanning--; s.scanning == 0 {
		clear(s.endedAt) // no scan holds a list older than now
	}
}

// Claim marks key busy and returns true, unless it is busy already or its work ended
// after the scan started at m (the scan's list is stale for it).
func (s *Set) Claim(key string, m Mark) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[key] || s.endedAt[key] > uint64(m) {
		return false
	}
	s.busy[key] = true
	return true
}

// Unclaim undoes a Claim whose work did not start (the queue was full).
func (s *Set) Unclaim(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, key)
}

// Release ends the work on key.
func (s *Set) Release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, key)
	s.ended++
	if s.scanning > 0 {
		s.endedAt[key] = s.ended
	}
}

// Len returns how many keys are busy.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.busy)
}
