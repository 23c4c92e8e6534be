package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// The search indexes of GET /references (see list.go), added without a schema change:
// Open fills them once for a file written before them (see indexExisting).
// References still active are found by identifier in refs_by_ident; refs_by_number
// adds what that index lacks: the containers of each latest snapshot, and the
// identifiers of unsubscribed references. Since schema 5 the facts also hold the
// latest snapshot's summary, which lists show and filter on (see encodeFacts and
// summarizeSnapshots).
var (
	bucketRefFacts    = []byte("ref_search_facts") // ref id -> searchFacts of its latest snapshot (see encodeFacts)
	bucketRefsByETA   = []byte("refs_by_eta")      // account \0 eta(8) created_at(8) ref id -> nil
	bucketRefsByNumbr = []byte("refs_by_number")   // account \0 number \0 ref id -> nil
)

// searchIndexedKey in bucketMeta marks a file whose search indexes are complete.
var searchIndexedKey = []byte("search_indexed")

// searchFacts is what a list needs of a reference's latest snapshot, kept apart so
// that a filtered list, and the summaries of a page, read a few bytes instead of the
// whole snapshot: the container numbers and the snapshot's summary (see
// references.Summarize), whose ETA the refs_by_eta index holds too.
type searchFacts struct {
	Summary    references.ShipmentSummary
	Containers []string // numbers, in the snapshot's order
	// Found is whether the reference has facts: since schema 5, whether it has a
	// snapshot.
	Found bool
}

// factsOf returns the facts of snapshot s, given the summary of the snapshot before
// it (nil for the first).
func factsOf(prev *references.ShipmentSummary, s *references.Shipment) searchFacts {
	f := searchFacts{Summary: references.Summarize(prev, s), Found: true}
	for i := range s.Containers {
		f.Containers = append(f.Containers, s.Containers[i].Number)
	}
	return f
}

// summary returns the summary f holds, nil when there are no facts.
func (f *searchFacts) summary() *references.ShipmentSummary {
	if !f.Found {
		return nil
	}
	return &f.Summary
}

// factsFormat2 starts the facts of schema 5, which hold the summary. The facts written
// before (format 0 or 1, by their first byte) hold the ETA and the container numbers.
const factsFormat2 byte = 2

// encodeFacts writes f in format 2: the format byte, then in the binary encoding of
// codec.go the number of containers and each number, then the summary's status,
// origin, destination, ETA and first ETA. A field added later goes at the end, read
// when there are bytes left, so that facts written before it still read.
func encodeFacts(f searchFacts) []byte {
	e := encoder{b: make([]byte, 0, 64+16*len(f.Containers))}
	e.b = append(e.b, factsFormat2)
	e.uvarint(uint64(len(f.Containers)))
	for _, n := range f.Containers {
		e.str(n)
	}
	sum := &f.Summary
	e.str(string(sum.Status))
	e.location(sum.Origin)
	e.location(sum.Destination)
	e.timePtr(sum.ETA)
	e.timePtr(sum.FirstETA)
	return e.b
}

// decodeFacts reads facts in either format. Facts of format 0 or 1, written before
// summaries, have only the ETA of the summary, taken as the first ETA too: the first
// is not known (the upgrade to schema 5 rewrites them, see summarizeSnapshots).
func decodeFacts(b []byte) (searchFacts, error) {
	if len(b) > 0 && b[0] == factsFormat2 {
		return decodeFacts2(b)
	}
	f := searchFacts{Found: true}
	if len(b) == 0 || b[0] > 1 || (b[0] == 1 && len(b) < 9) {
		return f, fmt.Errorf("search facts are corrupt (%d bytes)", len(b))
	}
	rest := b[1:]
	if b[0] == 1 {
		eta := keyTime(rest)
		f.Summary.ETA, f.Summary.FirstETA, rest = &eta, &eta, rest[8:]
	}
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, sep)
		if i < 0 {
			return f, fmt.Errorf("search facts are corrupt: unterminated container number")
		}
		f.Containers, rest = append(f.Containers, string(rest[:i])), rest[i+1:]
	}
	return f, nil
}

func decodeFacts2(b []byte) (searchFacts, error) {
	f := searchFacts{Found: true}
	d := decoder{b: b[1:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // a number takes a byte at least
		d.fail("container count")
		n = 0
	}
	if n > 0 {
		f.Containers = make([]string, n)
	}
	for i := range f.Containers {
		f.Containers[i] = d.str()
	}
	f.Summary.Status = references.ShipmentStatus(d.str())
	f.Summary.Origin = d.location()
	f.Summary.Destination = d.location()
	f.Summary.ETA = d.timePtr()
	f.Summary.FirstETA = d.timePtr()
	if err := d.finish(b); err != nil {
		return f, fmt.Errorf("search facts: %w", err)
	}
	return f, nil
}

// readFacts returns the facts of refID's latest snapshot (not Found before the first).
func readFacts(tx *bolt.Tx, refID string) (searchFacts, error) {
	return readFactsIn(tx.Bucket(bucketRefFacts), refID)
}

// readFactsIn is readFacts given the facts bucket, for a caller that reads many.
func readFactsIn(facts *bolt.Bucket, refID string) (searchFacts, error) {
	data := facts.Get([]byte(refID))
	if data == nil {
		return searchFacts{}, nil
	}
	f, err := decodeFacts(data)
	if err != nil {
		return f, fmt.Errorf("reference %s: %w", refID, err)
	}
	return f, nil
}

func etaKey(accountID string, eta, created time.Time, refID string) []byte {
	return join(str(accountID), timeKey(eta), timeKey(created), []byte(refID))
}

func numberKey(accountID, number, refID string) []byte {
	return join(str(accountID), str(number), []byte(refID))
}

// indexSnapshot makes s, just stored as ref's latest snapshot, what the search
// indexes and the summary know of ref. Facts that come out the same write nothing.
func indexSnapshot(tx *bolt.Tx, ref *references.Reference, s *references.Shipment) error {
	old, err := readFacts(tx, ref.ID)
	if err != nil {
		return err
	}
	return indexSnapshotAfter(tx, ref, s, old, old.summary())
}

// indexSnapshotAfter is indexSnapshot given ref's facts as stored (old) and the
// summary to take as the one before s (see references.Summarize).
func indexSnapshotAfter(tx *bolt.Tx, ref *references.Reference, s *references.Shipment, old searchFacts, prev *references.ShipmentSummary) error {
	now := factsOf(prev, s)
	return writeFacts(tx, ref, tx.Bucket(bucketRefFacts).Get([]byte(ref.ID)), old, now, encodeFacts(now))
}

// writeFacts makes now, encoded, ref's facts, and the search indexes follow, where
// stored is ref's facts value as the transaction holds it (nil for none) and old its
// decoded form. It is the part of indexSnapshotAfter that needs the transaction: a
// changed poll computes now before it queues for the writer (see preparedPoll).
func writeFacts(tx *bolt.Tx, ref *references.Reference, stored []byte, old, now searchFacts, encoded []byte) error {
	if bytes.Equal(stored, encoded) {
		return nil
	}
	// Only the entries that change are written: an entry deleted and put back
	// would still make its page dirty, a page more for the commit to write (the
	// containers of a shipment hardly ever change, its ETA now and then).
	if err := unindexFacts(tx, ref, old.without(now)); err != nil {
		return err
	}
	if eta := now.Summary.ETA; eta != nil && !sameETA(eta, old.Summary.ETA) {
		if err := tx.Bucket(bucketRefsByETA).Put(etaKey(ref.AccountID, *eta, ref.CreatedAt, ref.ID), nil); err != nil {
			return err
		}
	}
	for _, n := range now.Containers {
		if slices.Contains(old.Containers, n) {
			continue
		}
		if err := tx.Bucket(bucketRefsByNumbr).Put(numberKey(ref.AccountID, n, ref.ID), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketRefFacts).Put([]byte(ref.ID), encoded)
}

// without returns the part of f's index entries that now does not have: f's ETA
// unless now has the same, and f's containers that now does not list.
func (f searchFacts) without(now searchFacts) searchFacts {
	var gone searchFacts
	if !sameETA(f.Summary.ETA, now.Summary.ETA) {
		gone.Summary.ETA = f.Summary.ETA
	}
	for _, n := range f.Containers {
		if !slices.Contains(now.Containers, n) {
			gone.Containers = append(gone.Containers, n)
		}
	}
	return gone
}

// sameETA reports whether a and b are both nil or the same instant (as etaKey
// writes it).
func sameETA(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// unindexFacts removes the index entries of f, ref's facts.
func unindexFacts(tx *bolt.Tx, ref *references.Reference, f searchFacts) error {
	if eta := f.Summary.ETA; eta != nil {
		if err := tx.Bucket(bucketRefsByETA).Delete(etaKey(ref.AccountID, *eta, ref.CreatedAt, ref.ID)); err != nil {
			return err
		}
	}
	for _, n := range f.Containers {
		if err := tx.Bucket(bucketRefsByNumbr).Delete(numberKey(ref.AccountID, n, ref.ID)); err != nil {
			return err
		}
	}
	return nil
}

// indexUnsubscribed keeps an unsubscribed reference findable by its identifier, which
// has left refs_by_ident.
func indexUnsubscribed(tx *bolt.Tx, ref *references.Reference) error {
	_, value := ref.Identifier()
	return tx.Bucket(bucketRefsByNumbr).Put(numberKey(ref.AccountID, value, ref.ID), nil)
}

// unindexSearch removes every search entry of ref, which retention deletes.
func unindexSearch(tx *bolt.Tx, ref *references.Reference) error {
	f, err := readFacts(tx, ref.ID)
	if err != nil {
		return err
	}
	if err := unindexFacts(tx, ref, f); err != nil {
		return err
	}
	_, value := ref.Identifier()
	if err := tx.Bucket(bucketRefsByNumbr).Delete(numberKey(ref.AccountID, value, ref.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketRefFacts).Delete([]byte(ref.ID))
}

// indexExisting fills the search indexes once, in one transaction, for a file whose
// snapshots and unsubscribed references were stored before them (a new file is
// marked at once). It reads every reference and snapshot: a one-off cost at the
// first start of this version.
func (db *DB) indexExisting() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(searchIndexedKey) != nil {
			return nil
		}
		err := tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
			var ref references.Reference
			if err := decodeReference(v, &ref); err != nil {
				return fmt.Errorf("decode reference %s: %w", k, err)
			}
			if !ref.Active() {
				if err := indexUnsubscribed(tx, &ref); err != nil {
					return err
				}
			}
			data := tx.Bucket(bucketShipments).Get(k)
			if data == nil {
				return nil
			}
			var s references.Shipment
			switch err := decodeShipment(data, &s); {
			case errors.Is(err, errNoSnapshot):
				return nil
			case err != nil:
				return fmt.Errorf("decode the shipment of %s: %w", k, err)
			}
			return indexSnapshot(tx, &ref, &s)
		})
		if err != nil {
			return fmt.Errorf("index references for search: %w", err)
		}
		return meta.Put(searchIndexedKey, u64(1))
	})
}
