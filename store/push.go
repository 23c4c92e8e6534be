package store

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/references"
)

// PLACEHOLDER: the push contract's methods, replaced by their owner's implementation.

func (db *DB) ReferenceByID(ctx context.Context, id string) (references.Reference, error) {
	return references.Reference{}, errors.ErrUnsupported
}
func (db *DB) ClaimPushDeletions(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PushDeletionClaim, error) {
	return nil, errors.ErrUnsupported
}
func (db *DB) FinishPushDeletion(ctx context.Context, lease references.Lease) error {
	return errors.ErrUnsupported
}
func (db *DB) RetryPushDeletion(ctx context.Context, lease references.Lease, until time.Time, lastError string) error {
	return errors.ErrUnsupported
}
func (db *DB) ListPushDeletions(ctx context.Context, limit int) ([]references.PushDeletion, error) {
	return nil, errors.ErrUnsupported
}
