package postgres

// Methods of the contract not written yet, each removed from here by its owner when
// it is written (helper A: references, feeds and polls; B: deliveries; C: endpoints and
// messages; D: accounts, keys, audit and maintenance). This file is deleted before
// the backend lands.

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

var errNotImplemented = errors.New("postgres: not implemented yet")

var (
	_ = time.Second
	_ io.Writer
)

// ---- A

// pruneReferences applies retention to updates, idempotency keys and unsubscribed
// references (see PruneRequest), at most max records, adding to counts.
func (db *DB) pruneReferences(ctx context.Context, tx pgx.Tx, req references.PruneRequest, now time.Time, max int, counts *references.PruneCounts) error {
	return errNotImplemented
}

// ---- B

// queueCallback puts ref's callback stream in delivery_streams, due at at, unless it
// is there already or ref does not deliver (see Reference.Delivers): called after
// updates were appended to ref's feed, in the same transaction.
func (db *DB) queueCallback(ctx context.Context, tx pgx.Tx, ref *references.Reference, at time.Time) error {
	return errNotImplemented
}

// holdStreams marks every delivery stream of the reference (callback and endpoint
// streams) paused or not; on resume the streams are due at at.
func (db *DB) holdStreams(ctx context.Context, tx pgx.Tx, refID string, paused bool, at time.Time) error {
	return errNotImplemented
}

// pruneAttempts deletes up to max delivery log entries made before cutoff.
func (db *DB) pruneAttempts(ctx context.Context, tx pgx.Tx, cutoff time.Time, max int) (int64, error) {
	return 0, errNotImplemented
}
func (db *DB) ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.DeliveryClaim, error) {
	return nil, errNotImplemented
}

func (db *DB) NextDelivery(ctx context.Context, lease references.Lease) (references.DeliveryJob, error) {
	return references.DeliveryJob{}, errNotImplemented
}

func (db *DB) RecordAttempt(ctx context.Context, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error) {
	return references.Reference{}, errNotImplemented
}

func (db *DB) PostponeDelivery(ctx context.Context, lease references.Lease, until time.Time) error {
	return errNotImplemented
}

func (db *DB) ListDeliveries(ctx context.Context, accountID, refID string, q references.DeliveryQuery) (references.DeliveryPage, error) {
	return references.DeliveryPage{}, errNotImplemented
}

func (db *DB) RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error {
	return errNotImplemented
}

// ---- C

// fanOutUpdates queues each of ups, just appended to ref's feed, as a message of every
// enabled endpoint of the account that Endpoint.Matches it, in the same transaction.
func (db *DB) fanOutUpdates(ctx context.Context, tx pgx.Tx, ref *references.Reference, ups []references.Update) error {
	return errNotImplemented
}

// nextEndpointJob fills job with the next message (or batch, or operational event) of
// the endpoint's stream, leased by the caller in tx; found is false when the stream
// is drained (the caller then deletes its row).
func (db *DB) nextEndpointJob(ctx context.Context, tx pgx.Tx, endpointID, stream string, now time.Time, job *references.DeliveryJob) (found bool, err error) {
	return false, errNotImplemented
}

// endpointResendJob fills job with the message a requested resend (a redeliveries
// row of the endpoint) sends; found is false when the message or what it carries is
// gone (the caller drops the row).
func (db *DB) endpointResendJob(ctx context.Context, tx pgx.Tx, endpointID, stream, messageID string, now time.Time, job *references.DeliveryJob) (found bool, err error) {
	return false, errNotImplemented
}

// recordEndpointAttempt is RecordAttempt's work for a job to an endpoint, in tx, once
// the caller checked the lease.
func (db *DB) recordEndpointAttempt(ctx context.Context, tx pgx.Tx, job *references.DeliveryJob, a references.DeliveryAttempt, now time.Time) error {
	return errNotImplemented
}

// forgetMessagesOf takes a reference that retention deletes out of every endpoint's
// streams (its messages stay in the logs until their own retention).
func (db *DB) forgetMessagesOf(ctx context.Context, tx pgx.Tx, refID string) error {
	return errNotImplemented
}

// pruneMessages applies retention to endpoint messages created before cutoff (see
// PruneRequest.Messages), at most max of them.
func (db *DB) pruneMessages(ctx context.Context, tx pgx.Tx, cutoff, now time.Time, max int) (deleted, expired int64, err error) {
	return 0, 0, errNotImplemented
}
func (db *DB) CreateEndpoint(ctx context.Context, ep references.Endpoint, maxPerAccount int) (references.Endpoint, error) {
	return references.Endpoint{}, errNotImplemented
}

func (db *DB) GetEndpoint(ctx context.Context, accountID, id string) (references.Endpoint, error) {
	return references.Endpoint{}, errNotImplemented
}

func (db *DB) ListEndpoints(ctx context.Context, accountID string, q references.ListQuery) (references.EndpointPage, error) {
	return references.EndpointPage{}, errNotImplemented
}

func (db *DB) PatchEndpoint(ctx context.Context, accountID, id string, change func(*references.Endpoint) error) (references.Endpoint, error) {
	return references.Endpoint{}, errNotImplemented
}

func (db *DB) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	return errNotImplemented
}

func (db *DB) RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time, actor string) (references.Endpoint, error) {
	return references.Endpoint{}, errNotImplemented
}

func (db *DB) ListMessages(ctx context.Context, accountID, endpointID string, q references.MessageQuery) (references.MessagePage, error) {
	return references.MessagePage{}, errNotImplemented
}

func (db *DB) GetMessage(ctx context.Context, accountID, endpointID, messageID string) (references.Message, references.MessageBody, error) {
	return references.Message{}, references.MessageBody{}, errNotImplemented
}

func (db *DB) ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error {
	return errNotImplemented
}

func (db *DB) RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error) {
	return 0, errNotImplemented
}

func (db *DB) EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (references.EndpointStats, error) {
	return references.EndpointStats{}, errNotImplemented
}

func (db *DB) ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]references.AccountEvent, error) {
	return nil, errNotImplemented
}
