package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/references"
)

// PLACEHOLDER: the contract's new methods, replaced by their owner's implementation.

func (db *DB) CreateSession(ctx context.Context, s references.Session) error {
	return errors.ErrUnsupported
}
func (db *DB) GetSession(ctx context.Context, tokenHash string) (references.Session, error) {
	return references.Session{}, errors.ErrUnsupported
}
func (db *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	return errors.ErrUnsupported
}
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	return errors.ErrUnsupported
}
func (db *DB) CountReferences(ctx context.Context, accountID string) (map[references.Status]int, error) {
	return nil, errors.ErrUnsupported
}
