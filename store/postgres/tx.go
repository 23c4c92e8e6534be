package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// maxTxAttempts bounds how often a transaction that lost a serialization conflict or
// a deadlock is run again.
const maxTxAttempts = 5

// inTx runs fn in one read-committed transaction and commits it. Transactions that
// read and then write a row lock it first (SELECT ... FOR UPDATE), so read committed
// is enough; one that PostgreSQL aborts for a deadlock or a serialization failure is
// run again from the start, fn included, which must therefore only touch the database.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, db.pool, fn)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("postgres: transaction failed %d times: %w", maxTxAttempts, err)
}

// retryable reports whether err is a conflict that running the transaction again
// resolves: a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// isUniqueViolation reports whether err is a unique constraint's violation (of the
// named constraint or index, when name is not empty).
func isUniqueViolation(err error, name string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (name == "" || pe.ConstraintName == name)
}
