package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Console sessions: one row each in sessions, by the hash of the cookie's token.
// Every statement here is one round trip and its own transaction.

// expiredSession is the SQL of Session.ExpiredAt for the time $2: the absolute end
// reached, or idle for Idle.
const expiredSession = `(expires_at <= $2 OR last_seen_at + (idle_ns / 1000) * interval '1 microsecond' <= $2)`

// CreateSession stores s and deletes the account's sessions that expired at
// s.CreatedAt, in one statement; a session with the same token hash is CodeConflict
// and deletes nothing.
func (db *DB) CreateSession(ctx context.Context, s references.Session) error {
	// The DELETE sees the table as it was before the statement, without the new row,
	// and runs only when the INSERT did.
	var created bool
	err := db.pool.QueryRow(ctx, `
		WITH i AS (
			INSERT INTO sessions (token_hash, account_id, key_id, key_hash, csrf_token, created_at, last_seen_at, idle_ns, expires_at)
			VALUES ($1, $3, $4, $5, $6, $2, $7, $8, $9)
			ON CONFLICT (token_hash) DO NOTHING
			RETURNING 1),
		d AS (
			DELETE FROM sessions WHERE account_id = $3 AND `+expiredSession+` AND EXISTS (SELECT FROM i))
		SELECT EXISTS (SELECT FROM i)`,
		s.TokenHash, s.CreatedAt, s.AccountID, s.KeyID, s.KeyHash, s.CSRFToken, s.LastSeenAt, int64(s.Idle), s.ExpiresAt,
	).Scan(&created)
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	if !created {
		return references.Errorf(references.CodeConflict, "a session with this token already exists")
	}
	return nil
}

// GetSession returns the session of a token hash, expired or not; ErrNotFound when
// there is none.
func (db *DB) GetSession(ctx context.Context, tokenHash string) (references.Session, error) {
	s := references.Session{TokenHash: tokenHash}
	var idle int64
	err := db.pool.QueryRow(ctx, `SELECT account_id, key_id, key_hash, csrf_token, created_at, last_seen_at, idle_ns, expires_at
		FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&s.AccountID, &s.KeyID, &s.KeyHash, &s.CSRFToken, &s.CreatedAt, &s.LastSeenAt, &idle, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return references.Session{}, sessionNotFound()
	}
	if err != nil {
		return references.Session{}, fmt.Errorf("postgres: get session: %w", err)
	}
	s.Idle = time.Duration(idle)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// TouchSession moves the session's LastSeenAt on to at, never back; ErrNotFound when
// the session is gone. A touch that moves nothing writes nothing.
func (db *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	var found bool
	err := db.pool.QueryRow(ctx, `
		WITH u AS (
			UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2 RETURNING 1)
		SELECT EXISTS (SELECT FROM u) OR EXISTS (SELECT FROM sessions WHERE token_hash = $1)`,
		tokenHash, at).Scan(&found)
	if err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	if !found {
		return sessionNotFound()
	}
	return nil
}

// DeleteSession deletes the session; one that is gone is not an error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.pool.Exec(ctx, "DELETE FROM sessions WHERE token_hash = $1", tokenHash); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// sessionNotFound is the error of a session that does not exist (or no longer).
func sessionNotFound() error {
	return references.Errorf(references.CodeNotFound, "session not found")
}

// pruneSessions deletes up to limit sessions of any account that have ended at at,
// those that ended first first, in tx, and returns how many: an account whose people
// never sign in again keeps none, since CreateSession clears only the signing-in
// account's. Sessions are a few per person signed in within a lifetime, so reading
// them all to order them costs little. The end is checked again on the row deleted,
// so that a session touched meanwhile is not deleted.
func pruneSessions(ctx context.Context, tx pgx.Tx, at time.Time, limit int) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE token_hash IN (
			SELECT token_hash FROM sessions WHERE `+expiredSession+`
			ORDER BY LEAST(expires_at, last_seen_at + (idle_ns / 1000) * interval '1 microsecond'), token_hash
			LIMIT $1)
		AND `+expiredSession, limit, at)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
