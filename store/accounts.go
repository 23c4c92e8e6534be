package store

import (
	"bytes"
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
// graceUntil, at most references.MaxLiveSecrets sign, expired secrets are dropped.
func (db *DB) RotateWebhookSecret(ctx context.Context, accountID, secret string, graceUntil time.Time) (references.Account, error) {
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
		return putAccount(b, accountID, &acct)
	})
	if err != nil {
		return references.Account{}, fmt.Errorf("rotate secret of %s: %w", accountID, err)
	}
	return acct, nil
}

// CreateAPIKey stores a key (its hash) for an existing account.
func (db *DB) CreateAPIKey(ctx context.Context, key references.APIKey) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccounts).Get([]byte(key.AccountID)) == nil {
			return references.Errorf(references.CodeNotFound, "account %s not found", key.AccountID)
		}
		b := tx.Bucket(bucketAPIKeys)
		if b.Get([]byte(key.Hash)) != nil {
			return references.Errorf(references.CodeConflict, "this API key is already registered")
		}
		return putJSON(b, []byte(key.Hash), newAPIKeyRecord(&key))
	})
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	return nil
}

// LookupAPIKey returns the key with the given hash, revoked or not.
func (db *DB) LookupAPIKey(ctx context.Context, hash string) (references.APIKey, error) {
	var key references.APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var rec apiKeyRecord
		found, err := getJSON(tx.Bucket(bucketAPIKeys), []byte(hash), &rec)
		key = rec.apiKey()
		if err == nil && !found {
			err = references.Errorf(references.CodeNotFound, "API key not found")
		}
		return err
	})
	return key, err
}

// ListAPIKeys returns every stored key (hashes and prefixes only), in hash order.
func (db *DB) ListAPIKeys(ctx context.Context) ([]references.APIKey, error) {
	var keys []references.APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAPIKeys).ForEach(func(_, v []byte) error {
			var rec apiKeyRecord
			if err := unmarshal(v, &rec); err != nil {
				return err
			}
			keys = append(keys, rec.apiKey())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the key with the given id (key_...) or prefix; it stops working
// at once. Revoking a revoked key is not an error.
func (db *DB) RevokeAPIKey(ctx context.Context, idOrPrefix string, at time.Time) (references.APIKey, error) {
	var key references.APIKey
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAPIKeys)
		var hash []byte
		matches := 0
		err := b.ForEach(func(k, v []byte) error {
			var rec apiKeyRecord
			if err := unmarshal(v, &rec); err != nil {
				return err
			}
			cand := rec.apiKey()
			if cand.ID == idOrPrefix || (len(idOrPrefix) >= 8 && bytes.HasPrefix([]byte(cand.Prefix), []byte(idOrPrefix))) {
				matches++
				key, hash = cand, append([]byte(nil), k...)
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case matches == 0:
			return references.Errorf(references.CodeNotFound, "no API key with id or prefix %q", idOrPrefix)
		case matches > 1:
			return references.Errorf(references.CodeConflict, "%q matches %d keys: give the key id", idOrPrefix, matches)
		}
		if key.RevokedAt == nil {
			t := at.UTC()
			key.RevokedAt = &t
		}
		return putJSON(b, hash, newAPIKeyRecord(&key))
	})
	if err != nil {
		return references.APIKey{}, fmt.Errorf("revoke API key: %w", err)
	}
	return key, nil
}

// CountAPIKeys returns how many live (unrevoked) keys there are.
func (db *DB) CountAPIKeys(ctx context.Context) (int, error) {
	keys, err := db.ListAPIKeys(ctx)
	n := 0
	for _, k := range keys {
		if k.RevokedAt == nil {
			n++
		}
	}
	return n, err
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
