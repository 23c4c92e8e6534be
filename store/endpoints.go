package store

// The endpoints API's writes and reads of endpoint records: create with the account's
// quota, get, list, patch, delete and secret rotation. Messages are in messages.go,
// the delivery of them in endpoint_streams.go.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// CreateEndpoint stores a new endpoint as the service made it (id, secret, defaults).
// With maxPerAccount above 0, an endpoint that would give the account more than that
// is refused with references.EndpointQuotaExceeded. An endpoint without a creation
// time gets the store's clock.
func (db *DB) CreateEndpoint(ctx context.Context, ep references.Endpoint, maxPerAccount int) (references.Endpoint, error) {
	if ep.ID == "" || ep.AccountID == "" {
		return references.Endpoint{}, errors.New("create endpoint: no id or account")
	}
	if ep.CreatedAt.IsZero() {
		ep.CreatedAt = db.clock.Now().UTC()
	}
	if ep.UpdatedAt.IsZero() {
		ep.UpdatedAt = ep.CreatedAt
	}
	var out references.Endpoint
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEndpoints).Get([]byte(ep.ID)) != nil {
			return references.Errorf(references.CodeConflict, "endpoint %s exists", ep.ID)
		}
		if maxPerAccount > 0 && countEndpoints(tx, ep.AccountID) >= maxPerAccount {
			return references.EndpointQuotaExceeded(maxPerAccount)
		}
		if err := putEndpoint(tx, &ep, true); err != nil {
			return err
		}
		var err error
		out, err = getEndpoint(tx, ep.AccountID, ep.ID) // as Get will read it
		return err
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("create endpoint %s: %w", ep.ID, err)
	}
	return out, nil
}

// countEndpoints counts the account's endpoints in its index: accounts have few
// (references.MaxEndpointsPerAccount), so a count kept aside would not pay.
func countEndpoints(tx *bolt.Tx, accountID string) int {
	n := 0
	prefix := str(accountID)
	c := tx.Bucket(bucketEndpointsByAcct).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// GetEndpoint returns the account's endpoint; another account's is not found.
func (db *DB) GetEndpoint(ctx context.Context, accountID, id string) (references.Endpoint, error) {
	var ep references.Endpoint
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		ep, err = getEndpoint(tx, accountID, id)
		return err
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("get endpoint %s: %w", id, err)
	}
	return ep, nil
}

// ListEndpoints returns a page of the account's endpoints in creation order. The
// cursor is the index key (after the account) of the last endpoint returned.
func (db *DB) ListEndpoints(ctx context.Context, accountID string, q references.ListQuery) (references.EndpointPage, error) {
	limit := references.PageSize(q.Limit)
	prefix := str(accountID)
	start := prefix
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(raw) <= 8 || bytes.IndexByte(raw[8:], sep) >= 0 {
			return references.EndpointPage{}, references.Invalidf("cursor", "is not a cursor this server returned")
		}
		start = join(prefix, raw)
	}
	page := references.EndpointPage{Endpoints: []references.Endpoint{}}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEndpointsByAcct).Cursor()
		k, _ := c.Seek(start)
		if q.Cursor != "" && bytes.Equal(k, start) {
			k, _ = c.Next() // the cursor names the last one already returned
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(page.Endpoints) == limit {
				// There is at least one more: the cursor points at the last one returned.
				last := page.Endpoints[limit-1]
				page.NextCursor = base64.RawURLEncoding.EncodeToString(join(timeKey(last.CreatedAt), []byte(last.ID)))
				return nil
			}
			ep, err := getEndpoint(tx, accountID, string(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			page.Endpoints = append(page.Endpoints, ep)
		}
		return nil
	})
	if err != nil {
		return references.EndpointPage{}, fmt.Errorf("list endpoints of %s: %w", accountID, err)
	}
	return page, nil
}

// PatchEndpoint applies change to the stored endpoint and writes it with UpdatedAt at
// the store's clock, in one transaction; an error from change writes nothing. A
// change may not alter the endpoint's id, account or creation time, which its keys
// are made of. Re-enabling makes its pending messages due now (endpointEnabled).
func (db *DB) PatchEndpoint(ctx context.Context, accountID, id string, change func(*references.Endpoint) error) (references.Endpoint, error) {
	now := db.clock.Now().UTC()
	var out references.Endpoint
	err := db.update(ctx, func(tx *bolt.Tx) error {
		old, err := getEndpoint(tx, accountID, id)
		if err != nil {
			return err
		}
		ep := old // a fresh decode: change cannot reach the stored bytes
		if err := change(&ep); err != nil {
			return err
		}
		if ep.ID != old.ID || ep.AccountID != old.AccountID || !ep.CreatedAt.Equal(old.CreatedAt) {
			return errors.New("a change may not alter the endpoint's id, account or creation time")
		}
		ep.UpdatedAt = now
		if !old.Enabled && ep.Enabled {
			if err := db.endpointEnabled(tx, &ep, now); err != nil {
				return err
			}
		}
		if err := putEndpoint(tx, &ep, false); err != nil {
			return err
		}
		out = ep
		return nil
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("patch endpoint %s: %w", id, err)
	}
	return out, nil
}

// DeleteEndpoint deletes the endpoint, its delivery state (endpointDeleted) and
// every message of it, in one transaction.
func (db *DB) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		ep, err := getEndpoint(tx, accountID, id)
		if err != nil {
			return err
		}
		// First the streams, outbox entries and resends, while the messages they
		// point at are still there to read.
		if err := db.endpointDeleted(tx, id); err != nil {
			return err
		}
		if err := deleteEndpointMessages(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEndpointsByAcct).Delete(join(str(accountID), timeKey(ep.CreatedAt), []byte(id))); err != nil {
			return err
		}
		return tx.Bucket(bucketEndpoints).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// deleteEndpointMessages deletes every message of the endpoint with its index entries.
func deleteEndpointMessages(tx *bolt.Tx, endpointID string) error {
	prefix := str(endpointID)
	c := tx.Bucket(bucketMessages).Cursor()
	// Seek again after each delete: a cursor's Next after a delete may skip a key.
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		var m references.Message
		if err := decodeMessage(v, &m); err != nil {
			return fmt.Errorf("decode message %q: %w", k, err)
		}
		if err := deleteMessage(tx, &m); err != nil {
			return err
		}
	}
	return nil
}

// RotateEndpointSecret makes secret the endpoint's newest signing secret at the
// store's clock, by the rule of references.RotateSecrets: the previous newest signs
// until graceUntil, at most references.MaxLiveSecrets sign. The rotation is written in
// the account's audit log as actor's.
func (db *DB) RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time, actor string) (references.Endpoint, error) {
	now := db.clock.Now().UTC()
	var ep references.Endpoint
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if ep, err = getEndpoint(tx, accountID, id); err != nil {
			return err
		}
		ep.Rotate(secret, now, graceUntil.UTC())
		ep.UpdatedAt = now
		if err := putEndpoint(tx, &ep, false); err != nil {
			return err
		}
		return appendAudit(tx, &references.AuditEntry{
			AccountID: accountID, At: now, Actor: actor, Action: references.AuditEndpointSecretRotated, TargetID: id,
		})
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("rotate secret of endpoint %s: %w", id, err)
	}
	return ep, nil
}
