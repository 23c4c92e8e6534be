package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// API keys live in the api_keys bucket under their hash, the lookup every request
// makes. Listing and revoking read the whole bucket: a store holds keys by the
// hundred, not by the million.

// CreateAPIKey stores a key (its hash) for an existing account, and writes its
// creation in the account's audit log as key.CreatedBy's, in one transaction.
func (db *DB) CreateAPIKey(ctx context.Context, key references.APIKey) error {
	if len(key.Scopes) == 0 {
		// Stored without scopes, it would read back as a key of the old kind, with write.
		return references.Invalidf("scopes", "an API key needs at least one scope")
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccounts).Get([]byte(key.AccountID)) == nil {
			return references.Errorf(references.CodeNotFound, "account %s not found", key.AccountID)
		}
		b := tx.Bucket(bucketAPIKeys)
		if b.Get([]byte(key.Hash)) != nil {
			return references.Errorf(references.CodeConflict, "this API key is already registered")
		}
		if err := putJSON(b, []byte(key.Hash), newAPIKeyRecord(&key)); err != nil {
			return err
		}
		return appendAudit(tx, &references.AuditEntry{
			AccountID: key.AccountID, At: key.CreatedAt, Actor: key.CreatedBy,
			Action: references.AuditKeyCreated, TargetID: key.ID,
		})
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

// ListAPIKeys returns the account's keys, or every key when accountID is "" (hashes
// and prefixes only), in creation order.
func (db *DB) ListAPIKeys(ctx context.Context, accountID string) ([]references.APIKey, error) {
	var keys []references.APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		keys, err = accountKeys(tx, accountID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// accountKeys reads the account's keys (every key for "") in creation order.
func accountKeys(tx *bolt.Tx, accountID string) ([]references.APIKey, error) {
	var keys []references.APIKey
	err := tx.Bucket(bucketAPIKeys).ForEach(func(_, v []byte) error {
		var rec apiKeyRecord
		if err := unmarshal(v, &rec); err != nil {
			return err
		}
		if accountID == "" || rec.AccountID == accountID {
			keys = append(keys, rec.apiKey())
		}
		return nil
	})
	slices.SortFunc(keys, func(a, b references.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return keys, err
}

// RevokeAPIKey revokes the key r names (an id, or the start of exactly one key's
// prefix) at r.At; it stops working at once. references.CheckRevoke decides against
// the account's keys in the same transaction, so two revocations at once cannot
// both take an account's last admin keys. Revoking a revoked key is not an error and
// writes nothing.
func (db *DB) RevokeAPIKey(ctx context.Context, r references.KeyRevocation) (references.APIKey, error) {
	var key references.APIKey
	err := db.update(ctx, func(tx *bolt.Tx) error {
		candidates, err := accountKeys(tx, r.AccountID)
		if err != nil {
			return err
		}
		if key, err = references.PickKey(candidates, r.Key); err != nil {
			return err
		}
		if key.RevokedAt != nil {
			return nil
		}
		siblings := candidates
		if r.AccountID == "" {
			if siblings, err = accountKeys(tx, key.AccountID); err != nil {
				return err
			}
		}
		if err := references.CheckRevoke(key, siblings, r.At); err != nil {
			return err
		}
		at := r.At.UTC()
		key.RevokedAt = &at
		if err := putJSON(tx.Bucket(bucketAPIKeys), []byte(key.Hash), newAPIKeyRecord(&key)); err != nil {
			return err
		}
		return appendAudit(tx, &references.AuditEntry{
			AccountID: key.AccountID, At: at, Actor: r.Actor, Action: references.AuditKeyRevoked, TargetID: key.ID,
		})
	})
	if err != nil {
		return references.APIKey{}, fmt.Errorf("revoke API key: %w", err)
	}
	return key, nil
}

// RecordAPIKeyUse sets each key's last-used time, unless it holds a later one, in one
// transaction. Keys that no longer exist are passed over.
func (db *DB) RecordAPIKeyUse(ctx context.Context, uses []references.APIKeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAPIKeys)
		for _, u := range uses {
			var rec apiKeyRecord
			found, err := getJSON(b, []byte(u.Hash), &rec)
			if err != nil {
				return err
			}
			if !found || (rec.LastUsedAt != nil && !u.At.After(*rec.LastUsedAt)) {
				continue
			}
			at := u.At.UTC()
			rec.LastUsedAt = &at
			if err := putJSON(b, []byte(u.Hash), &rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the use of %d API keys: %w", len(uses), err)
	}
	return nil
}

// CountAPIKeys returns how many keys are not revoked.
func (db *DB) CountAPIKeys(ctx context.Context) (int, error) {
	keys, err := db.ListAPIKeys(ctx, "")
	n := 0
	for _, k := range keys {
		if k.RevokedAt == nil {
			n++
		}
	}
	return n, err
}
