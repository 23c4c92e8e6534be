// Package storecopy moves a whole store from one backend to another (bbolt to
// PostgreSQL and back) without losing anything, and proves it. Each backend turns its
// content into a neutral stream of records (Dump) and builds its content from one
// (Load); the driver (Copy) pipes one backend's dump into the other's load, then
// dumps the destination and compares the two: the count and checksum of every kind
// of record, and a SHA-256 of every reference's feed.
//
// The records carry the domain values of package references as they are, plus the
// state that is a backend's own (delivery streams, queued redeliveries, the feed's
// numbering, counters): whatever one backend needs to go on exactly where the other
// stopped. What a backend derives from them (indexes, counts of active references and
// pending streams, whether a stream waits for a paused reference or a disabled
// endpoint) is not in the stream: its Load derives it again, and the comparison of
// Stats checks it. Leases are not copied: the service is stopped during a copy, so
// none is live. Nor are console sessions (references.Session): they are sign-ins to
// the store they were made in, and people sign in again to the copy.
package storecopy

import (
	"time"

	"github.com/trackhook/trackhook/references"
)

// Kind is a kind of record. A dump emits its records kind by kind in the order of
// Kinds, so that a load meets every record after those it depends on (a reference
// before its updates, an endpoint before its messages).
type Kind string

// The kinds of records, in the order of a dump.
const (
	KindAccount      Kind = "accounts"
	KindAPIKey       Kind = "api_keys"
	KindAudit        Kind = "audit_entries"
	KindEndpoint     Kind = "endpoints"
	KindReference    Kind = "references"
	KindShipment     Kind = "shipments"
	KindUpdate       Kind = "updates"
	KindIdempotency  Kind = "idempotency_keys"
	KindAttempt      Kind = "delivery_log"
	KindAccountEvent Kind = "account_events"
	KindMessage      Kind = "messages"
	KindStream       Kind = "delivery_streams"
	KindRedelivery   Kind = "redeliveries"
	KindPushDeletion Kind = "push_deletions"
	KindSequences    Kind = "sequences"
	KindRetention    Kind = "retention"
)

// Kinds lists every kind in the order a dump emits them.
var Kinds = []Kind{
	KindAccount, KindAPIKey, KindAudit, KindEndpoint, KindReference, KindShipment, KindUpdate,
	KindIdempotency, KindAttempt, KindAccountEvent, KindMessage, KindStream, KindRedelivery,
	KindPushDeletion, KindSequences, KindRetention,
}

// Record is one record of a dump: one of the types of this file.
type Record interface {
	Kind() Kind
}

// Account is an account with its signing secrets.
type Account struct {
	Account references.Account
}

// APIKey is an API key (its hash, never its text), revoked or not.
type APIKey struct {
	Key references.APIKey
}

// AuditEntry is one entry of an account's audit log, with its sequence.
type AuditEntry struct {
	Entry references.AuditEntry
}

// Endpoint is an account endpoint with its secrets and state (enabled, failing).
type Endpoint struct {
	Endpoint references.Endpoint
}

// Reference is a reference with its whole state: polling (NextPollAt is the next
// poll's due time, as the backend's schedule has it), feed and callback delivery
// progress, pause and refresh.
type Reference struct {
	Reference references.Reference
}

// Shipment is a reference's latest snapshot, and the first ETA its snapshots gave
// (see references.ShipmentSummary) when that differs from the snapshot's ETA: the one
// part of a summary the snapshot cannot give again. Nil when it is the snapshot's ETA
// or there is none, so that a backend whose summaries are all first snapshots emits
// nothing more.
type Shipment struct {
	ReferenceID string
	Shipment    references.Shipment
	FirstETA    *time.Time `json:",omitempty"`
}

// Update is one update of a reference's feed with its number in the account feed.
// A dump emits the updates of one reference together, in sequence order: the
// checksum of each feed is taken in that order.
type Update struct {
	AccountID       string
	AccountSequence uint64
	Update          references.Update
}

// Idempotency is a remembered Idempotency-Key of a create: the reference it made, or
// for a batch create every item's outcome.
type Idempotency struct {
	AccountID   string
	Key         string
	RequestHash string
	ReferenceID string         // a single create's reference
	Batch       []BatchOutcome // a batch create's outcomes, in item order; nil for a single create
	ExpiresAt   time.Time
}

// BatchOutcome is one item's outcome of a batch create: the reference it created, or
// the error it was refused with.
type BatchOutcome struct {
	ReferenceID string
	Code        string
	Field       string
	Message     string
	ConflictID  string
}

// Attempt is one entry of a reference's callback delivery log. N orders the log
// (newest first is highest N) and is kept, so that a page cursor stays valid.
type Attempt struct {
	N       uint64
	Attempt references.DeliveryAttempt
}

// AccountEvent is one operational event of an account's feed.
type AccountEvent struct {
	Event references.AccountEvent
}

// Message is an endpoint's message with its attempts. Pending is set while it is in
// its stream's order (not yet delivered, failed or expired).
type Message struct {
	Message references.Message
	Pending bool
}

// Stream is a delivery stream with something to deliver: a reference's callback
// (Destination references.DestinationCallback, Stream its id) or an endpoint's stream
// of a reference or of operational events (Stream references.AccountStream), with the
// retry state of the update or message (or fixed batch) at its head.
type Stream struct {
	Destination    string
	Stream         string
	AccountID      string
	DueAt          time.Time
	Attempts       int
	FirstAttemptAt *time.Time
	BatchID        string // a batch fixed when first handed out, up to BatchEnd
	BatchEnd       uint64
}

// Redelivery is a requested redelivery of an update to its reference's callback
// (Destination references.DestinationCallback, MessageID the update's id) or a
// resend of an endpoint's message (Destination the endpoint's id).
type Redelivery struct {
	Destination string
	Stream      string // the reference's id, or references.AccountStream
	MessageID   string
	AccountID   string
	RequestedAt time.Time
}

// PushDeletion is a subscription at a carrier's push API queued for deletion because
// its reference ended, with its retry state and when it is next due. It is copied: the
// queue is all that remembers the subscription once its reference is unsubscribed (or
// pruned), and one left behind stays alive at the carrier, pushing to a reference
// that ended.
type PushDeletion struct {
	Deletion references.PushDeletion
	DueAt    time.Time
}

// Sequences are the last numbers an account gave out: of its account feed, its audit
// log and its operational feed. They can be above the highest number still stored
// (retention deletes old updates), and the next number must follow them. A dump emits
// one for each account with a number above zero.
type Sequences struct {
	AccountID string
	Updates   uint64
	Audit     uint64
	Events    uint64
}

// Retention is what retention deleted since the store was created, and when it last
// ran. A dump emits exactly one.
type Retention struct {
	Pruned      references.PruneCounts
	LastPruneAt *time.Time
}

// Kind names each record's kind, for the order of a dump and the verification.
func (Account) Kind() Kind      { return KindAccount }
func (APIKey) Kind() Kind       { return KindAPIKey }
func (AuditEntry) Kind() Kind   { return KindAudit }
func (Endpoint) Kind() Kind     { return KindEndpoint }
func (Reference) Kind() Kind    { return KindReference }
func (Shipment) Kind() Kind     { return KindShipment }
func (Update) Kind() Kind       { return KindUpdate }
func (Idempotency) Kind() Kind  { return KindIdempotency }
func (Attempt) Kind() Kind      { return KindAttempt }
func (AccountEvent) Kind() Kind { return KindAccountEvent }
func (Message) Kind() Kind      { return KindMessage }
func (Stream) Kind() Kind       { return KindStream }
func (Redelivery) Kind() Kind   { return KindRedelivery }
func (PushDeletion) Kind() Kind { return KindPushDeletion }
func (Sequences) Kind() Kind    { return KindSequences }
func (Retention) Kind() Kind    { return KindRetention }

// canonical returns r with the times a backend keeps in columns of its own (rather
// than inside the domain values) in the form every backend can keep: UTC, to the
// microsecond (PostgreSQL's precision). Two dumps of the same content agree on the
// canonical form of each record.
func canonical(r Record) Record {
	switch v := r.(type) {
	case APIKey:
		v.Key.LastUsedAt = microPtr(v.Key.LastUsedAt)
		return v
	case Stream:
		v.DueAt = micro(v.DueAt)
		v.FirstAttemptAt = microPtr(v.FirstAttemptAt)
		return v
	case Redelivery:
		v.RequestedAt = micro(v.RequestedAt)
		return v
	case PushDeletion:
		v.Deletion.QueuedAt = micro(v.Deletion.QueuedAt)
		v.DueAt = micro(v.DueAt)
		return v
	case Idempotency:
		v.ExpiresAt = micro(v.ExpiresAt)
		return v
	case Retention:
		v.LastPruneAt = microPtr(v.LastPruneAt)
		return v
	case Shipment:
		v.FirstETA = microPtr(v.FirstETA)
		return v
	}
	return r
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	m := micro(*t)
	return &m
}
