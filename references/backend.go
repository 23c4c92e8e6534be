package references

import (
	"context"
	"errors"
	"io"
	"time"
)

// Backend is the storage contract: everything trackhook needs of a store, grouped by
// subject. store.DB (bbolt) implements it; store/storetest is the suite every
// backend must pass. A backend only reads and writes and hands out work with leases:
// the rules of the business (what an attempt outcome does to a delivery, which updates
// a filter lets through, when a poll ends tracking) are the functions of rules.go,
// which every backend calls, so they cannot drift apart.
//
// The backend's clock decides due-ness and lease ends (on PostgreSQL, the database's
// now(): instances' clocks differ). Times passed in (at, PolledAt, an attempt's At) are
// the caller's record of when something happened.
//
// Destinations: an update goes to its reference's callback_url (DestinationCallback)
// and to every enabled endpoint of the account that Endpoint.Matches it. Each
// destination of a reference is one ordered delivery stream, keyed (destination,
// reference); an endpoint's operational events are its stream AccountStream.
type Backend interface {
	ReferenceStore
	FeedStore
	PollQueue
	DeliveryQueue
	EndpointStore
	AccountStore
	AuditStore
	SessionStore
	PushStore
	Maintenance
}

// ReferenceStore keeps the tracked references.
type ReferenceStore interface {
	// CreateReference stores a new active reference, due for its first poll at once.
	// When opts.Idempotency is set and a reference was already created under the same
	// key, it returns that reference and replayed=true instead (or an error with
	// CodeIdempotencyMismatch when the request differed: the stored hash does not
	// match, see IdempotencyKey.Matches); a key whose reference retention deleted is
	// free again. An active reference with the
	// same identifier and carrier in the account is an *Error with CodeConflict and
	// ReferenceID set. With opts.MaxActive above 0, a reference that would make the
	// account's active references more than that is refused with QuotaExceeded; the
	// count is kept in the transactions that change it, never counted per create.
	CreateReference(ctx context.Context, ref Reference, opts CreateOptions) (stored Reference, replayed bool, err error)
	// CreateReferences stores a batch of new active references of the account in
	// order, each as CreateReference would (conflict, quota), in one transaction or a
	// few: results[i] is items[i]'s outcome, and an item the caller refused already
	// (Err set) keeps its error. An item whose identifier and carrier an earlier item
	// took is a conflict naming that item's reference; the quota counts the items
	// before it. With opts.Idempotency, a batch created under the same key returns
	// its results again with replayed=true: created items as their references are
	// now, refused ones with the same errors (CodeIdempotencyMismatch when the hash
	// differs; the key is free again when retention deleted a reference it made). A
	// key of a single create and one of a batch never match each other.
	CreateReferences(ctx context.Context, accountID string, items []BatchItem, opts CreateOptions) (results []CreateResult, replayed bool, err error)
	// GetReference returns the account's reference, or ErrNotFound (also for another
	// account's).
	GetReference(ctx context.Context, accountID, id string) (Reference, error)
	// ListReferences returns a page of the account's references that pass the
	// filters of q (normalised by ListQuery.Normalize; see ListQuery.Matches), in
	// creation order or by ETA (the latest snapshot's; those without one last, in
	// creation order). Filters see the latest recorded snapshot. A page may be short,
	// even empty, with a cursor when the backend bounds the work of one call. A cursor
	// of another sort order is ErrInvalid on field "cursor".
	ListReferences(ctx context.Context, accountID string, q ListQuery) (ReferencePage, error)
	// CountReferences returns how many references the account has in each status
	// (statuses with none are absent).
	CountReferences(ctx context.Context, accountID string) (map[Status]int, error)
	// UnsubscribeReference stops tracking and appends the final update
	// (UnsubscribedUpdate with reason) to the feed, with its messages to the matching
	// endpoints, in one transaction. Pending callback deliveries go on, the final
	// update with them, unless StopsDelivery(reason); endpoints' messages always do.
	// Unsubscribing twice is not an error and appends nothing.
	UnsubscribeReference(ctx context.Context, accountID, id string, reason UnsubscribeReason, at time.Time) (Reference, error)
	// PatchReference changes the callback URL and event filter of an active reference.
	// Pending work, redeliveries included, goes to the new URL.
	PatchReference(ctx context.Context, accountID, id string, patch Patch, at time.Time) (Reference, error)
	PauseStore
}

// PauseStore pauses, resumes and refreshes references. A paused reference is
// subscribed: its identifier stays reserved and it counts as active in the quota and
// in Stats, its feed stays readable, but no poll is claimed for it and none of its
// delivery streams (callback, endpoints' messages, redeliveries, resends) is claimed;
// the streams keep their state and go on where they stopped when it is resumed.
type PauseStore interface {
	// PauseReference pauses the account's reference at at (see Pause), in one
	// transaction that takes it out of the poll schedule. Pausing a paused reference
	// returns it unchanged; an unsubscribed one is a conflict.
	PauseReference(ctx context.Context, accountID, id string, at time.Time) (Reference, error)
	// ResumeReference makes a paused reference active at at (see Resume), due for a
	// poll at once, and its pending delivery streams due at once, in one transaction.
	// Resuming an active reference returns it unchanged; an unsubscribed one is a
	// conflict.
	ResumeReference(ctx context.Context, accountID, id string, at time.Time) (Reference, error)
	// RequestPoll makes an active reference due for a poll at at, and records at as
	// its LastRefreshAt, in one transaction, once CheckRefresh allowed it against the
	// reference as that transaction reads it (so instances sharing the store share
	// the limit). It returns the reference as stored.
	RequestPoll(ctx context.Context, accountID, id string, at time.Time) (Reference, error)
}

// FeedStore keeps each reference's feed of updates and the account feed across them.
type FeedStore interface {
	// ListUpdates returns up to limit updates of the account's reference with a
	// sequence above after, in sequence order.
	ListUpdates(ctx context.Context, accountID, refID string, after uint64, limit int) ([]Update, error)
	// ListAccountUpdates returns a page of the account feed: the updates of all the
	// account's references after the account sequence q.After, in that sequence. The
	// backend numbers each update 1, 2, 3 ... per account in the same write that
	// appends it to its reference's feed, so concurrent polls and crashes leave no
	// gap and no duplicate; retention removes an update's number with it, and
	// OldestAvailable says where the feed now starts. A read is bounded (a page may be
	// short, even empty, with NextAfter moved on); q.Types filters with
	// UpdateMatchesTypes without changing the cursor. Another account's updates
	// never show; an unknown account has an empty feed.
	ListAccountUpdates(ctx context.Context, accountID string, q AccountUpdateQuery) (AccountUpdatePage, error)
	// Shipment returns the reference's last stored snapshot, or nil before the first
	// successful poll.
	Shipment(ctx context.Context, refID string) (*Shipment, error)
}

// PollQueue hands out due polls and records their results.
type PollQueue interface {
	// ClaimDuePolls leases up to limit active references whose next poll is due, most
	// overdue first, to owner for lease. No other claim returns them until the lease
	// ends or its outcome is recorded.
	ClaimDuePolls(ctx context.Context, owner string, limit int, lease time.Duration) ([]PollClaim, error)
	// RecordPoll writes the outcome of one claimed poll in one transaction: the polling
	// fields and next due time, the new snapshot, the updates appended to the feed and
	// their deliveries (the callback's, and one message per enabled endpoint of the
	// account that Endpoint.Matches the update), and an unsubscribe (see
	// PollResult.EndsTracking); then it ends the lease. A lease that was lost is refused with ErrLeaseLost and nothing is
	// written. A reference unsubscribed while it was polled is left as it is.
	RecordPoll(ctx context.Context, lease Lease, res PollResult) (Reference, error)
	// ClaimPoll leases one active reference's poll to owner now, due or not (a poll on
	// demand); ErrBusy while another lease on it is live.
	ClaimPoll(ctx context.Context, owner, refID string, lease time.Duration) (PollClaim, error)
	LeaseKeeper
}

// DeliveryQueue hands out due deliveries, one destination's ordered stream of a
// reference at a time, and records their attempts.
type DeliveryQueue interface {
	// ClaimDueDeliveries leases up to limit delivery streams with an update due, and
	// requested redeliveries (due from when they were asked for), most overdue first,
	// each with its first job. A stream is
	// leased as a whole: updates of one (destination, reference) are sent in order by
	// one owner at a time. A redelivery whose update no longer exists is dropped with
	// an entry in the delivery log, never returned, and never blocks other work.
	ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]DeliveryClaim, error)
	// NextDelivery returns the next job of a stream leased by a claim (after an
	// attempt was recorded), or ErrNothingToDeliver when the stream is drained. Updates
	// the destination's filter excludes are passed over (see Reference.WantsEvent).
	NextDelivery(ctx context.Context, lease Lease) (DeliveryJob, error)
	// RecordAttempt logs the attempt and moves the stream on (see AfterAttempt, and
	// AfterMessageAttempt for an endpoint's), in one transaction; unsubscribe, when
	// set, also unsubscribes the reference (callback streams only). For an endpoint,
	// a.Disable disables it and appends endpoint.disabled to the account's
	// operational feed, and a message given up appends message.attempt.exhausted,
	// each fanned out to the endpoints that subscribe, in the same transaction. An attempt
	// of a lost lease, or of a lease on other work, is refused with ErrLeaseLost. An
	// attempt the stream has moved past meanwhile (a PATCH of the URL, an unsubscribe)
	// is only logged. A stream's lease stays held (its owner goes on with NextDelivery
	// and releases it when done); a redelivery's lease ends: it is one attempt.
	RecordAttempt(ctx context.Context, lease Lease, job DeliveryJob, a DeliveryAttempt, unsubscribe UnsubscribeReason) (Reference, error)
	// PostponeDelivery makes the leased stream due again at until without counting an
	// attempt (its host's breaker is open), and ends the lease.
	PostponeDelivery(ctx context.Context, lease Lease, until time.Time) error
	// ListDeliveries returns a page of the reference's delivery log, newest first.
	ListDeliveries(ctx context.Context, accountID, refID string, q DeliveryQuery) (DeliveryPage, error)
	// RequestRedelivery queues one update of the account's reference to be sent again
	// to its callback.
	RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error
	LeaseKeeper
}

// EndpointStore keeps account webhook endpoints, their message logs and the
// account's operational feed. Another account's endpoint is ErrNotFound everywhere.
type EndpointStore interface {
	// CreateEndpoint stores a new endpoint; with maxPerAccount above 0, one that would
	// give the account more endpoints than that is refused with CodeQuotaExceeded.
	CreateEndpoint(ctx context.Context, ep Endpoint, maxPerAccount int) (Endpoint, error)
	GetEndpoint(ctx context.Context, accountID, id string) (Endpoint, error)
	// ListEndpoints returns a page of the account's endpoints in creation order
	// (ListQuery.Status is ignored).
	ListEndpoints(ctx context.Context, accountID string, q ListQuery) (EndpointPage, error)
	// PatchEndpoint applies change to the stored endpoint in one transaction; an error
	// from change writes nothing. Re-enabling (Enabled false -> true) makes its pending
	// messages due now.
	PatchEndpoint(ctx context.Context, accountID, id string, change func(*Endpoint) error) (Endpoint, error)
	// DeleteEndpoint deletes the endpoint with its messages and pending deliveries.
	DeleteEndpoint(ctx context.Context, accountID, id string) error
	// RotateEndpointSecret makes secret the endpoint's newest signing secret at the
	// backend's clock, by the rule of RotateSecrets, and appends
	// AuditEndpointSecretRotated by actor to the account's audit log, in one
	// transaction.
	RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time, actor string) (Endpoint, error)
	// ListMessages returns a page of the endpoint's messages, newest first.
	ListMessages(ctx context.Context, accountID, endpointID string, q MessageQuery) (MessagePage, error)
	// GetMessage returns one message with every attempt, and what it carries.
	GetMessage(ctx context.Context, accountID, endpointID, messageID string) (Message, MessageBody, error)
	// ResendMessage queues the message to be sent once more, outside its stream's
	// order, whatever its status; the attempt is added to the message and its status
	// follows it.
	ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error
	// RecoverMessages queues every failed message created since since for one more
	// attempt, as ResendMessage does, and returns how many.
	RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error)
	// EndpointStats counts the endpoint's messages created since since by status,
	// with the latencies of their attempts.
	EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (EndpointStats, error)
	// ListAccountEvents returns up to limit operational events of the account with a
	// sequence above after, in sequence order.
	ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]AccountEvent, error)
}

// MessageBody is what a message carries: an update of a reference's feed, or an
// operational event. Update is nil when retention deleted the update.
type MessageBody struct {
	Update *Update
	Event  *AccountEvent
}

// LeaseKeeper renews and gives back leases of claimed work.
type LeaseKeeper interface {
	// RenewLease extends a held lease to d from now, or returns ErrLeaseLost: the
	// worker must then cancel its work, which another owner may be doing.
	RenewLease(ctx context.Context, lease Lease, d time.Duration) (Lease, error)
	// ReleaseLease ends a lease: the work is claimable again at the due time recorded
	// for it, which is now for work whose outcome was not recorded (a shutdown) and
	// the retry time after a failed attempt. Releasing a lost lease does nothing.
	ReleaseLease(ctx context.Context, lease Lease) error
}

// AccountStore keeps accounts, their signing secrets and API keys.
type AccountStore interface {
	// EnsureAccount creates the account with secret as its first signing secret,
	// unless it exists.
	EnsureAccount(ctx context.Context, accountID, secret string, now time.Time) (Account, error)
	GetAccount(ctx context.Context, accountID string) (Account, error)
	// RotateWebhookSecret makes secret the account's newest signing secret at the
	// backend's clock, in one transaction, by the rule of Account.Rotate: the previous
	// newest signs until graceUntil (is replaced at once when that is not later), other
	// graces keep their expiry, at most MaxLiveSecrets sign. The same transaction
	// appends AuditWebhookSecretRotated by actor to the account's audit log.
	RotateWebhookSecret(ctx context.Context, accountID, secret string, graceUntil time.Time, actor string) (Account, error)
	// CreateAPIKey stores a key of an existing account and appends AuditKeyCreated by
	// key.CreatedBy at key.CreatedAt to the account's audit log, in one transaction. A
	// key without scopes is refused with CodeInvalid.
	CreateAPIKey(ctx context.Context, key APIKey) error
	// LookupAPIKey finds a key by the hex SHA-256 of its text; ErrNotFound otherwise.
	LookupAPIKey(ctx context.Context, hash string) (APIKey, error)
	// ListAPIKeys returns the account's keys (every account's when accountID is ""),
	// revoked ones included, in creation order.
	ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	// RevokeAPIKey revokes one key (see KeyRevocation) at r.At and appends
	// AuditKeyRevoked to its account's audit log, in one transaction, once CheckRevoke
	// allowed it against the account's keys as that transaction reads them. A key
	// revoked already is returned as it is, and nothing is appended.
	RevokeAPIKey(ctx context.Context, r KeyRevocation) (APIKey, error)
	// RecordAPIKeyUse sets the last-used time of each key named, unless it holds a
	// later one, in one transaction; keys that no longer exist are passed over.
	RecordAPIKeyUse(ctx context.Context, uses []APIKeyUse) error
	// CountAPIKeys returns how many keys are not revoked.
	CountAPIKeys(ctx context.Context) (int, error)
}

// AuditStore keeps each account's audit log. The operations the backend does itself
// (keys, secret rotations) append their entries in their own transactions; others
// are appended right after they succeed.
type AuditStore interface {
	// AppendAudit appends e to its account's log with the next sequence (e.Sequence
	// is ignored) and returns it as stored.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns up to limit entries of the account's log with a sequence above
	// after, in sequence order.
	ListAudit(ctx context.Context, accountID string, after uint64, limit int) ([]AuditEntry, error)
}

// SessionStore keeps the console's sessions, so that every instance on a shared
// database knows them. A session is found by the hash of its cookie's token; the
// token itself is never stored.
type SessionStore interface {
	// CreateSession stores s and, in the same transaction, deletes the account's
	// sessions that have expired at s.CreatedAt (see Session.ExpiredAt), so that
	// abandoned sessions do not pile up. A session with the same TokenHash is
	// CodeConflict.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session whose TokenHash is tokenHash, expired or not, or
	// ErrNotFound.
	GetSession(ctx context.Context, tokenHash string) (Session, error)
	// TouchSession sets the session's LastSeenAt to at unless it holds a later one;
	// ErrNotFound when it is gone.
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	// DeleteSession deletes the session; deleting one that is gone does nothing.
	DeleteSession(ctx context.Context, tokenHash string) error
}

// PushStore keeps what carrier push needs besides Reference.Push: a way to find a
// reference from an inbound push, and the queue of subscriptions to delete at carriers.
// Whenever a reference whose Push has an ID is unsubscribed (any reason, any path),
// the same transaction queues a PushDeletion of it, due at once; one subscription is
// queued at most once. A poll result recorded after its reference was unsubscribed or
// paused applies nothing, but a subscription it names that the reference does not
// hold was just made at the carrier and nothing else would delete it: it is queued.
type PushStore interface {
	// ReferenceByID returns a reference of any account, or ErrNotFound: an inbound
	// push names its reference, not its account.
	ReferenceByID(ctx context.Context, id string) (Reference, error)
	// ActiveReferencesByIdentifier returns the active references of every account
	// that track the identifier (kind and value, as stored) with carrierCode: a
	// carrier that pushes events names identifiers, not references.
	ActiveReferencesByIdentifier(ctx context.Context, kind IdentifierKind, value, carrierCode string) ([]Reference, error)
	// ClaimPushDeletions leases up to limit due deletions to owner for lease, oldest
	// first.
	ClaimPushDeletions(ctx context.Context, owner string, limit int, lease time.Duration) ([]PushDeletionClaim, error)
	// FinishPushDeletion removes a claimed deletion: the carrier deleted the
	// subscription, or had none. ErrLeaseLost when the lease is not held.
	FinishPushDeletion(ctx context.Context, lease Lease) error
	// RetryPushDeletion records a failed deletion (Attempts+1, LastError) and makes it
	// due again at until, ending the lease. ErrLeaseLost when the lease is not held.
	RetryPushDeletion(ctx context.Context, lease Lease, until time.Time, lastError string) error
	// ListPushDeletions returns the queued deletions, oldest first, at most limit (for
	// operators and tests).
	ListPushDeletions(ctx context.Context, limit int) ([]PushDeletion, error)
}

// Maintenance is what operators and retention need.
type Maintenance interface {
	// Prune deletes what retention no longer keeps (see PruneRequest), oldest first
	// within each kind, at most req.Max records in all, in one transaction where the
	// backend has them. It returns what it deleted, adds it to the counts of Stats and
	// records the time of this prune there (the backend's clock).
	Prune(ctx context.Context, req PruneRequest) (PruneCounts, error)
	// Stats returns the store's counts, read at the cost of a few keys whatever the
	// store's size.
	Stats(ctx context.Context) (Stats, error)
	// Backup writes a consistent copy of the store to w.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// ErrLeaseLost is returned when work is recorded, renewed or postponed under a lease
// that is no longer held: it ran out (and may have been claimed by another owner), or
// the work was recorded already.
var ErrLeaseLost = errors.New("lease lost")

// ErrBusy is returned when work asked for by name is claimed by another owner.
var ErrBusy = errors.New("claimed by another owner")

// Lease is a claim on one unit of work, held by Owner until Until (the backend's
// clock). Token tells apart two grants of the same Key, so an owner whose lease ran
// out and was granted again cannot record under the old one.
type Lease struct {
	Key   string
	Owner string
	Token uint64
	Until time.Time
}

// PollClaim is a due poll handed to one owner.
type PollClaim struct {
	Lease     Lease
	Reference Reference
}

// DeliveryClaim is a delivery stream (or a redelivery) handed to one owner, with its
// first job.
type DeliveryClaim struct {
	Lease Lease
	Job   DeliveryJob
}

// Lease keys: one namespace per kind of work, so the keys of a poll and of a delivery
// of the same reference never meet.
func PollLeaseKey(refID string) string { return "poll/" + refID }

// DeliveryLeaseKey names a delivery stream: one destination of one reference (or
// AccountStream, an endpoint's operational events).
func DeliveryLeaseKey(destination, refID string) string {
	return "deliver/" + destination + "/" + refID
}

// RedeliveryLeaseKey names a requested redelivery (or resend) of one update or
// operational event to one destination.
func RedeliveryLeaseKey(destination, refID, messageID string) string {
	return "redeliver/" + destination + "/" + refID + "/" + messageID
}

// AccountStream is the stream of an endpoint's operational events, named in the
// place of a reference id.
const AccountStream = "account"
