package store

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// EnsureAccount returns the account, creating it with the given first webhook secret
// when it does not exist.
func (db *DB) EnsureAccount(ctx context.Context, accountID, secret string, now time.Time) (references.Account, error) {
	var acct references.Account
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		found, err := getAccount(b, accountID, &acct)
		if err != nil || found {
			return err
		}
		acct = references.Account{
			ID:             accountID,
			CreatedAt:      now.UTC(),
			WebhookSecrets: []references.WebhookSecret{{Secret: secret, CreatedAt: now.UTC()}},
		}
		return putAccount(b, accountID, &acct)
	})
	if err != nil {
		return references.Account{}, fmt.Errorf("ensure account %s: %w", accountID, err)
	}
	return acct, nil
}

// GetAccount returns an account with its webhook secrets.
func (db *DB) GetAccount(ctx context.Context, accountID string) (references.Account, error) {
	var acct references.Account
	err := db.view(ctx, func(tx *bolt.Tx) error {
		found, err := getAccount(tx.Bucket(bucketAccounts), accountID, &acct)
		if err == nil && !found {
			err = references.Errorf(references.CodeNotFound, "account %s not found", accountID)
		}
		return err
	})
	return acct, err
}

// RotateWebhookSecret makes secret the account's newest signing secret at the store's
// clock, by the rule of references.Account.Rotate: the previous newest signs until
// graceUntil, at most references.MaxLiveSecrets sign, expired secrets are dropped. The
// rotation is written in the account's audit log as actor's.
func (db *DB) RotateWebhookSecret(ctx context.Context, accountID, secret string, graceUntil time.Time, actor string) (references.Account, error) {
	var acct references.Account
	now := db.clock.Now().UTC()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		found, err := getAccount(b, accountID, &acct)
		if err != nil {
			return err
		}
		if !found {
			return references.Errorf(references.CodeNotFound, "account %s not found", accountID)
		}
		acct.Rotate(secret, now, graceUntil.UTC())
		if err := putAccount(b, accountID, &acct); err != nil {
			return err
		}
		return appendAudit(tx, &references.AuditEntry{
			AccountID: accountID, At: now, Actor: actor, Action: references.AuditWebhookSecretRotated, TargetID: accountID,
		})
	})
	if err != nil {
		return references.Account{}, fmt.Errorf("rotate secret of %s: %w", accountID, err)
	}
	return acct, nil
}

// getAccount reads the account stored under id into acct; found is false when there
// is none.
func getAccount(b *bolt.Bucket, id string, acct *references.Account) (found bool, err error) {
	var rec accountRecord
	found, err = getJSON(b, []byte(id), &rec)
	if found && err == nil {
		*acct = rec.account()
	}
	return found, err
}

// putAccount stores acct under id.
func putAccount(b *bolt.Bucket, id string, acct *references.Account) error {
	return putJSON(b, []byte(id), newAccountRecord(acct))
}
