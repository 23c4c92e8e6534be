package store

// The delivery of endpoint messages: each (endpoint, stream) is one ordered stream,
// a stream being a reference of the endpoint's account or references.AccountStream
// (its operational events). Its unfinished messages are listed in order in
// endpoint_pending, its state (the attempts of the message or batch being sent, when
// next) is in endpoint_streams, and while it has something due and the endpoint is
// enabled it is in the outbox beside the callbacks' streams, under the endpoint's id.
// references.AfterMessageAttempt decides how an attempt moves a message on.

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// streamState is where an endpoint stream stands: the tries of the message (or
// batch) at its head, and when it is due next. It exists while the stream has
// unfinished messages.
type streamState struct {
	DueAt          time.Time  `json:"due_at"`
	Attempts       int        `json:"attempts,omitempty"`
	FirstAttemptAt *time.Time `json:"first_attempt_at,omitempty"`
	// BatchID and BatchEnd are set when a batch is first handed out, before its first
	// attempt: the batch is the stream's unfinished messages up to sequence BatchEnd,
	// retried as is.
	BatchID  string `json:"batch_id,omitempty"`
	BatchEnd uint64 `json:"batch_end,omitempty"`
}

func streamKey(endpointID, stream string) []byte { return join(str(endpointID), []byte(stream)) }

// pendingPrefix is the prefix of a stream's entries in endpoint_pending.
func pendingPrefix(endpointID, stream string) []byte { return join(str(endpointID), str(stream)) }

func getStreamState(tx *bolt.Tx, endpointID, stream string) (*streamState, error) {
	data := tx.Bucket(bucketEndpointStreams).Get(streamKey(endpointID, stream))
	if data == nil {
		return nil, nil
	}
	var st streamState
	if err := decodeStreamState(data, &st); err != nil {
		return nil, fmt.Errorf("decode stream %s of %s: %w", stream, endpointID, err)
	}
	return &st, nil
}

// setStreamState replaces old (nil: none) with st (nil: none) and moves the outbox
// entry to match: a stream is in the outbox only while its endpoint is enabled (a
// disabled endpoint's streams wait, with their state, for it to be enabled again).
// The count of pending deliveries counts streams with a state.
func setStreamState(tx *bolt.Tx, endpointID string, enabled bool, stream string, old, st *streamState) error {
	switch {
	case old == nil && st != nil:
		if err := addCount(tx, countPending, 1); err != nil {
			return err
		}
	case old != nil && st == nil:
		if err := addCount(tx, countPending, -1); err != nil {
			return err
		}
	}
	outbox := tx.Bucket(bucketOutbox)
	if old != nil {
		if err := outbox.Delete(outboxKey(old.DueAt, endpointID, stream)); err != nil {
			return err
		}
	}
	key := streamKey(endpointID, stream)
	if st == nil {
		return tx.Bucket(bucketEndpointStreams).Delete(key)
	}
	st.DueAt = st.DueAt.UTC()
	if enabled {
		if err := outbox.Put(outboxKey(st.DueAt, endpointID, stream), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketEndpointStreams).Put(key, encodeStreamState(st))
}

// fanOutUpdate queues u, just appended to ref's feed, for each of eps (the account's
// endpoints) that matches it.
func fanOutUpdate(tx *bolt.Tx, eps []references.Endpoint, ref *references.Reference, u *references.Update) error {
	for i := range eps {
		ep := &eps[i]
		if !ep.Matches(ref, u) {
			continue
		}
		m := references.Message{
			EndpointID: ep.ID, AccountID: ep.AccountID, ID: u.ID, ReferenceID: ref.ID, Sequence: u.Sequence,
			EventType: string(u.Type), Tags: u.Tags(ep.MinETAChange), CreatedAt: u.CreatedAt,
		}
		if err := queueMessage(tx, ep, &m); err != nil {
			return fmt.Errorf("queue %s for endpoint %s: %w", u.ID, ep.ID, err)
		}
	}
	return nil
}

// appendEvent appends e to its account's operational feed and queues it for the
// account's endpoints that subscribe to it.
func (db *DB) appendEvent(tx *bolt.Tx, e *references.AccountEvent) error {
	if err := appendAccountEvent(tx, e); err != nil {
		return err
	}
	eps, err := db.accountEndpoints(tx, e.AccountID)
	if err != nil {
		return err
	}
	for i := range eps {
		ep := &eps[i]
		if !ep.MatchesEvent(e) {
			continue
		}
		m := references.Message{
			EndpointID: ep.ID, AccountID: ep.AccountID, ID: e.ID, Sequence: e.Sequence,
			EventType: e.Type, CreatedAt: e.CreatedAt,
		}
		if err := queueMessage(tx, ep, &m); err != nil {
			return fmt.Errorf("queue %s for endpoint %s: %w", e.ID, ep.ID, err)
		}
	}
	return nil
}

// queueMessage writes m as a new pending message of ep and puts its stream in the
// outbox, due at once, unless the stream is there already (a message in flight keeps
// the stream's schedule: order is per stream).
func queueMessage(tx *bolt.Tx, ep *references.Endpoint, m *references.Message) error {
	due := m.CreatedAt.UTC()
	m.Status, m.NextAttemptAt = references.MessagePending, &due
	if err := putMessage(tx, m, true); err != nil {
		return err
	}
	stream := messageStream(m)
	if err := tx.Bucket(bucketEndpointPending).Put(messageKey(ep.ID, stream, m.Sequence), nil); err != nil {
		return err
	}
	if tx.Bucket(bucketEndpointStreams).Get(streamKey(ep.ID, stream)) != nil {
		return nil
	}
	return setStreamState(tx, ep.ID, ep.Enabled, stream, nil, &streamState{DueAt: due})
}

// streamHead returns the sequence of the stream's first unfinished message; ok is
// false when it has none.
func streamHead(tx *bolt.Tx, endpointID, stream string) (seq uint64, ok bool) {
	prefix := pendingPrefix(endpointID, stream)
	k, _ := tx.Bucket(bucketEndpointPending).Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		return 0, false
	}
	return bytesU64(k[len(prefix):]), true
}

// leaveStream takes a message that finished (or was dropped) out of its stream's
// order. When it was at the head, the stream goes on with the next message, from
// its first try, unless it was one of a fixed batch that still has members; a stream
// left with nothing loses its state and its place in the outbox.
func leaveStream(tx *bolt.Tx, ep *references.Endpoint, stream string, seq uint64) error {
	if err := tx.Bucket(bucketEndpointPending).Delete(messageKey(ep.ID, stream, seq)); err != nil {
		return err
	}
	st, err := getStreamState(tx, ep.ID, stream)
	if err != nil || st == nil {
		return err
	}
	head, ok := streamHead(tx, ep.ID, stream)
	switch {
	case !ok:
		return setStreamState(tx, ep.ID, ep.Enabled, stream, st, nil)
	case head < seq || st.BatchID != "" && head <= st.BatchEnd:
		return nil // it was not the head, or its batch goes on
	}
	next := streamState{DueAt: st.DueAt}
	return setStreamState(tx, ep.ID, ep.Enabled, stream, st, &next)
}

// expireMessage fails a message that can no longer be sent (what it carries is gone,
// or retention's cutoff passed it) with an OutcomeExpired entry in its log, at at,
// and takes it out of its stream.
func expireMessage(tx *bolt.Tx, ep *references.Endpoint, m *references.Message, at time.Time, why string) error {
	a := references.DeliveryAttempt{
		Destination: m.EndpointID, ReferenceID: m.ReferenceID, UpdateID: m.ID, Sequence: m.Sequence,
		At: at, Outcome: references.OutcomeExpired, Error: why,
	}
	next, _ := references.AfterMessageAttempt(*m, a)
	if err := putMessage(tx, &next, false); err != nil {
		return err
	}
	return leaveStream(tx, ep, messageStream(m), m.Sequence)
}

// Why a message is expired, in its log.
const (
	whyContentGone = "what the message carries is no longer kept (removed by retention): nothing was sent"
	whyRetention   = "older than the delivery log's retention period: it was dropped without being sent again"
)

// nextEndpointJob fills job with the next message (or batch) of an endpoint's
// stream, or reports that there is nothing to send, as nextDelivery does for a
// callback. Changes it may need first are made when write is set, and otherwise
// reported with needsWrite: taking a disabled endpoint's stream out of the outbox,
// failing messages whose update or event is gone (expired), taking a drained stream
// out of the outbox, fixing a new batch.
func (db *DB) nextEndpointJob(tx *bolt.Tx, endpointID, stream string, now time.Time, job *references.DeliveryJob, write bool) (nothing, needsWrite bool, err error) {
	*job = references.DeliveryJob{Destination: endpointID}
	ep, err := db.deliveringEndpoint(tx, endpointID)
	if errors.Is(err, references.ErrNotFound) {
		if !write {
			return false, true, nil
		}
		return true, false, dropStream(tx, endpointID, stream)
	}
	if err != nil {
		return false, false, err
	}
	st, err := getStreamState(tx, endpointID, stream)
	if err != nil || st == nil {
		return st == nil, false, err
	}
	if !ep.Enabled {
		// It waits out of the outbox, with its messages, until it is enabled again.
		if !write {
			return false, true, nil
		}
		return true, false, setStreamState(tx, endpointID, false, stream, st, st)
	}
	if paused, err := streamRefPaused(tx, stream); err != nil || paused {
		// Likewise while its reference is paused, until it is resumed.
		if err != nil || !write {
			return false, err == nil, err
		}
		return true, false, setStreamState(tx, endpointID, false, stream, st, st)
	}
	var batch []references.Message
	for {
		var stale []references.Message
		batch, stale, err = db.streamBatch(tx, &ep, stream, st, job)
		if err != nil {
			return false, false, err
		}
		if len(stale) == 0 && len(batch) > 0 {
			break
		}
		if !write {
			return false, true, nil
		}
		if len(stale) == 0 {
			next := &streamState{DueAt: st.DueAt} // a fixed batch left without members
			if _, ok := streamHead(tx, endpointID, stream); !ok {
				next = nil // drained
			}
			if err := setStreamState(tx, endpointID, true, stream, st, next); err != nil || next == nil {
				return next == nil, false, err
			}
			st = next
			continue
		}
		for i := range stale {
			m := &stale[i]
			if m.ID == "" {
				err = leaveStream(tx, &ep, stream, m.Sequence) // no message to log in
			} else {
				err = expireMessage(tx, &ep, m, now, whyContentGone)
			}
			if err != nil {
				return false, false, err
			}
		}
		if st, err = getStreamState(tx, endpointID, stream); err != nil || st == nil {
			return st == nil, false, err // drained
		}
	}
	job.Endpoint = &ep
	if stream != references.AccountStream {
		if err := getRef(tx, anyAccount, stream, &job.Reference); err != nil && !errors.Is(err, references.ErrNotFound) {
			return false, false, err
		}
	}
	if job.Batch != nil {
		job.BatchID = st.BatchID
		if job.BatchID == "" {
			// The batch is fixed before its first attempt is sent: an attempt whose
			// record a crash lost is then retried as the receiver may have got it,
			// under the same webhook-id, not recomposed with messages queued since.
			if !write {
				return false, true, nil
			}
			job.BatchID = references.BatchID(endpointID, stream, batch[0].Sequence, batch[len(batch)-1].Sequence)
			fixed := *st
			fixed.BatchID, fixed.BatchEnd = job.BatchID, batch[len(batch)-1].Sequence
			if err := setStreamState(tx, endpointID, true, stream, st, &fixed); err != nil {
				return false, false, err
			}
		}
	}
	job.Attempt = st.Attempts + 1
	if st.FirstAttemptAt != nil {
		job.FirstAttemptAt = *st.FirstAttemptAt
	}
	job.Secrets = ep.LiveSecrets(now)
	return false, false, nil
}

// streamBatch reads what the stream sends next into job (Update and, for a batch
// endpoint, Batch; or Event) and returns its messages: the head, with up to
// BatchSize-1 following ones for a batch endpoint (its fixed batch once tried).
// Messages whose update or event is gone are returned as stale instead; nothing is
// written. An empty batch without stale messages means the stream is drained, or
// its fixed batch has no member left.
func (db *DB) streamBatch(tx *bolt.Tx, ep *references.Endpoint, stream string, st *streamState, job *references.DeliveryJob) (batch, stale []references.Message, err error) {
	size := 1
	batched := ep.Format == references.FormatBatch && stream != references.AccountStream
	if batched {
		size = ep.BatchSize
		if size <= 0 {
			size = references.DefaultBatchSize
		}
	}
	// A batch fixed when first handed out is sent as it was, whatever the endpoint's
	// batch size is now; an endpoint no longer of FormatBatch sends one at a time.
	fixed := batched && st.BatchID != ""
	job.Update, job.Batch, job.Event = references.Update{}, nil, nil
	prefix := pendingPrefix(ep.ID, stream)
	c := tx.Bucket(bucketEndpointPending).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (fixed || len(batch) < size); k, _ = c.Next() {
		seq := bytesU64(k[len(prefix):])
		if fixed && seq > st.BatchEnd {
			break
		}
		m, found, err := getMessage(tx, ep.ID, stream, seq)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			// An entry without its message (deleted with its endpoint's records):
			// expiring it only takes it out of the stream.
			m = references.Message{EndpointID: ep.ID, AccountID: ep.AccountID, ReferenceID: streamRef(stream), Sequence: seq}
			stale = append(stale, m)
			continue
		}
		if stream == references.AccountStream {
			e, found, err := getAccountEvent(tx, ep.AccountID, seq)
			if err != nil {
				return nil, nil, err
			}
			if !found {
				stale = append(stale, m)
				continue
			}
			job.Event = &e
			return []references.Message{m}, stale, nil
		}
		var u references.Update
		found, err = getUpdate(tx, stream, seq, &u)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			stale = append(stale, m)
			continue
		}
		if len(batch) == 0 {
			job.Update = u
		}
		if batched {
			job.Batch = append(job.Batch, u)
		}
		batch = append(batch, m)
	}
	return batch, stale, nil
}

// streamRef is the reference of a stream, "" for operational events.
func streamRef(stream string) string {
	if stream == references.AccountStream {
		return ""
	}
	return stream
}

// jobStream is the stream an endpoint's job belongs to.
func jobStream(job *references.DeliveryJob) string {
	if job.Event != nil {
		return references.AccountStream
	}
	return job.Update.ReferenceID
}

// jobMessages reads the messages a job sends: its batch's, or its one; a message
// deleted meanwhile is left out.
func jobMessages(tx *bolt.Tx, job *references.DeliveryJob) ([]references.Message, error) {
	stream := jobStream(job)
	seqs := []uint64{job.Update.Sequence}
	switch {
	case job.Event != nil:
		seqs = []uint64{job.Event.Sequence}
	case job.Batch != nil:
		seqs = seqs[:0]
		for i := range job.Batch {
			seqs = append(seqs, job.Batch[i].Sequence)
		}
	}
	var out []references.Message
	for _, seq := range seqs {
		m, found, err := getMessage(tx, job.Destination, stream, seq)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, m)
		}
	}
	return out, nil
}

// recordEndpointAttempt is RecordAttempt's transaction for a job to an endpoint:
// the attempt goes into each message the job sent, by references.AfterMessageAttempt,
// and moves the stream on (a resend only logs itself and leaves the queue). The
// endpoint's FailingSince follows (references.EndpointFailing); a.Disable disables
// it, and that and every message given up append their operational event, fanned
// out to the endpoints that subscribe.
func (db *DB) recordEndpointAttempt(tx *bolt.Tx, job *references.DeliveryJob, a references.DeliveryAttempt) error {
	ep, err := db.deliveringEndpoint(tx, job.Destination)
	if errors.Is(err, references.ErrNotFound) {
		return nil // deleted during the attempt, with its messages: nothing to log to
	}
	if err != nil {
		return err
	}
	msgs, err := jobMessages(tx, job)
	if err != nil || len(msgs) == 0 {
		return err
	}
	stream := jobStream(job)
	urlChanged := job.Endpoint != nil && job.Endpoint.URL != ep.URL
	if job.Redelivery {
		if urlChanged {
			// The URL was changed during the attempt: only log. The resend stays
			// queued, for the new URL.
			return logOnly(tx, msgs, a)
		}
		if err := tx.Bucket(bucketEndpointResend).Delete(join(str(ep.ID), []byte(job.MessageID()))); err != nil {
			return err
		}
		a.Redelivery = true
		m, _ := references.AfterMessageAttempt(msgs[0], messageAttempt(&msgs[0], a))
		if err := putMessage(tx, &m, false); err != nil {
			return err
		}
		return db.endpointAfterAttempt(tx, &ep, a, false, nil)
	}
	st, err := getStreamState(tx, ep.ID, stream)
	if err != nil {
		return err
	}
	head, ok := streamHead(tx, ep.ID, stream)
	if st == nil || !ok || head != msgs[0].Sequence || job.Batch != nil && st.BatchID != "" && st.BatchID != job.BatchID || urlChanged {
		// The stream moved on meanwhile (the message expired, the endpoint was
		// re-created), or the URL was changed during the attempt: only log.
		return logOnly(tx, msgs, a)
	}
	var exhausted []references.AccountEvent
	finished := false
	for i := range msgs {
		ma := messageAttempt(&msgs[i], a)
		if job.Batch != nil {
			msgs[i].BatchID = job.BatchID
		}
		m, gaveUp := references.AfterMessageAttempt(msgs[i], ma)
		if err := putMessage(tx, &m, false); err != nil {
			return err
		}
		if gaveUp {
			exhausted = append(exhausted, references.ExhaustedEvent(&ep, &m, &ma))
		}
		if m.Status == references.MessageSucceeded || m.Status == references.MessageFailed {
			finished = true
			if err := tx.Bucket(bucketEndpointPending).Delete(messageKey(ep.ID, stream, m.Sequence)); err != nil {
				return err
			}
		}
	}
	if err := db.endpointAfterAttempt(tx, &ep, a, true, exhausted); err != nil {
		return err
	}
	next := &streamState{DueAt: a.At}
	switch {
	case finished:
		if _, ok := streamHead(tx, ep.ID, stream); !ok {
			next = nil // drained
		}
	default:
		*next = *st
		next.Attempts++
		if next.FirstAttemptAt == nil {
			at := a.At.UTC()
			next.FirstAttemptAt = &at
		}
		next.DueAt = a.At
		if a.NextRetryAt != nil && a.Disable == "" {
			next.DueAt = *a.NextRetryAt
		}
		next.BatchID, next.BatchEnd = "", 0
		if job.Batch != nil {
			next.BatchID, next.BatchEnd = job.BatchID, msgs[len(msgs)-1].Sequence
		}
	}
	return setStreamState(tx, ep.ID, ep.Enabled, stream, st, next)
}

// messageAttempt is a's entry in the log of message m (a batch's attempt is logged
// in each of its messages).
func messageAttempt(m *references.Message, a references.DeliveryAttempt) references.DeliveryAttempt {
	a.Destination, a.ReferenceID, a.UpdateID, a.Sequence = m.EndpointID, m.ReferenceID, m.ID, m.Sequence
	return a
}

// logOnly appends a to the messages' logs without moving them on.
func logOnly(tx *bolt.Tx, msgs []references.Message, a references.DeliveryAttempt) error {
	for i := range msgs {
		msgs[i].Attempts = append(msgs[i].Attempts, messageAttempt(&msgs[i], a))
		if err := putMessage(tx, &msgs[i], false); err != nil {
			return err
		}
	}
	return nil
}

// endpointAfterAttempt writes what an attempt changed on the endpoint: FailingSince
// (for an attempt of a stream: a resend is outside the endpoint's ordered delivery,
// whose health FailingSince tells) and a.Disable; then appends endpoint.disabled
// the message.attempt.exhausted events and endpoint.disabled (when it disabled it)
// to the account's feed.
func (db *DB) endpointAfterAttempt(tx *bolt.Tx, ep *references.Endpoint, a references.DeliveryAttempt, ofStream bool, exhausted []references.AccountEvent) error {
	changed := false
	if ofStream {
		failing := references.EndpointFailing(ep, a.Outcome, a.At)
		changed = !sameTimePtr(failing, ep.FailingSince)
		ep.FailingSince = failing
	}
	disabled := a.Disable != "" && ep.Disable(a.Disable, a.At)
	if changed || disabled {
		if err := putEndpoint(tx, ep, false); err != nil {
			return err
		}
	}
	// The messages given up come first: giving one up is what disables an endpoint
	// that has failed past its policy.
	for i := range exhausted {
		if err := db.appendEvent(tx, &exhausted[i]); err != nil {
			return err
		}
	}
	if disabled {
		e := references.DisabledEvent(ep, a.At)
		if err := db.appendEvent(tx, &e); err != nil {
			return err
		}
		db.log.Warn("endpoint disabled", "endpoint_id", ep.ID, "account_id", ep.AccountID, "reason", ep.DisabledReason)
	}
	return nil
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// postponeEndpointStream makes the stream due at until without counting an attempt.
func postponeEndpointStream(tx *bolt.Tx, endpointID, stream string, until time.Time) error {
	ep, err := getEndpoint(tx, anyAccount, endpointID)
	if errors.Is(err, references.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := getStreamState(tx, endpointID, stream)
	if err != nil || st == nil {
		return err
	}
	next := *st
	next.DueAt = until
	return setStreamState(tx, endpointID, ep.Enabled, stream, st, &next)
}

// endpointEnabled puts every stream of ep (enabled again) that has unfinished
// messages back in the outbox, due now: they go on from where they stopped, with
// the attempts counted so far.
func (db *DB) endpointEnabled(tx *bolt.Tx, ep *references.Endpoint, now time.Time) error {
	type entry struct {
		stream string
		st     streamState
	}
	var streams []entry
	prefix := str(ep.ID)
	c := tx.Bucket(bucketEndpointStreams).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var st streamState
		if err := decodeStreamState(v, &st); err != nil {
			return fmt.Errorf("decode stream %q: %w", k, err)
		}
		streams = append(streams, entry{string(k[len(prefix):]), st})
	}
	for i := range streams {
		s := &streams[i]
		next := s.st
		next.DueAt = now
		if err := setStreamState(tx, ep.ID, true, s.stream, &s.st, &next); err != nil {
			return err
		}
	}
	return nil
}

// endpointDeleted removes the delivery of a deleted endpoint: its streams (with
// their outbox entries), the order of its unfinished messages, and its queued
// resends. Its messages are its deleter's.
func (db *DB) endpointDeleted(tx *bolt.Tx, endpointID string) error {
	tx.OnCommit(func() { db.endpoints.forget(endpointID) })
	prefix := str(endpointID)
	var streams []string
	c := tx.Bucket(bucketEndpointStreams).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		streams = append(streams, string(k[len(prefix):]))
	}
	for _, stream := range streams {
		if err := dropStream(tx, endpointID, stream); err != nil {
			return err
		}
	}
	return deletePrefix(tx.Bucket(bucketEndpointResend), prefix)
}

// dropStream removes one stream of an endpoint: its state, its outbox entry, the
// order of its unfinished messages and the resends of its messages. The messages
// stay, for retention to age out.
func dropStream(tx *bolt.Tx, endpointID, stream string) error {
	st, err := getStreamState(tx, endpointID, stream)
	if err != nil {
		return err
	}
	if st != nil {
		if err := setStreamState(tx, endpointID, false, stream, st, nil); err != nil {
			return err
		}
	}
	if err := deletePrefix(tx.Bucket(bucketEndpointPending), pendingPrefix(endpointID, stream)); err != nil {
		return err
	}
	prefix := str(endpointID)
	ids := tx.Bucket(bucketMessageIDs)
	var resends [][]byte
	c := tx.Bucket(bucketEndpointResend).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if loc := ids.Get(k); bytes.HasPrefix(loc, str(stream)) {
			resends = append(resends, bytes.Clone(k))
		}
	}
	for _, k := range resends {
		if err := tx.Bucket(bucketEndpointResend).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deletePrefix deletes every key of b that starts with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
