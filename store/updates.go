package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// appendUpdate gives u the reference's next sequence and the account's (see
// account_updates.go), writes it to the feed and the retention index, queues it as a message for each of eps (the account's endpoints,
// see accountEndpoints) that matches it, and schedules its delivery when the
// reference has a callback. The caller writes ref afterwards. The update refers to the
// events of the reference's table (see formatTable), which w adds to; with w nil,
// appendUpdate makes its own and writes the table back itself, else the caller
// flushes w.
func appendUpdate(tx *bolt.Tx, ref *references.Reference, u *references.Update, w *eventWriter, eps []references.Endpoint) error {
	ref.LastSequence++
	u.Sequence = ref.LastSequence
	u.ReferenceID = ref.ID
	if u.ID == "" {
		u.ID = references.NewID("upd_")
	}
	u.Reference = ref.Summary()
	fk := updateKey(ref.ID, u.Sequence)
	own := w == nil
	if own {
		w = newEventWriter(tx, ref.ID)
	}
	v, err := w.encodeUpdate(u)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketUpdates).Put(fk, v); err != nil {
		return err
	}
	if own {
		if err := w.flush(); err != nil {
			return err
		}
	}
	ak, err := numberUpdate(tx, ref.AccountID, fk)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketUpdatesAge).Put(join(timeKey(u.CreatedAt), fk), ak); err != nil {
		return err
	}
	if err := fanOutUpdate(tx, eps, ref, u); err != nil {
		return err
	}
	if ref.CallbackURL == "" {
		// No receiver: the update is "delivered" by being readable in the feed.
		ref.DeliveredSequence = ref.LastSequence
		return nil
	}
	return scheduleDelivery(tx, ref, u.CreatedAt)
}

// ListUpdates returns up to limit updates of the account's reference with a sequence
// above after, in sequence order.
func (db *DB) ListUpdates(ctx context.Context, accountID, refID string, after uint64, limit int) ([]references.Update, error) {
	var out []references.Update
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, accountID, refID, &ref); err != nil {
			return err
		}
		if after >= ref.LastSequence {
			return nil // nothing newer (and after+1 would wrap at the largest sequence)
		}
		prefix := str(refID)
		r := feedReader{tx: tx, many: true}
		c := tx.Bucket(bucketUpdates).Cursor()
		for k, v := c.Seek(updateKey(refID, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var u references.Update
			if err := r.decode(refID, v, &u); err != nil {
				return fmt.Errorf("update %q: %w", k, err)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list updates of %s: %w", refID, err)
	}
	return out, nil
}

// getUpdate loads one update of a reference by sequence.
func getUpdate(tx *bolt.Tx, refID string, seq uint64, u *references.Update) (bool, error) {
	key := updateKey(refID, seq)
	data := tx.Bucket(bucketUpdates).Get(key)
	if data == nil {
		return false, nil
	}
	r := feedReader{tx: tx}
	if err := r.decode(refID, data, u); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// feedReader decodes stored updates of any format, reading the event table of a
// reference once for all the updates of it read in a row.
type feedReader struct {
	tx *bolt.Tx
	// many says that the reader reads many updates of one reference in a row: it then
	// keeps their events decoded (see eventTable.cache).
	many  bool
	refID string
	tab   *eventTable
}

// decode reads the stored update data of the reference refID.
func (r *feedReader) decode(refID string, data []byte, u *references.Update) error {
	if len(data) == 0 || data[0] != formatTable {
		return decodeUpdate(data, u)
	}
	if r.tab == nil || r.refID != refID {
		t, err := loadTable(r.tx, refID)
		if err != nil {
			return err
		}
		t.cache = r.many
		r.tab, r.refID = t, refID
	}
	return decodeTableUpdate(data, r.tab, u)
}

// decodeStoredUpdate reads the update stored under the feed key fk (ref id \0
// seq(8)) with the events of its reference's table.
func decodeStoredUpdate(tx *bolt.Tx, fk, data []byte, u *references.Update) error {
	if len(fk) < 9 {
		return fmt.Errorf("%w: feed key %q", errCorrupt, fk)
	}
	r := feedReader{tx: tx}
	return r.decode(string(fk[:len(fk)-9]), data, u)
}

// updates deletes feed entries created before cutoff, oldest first, keeping those
// still waiting for delivery or queued for redelivery, then reclaims the events that
// only the deleted ones used (reclaimEvents).
func (p *pruning) updates(cutoff time.Time) error {
	touched := map[string]bool{} // references some of whose updates went
	if err := p.deleteUpdates(cutoff, touched); err != nil {
		return err
	}
	for _, refID := range slices.Sorted(maps.Keys(touched)) {
		if err := reclaimEvents(p.tx, refID); err != nil {
			return err
		}
	}
	return nil
}

// deleteUpdates is updates without the reclaiming; it adds the ids of the
// references whose updates it deleted to touched.
func (p *pruning) deleteUpdates(cutoff time.Time, touched map[string]bool) error {
	tx := p.tx
	age := tx.Bucket(bucketUpdatesAge)
	feed := tx.Bucket(bucketUpdates)
	refs := map[string]*references.Reference{}
	pinned := map[string]map[string]bool{} // ref id -> ids of updates queued for redelivery
	c := age.Cursor()
	end := timeKey(cutoff)
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0 && p.left > 0; {
		k = append([]byte(nil), k...) // keep the key past the delete below
		fk := k[8:]
		refID := string(fk[:len(fk)-9])
		seq := binary.BigEndian.Uint64(fk[len(fk)-8:])
		ref, ok := refs[refID]
		if !ok {
			ref = &references.Reference{}
			if err := getRef(tx, anyAccount, refID, ref); err != nil {
				ref = nil // the reference is gone: drop its updates
			}
			refs[refID] = ref
		}
		if ref != nil && ref.OwesDelivery() && seq > ref.DeliveredSequence {
			k, _ = c.Next() // still to be delivered
			continue
		}
		keep, err := queuedForRedelivery(tx, pinned, refID, fk)
		if err != nil {
			return err
		}
		if keep {
			k, _ = c.Next()
			continue
		}
		if err := feed.Delete(fk); err != nil {
			return err
		}
		if ref != nil {
			touched[refID] = true
		}
		if err := unindexUpdate(tx, k); err != nil {
			return err
		}
		p.took(&p.got.Updates, 1)
		// After Delete the cursor already points at the next key.
		k, _ = c.Seek(k)
	}
	return nil
}

// queuedForRedelivery reports whether the update at feed key fk has a redelivery
// queued. pinned caches each reference's queued update ids; most have none, and then
// the update itself is not read.
func queuedForRedelivery(tx *bolt.Tx, pinned map[string]map[string]bool, refID string, fk []byte) (bool, error) {
	ids, ok := pinned[refID]
	if !ok {
		prefix := str(refID)
		c := tx.Bucket(bucketRedeliver).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if ids == nil {
				ids = map[string]bool{}
			}
			ids[string(k[len(prefix):])] = true
		}
		pinned[refID] = ids
	}
	if len(ids) == 0 {
		return false, nil
	}
	data := tx.Bucket(bucketUpdates).Get(fk)
	if data == nil {
		return false, nil
	}
	id, _, err := updateHead(data)
	if err != nil {
		return false, fmt.Errorf("decode %q: %w", fk, err)
	}
	return ids[id], nil
}
