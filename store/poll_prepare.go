package store

import (
	"bytes"
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// preparedPoll is the part of a changed poll's write that depends only on what was
// stored when the poll was recorded, computed by the poll's own goroutine before it
// queues for the writer: decoding the reference, reading the event table, encoding
// the new snapshot into it, and the new search facts. The writer runs the group's
// transactions one after the other, on one goroutine (see groupCommit), and these
// took about a quarter of a changed poll's transaction there (7 to 10 µs of CPU time
// of 34, in the load tool at 100,000 references); done beforehand, they run on every
// core, while the writer commits the group before.
//
// The transaction uses them only if the reference, its snapshot value and its facts
// are still stored byte for byte as they were read (the poll's lease keeps other
// polls of the reference away, but an unsubscribe, a pause or retention may have
// written meanwhile), and only once: a transaction run again (see groupCommit.commit)
// reads everything afresh, as does a poll whose values changed.
type preparedPoll struct {
	// refData, shipData and factsData are copies of the values read: the
	// reference, its shipments value (event table and current snapshot) and its
	// search facts, each nil when there was none.
	refData, shipData, factsData []byte
	ref                          references.Reference // decoded from refData
	// w holds the event table of shipData with the poll's snapshot made current.
	w *eventWriter
	// oldFacts are factsData decoded; facts and factsEnc the facts of the poll's
	// snapshot, and their encoding.
	oldFacts, facts searchFacts
	factsEnc        []byte
	used            bool
}

// preparePoll prepares the write of res, a poll of refID that brings a snapshot, for
// RecordPoll. It returns nil when there is nothing to prepare or the poll is not the
// usual one (it ends tracking, the reference is not active, a value is of an older
// format): RecordPoll then does it all in the transaction, as before.
func (db *DB) preparePoll(ctx context.Context, refID string, res *references.PollResult) *preparedPoll {
	if res.Shipment == nil || res.EndsTracking() {
		return nil
	}
	p := &preparedPoll{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		// Copies: a value read is only valid inside its transaction.
		key := []byte(refID)
		p.refData = bytes.Clone(tx.Bucket(bucketRefs).Get(key))
		p.shipData = bytes.Clone(tx.Bucket(bucketShipments).Get(key))
		p.factsData = bytes.Clone(tx.Bucket(bucketRefFacts).Get(key))
		return nil
	})
	if err != nil || p.refData == nil {
		return nil // the transaction reads them again and reports what is wrong
	}
	if err := decodeReference(p.refData, &p.ref); err != nil || !p.ref.Active() {
		return nil
	}
	w, ok := writerFrom(refID, p.shipData)
	if !ok {
		return nil
	}
	if err := w.setCurrent(res.Shipment); err != nil {
		return nil
	}
	p.w = w
	if p.factsData != nil {
		if p.oldFacts, err = decodeFacts(p.factsData); err != nil {
			return nil
		}
	}
	p.facts = factsOf(p.oldFacts.summary(), res.Shipment)
	p.factsEnc = encodeFacts(p.facts)
	return p
}

// take returns the prepared poll for use in tx when the values it was prepared from
// are those tx holds, and marks it used; else nil.
func (p *preparedPoll) take(tx *bolt.Tx, refID string) *preparedPoll {
	if p == nil || p.used {
		return nil
	}
	key := []byte(refID)
	if !bytes.Equal(tx.Bucket(bucketRefs).Get(key), p.refData) ||
		!bytes.Equal(tx.Bucket(bucketShipments).Get(key), p.shipData) ||
		!bytes.Equal(tx.Bucket(bucketRefFacts).Get(key), p.factsData) {
		return nil
	}
	p.used = true
	p.w.tx = tx
	return p
}

// writerFrom returns an event writer for refID loaded from stored, its value of the
// shipments bucket (nil for none) read earlier, as eventWriter.load would load it from
// the transaction. stored must be the caller's own copy, as the table aliases it. ok
// is false for a value it cannot read: the transaction then reads it and says why.
func writerFrom(refID string, stored []byte) (w *eventWriter, ok bool) {
	w = &eventWriter{refID: refID}
	if err := w.loadFrom(stored); err != nil {
		return nil, false
	}
	return w, true
}
