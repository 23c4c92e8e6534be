package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Rows of accounts: the account (its signing secrets included) as JSON in data.

// EnsureAccount returns the account, creating it with secret as its first signing
// secret when it does not exist. Several instances may ensure the same account at
// once (each serve does at start): the insert that loses waits for the winner's
// commit, and the read after it then finds the winner's row.
func (db *DB) EnsureAccount(ctx context.Context, accountID, secret string, now time.Time) (references.Account, error) {
	acct := references.Account{
		ID:             accountID,
		CreatedAt:      now.UTC(),
		WebhookSecrets: []references.WebhookSecret{{Secret: secret, CreatedAt: now.UTC()}},
	}
	data, err := json.Marshal(&acct)
	if err != nil {
		return references.Account{}, fmt.Errorf("postgres: encode account %s: %w", accountID, err)
	}
	var stored []byte
	err = db.pool.QueryRow(ctx, `INSERT INTO accounts (id, created_at, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING RETURNING data`, accountID, acct.CreatedAt, data).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.GetAccount(ctx, accountID) // it existed
	}
	if err != nil {
		return references.Account{}, fmt.Errorf("postgres: ensure account %s: %w", accountID, err)
	}
	return decodeAccount(stored)
}

// GetAccount returns an account with its webhook secrets.
func (db *DB) GetAccount(ctx context.Context, accountID string) (references.Account, error) {
	return getAccount(ctx, db.pool, accountID, false)
}

// getAccount reads one account, CodeNotFound when there is none. With lock, the row
// stays locked until q's transaction ends, so that a read-then-write of the account
// (a rotation) does not lose another instance's write.
func getAccount(ctx context.Context, q querier, accountID string, lock bool) (references.Account, error) {
	sql := "SELECT data FROM accounts WHERE id = $1"
	if lock {
		sql += " FOR UPDATE"
	}
	var data []byte
	err := q.QueryRow(ctx, sql, accountID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return references.Account{}, references.Errorf(references.CodeNotFound, "account %s not found", accountID)
	}
	if err != nil {
		return references.Account{}, fmt.Errorf("postgres: read account %s: %w", accountID, err)
	}
	return decodeAccount(data)
}

func decodeAccount(data []byte) (references.Account, error) {
	var acct references.Account
	if err := json.Unmarshal(data, &acct); err != nil {
		return acct, fmt.Errorf("postgres: decode account: %w", err)
	}
	return acct, nil
}

// RotateWebhookSecret makes secret the account's newest signing secret at the
// backend's clock, by the rule of references.Account.Rotate, and writes the rotation
// in the account's audit log as actor's, in one transaction. The account's row is
// locked while the rotation is decided, so two rotations at once apply one after the
// other and neither loses the other's secret.
func (db *DB) RotateWebhookSecret(ctx context.Context, accountID, secret string, graceUntil time.Time, actor string) (references.Account, error) {
	var acct references.Account
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		if acct, err = getAccount(ctx, tx, accountID, true); err != nil {
			return err
		}
		acct.Rotate(secret, now, graceUntil.UTC())
		data, err := json.Marshal(&acct)
		if err != nil {
			return fmt.Errorf("postgres: encode account %s: %w", accountID, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE accounts SET data = $2 WHERE id = $1", accountID, data); err != nil {
			return fmt.Errorf("postgres: save account %s: %w", accountID, err)
		}
		_, err = db.appendAudit(ctx, tx, references.AuditEntry{
			AccountID: accountID, At: now, Actor: actor, Action: references.AuditWebhookSecretRotated, TargetID: accountID,
		})
		return err
	})
	if err != nil {
		return references.Account{}, fmt.Errorf("postgres: rotate the secret of %s: %w", accountID, err)
	}
	return acct, nil
}
