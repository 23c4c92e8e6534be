package store

import (
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// schedule is the poll schedule of the active references, kept in memory: when each
// one is next due, and the time its entry in the due bucket has on disk.
//
// Most polls find nothing new. Writing their new due time would make every such poll
// a transaction and an fsync: at a million references polled every 15 minutes, over
// a thousand commits a second spent on nothing. So RecordPoll keeps the due time of an
// unchanged poll here only, and the due bucket moves lazily: it is written with the
// next change of the reference, and for every reference at Close.
//
// Crash semantics: the due bucket always holds a time at or before the reference's
// real next poll. After a crash the schedule is rebuilt from it, so a reference whose
// unchanged polls were not written yet is simply polled again (early), and nothing that
// matters is lost: the snapshot, the feed and the outbox are only ever changed
// durably, in one transaction, before the poll is reported done.
//
// Changes made by a write transaction are applied here while that transaction still
// holds bbolt's writer lock, so they happen in commit order; a commit that fails after
// its functions succeeded makes the store rebuild the schedule from disk.
type schedule struct {
	mu    sync.Mutex
	slots map[string]*slot
	heap  []*slot // a binary min-heap ordered by (at, id): the order of the due bucket
}

// slot is one reference's place in the schedule.
type slot struct {
	id      string
	at      int64 // Unix nanoseconds: when the reference is next due
	durable int64 // the time of its key in the due bucket
	polled  int64 // the last poll, when it is not on disk (an unchanged one); else 0
	index   int   // position in schedule.heap
	// pending is set on a reference whose creating transaction has not committed yet:
	// it is not handed out before it can be read.
	pending bool
}

func (a *slot) less(b *slot) bool { return a.at < b.at || (a.at == b.at && a.id < b.id) }

// nanos is t as stored in keys (see timeKey).
func nanos(t time.Time) int64 { return max(t.UnixNano(), 0) }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// load replaces the schedule with the due bucket's content. The bucket is in time
// order, which is already a valid heap.
func (s *schedule) load(tx *bolt.Tx) {
	// The counter of active references sizes the map and the heap at once: they
	// hold one slot per active reference.
	n := max(readCount(tx.Bucket(bucketMeta), countActive), 0)
	slots := make(map[string]*slot, n)
	heap := make([]*slot, 0, n)
	c := tx.Bucket(bucketDue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		at := nanos(keyTime(k))
		sl := &slot{id: string(k[8:]), at: at, durable: at, index: len(heap)}
		if _, dup := slots[sl.id]; dup {
			continue // not written by this version; the earlier key stands
		}
		slots[sl.id] = sl
		heap = append(heap, sl)
	}
	s.mu.Lock()
	s.slots, s.heap = slots, heap
	s.mu.Unlock()
}

// put records a durable due time: the due bucket now holds at for id.
func (s *schedule) put(id string, at time.Time, pending bool) {
	n := nanos(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.slots[id]
	if !ok {
		sl = &slot{id: id, at: n, durable: n, index: len(s.heap), pending: pending}
		s.slots[id] = sl
		s.heap = append(s.heap, sl)
		s.up(sl.index)
		return
	}
	sl.durable, sl.polled, sl.pending = n, 0, pending
	s.fix(sl, n)
}

// confirm makes a created reference available to due.
func (s *schedule) confirm(id string) {
	s.mu.Lock()
	if sl, ok := s.slots[id]; ok {
		sl.pending = false
	}
	s.mu.Unlock()
}

// move reschedules id to at after an unchanged poll at polled, in memory only. It
// reports false when id is not scheduled (unsubscribed meanwhile, or not committed).
func (s *schedule) move(id string, at, polled time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.slots[id]
	if !ok || sl.pending {
		return false
	}
	sl.polled = nanos(polled)
	s.fix(sl, nanos(at))
	return true
}

// remove takes id out of the schedule.
func (s *schedule) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.slots[id]
	if !ok {
		return
	}
	delete(s.slots, id)
	last := len(s.heap) - 1
	i := sl.index
	if i != last {
		s.swap(i, last)
	}
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if i != last {
		if !s.down(i) {
			s.up(i)
		}
	}
}

// durableKey returns the key id has in the due bucket.
func (s *schedule) durableKey(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.slots[id]
	if !ok {
		return nil, false
	}
	return join(u64(uint64(sl.durable)), []byte(id)), true
}

// lookup returns when id is next due and, when it is not on disk, its last poll.
func (s *schedule) lookup(id string) (at, polled time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.slots[id]
	if !ok {
		return at, polled, false
	}
	if sl.polled != 0 {
		polled = fromNanos(sl.polled)
	}
	return fromNanos(sl.at), polled, true
}

// due returns up to limit ids due at or before now, most overdue first. It walks the
// heap from the root through a small heap of candidates, so it costs O(limit log
// limit) whatever the number of references.
func (s *schedule) due(now time.Time, limit int) []string {
	end := nanos(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 || len(s.heap) == 0 || s.heap[0].at > end {
		return nil
	}
	ids := make([]string, 0, min(limit, len(s.heap)))
	c := candidates{heap: s.heap, idx: make([]int, 0, 2*min(limit, len(s.heap))+1)}
	c.push(0)
	for len(c.idx) > 0 && len(ids) < limit {
		i := c.pop()
		if sl := s.heap[i]; !sl.pending {
			ids = append(ids, sl.id)
		}
		for _, child := range [2]int{2*i + 1, 2*i + 2} {
			if child < len(s.heap) && s.heap[child].at <= end {
				c.push(child) // nothing below a slot not due is due
			}
		}
	}
	return ids
}

// candidates is a min-heap of positions in a schedule's heap, for due.
type candidates struct {
	heap []*slot
	idx  []int
}

func (c *candidates) less(a, b int) bool { return c.heap[c.idx[a]].less(c.heap[c.idx[b]]) }

func (c *candidates) push(i int) {
	c.idx = append(c.idx, i)
	for j := len(c.idx) - 1; j > 0; {
		p := (j - 1) / 2
		if !c.less(j, p) {
			break
		}
		c.idx[j], c.idx[p] = c.idx[p], c.idx[j]
		j = p
	}
}

func (c *candidates) pop() int {
	top := c.idx[0]
	last := len(c.idx) - 1
	c.idx[0] = c.idx[last]
	c.idx = c.idx[:last]
	for p := 0; ; {
		l, r, m := 2*p+1, 2*p+2, p
		if l < len(c.idx) && c.less(l, m) {
			m = l
		}
		if r < len(c.idx) && c.less(r, m) {
			m = r
		}
		if m == p {
			return top
		}
		c.idx[p], c.idx[m] = c.idx[m], c.idx[p]
		p = m
	}
}

// count returns how many references are due at or before now.
func (s *schedule) count(now time.Time) int {
	end := nanos(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(s.heap) || s.heap[i].at > end {
			continue
		}
		if !s.heap[i].pending {
			n++
		}
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return n
}

// moved is a due key to move on disk: from the durable time to at.
type moved struct {
	id          string
	durable, at int64
}

// unwritten returns the references whose due time is not on disk, in the due
// bucket's order of their old keys.
func (s *schedule) unwritten() []moved {
	s.mu.Lock()
	var out []moved
	for _, sl := range s.heap {
		if sl.at != sl.durable && !sl.pending {
			out = append(out, moved{id: sl.id, durable: sl.durable, at: sl.at})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b moved) int {
		if a.durable != b.durable {
			return cmpInt64(a.durable, b.durable)
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

// written records that id's due key now holds at, unless it moved again meanwhile.
func (s *schedule) written(id string, durable, at int64) {
	s.mu.Lock()
	if sl, ok := s.slots[id]; ok && sl.durable == durable {
		sl.durable = at
	}
	s.mu.Unlock()
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fix changes sl's due time to at and restores the heap order. Callers hold mu.
func (s *schedule) fix(sl *slot, at int64) {
	sl.at = at
	if !s.down(sl.index) {
		s.up(sl.index)
	}
}

func (s *schedule) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].index, s.heap[j].index = i, j
}

func (s *schedule) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.heap[i].less(s.heap[p]) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves the slot at i down to its place and reports whether it moved.
func (s *schedule) down(i int) bool {
	start := i
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s.heap) && s.heap[l].less(s.heap[m]) {
			m = l
		}
		if r < len(s.heap) && s.heap[r].less(s.heap[m]) {
			m = r
		}
		if m == i {
			return i > start
		}
		s.swap(i, m)
		i = m
	}
}
