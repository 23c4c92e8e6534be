package store

// Load: the store built from storecopy's records, for `trackhook store copy` into a
// bbolt file. It writes each record where the store keeps it, with the index entries
// and counts the store's own writes would have made (see the list in dump.go), in
// transactions of loadBatch records.

import (
	"context"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
)

// loadBatch is how many records one transaction of a load writes: a large store is
// loaded in many commits rather than one that holds it all in memory.
const loadBatch = 10_000

// Load writes the records into the store, which is empty (see storecopy.Backend).
// A failed load leaves the records of the transactions it committed.
func (db *DB) Load(ctx context.Context, records iter.Seq2[storecopy.Record, error]) (err error) {
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
		if err != nil {
			db.commitFailed() // the schedule is read again from what was committed
		}
	}()
	l := &loader{db: db}
	n := 0
	for r, rerr := range records {
		if rerr != nil {
			return rerr
		}
		if err := l.load(tx, r); err != nil {
			return fmt.Errorf("load %s: %w", r.Kind(), err)
		}
		if n++; n%loadBatch == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				tx = nil
				return fmt.Errorf("load: commit: %w", err)
			}
			if tx, err = db.bolt.Begin(true); err != nil {
				tx = nil
				return fmt.Errorf("load: %w", err)
			}
		}
	}
	if err := l.finish(tx); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	db.sched.load(tx)
	err = tx.Commit()
	tx = nil
	if err != nil {
		return fmt.Errorf("load: commit: %w", err)
	}
	return nil
}

// loader writes records; it keeps the highest key of the delivery log, whose bucket
// sequence numbers the next attempt.
type loader struct {
	db          *DB
	lastAttempt uint64
}

func (l *loader) load(tx *bolt.Tx, r storecopy.Record) error {
	switch v := r.(type) {
	case storecopy.Account:
		return putAccount(tx.Bucket(bucketAccounts), v.Account.ID, &v.Account)
	case storecopy.APIKey:
		return putJSON(tx.Bucket(bucketAPIKeys), []byte(v.Key.Hash), newAPIKeyRecord(&v.Key))
	case storecopy.AuditEntry:
		e := &v.Entry
		if err := raiseCount(tx.Bucket(bucketAuditSeq), e.AccountID, e.Sequence); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketAudit), join(str(e.AccountID), u64(e.Sequence)), newAuditRecord(e))
	case storecopy.Endpoint:
		return putEndpoint(tx, &v.Endpoint, true)
	case storecopy.Reference:
		return loadReference(tx, &v.Reference)
	case storecopy.Shipment:
		var ref references.Reference
		if err := getRef(tx, anyAccount, v.ReferenceID, &ref); err != nil {
			return fmt.Errorf("shipment of %s: %w", v.ReferenceID, err)
		}
		w := newEventWriter(tx, ref.ID)
		if err := w.setCurrent(&v.Shipment); err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
		var prev *references.ShipmentSummary // the summary's first ETA is the snapshot's...
		if v.FirstETA != nil {
			prev = &references.ShipmentSummary{FirstETA: v.FirstETA} // ...unless the record says otherwise
		}
		return indexSnapshotAfter(tx, &ref, &v.Shipment, searchFacts{}, prev)
	case storecopy.Update:
		return loadUpdate(tx, &v)
	case storecopy.Idempotency:
		return loadIdempotency(tx, &v)
	case storecopy.Attempt:
		a := &v.Attempt
		key := join(str(a.ReferenceID), u64(v.N))
		if err := tx.Bucket(bucketAttemptsAge).Put(attemptKeyAge(a.At, key), nil); err != nil {
			return err
		}
		l.lastAttempt = max(l.lastAttempt, v.N)
		return tx.Bucket(bucketAttempts).Put(key, encodeAttempt(a))
	case storecopy.AccountEvent:
		e := &v.Event
		if err := raiseCount(tx.Bucket(bucketAccountEventN), e.AccountID, e.Sequence); err != nil {
			return err
		}
		rec := accountEventRecord(*e)
		return putJSON(tx.Bucket(bucketAccountEvents), join(str(e.AccountID), u64(e.Sequence)), &rec)
	case storecopy.Message:
		m := &v.Message
		if err := putMessage(tx, m, true); err != nil {
			return err
		}
		if !v.Pending {
			return nil
		}
		return tx.Bucket(bucketEndpointPending).Put(messageKey(m.EndpointID, messageStream(m), m.Sequence), nil)
	case storecopy.Stream:
		return loadStream(tx, &v)
	case storecopy.Redelivery:
		bucket := bucketEndpointResend
		key := join(str(v.Destination), []byte(v.MessageID))
		if v.Destination == references.DestinationCallback {
			bucket, key = bucketRedeliver, join(str(v.Stream), []byte(v.MessageID))
		}
		return tx.Bucket(bucket).Put(key, timeKey(v.RequestedAt))
	case storecopy.PushDeletion:
		d := &v.Deletion
		key := deletionKey(d.Source, d.SubscriptionID)
		if err := putJSON(tx.Bucket(bucketPushDeletions), key, newPushDeletionRecord(d, v.DueAt)); err != nil {
			return err
		}
		return tx.Bucket(bucketPushDue).Put(join(timeKey(v.DueAt), key), nil)
	case storecopy.Sequences:
		for _, c := range []struct {
			bucket []byte
			n      uint64
		}{{bucketAccountUpdateN, v.Updates}, {bucketAuditSeq, v.Audit}, {bucketAccountEventN, v.Events}} {
			if err := raiseCount(tx.Bucket(c.bucket), v.AccountID, c.n); err != nil {
				return err
			}
		}
		return nil
	case storecopy.Retention:
		return loadRetention(tx, &v)
	}
	return fmt.Errorf("a record of unknown kind %T", r)
}

// raiseCount sets the counter of id in b to n unless it holds more already.
func raiseCount(b *bolt.Bucket, id string, n uint64) error {
	if v := b.Get([]byte(id)); len(v) == 8 && bytesU64(v) >= n {
		return nil
	}
	return b.Put([]byte(id), u64(n))
}

// loadReference writes a reference with the index entries and counts its state has:
// a subscribed one (active or paused) holds its identifier and counts in its
// account's quota, an active one is due, an unsubscribed one is found by retention
// and by search under its identifier.
func loadReference(tx *bolt.Tx, ref *references.Reference) error {
	if err := putRef(tx, ref); err != nil {
		return err
	}
	if err := addStatus(tx, ref.AccountID, ref.Status, 1); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRefsByAcct).Put(acctRefKey(ref.AccountID, ref.CreatedAt, ref.ID), nil); err != nil {
		return err
	}
	if !ref.Subscribed() {
		if ref.UnsubscribedAt != nil {
			if err := tx.Bucket(bucketUnsubAge).Put(unsubKeyAge(*ref.UnsubscribedAt, ref.ID), nil); err != nil {
				return err
			}
		}
		if err := indexUnsubscribed(tx, ref); err != nil {
			return err
		}
		return addCount(tx, countUnsubscribed, 1)
	}
	kind, value := ref.Identifier()
	ik := identKey(ref.AccountID, string(kind), value, ref.CarrierCode)
	idx := tx.Bucket(bucketRefsByIdent)
	if other := idx.Get(ik); other != nil {
		return fmt.Errorf("references %s and %s both track %s %s with carrier %s", other, ref.ID, kind, value, ref.CarrierCode)
	}
	if err := idx.Put(ik, []byte(ref.ID)); err != nil {
		return err
	}
	if ref.Active() && ref.NextPollAt != nil {
		if err := tx.Bucket(bucketDue).Put(dueKey(*ref.NextPollAt, ref.ID), nil); err != nil {
			return err
		}
	}
	if err := addCount(tx, countActive, 1); err != nil {
		return err
	}
	return addActive(tx, ref.AccountID, 1)
}

// loadUpdate writes an update to its reference's feed, with its number in the
// account feed and its entry in the retention index (which names that number).
func loadUpdate(tx *bolt.Tx, v *storecopy.Update) error {
	u := &v.Update
	if v.AccountSequence == 0 {
		return fmt.Errorf("update %d of %s has no number in the account feed", u.Sequence, u.ReferenceID)
	}
	fk := updateKey(u.ReferenceID, u.Sequence)
	w := newEventWriter(tx, u.ReferenceID) // the update's events go to its reference's table
	data, err := w.encodeUpdate(u)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketUpdates).Put(fk, data); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	ak := accountUpdateKey(v.AccountID, v.AccountSequence)
	if err := accountUpdatesForAppend(tx).Put(ak, fk); err != nil {
		return err
	}
	if err := raiseCount(tx.Bucket(bucketAccountUpdateN), v.AccountID, v.AccountSequence); err != nil {
		return err
	}
	return tx.Bucket(bucketUpdatesAge).Put(join(timeKey(u.CreatedAt), fk), ak)
}

func loadIdempotency(tx *bolt.Tx, v *storecopy.Idempotency) error {
	rec := idempotencyRecord{ReferenceID: v.ReferenceID, RequestHash: v.RequestHash, ExpiresAt: v.ExpiresAt}
	if v.Batch != nil {
		rec.Batch = make([]batchOutcome, len(v.Batch))
		for i, o := range v.Batch {
			rec.Batch[i] = batchOutcome(o)
		}
	}
	key := join(str(v.AccountID), []byte(v.Key))
	if err := putJSON(tx.Bucket(bucketIdempotency), key, &rec); err != nil {
		return err
	}
	return tx.Bucket(bucketIdemExpiry).Put(idemKeyAge(v.ExpiresAt, key), nil)
}

// loadStream writes a delivery stream's state, in the outbox unless it waits: for
// its paused reference, or for its disabled endpoint to be enabled again.
func loadStream(tx *bolt.Tx, v *storecopy.Stream) error {
	if v.Destination == references.DestinationCallback {
		var ref references.Reference
		if err := getRef(tx, anyAccount, v.Stream, &ref); err != nil {
			return fmt.Errorf("callback stream of %s: %w", v.Stream, err)
		}
		st := &deliveryState{DueAt: v.DueAt.UTC(), Attempts: v.Attempts, FirstAttemptAt: v.FirstAttemptAt}
		if err := setDeliveryState(tx, ref.ID, nil, st); err != nil {
			return err
		}
		if ref.Paused() {
			return parkDelivery(tx, ref.ID, st)
		}
		return nil
	}
	ep, err := getEndpoint(tx, anyAccount, v.Destination)
	if err != nil {
		return fmt.Errorf("stream %s of endpoint %s: %w", v.Stream, v.Destination, err)
	}
	paused, err := streamRefPaused(tx, v.Stream)
	if err != nil {
		return err
	}
	st := &streamState{
		DueAt: v.DueAt, Attempts: v.Attempts, FirstAttemptAt: v.FirstAttemptAt, BatchID: v.BatchID, BatchEnd: v.BatchEnd,
	}
	return setStreamState(tx, ep.ID, ep.Enabled && !paused, v.Stream, nil, st)
}

func loadRetention(tx *bolt.Tx, v *storecopy.Retention) error {
	meta := tx.Bucket(bucketMeta)
	p := v.Pruned
	for _, c := range []struct {
		name []byte
		n    int64
	}{
		{countPrunedUpdates, p.Updates}, {countPrunedAttempts, p.Attempts},
		{countPrunedIdempotency, p.IdempotencyKeys}, {countPrunedReferences, p.References},
		{countPrunedMessages, p.Messages}, {countExpiredMessages, p.ExpiredMessages},
	} {
		if err := meta.Put(c.name, u64(uint64(c.n))); err != nil {
			return err
		}
	}
	if v.LastPruneAt == nil {
		return meta.Delete(lastPruneAt)
	}
	return meta.Put(lastPruneAt, timeKey(*v.LastPruneAt))
}

// finish sets what follows the last record: the delivery log's sequence.
func (l *loader) finish(tx *bolt.Tx) error {
	b := tx.Bucket(bucketAttempts)
	if l.lastAttempt > b.Sequence() {
		return b.SetSequence(l.lastAttempt)
	}
	return nil
}

var _ storecopy.Backend = (*DB)(nil)
