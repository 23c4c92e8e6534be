package store

// Dump: the whole store as the neutral records of storecopy, for `trackhook store
// copy`. Every bucket is either read here or derived from what is (see load.go, which
// builds the same buckets from the records):
//
//	read: accounts, api_keys, audit, audit_sequence, endpoints, refs (with the
//	  schedule's due times), shipments, updates (with their account_updates numbers
//	  through updates_by_time), account_update_seq, idempotency, attempts,
//	  account_events, account_event_seq, messages, endpoint_pending (the Pending flag),
//	  delivery_state, endpoint_streams, redeliver, endpoint_resend (with its stream
//	  through message_ids), push_deletions, meta (retention's counts)
//	derived: refs_by_account, refs_by_ident, due, updates_by_time, account_updates,
//	  idempotency_by_expiry, outbox, attempts_by_time, unsubscribed_by_time,
//	  active_by_account, endpoints_by_account, messages_by_time, message_ids,
//	  ref_search_facts (from the snapshots, and the first ETA a Shipment record
//	  carries), refs_by_eta, refs_by_number, refs_by_status, push_deletions_due,
//	  meta (schema, counts, marks)
//	not copied: sessions, sessions_by_account. A session is a console sign-in to
//	  this store; a copy is made with the service stopped, and people sign in again
//	  to the store copied to (the key hashes a session names are copied, so they can).
//
// What the contract cannot reach is passed over, with a warning in the log: snapshots,
// updates, delivery states and redeliveries of references that no longer exist,
// streams and resends of deleted endpoints, entries of endpoint_pending without their
// message.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
)

// Dump calls emit with every record of the store, from one read transaction, in the
// order of storecopy.Kinds (see storecopy.Backend).
func (db *DB) Dump(ctx context.Context, emit func(storecopy.Record) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		d := &dumper{db: db, tx: tx, ctx: ctx, emit: emit}
		for _, step := range []func() error{
			d.accounts, d.apiKeys, d.audit, d.endpoints, d.references, d.shipments, d.updates,
			d.idempotency, d.attempts, d.accountEvents, d.messages, d.streams, d.redeliveries,
			d.pushDeletions, d.sequences, d.retention,
		} {
			if err := step(); err != nil {
				return err
			}
		}
		for what, n := range d.skipped {
			db.log.Warn("dump: passed over records the store can no longer reach", "what", what, "count", n)
		}
		return nil
	})
}

// dumper reads one transaction's records.
type dumper struct {
	db      *DB
	tx      *bolt.Tx
	ctx     context.Context
	emit    func(storecopy.Record) error
	n       int
	skipped map[string]int
}

// each calls fn with every entry of bucket in key order, checking ctx as it goes.
func (d *dumper) each(bucket []byte, fn func(k, v []byte) error) error {
	c := d.tx.Bucket(bucket).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if d.n++; d.n%1024 == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *dumper) skip(what string) {
	if d.skipped == nil {
		d.skipped = map[string]int{}
	}
	d.skipped[what]++
}

// splitLast splits a key "prefix \0 n(8)" into its prefix and number.
func splitLast(k []byte) (string, uint64, error) {
	if len(k) < 9 || k[len(k)-9] != sep {
		return "", 0, fmt.Errorf("key %q is not of this schema", k)
	}
	return string(k[:len(k)-9]), bytesU64(k[len(k)-8:]), nil
}

// splitFirst splits a key "first \0 rest" at its first separator.
func splitFirst(k []byte) (string, string, error) {
	i := bytes.IndexByte(k, sep)
	if i < 0 {
		return "", "", fmt.Errorf("key %q is not of this schema", k)
	}
	return string(k[:i]), string(k[i+1:]), nil
}

func (d *dumper) accounts() error {
	return d.each(bucketAccounts, func(k, v []byte) error {
		a, err := decodeAccount(v)
		if err != nil {
			return fmt.Errorf("account %s: %w", k, err)
		}
		return d.emit(storecopy.Account{Account: a})
	})
}

func (d *dumper) apiKeys() error {
	return d.each(bucketAPIKeys, func(k, v []byte) error {
		var rec apiKeyRecord
		if err := unmarshal(v, &rec); err != nil {
			return fmt.Errorf("API key %q: %w", k, err)
		}
		return d.emit(storecopy.APIKey{Key: rec.apiKey()})
	})
}

func (d *dumper) audit() error {
	return d.each(bucketAudit, func(k, v []byte) error {
		acct, _, err := splitLast(k)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		var rec auditRecord
		if err := unmarshal(v, &rec); err != nil {
			return fmt.Errorf("audit entry %q: %w", k, err)
		}
		return d.emit(storecopy.AuditEntry{Entry: rec.entry(acct)})
	})
}

func (d *dumper) endpoints() error {
	return d.each(bucketEndpoints, func(k, v []byte) error {
		ep, err := decodeEndpoint(v)
		if err != nil {
			return fmt.Errorf("endpoint %s: %w", k, err)
		}
		return d.emit(storecopy.Endpoint{Endpoint: ep})
	})
}

// references emits each reference with the due time the schedule has for it (which
// knows of unchanged polls not written to the reference), as GetReference returns it.
func (d *dumper) references() error {
	return d.each(bucketRefs, func(k, v []byte) error {
		var ref references.Reference
		if err := decodeReference(v, &ref); err != nil {
			return fmt.Errorf("reference %s: %w", k, err)
		}
		d.db.withSchedule(&ref)
		return d.emit(storecopy.Reference{Reference: ref})
	})
}

func (d *dumper) shipments() error {
	refs := d.tx.Bucket(bucketRefs)
	return d.each(bucketShipments, func(k, v []byte) error {
		if refs.Get(k) == nil {
			d.skip("snapshots of deleted references")
			return nil
		}
		var s references.Shipment
		switch err := decodeShipment(v, &s); {
		case errors.Is(err, errNoSnapshot):
			return nil // events of updates only: they come with the updates
		case err != nil:
			return fmt.Errorf("shipment of %s: %w", k, err)
		}
		f, err := readFacts(d.tx, string(k))
		if err != nil {
			return err
		}
		r := storecopy.Shipment{ReferenceID: string(k), Shipment: s}
		if first := f.Summary.FirstETA; first != nil && (s.ETA == nil || !first.Equal(*s.ETA)) {
			r.FirstETA = first
		}
		return d.emit(r)
	})
}

// updates emits every feed, reference by reference in sequence order (the key
// order), each update with its number in the account feed: updates_by_time holds,
// under the update's time and key, the key of its account_updates entry.
func (d *dumper) updates() error {
	var ref references.Reference
	found := false
	age := d.tx.Bucket(bucketUpdatesAge)
	feed := feedReader{tx: d.tx, many: true}
	return d.each(bucketUpdates, func(k, v []byte) error {
		refID, seq, err := splitLast(k)
		if err != nil {
			return fmt.Errorf("updates: %w", err)
		}
		if refID != ref.ID {
			err := getRef(d.tx, anyAccount, refID, &ref)
			ref.ID, found = refID, err == nil
			if err != nil && !errors.Is(err, references.ErrNotFound) {
				return err
			}
		}
		if !found {
			d.skip("updates of deleted references")
			return nil
		}
		u := storecopy.Update{AccountID: ref.AccountID}
		if err := feed.decode(refID, v, &u.Update); err != nil {
			return fmt.Errorf("update %d of %s: %w", seq, refID, err)
		}
		ak := age.Get(join(timeKey(u.Update.CreatedAt), k))
		acct, n, err := splitLast(ak)
		if err != nil || acct != ref.AccountID {
			return fmt.Errorf("update %d of %s has no number in the account feed of %s", seq, refID, ref.AccountID)
		}
		u.AccountSequence = n
		return d.emit(u)
	})
}

func (d *dumper) idempotency() error {
	return d.each(bucketIdempotency, func(k, v []byte) error {
		acct, key, err := splitFirst(k)
		if err != nil {
			return fmt.Errorf("idempotency: %w", err)
		}
		var rec idempotencyRecord
		if err := unmarshal(v, &rec); err != nil {
			return fmt.Errorf("idempotency key %q: %w", k, err)
		}
		r := storecopy.Idempotency{
			AccountID: acct, Key: key, RequestHash: rec.RequestHash, ReferenceID: rec.ReferenceID, ExpiresAt: rec.ExpiresAt,
		}
		if rec.Batch != nil {
			r.Batch = make([]storecopy.BatchOutcome, len(rec.Batch))
			for i, o := range rec.Batch {
				r.Batch[i] = storecopy.BatchOutcome(o)
			}
		}
		return d.emit(r)
	})
}

func (d *dumper) attempts() error {
	return d.each(bucketAttempts, func(k, v []byte) error {
		_, n, err := splitLast(k)
		if err != nil {
			return fmt.Errorf("delivery log: %w", err)
		}
		var a references.DeliveryAttempt
		if err := decodeAttempt(v, &a); err != nil {
			return fmt.Errorf("delivery attempt %q: %w", k, err)
		}
		return d.emit(storecopy.Attempt{N: n, Attempt: a})
	})
}

func (d *dumper) accountEvents() error {
	return d.each(bucketAccountEvents, func(k, v []byte) error {
		var rec accountEventRecord
		if err := unmarshal(v, &rec); err != nil {
			return fmt.Errorf("account event %q: %w", k, err)
		}
		return d.emit(storecopy.AccountEvent{Event: rec.event()})
	})
}

// messages emits every message, marked Pending when it is in its stream's order.
func (d *dumper) messages() error {
	pending := d.tx.Bucket(bucketEndpointPending)
	err := d.each(bucketMessages, func(k, v []byte) error {
		var m references.Message
		if err := decodeMessage(v, &m); err != nil {
			return fmt.Errorf("message %q: %w", k, err)
		}
		return d.emit(storecopy.Message{Message: m, Pending: pending.Get(k) != nil})
	})
	if err != nil {
		return err
	}
	messages := d.tx.Bucket(bucketMessages)
	return d.each(bucketEndpointPending, func(k, _ []byte) error {
		if messages.Get(k) == nil {
			d.skip("endpoint_pending entries without their message")
		}
		return nil
	})
}

// streams emits the callbacks' delivery streams, then the endpoints'.
func (d *dumper) streams() error {
	err := d.each(bucketDelivery, func(k, v []byte) error {
		var ref references.Reference
		if err := getRef(d.tx, anyAccount, string(k), &ref); errors.Is(err, references.ErrNotFound) {
			d.skip("delivery states of deleted references")
			return nil
		} else if err != nil {
			return err
		}
		var st deliveryState
		if err := decodeDeliveryState(v, &st); err != nil {
			return fmt.Errorf("delivery state of %s: %w", k, err)
		}
		return d.emit(storecopy.Stream{
			Destination: references.DestinationCallback, Stream: ref.ID, AccountID: ref.AccountID,
			DueAt: st.DueAt, Attempts: st.Attempts, FirstAttemptAt: st.FirstAttemptAt,
		})
	})
	if err != nil {
		return err
	}
	return d.each(bucketEndpointStreams, func(k, v []byte) error {
		epID, stream, err := splitFirst(k)
		if err != nil {
			return fmt.Errorf("endpoint streams: %w", err)
		}
		ep, err := getEndpoint(d.tx, anyAccount, epID)
		if errors.Is(err, references.ErrNotFound) {
			d.skip("streams of deleted endpoints")
			return nil
		} else if err != nil {
			return err
		}
		var st streamState
		if err := decodeStreamState(v, &st); err != nil {
			return fmt.Errorf("stream %q: %w", k, err)
		}
		return d.emit(storecopy.Stream{
			Destination: epID, Stream: stream, AccountID: ep.AccountID,
			DueAt: st.DueAt, Attempts: st.Attempts, FirstAttemptAt: st.FirstAttemptAt,
			BatchID: st.BatchID, BatchEnd: st.BatchEnd,
		})
	})
}

// redeliveries emits the callbacks' requested redeliveries, then the endpoints'
// resends (whose stream message_ids names).
func (d *dumper) redeliveries() error {
	err := d.each(bucketRedeliver, func(k, v []byte) error {
		refID, updateID, err := splitFirst(k)
		if err != nil {
			return fmt.Errorf("redeliveries: %w", err)
		}
		var ref references.Reference
		if err := getRef(d.tx, anyAccount, refID, &ref); errors.Is(err, references.ErrNotFound) {
			d.skip("redeliveries of deleted references")
			return nil
		} else if err != nil {
			return err
		}
		return d.emit(storecopy.Redelivery{
			Destination: references.DestinationCallback, Stream: refID, MessageID: updateID,
			AccountID: ref.AccountID, RequestedAt: keyTime(v),
		})
	})
	if err != nil {
		return err
	}
	ids := d.tx.Bucket(bucketMessageIDs)
	return d.each(bucketEndpointResend, func(k, v []byte) error {
		epID, msgID, err := splitFirst(k)
		if err != nil {
			return fmt.Errorf("resends: %w", err)
		}
		ep, err := getEndpoint(d.tx, anyAccount, epID)
		loc := ids.Get(k)
		if errors.Is(err, references.ErrNotFound) || loc == nil {
			d.skip("resends of deleted endpoints or messages")
			return nil
		} else if err != nil {
			return err
		}
		stream, _, err := splitLast(loc)
		if err != nil {
			return fmt.Errorf("message id %q: %w", k, err)
		}
		return d.emit(storecopy.Redelivery{
			Destination: epID, Stream: stream, MessageID: msgID, AccountID: ep.AccountID, RequestedAt: keyTime(v),
		})
	})
}

// sequences emits each account's last numbers, in account order.
func (d *dumper) sequences() error {
	seqs := map[string]*storecopy.Sequences{}
	for _, b := range []struct {
		bucket []byte
		field  func(*storecopy.Sequences) *uint64
	}{
		{bucketAccountUpdateN, func(s *storecopy.Sequences) *uint64 { return &s.Updates }},
		{bucketAuditSeq, func(s *storecopy.Sequences) *uint64 { return &s.Audit }},
		{bucketAccountEventN, func(s *storecopy.Sequences) *uint64 { return &s.Events }},
	} {
		err := d.each(b.bucket, func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("%s of %s is corrupt (%d bytes)", b.bucket, k, len(v))
			}
			s, ok := seqs[string(k)]
			if !ok {
				s = &storecopy.Sequences{AccountID: string(k)}
				seqs[string(k)] = s
			}
			*b.field(s) = bytesU64(v)
			return nil
		})
		if err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(seqs))
	for id, s := range seqs {
		if s.Updates > 0 || s.Audit > 0 || s.Events > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := d.emit(*seqs[id]); err != nil {
			return err
		}
	}
	return nil
}

// retention emits retention's counts and the time of the last prune.
func (d *dumper) retention() error {
	meta := d.tx.Bucket(bucketMeta)
	r := storecopy.Retention{Pruned: references.PruneCounts{
		Updates: readCount(meta, countPrunedUpdates), Attempts: readCount(meta, countPrunedAttempts),
		IdempotencyKeys: readCount(meta, countPrunedIdempotency), References: readCount(meta, countPrunedReferences),
		Messages: readCount(meta, countPrunedMessages), ExpiredMessages: readCount(meta, countExpiredMessages),
	}}
	if v := meta.Get(lastPruneAt); len(v) == 8 {
		at := keyTime(v)
		r.LastPruneAt = &at
	}
	return d.emit(r)
}

// pushDeletions emits the queued deletions of carrier subscriptions, with when each is
// next due (push_deletions_due is derived from that).
func (d *dumper) pushDeletions() error {
	return d.each(bucketPushDeletions, func(k, v []byte) error {
		var rec pushDeletionRecord
		if err := unmarshal(v, &rec); err != nil {
			return fmt.Errorf("push deletion %x: %w", k, err)
		}
		return d.emit(storecopy.PushDeletion{Deletion: rec.deletion(), DueAt: rec.DueAt})
	})
}
