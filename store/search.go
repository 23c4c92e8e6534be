package store

import (
	"bytes"
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
// identifiers of unsubscribed references.
var (
	bucketRefFacts    = []byte("ref_search_facts") // ref id -> searchFacts of its latest snapshot
	bucketRefsByETA   = []byte("refs_by_eta")      // account \0 eta(8) created_at(8) ref id -> nil
	bucketRefsByNumbr = []byte("refs_by_number")   // account \0 number \0 ref id -> nil
)

// searchIndexedKey in bucketMeta marks a file whose search indexes are complete.
var searchIndexedKey = []byte("search_indexed")

// searchFacts is what a search needs of a reference's latest snapshot, kept apart so
// a filtered list reads a few bytes instead of the whole snapshot.
type searchFacts struct {
	ETA        *time.Time
	Containers []string // numbers, in the snapshot's order
}

func factsOf(s *references.Shipment) searchFacts {
	f := searchFacts{ETA: s.ETA}
	for i := range s.Containers {
		f.Containers = append(f.Containers, s.Containers[i].Number)
	}
	return f
}

// encodeFacts writes f as a flag byte (1: an ETA follows), the ETA's Unix nanoseconds
// (8), then the container numbers, each followed by sep.
func encodeFacts(f searchFacts) []byte {
	b := []byte{0}
	if f.ETA != nil {
		b[0] = 1
		b = append(b, timeKey(*f.ETA)...)
	}
	for _, n := range f.Containers {
		b = append(b, str(n)...)
	}
	return b
}

func decodeFacts(b []byte) (searchFacts, error) {
	var f searchFacts
	if len(b) == 0 || b[0] > 1 || (b[0] == 1 && len(b) < 9) {
		return f, fmt.Errorf("search facts are corrupt (%d bytes)", len(b))
	}
	rest := b[1:]
	if b[0] == 1 {
		eta := keyTime(rest)
		f.ETA, rest = &eta, rest[8:]
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

// readFacts returns the facts of refID's latest snapshot (zero before the first).
func readFacts(tx *bolt.Tx, refID string) (searchFacts, error) {
	data := tx.Bucket(bucketRefFacts).Get([]byte(refID))
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
// indexes know of ref. An unchanged ETA and container list write nothing.
func indexSnapshot(tx *bolt.Tx, ref *references.Reference, s *references.Shipment) error {
	old, err := readFacts(tx, ref.ID)
	if err != nil {
		return err
	}
	now := factsOf(s)
	sameETA := old.ETA == nil && now.ETA == nil || old.ETA != nil && now.ETA != nil && old.ETA.Equal(*now.ETA)
	if sameETA && slices.Equal(old.Containers, now.Containers) {
		return nil // no record and empty facts are the same
	}
	if err := unindexFacts(tx, ref, old); err != nil {
		return err
	}
	if now.ETA != nil {
		if err := tx.Bucket(bucketRefsByETA).Put(etaKey(ref.AccountID, *now.ETA, ref.CreatedAt, ref.ID), nil); err != nil {
			return err
		}
	}
	for _, n := range now.Containers {
		if err := tx.Bucket(bucketRefsByNumbr).Put(numberKey(ref.AccountID, n, ref.ID), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketRefFacts).Put([]byte(ref.ID), encodeFacts(now))
}

// unindexFacts removes the index entries of f, ref's facts.
func unindexFacts(tx *bolt.Tx, ref *references.Reference, f searchFacts) error {
	if f.ETA != nil {
		if err := tx.Bucket(bucketRefsByETA).Delete(etaKey(ref.AccountID, *f.ETA, ref.CreatedAt, ref.ID)); err != nil {
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
			if err := decodeShipment(data, &s); err != nil {
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
