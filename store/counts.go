package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Each account's count of references in each status, for the console's shipments
// page, which shows them on every view. They are changed by the transactions that
// change a status (insertRef, unsubscribe, pause, resume, retention's forget, Load),
// so that reading them costs one seek whatever the account's size (a few
// microseconds): counting by walking the account's references and reading only their
// status took 5 to 14 ms at 10,000 references on a busy two-core machine, and grows
// with the account (BenchmarkCountReferences), where the rest of the page's reads are
// bounded (see minRefScan). Files of schema 4 and before are counted once, at their
// upgrade (see countStatuses); the conformance suite checks the counts against the
// references after every subtest (checkStatusCounts).
var bucketStatusCount = []byte("refs_by_status") // account \0 status -> count(8)

func statusCountKey(accountID string, st references.Status) []byte {
	return join(str(accountID), []byte(st))
}

// addStatus adds delta to the account's count of references in status st; a count
// that falls to 0 is deleted, so that CountReferences leaves the status out.
func addStatus(tx *bolt.Tx, accountID string, st references.Status, delta int64) error {
	b := tx.Bucket(bucketStatusCount)
	k := statusCountKey(accountID, st)
	n := readCount(b, k) + delta
	if n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, u64(uint64(n)))
}

// moveStatus counts a reference of the account as in status to rather than from.
func moveStatus(tx *bolt.Tx, accountID string, from, to references.Status) error {
	if from == to {
		return nil
	}
	if err := addStatus(tx, accountID, from, -1); err != nil {
		return err
	}
	return addStatus(tx, accountID, to, 1)
}

// CountReferences returns how many references the account has in each status
// (statuses with none are absent).
func (db *DB) CountReferences(ctx context.Context, accountID string) (map[references.Status]int, error) {
	counts := map[references.Status]int{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := str(accountID)
		c := tx.Bucket(bucketStatusCount).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) != 8 {
				return fmt.Errorf("the count %q is corrupt (%d bytes)", k, len(v))
			}
			counts[references.Status(k[len(prefix):])] = int(bytesU64(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count references: %w", err)
	}
	return counts, nil
}

// scanStatuses counts the account's references by status by reading each one's
// status (see referenceStatus): what the counts must say, for countStatuses and the
// tests that check them.
func scanStatuses(tx *bolt.Tx, accountID string) (map[references.Status]int64, error) {
	counts := map[references.Status]int64{}
	refs := tx.Bucket(bucketRefs)
	prefix := str(accountID)
	c := tx.Bucket(bucketRefsByAcct).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := k[len(prefix)+8:]
		data := refs.Get(id)
		if data == nil {
			return nil, notFound(string(id)) // retention deletes both in one transaction
		}
		st, err := referenceStatus(data)
		if err != nil {
			return nil, fmt.Errorf("reference %s: %w", id, err)
		}
		counts[st]++
	}
	return counts, nil
}

// countStatuses sets the counts by status of every account that has references from
// those references, in one transaction per account: the upgrade to schema 5. The counts are set, not added,
// so an interrupted upgrade counts again.
func (db *DB) countStatuses() error {
	var accounts []string // those with references: the distinct first parts of refs_by_account
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRefsByAcct).Cursor()
		for k, _ := c.First(); k != nil; {
			i := bytes.IndexByte(k, sep)
			if i < 0 {
				return fmt.Errorf("refs_by_account key %q is not of this schema", k)
			}
			accounts = append(accounts, string(k[:i]))
			k, _ = c.Seek(join(k[:i], []byte{sep + 1})) // past the account's keys
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, acct := range accounts {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			counts, err := scanStatuses(tx, acct)
			if err != nil {
				return err
			}
			b := tx.Bucket(bucketStatusCount)
			prefix := str(acct)
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
			for st, n := range counts {
				if err := b.Put(statusCountKey(acct, st), u64(uint64(n))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("count the references of %s: %w", acct, err)
		}
	}
	return nil
}
