// Package idindex numbers string ids with small integers, in memory the garbage
// collector does not have to trace.
//
// A map[string]*T holding an entry per reference is, at a million references, a
// million keys and a million values allocated one by one, and every garbage
// collection marks each of them at the cost of a cache miss: about 150 ms of CPU a
// cycle, a third of all the CPU of changed polls at a million references
// (BENCHMARKS.md, issue 17, round 4). An Index keeps the ids' bytes back to back in
// one array and finds them through a map from their 64-bit hashes to numbers: a few
// large allocations without pointers, whatever its size. Callers keep what they hold
// per id in a slice indexed by those numbers.
package idindex

import (
	"bytes"
	"hash/maphash"
)

// Index numbers ids: each id it holds has a number below Numbers(), kept until the id
// is deleted; numbers given back are handed out again. An Index is not safe for
// concurrent use.
type Index struct {
	seed   maphash.Seed
	hash   func(seed maphash.Seed, id string) uint64 // maphash.String; tests force clashes
	byHash map[uint64]int32                          // hash of an id -> its number
	clash  map[string]int32                          // ids whose hash another id held first
	names  []byte                                    // the ids' bytes, back to back
	spans  []span                                    // by number: where the id is in names
	free   []int32                                   // numbers given back, reused first
	dead   int                                       // bytes of names no id uses any more
	live   int                                       // ids held
	// minDead is the fewest dead bytes worth compacting names for (minCompact).
	minDead int
}

// span is where one number's id is in names.
type span struct {
	off  int
	n    uint32
	used bool
}

// minCompact is an Index's minDead.
const minCompact = 64 << 10

// New returns an empty Index with room for about n ids.
func New(n int) *Index {
	return &Index{
		seed:    maphash.MakeSeed(),
		hash:    maphash.String,
		byHash:  make(map[uint64]int32, n),
		names:   make([]byte, 0, 32*n),
		spans:   make([]span, 0, n),
		minDead: minCompact,
	}
}

// Len returns how many ids the Index holds.
func (x *Index) Len() int { return x.live }

// Numbers returns one more than the highest number handed out so far: the length a
// slice indexed by the numbers needs.
func (x *Index) Numbers() int { return len(x.spans) }

// Lookup returns id's number.
func (x *Index) Lookup(id string) (int32, bool) {
	if i, ok := x.byHash[x.hash(x.seed, id)]; ok && x.is(i, id) {
		return i, true
	}
	i, ok := x.clash[id]
	return i, ok
}

// Insert returns id's number, giving it one if it has none yet (added).
func (x *Index) Insert(id string) (i int32, added bool) {
	h := x.hash(x.seed, id)
	held, taken := x.byHash[h]
	if taken && x.is(held, id) {
		return held, false
	}
	if i, ok := x.clash[id]; ok {
		return i, false
	}
	i = x.number(id)
	if !taken {
		x.byHash[h] = i
		return i, true
	}
	if x.clash == nil {
		x.clash = map[string]int32{}
	}
	x.clash[id] = i
	return i, true
}

// Delete takes id out and returns the number it had, now free.
func (x *Index) Delete(id string) (int32, bool) {
	h := x.hash(x.seed, id)
	i, ok := x.byHash[h]
	switch {
	case ok && x.is(i, id):
		delete(x.byHash, h)
	default:
		if i, ok = x.clash[id]; !ok {
			return 0, false
		}
		delete(x.clash, id)
	}
	s := &x.spans[i]
	x.dead += int(s.n)
	*s = span{}
	x.free = append(x.free, i)
	x.live--
	if x.dead >= x.minDead && x.dead > len(x.names)/2 {
		x.compact()
	}
	return i, true
}

// Bytes returns the id numbered i. The bytes are the Index's own: they are valid
// until the next Insert or Delete, and must not be changed.
func (x *Index) Bytes(i int32) []byte {
	s := x.spans[i]
	end := s.off + int(s.n)
	return x.names[s.off:end:end]
}

// String returns the id numbered i.
func (x *Index) String(i int32) string { return string(x.Bytes(i)) }

// is reports whether number i is id.
func (x *Index) is(i int32, id string) bool {
	return x.spans[i].used && string(x.Bytes(i)) == id
}

// number stores id's bytes and gives it a number.
func (x *Index) number(id string) int32 {
	s := span{off: len(x.names), n: uint32(len(id)), used: true}
	x.names = append(x.names, id...)
	x.live++
	if n := len(x.free); n > 0 {
		i := x.free[n-1]
		x.free = x.free[:n-1]
		x.spans[i] = s
		return i
	}
	x.spans = append(x.spans, s)
	return int32(len(x.spans) - 1)
}

// compact rewrites names with the live ids only: deleted ids leave their bytes
// behind, and a long-running service creates and deletes references all along.
func (x *Index) compact() {
	names := make([]byte, 0, len(x.names)-x.dead+len(x.names)/4)
	for i := range x.spans {
		s := &x.spans[i]
		if !s.used {
			continue
		}
		off := len(names)
		names = append(names, x.names[s.off:s.off+int(s.n)]...)
		s.off = off
	}
	x.names, x.dead = names, 0
}

// Compare compares the ids numbered i and j as bytes.Compare does.
func (x *Index) Compare(i, j int32) int { return bytes.Compare(x.Bytes(i), x.Bytes(j)) }
