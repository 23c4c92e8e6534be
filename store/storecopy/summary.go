package storecopy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"math/bits"
)

// summary is what the verification compares of a dump: per kind, the count of
// records and a checksum of their canonical JSON that does not depend on their order
// (two backends list a kind in orders of their own); per reference, the SHA-256 of its
// feed, its updates' canonical JSON in sequence order. It also checks that the dump
// keeps the order Dump promises.
type summary struct {
	kinds map[Kind]*kindSum
	feeds map[string][sha256.Size]byte // reference id -> checksum of its feed
	rank  int                          // the rank in Kinds of the last record's kind

	// The feed being read: its reference, checksum so far and last sequence.
	feedRef string
	feed    hash.Hash
	lastSeq uint64
}

// kindSum is the count of a kind's records and the sum, as a 256-bit number, of the
// SHA-256 of each: equal multisets of records give equal sums whatever their order.
type kindSum struct {
	count int64
	sum   [4]uint64
}

var kindRank = func() map[Kind]int {
	m := make(map[Kind]int, len(Kinds))
	for i, k := range Kinds {
		m[k] = i
	}
	return m
}()

func newSummary() *summary {
	s := &summary{kinds: map[Kind]*kindSum{}, feeds: map[string][sha256.Size]byte{}}
	for _, k := range Kinds {
		s.kinds[k] = &kindSum{}
	}
	return s
}

// add counts r, adds it to its kind's checksum and, for an update, to its feed's.
func (s *summary) add(r Record) error {
	rank, ok := kindRank[r.Kind()]
	switch {
	case !ok:
		return fmt.Errorf("dump: unknown kind of record %q", r.Kind())
	case rank < s.rank:
		return fmt.Errorf("dump: %s after %s, against the order of kinds", r.Kind(), Kinds[s.rank])
	}
	s.rank = rank
	data, err := json.Marshal(canonical(r))
	if err != nil {
		return fmt.Errorf("dump: encode a record of %s: %w", r.Kind(), err)
	}
	k := s.kinds[r.Kind()]
	k.count++
	k.add(sha256.Sum256(data))
	if u, ok := r.(Update); ok {
		return s.addToFeed(&u, data)
	}
	return nil
}

// add adds h, read as a big-endian 256-bit number, to the sum (modulo 2^256).
func (k *kindSum) add(h [sha256.Size]byte) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		k.sum[i], carry = bits.Add64(k.sum[i], binary.BigEndian.Uint64(h[8*i:]), carry)
	}
}

// addToFeed adds an update, as data, to its reference's feed checksum.
func (s *summary) addToFeed(u *Update, data []byte) error {
	ref := u.Update.ReferenceID
	if ref != s.feedRef || s.feed == nil {
		s.endFeed()
		if _, seen := s.feeds[ref]; seen {
			return fmt.Errorf("dump: the updates of reference %s do not come together", ref)
		}
		s.feedRef, s.feed, s.lastSeq = ref, sha256.New(), 0
	}
	if u.Update.Sequence <= s.lastSeq {
		return fmt.Errorf("dump: update %d of reference %s after its update %d", u.Update.Sequence, ref, s.lastSeq)
	}
	s.lastSeq = u.Update.Sequence
	s.feed.Write(data)
	s.feed.Write([]byte{'\n'})
	return nil
}

func (s *summary) endFeed() {
	if s.feed != nil {
		s.feeds[s.feedRef] = [sha256.Size]byte(s.feed.Sum(nil))
		s.feed = nil
	}
}

// finish ends the dump's last feed.
func (s *summary) finish() { s.endFeed() }

// compare returns what differs between the source's summary and the destination's,
// the first difference found as one sentence, or "" when they are the same: counts
// first, then feeds, then the content of each kind.
func compare(src, dst *summary) string {
	for _, k := range Kinds {
		if a, b := src.kinds[k].count, dst.kinds[k].count; a != b {
			return fmt.Sprintf("%s: %d in the source, %d in the destination", k, a, b)
		}
	}
	if len(src.feeds) != len(dst.feeds) {
		return fmt.Sprintf("feeds: %d references with updates in the source, %d in the destination", len(src.feeds), len(dst.feeds))
	}
	for ref, sum := range src.feeds {
		got, ok := dst.feeds[ref]
		if !ok {
			return fmt.Sprintf("feeds: reference %s has no updates in the destination", ref)
		}
		if got != sum {
			return fmt.Sprintf("feeds: the feed of reference %s differs (SHA-256 %x in the source, %x in the destination)", ref, sum, got)
		}
	}
	for _, k := range Kinds {
		if src.kinds[k].sum != dst.kinds[k].sum {
			return fmt.Sprintf("%s: the same count (%d) but not the same content", k, src.kinds[k].count)
		}
	}
	return ""
}
