package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// The console's sessions, added without a schema change: an older binary leaves the
// buckets alone, and Open creates them on a file of any schema. A session is found by
// its token's hash, every request; the account index finds an account's sessions when
// one signs in, to delete those that expired. An account has a few sessions, not
// thousands, so that scan is short. Sessions are not copied by `store copy` (see
// dump.go).
var (
	bucketSessions       = []byte("sessions")            // token hash -> sessionRecord
	bucketSessionsByAcct = []byte("sessions_by_account") // account \0 token hash -> nil
)

// sessionRecord is a session as stored in the sessions bucket, without its key (the
// token's hash).
type sessionRecord struct {
	AccountID  string        `json:"account_id"`
	KeyID      string        `json:"key_id"`
	KeyHash    string        `json:"key_hash"`
	CSRFToken  string        `json:"csrf_token"`
	CreatedAt  time.Time     `json:"created_at"`
	LastSeenAt time.Time     `json:"last_seen_at"`
	Idle       time.Duration `json:"idle_ns"`
	ExpiresAt  time.Time     `json:"expires_at"`
}

func newSessionRecord(s *references.Session) *sessionRecord {
	return &sessionRecord{
		AccountID: s.AccountID, KeyID: s.KeyID, KeyHash: s.KeyHash, CSRFToken: s.CSRFToken,
		CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, Idle: s.Idle, ExpiresAt: s.ExpiresAt,
	}
}

func (r *sessionRecord) session(tokenHash string) references.Session {
	return references.Session{
		TokenHash: tokenHash, AccountID: r.AccountID, KeyID: r.KeyID, KeyHash: r.KeyHash, CSRFToken: r.CSRFToken,
		CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, Idle: r.Idle, ExpiresAt: r.ExpiresAt,
	}
}

func sessionAcctKey(accountID, tokenHash string) []byte {
	return join(str(accountID), []byte(tokenHash))
}

// CreateSession stores s and deletes the account's sessions that expired at
// s.CreatedAt, in one transaction (see references.SessionStore).
func (db *DB) CreateSession(ctx context.Context, s references.Session) error {
	if s.TokenHash == "" || s.AccountID == "" {
		return references.Invalidf("session", "a session needs a token hash and an account")
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Get([]byte(s.TokenHash)) != nil {
			return references.Errorf(references.CodeConflict, "a session with this token already exists")
		}
		if err := deleteExpiredSessions(tx, s.AccountID, s.CreatedAt); err != nil {
			return err
		}
		if err := putJSON(b, []byte(s.TokenHash), newSessionRecord(&s)); err != nil {
			return err
		}
		return tx.Bucket(bucketSessionsByAcct).Put(sessionAcctKey(s.AccountID, s.TokenHash), nil)
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// deleteExpiredSessions deletes the account's sessions that have ended at now.
func deleteExpiredSessions(tx *bolt.Tx, accountID string, now time.Time) error {
	b := tx.Bucket(bucketSessions)
	prefix := str(accountID)
	var ended [][]byte // index keys; deleted after the walk, which a delete would upset
	c := tx.Bucket(bucketSessionsByAcct).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		hash := k[len(prefix):]
		var rec sessionRecord
		found, err := getJSON(b, hash, &rec)
		if err != nil {
			return err
		}
		if s := rec.session(string(hash)); !found || s.ExpiredAt(now) {
			ended = append(ended, bytes.Clone(k))
		}
	}
	for _, k := range ended {
		if err := b.Delete(k[len(prefix):]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSessionsByAcct).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// sessions deletes the sessions of every account that have ended at at, while the
// prune may delete more. It reads every session: there are a few per person who
// signed in within a session's lifetime, not thousands.
func (p *pruning) sessions(at time.Time) error {
	b := p.tx.Bucket(bucketSessions)
	var ended []*sessionRecord
	var hashes [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if int64(len(ended)) == p.left {
			return nil
		}
		var rec sessionRecord
		if _, err := getJSON(b, k, &rec); err != nil {
			return err
		}
		if s := rec.session(string(k)); s.ExpiredAt(at) {
			ended, hashes = append(ended, &rec), append(hashes, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, rec := range ended {
		if err := b.Delete(hashes[i]); err != nil {
			return err
		}
		if err := p.tx.Bucket(bucketSessionsByAcct).Delete(sessionAcctKey(rec.AccountID, string(hashes[i]))); err != nil {
			return err
		}
		p.took(&p.got.Sessions, 1)
	}
	return nil
}

// getSession reads the session of tokenHash, or returns CodeNotFound.
func getSession(tx *bolt.Tx, tokenHash string) (*sessionRecord, error) {
	var rec sessionRecord
	found, err := getJSON(tx.Bucket(bucketSessions), []byte(tokenHash), &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, references.Errorf(references.CodeNotFound, "session not found")
	}
	return &rec, nil
}

// GetSession returns the session of tokenHash, expired or not, or ErrNotFound.
func (db *DB) GetSession(ctx context.Context, tokenHash string) (references.Session, error) {
	var s references.Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		rec, err := getSession(tx, tokenHash)
		if err == nil {
			s = rec.session(tokenHash)
		}
		return err
	})
	if err != nil {
		return references.Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// TouchSession moves the session's LastSeenAt to at, never back; ErrNotFound when the
// session is gone. A touch that would not move it writes nothing.
func (db *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	var rec *sessionRecord
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		rec, err = getSession(tx, tokenHash)
		return err
	})
	if err == nil && at.After(rec.LastSeenAt) {
		err = db.update(ctx, func(tx *bolt.Tx) error {
			rec, err := getSession(tx, tokenHash) // again: it may have moved or gone meanwhile
			if err != nil || !at.After(rec.LastSeenAt) {
				return err
			}
			rec.LastSeenAt = at
			return putJSON(tx.Bucket(bucketSessions), []byte(tokenHash), rec)
		})
	}
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession deletes the session of tokenHash; one that is gone is not an error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var rec sessionRecord
		found, err := getJSON(tx.Bucket(bucketSessions), []byte(tokenHash), &rec)
		if err != nil || !found {
			return err
		}
		if err := tx.Bucket(bucketSessions).Delete([]byte(tokenHash)); err != nil {
			return err
		}
		return tx.Bucket(bucketSessionsByAcct).Delete(sessionAcctKey(rec.AccountID, tokenHash))
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
