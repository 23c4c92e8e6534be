package store

import (
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/idindex"
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
	ids   *idindex.Index // reference id -> number of its slot
	slots []slot         // by number; a number idindex gave back holds a stale slot
	heap  []int32        // numbers, a binary min-heap ordered by (at, id): the order of the due bucket
}

// slot is one reference's place in the schedule. Slots hold no pointers and live in
// one slice, and the ids in an idindex.Index: with a slot and an id allocated apiece,
// each garbage collection traced two million objects at a million references
// (BENCHMARKS.md, issue 17, round 4).
type slot struct {
	at      int64 // Unix nanoseconds: when the reference is next due
	durable int64 // the time of its key in the due bucket
	polled  int64 // the last poll, when it is not on disk (an unchanged one); else 0
	index   int32 // position in schedule.heap
	// pending is set on a reference whose creating transaction has not committed yet:
	// it is not handed out before it can be read.
	pending bool
}

func newSchedule() *schedule { return &schedule{ids: idindex.New(0)} }

// less orders the slots numbered a and b by (at, id). Callers hold mu.
func (s *schedule) less(a, b int32) bool {
	sa, sb := &s.slots[a], &s.slots[b]
	return sa.at < sb.at || (sa.at == sb.at && s.ids.Compare(a, b) < 0)
}

// nanos is t as stored in keys (see timeKey).
func nanos(t time.Time) int64 { return max(t.UnixNano(), 0) }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// load replaces the schedule with the due bucket's content. The bucket is in time
// order, which is already a valid heap.
func (s *schedule) load(tx *bolt.Tx) {
	// The counter of active references sizes the index, the slots and the heap at
	// once: they hold one entry per active reference.
	n := max(readCount(tx.Bucket(bucketMeta), countActive), 0)
	ids := idindex.New(int(n))
	slots := make([]slot, 0, n)
	heap := make([]int32, 0, n)
	c := tx.Bucket(bucketDue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		i, added := ids.Insert(string(k[8:]))
		if !added {
			continue // not written by this version; the earlier key stands
		}
		at := nanos(keyTime(k))
		slots = append(slots, slot{at: at, durable: at, index: int32(len(heap))})
		heap = append(heap, i)
	}
	s.mu.Lock()
	s.ids, s.slots, s.heap = ids, slots, heap
	s.mu.Unlock()
}

// put records a durable due time: the due bucket now holds at for id.
func (s *schedule) put(id string, at time.Time, pending bool) {
	n := nanos(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, added := s.ids.Insert(id)
	if added {
		sl := slot{at: n, durable: n, index: int32(len(s.heap)), pending: pending}
		if int(i) == len(s.slots) {
			s.slots = append(s.slots, sl)
		} else {
			s.slots[i] = sl
		}
		s.heap = append(s.heap, i)
		s.up(int(sl.index))
		return
	}
	sl := &s.slots[i]
	sl.durable, sl.polled, sl.pending = n, 0, pending
	s.fix(i, n)
}

// confirm makes a created reference available to due.
func (s *schedule) confirm(id string) {
	s.mu.Lock()
	if i, ok := s.ids.Lookup(id); ok {
		s.slots[i].pending = false
	}
	s.mu.Unlock()
}

// move reschedules id to at after an unchanged poll at polled, in memory only. It
// reports false when id is not scheduled (unsubscribed meanwhile, or not committed).
func (s *schedule) move(id string, at, polled time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids.Lookup(id)
	if !ok || s.slots[i].pending {
		return false
	}
	s.slots[i].polled = nanos(polled)
	s.fix(i, nanos(at))
	return true
}

// remove takes id out of the schedule.
func (s *schedule) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids.Delete(id)
	if !ok {
		return
	}
	last := len(s.heap) - 1
	at := int(s.slots[i].index)
	if at != last {
		s.swap(at, last)
	}
	s.heap = s.heap[:last]
	if at != last {
		if !s.down(at) {
			s.up(at)
		}
	}
}

// durableKey returns the key id has in the due bucket.
func (s *schedule) durableKey(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids.Lookup(id)
	if !ok {
		return nil, false
	}
	return join(u64(uint64(s.slots[i].durable)), []byte(id)), true
}

// lookup returns when id is next due and, when it is not on disk, its last poll.
func (s *schedule) lookup(id string) (at, polled time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids.Lookup(id)
	if !ok {
		return at, polled, false
	}
	sl := &s.slots[i]
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
	if limit <= 0 || len(s.heap) == 0 || s.slots[s.heap[0]].at > end {
		return nil
	}
	ids := make([]string, 0, min(limit, len(s.heap)))
	c := candidates{s: s, idx: make([]int, 0, 2*min(limit, len(s.heap))+1)}
	c.push(0)
	for len(c.idx) > 0 && len(ids) < limit {
		i := c.pop()
		if n := s.heap[i]; !s.slots[n].pending {
			ids = append(ids, s.ids.String(n))
		}
		for _, child := range [2]int{2*i + 1, 2*i + 2} {
			if child < len(s.heap) && s.slots[s.heap[child]].at <= end {
				c.push(child) // nothing below a slot not due is due
			}
		}
	}
	return ids
}

// candidates is a min-heap of positions in a schedule's heap, for due.
type candidates struct {
	s   *schedule
	idx []int
}

func (c *candidates) less(a, b int) bool { return c.s.less(c.s.heap[c.idx[a]], c.s.heap[c.idx[b]]) }

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
		if i >= len(s.heap) || s.slots[s.heap[i]].at > end {
			continue
		}
		if !s.slots[s.heap[i]].pending {
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
	for _, i := range s.heap {
		if sl := &s.slots[i]; sl.at != sl.durable && !sl.pending {
			out = append(out, moved{id: s.ids.String(i), durable: sl.durable, at: sl.at})
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
	if i, ok := s.ids.Lookup(id); ok && s.slots[i].durable == durable {
		s.slots[i].durable = at
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

// fix changes the due time of the slot numbered i to at and restores the heap
// order. Callers hold mu.
func (s *schedule) fix(i int32, at int64) {
	s.slots[i].at = at
	if p := int(s.slots[i].index); !s.down(p) {
		s.up(p)
	}
}

// swap exchanges the heap's positions i and j.
func (s *schedule) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.slots[s.heap[i]].index, s.slots[s.heap[j]].index = int32(i), int32(j)
}

func (s *schedule) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(s.heap[i], s.heap[p]) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves the slot at heap position i down to its place and reports whether it
// moved.
func (s *schedule) down(i int) bool {
	start := i
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s.heap) && s.less(s.heap[l], s.heap[m]) {
			m = l
		}
		if r < len(s.heap) && s.less(s.heap[r], s.heap[m]) {
			m = r
		}
		if m == i {
			return i > start
		}
		s.swap(i, m)
		i = m
	}
}
