package store

// ONLY ON BRANCH e12-d, deleted at the merge: the EndpointStore methods helpers A1/A2
// write on their branches, here so that the packages building a Service from a real
// store compile while the API is written. Every one fails.

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/references"
)

var errPendingMerge = errors.New("pending merge")

// CreateEndpoint is pending the merge of e12-a1/a2.
func (db *DB) CreateEndpoint(ctx context.Context, ep references.Endpoint, maxPerAccount int) (references.Endpoint, error) {
	return references.Endpoint{}, errPendingMerge
}

// GetEndpoint is pending the merge of e12-a1/a2.
func (db *DB) GetEndpoint(ctx context.Context, accountID, id string) (references.Endpoint, error) {
	return references.Endpoint{}, errPendingMerge
}

// ListEndpoints is pending the merge of e12-a1/a2.
func (db *DB) ListEndpoints(ctx context.Context, accountID string, q references.ListQuery) (references.EndpointPage, error) {
	return references.EndpointPage{}, errPendingMerge
}

// PatchEndpoint is pending the merge of e12-a1/a2.
func (db *DB) PatchEndpoint(ctx context.Context, accountID, id string, change func(*references.Endpoint) error) (references.Endpoint, error) {
	return references.Endpoint{}, errPendingMerge
}

// DeleteEndpoint is pending the merge of e12-a1/a2.
func (db *DB) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	return errPendingMerge
}

// RotateEndpointSecret is pending the merge of e12-a1/a2.
func (db *DB) RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time) (references.Endpoint, error) {
	return references.Endpoint{}, errPendingMerge
}

// ListMessages is pending the merge of e12-a1/a2.
func (db *DB) ListMessages(ctx context.Context, accountID, endpointID string, q references.MessageQuery) (references.MessagePage, error) {
	return references.MessagePage{}, errPendingMerge
}

// GetMessage is pending the merge of e12-a1/a2.
func (db *DB) GetMessage(ctx context.Context, accountID, endpointID, messageID string) (references.Message, references.MessageBody, error) {
	return references.Message{}, references.MessageBody{}, errPendingMerge
}

// ResendMessage is pending the merge of e12-a1/a2.
func (db *DB) ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error {
	return errPendingMerge
}

// RecoverMessages is pending the merge of e12-a1/a2.
func (db *DB) RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error) {
	return 0, errPendingMerge
}

// EndpointStats is pending the merge of e12-a1/a2.
func (db *DB) EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (references.EndpointStats, error) {
	return references.EndpointStats{}, errPendingMerge
}

// ListAccountEvents is pending the merge of e12-a1/a2.
func (db *DB) ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]references.AccountEvent, error) {
	return nil, errPendingMerge
}
