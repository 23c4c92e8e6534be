package postgres

// Account endpoints: create under the account's quota, get, list, patch, delete and
// secret rotation. An endpoint is a row of endpoints with the references.Endpoint as
// JSON in data. Its messages are in messages.go, their delivery in
// endpoint_streams.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// endpointQuotaLock is the class of the advisory locks that serialise the endpoint
// creates of one account (the second key is the account's hash), so that two
// instances creating at once cannot both pass the quota.
const endpointQuotaLock = 0x45505154 // "EPQT"

// CreateEndpoint stores a new endpoint as the service made it (id, secret, defaults).
// With maxPerAccount above 0, one that would give the account more endpoints than that
// is refused with references.EndpointQuotaExceeded; the count is read under a lock of
// the account's creates, so concurrent creates take turns. An endpoint without a
// creation time gets the backend's clock.
func (db *DB) CreateEndpoint(ctx context.Context, ep references.Endpoint, maxPerAccount int) (references.Endpoint, error) {
	if ep.ID == "" || ep.AccountID == "" {
		return references.Endpoint{}, errors.New("postgres: create endpoint: no id or account")
	}
	var out references.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		stored := ep
		if stored.CreatedAt.IsZero() {
			now, err := db.now(ctx, tx)
			if err != nil {
				return err
			}
			stored.CreatedAt = now
		}
		if stored.UpdatedAt.IsZero() {
			stored.UpdatedAt = stored.CreatedAt
		}
		if maxPerAccount > 0 {
			// The count is read by a statement of its own, after the lock is held: a
			// statement's snapshot is taken when it starts, so one that waited for the
			// lock would not see the endpoint its holder created.
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", endpointQuotaLock, stored.AccountID); err != nil {
				return fmt.Errorf("postgres: lock the endpoint creates of %s: %w", stored.AccountID, err)
			}
			var n int
			err := tx.QueryRow(ctx, "SELECT count(*) FROM endpoints WHERE account_id = $1", stored.AccountID).Scan(&n)
			if err != nil {
				return fmt.Errorf("postgres: count the endpoints of %s: %w", stored.AccountID, err)
			}
			if n >= maxPerAccount {
				return references.EndpointQuotaExceeded(maxPerAccount)
			}
		}
		data, err := json.Marshal(&stored)
		if err != nil {
			return fmt.Errorf("postgres: encode endpoint %s: %w", stored.ID, err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO endpoints (id, account_id, created_at, enabled, data)
			VALUES ($1, $2, $3, $4, $5)`, stored.ID, stored.AccountID, stored.CreatedAt, stored.Enabled, data)
		if isUniqueViolation(err, "endpoints_pkey") {
			return references.Errorf(references.CodeConflict, "endpoint %s exists", stored.ID)
		}
		if err != nil {
			return fmt.Errorf("postgres: insert endpoint %s: %w", stored.ID, err)
		}
		out, err = decodeEndpoint(data) // as GetEndpoint will read it
		return err
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("postgres: create endpoint %s: %w", ep.ID, err)
	}
	return out, nil
}

// GetEndpoint returns the account's endpoint; another account's is not found.
func (db *DB) GetEndpoint(ctx context.Context, accountID, id string) (references.Endpoint, error) {
	ep, err := getEndpoint(ctx, db.pool, accountID, id, "")
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("postgres: get endpoint %s: %w", id, err)
	}
	return ep, nil
}

// Row locks getEndpoint may take: lockEndpoint for a change of the endpoint (it does
// not block the fan-out's FOR KEY SHARE, which only guards against a delete).
const (
	noLock       = ""
	lockEndpoint = " FOR NO KEY UPDATE"
)

// getEndpoint reads the account's endpoint (accountID "": whoever's), or an error
// with CodeNotFound; lock is noLock or lockEndpoint.
func getEndpoint(ctx context.Context, q querier, accountID, id, lock string) (references.Endpoint, error) {
	var data []byte
	var owner string
	err := q.QueryRow(ctx, "SELECT account_id, data FROM endpoints WHERE id = $1"+lock, id).Scan(&owner, &data)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && accountID != "" && owner != accountID {
		return references.Endpoint{}, references.Errorf(references.CodeNotFound, "endpoint %s not found", id)
	}
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("postgres: read endpoint %s: %w", id, err)
	}
	return decodeEndpoint(data)
}

func decodeEndpoint(data []byte) (references.Endpoint, error) {
	var ep references.Endpoint
	if err := json.Unmarshal(data, &ep); err != nil {
		return ep, fmt.Errorf("postgres: decode endpoint: %w", err)
	}
	return ep, nil
}

// saveEndpoint writes a changed endpoint over its row, which the caller locked.
func saveEndpoint(ctx context.Context, tx pgx.Tx, ep *references.Endpoint) error {
	data, err := json.Marshal(ep)
	if err != nil {
		return fmt.Errorf("postgres: encode endpoint %s: %w", ep.ID, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE endpoints SET enabled = $2, data = $3 WHERE id = $1", ep.ID, ep.Enabled, data); err != nil {
		return fmt.Errorf("postgres: save endpoint %s: %w", ep.ID, err)
	}
	return nil
}

// enabledEndpoints returns the account's enabled endpoints in creation order: what
// the fan-out of updates and operational events matches against. Accounts have few
// (references.MaxEndpointsPerAccount unless configured otherwise).
func enabledEndpoints(ctx context.Context, q querier, accountID string) ([]references.Endpoint, error) {
	rows, err := q.Query(ctx, "SELECT data FROM endpoints WHERE account_id = $1 AND enabled ORDER BY created_at, id", accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: read the endpoints of %s: %w", accountID, err)
	}
	eps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (references.Endpoint, error) {
		var data []byte
		if err := row.Scan(&data); err != nil {
			return references.Endpoint{}, err
		}
		return decodeEndpoint(data)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read the endpoints of %s: %w", accountID, err)
	}
	return eps, nil
}

// ListEndpoints returns a page of the account's endpoints in creation order. The
// cursor names the last endpoint returned by its creation time (as stored, in
// microseconds) and id.
func (db *DB) ListEndpoints(ctx context.Context, accountID string, q references.ListQuery) (references.EndpointPage, error) {
	limit := references.PageSize(q.Limit)
	page := references.EndpointPage{Endpoints: []references.Endpoint{}}
	sql := "SELECT created_at, id, data FROM endpoints WHERE account_id = $1"
	args := []any{accountID}
	if q.Cursor != "" {
		at, id, ok := decodeEndpointCursor(q.Cursor)
		if !ok {
			return page, references.Invalidf("cursor", "is not a cursor this server returned")
		}
		sql += " AND (created_at, id) > ($2, $3)"
		args = append(args, at, id)
	}
	sql += fmt.Sprintf(" ORDER BY created_at, id LIMIT %d", limit+1)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("postgres: list endpoints of %s: %w", accountID, err)
	}
	defer rows.Close()
	var lastAt time.Time
	var lastID string
	for rows.Next() {
		if len(page.Endpoints) == limit {
			// There is at least one more: the cursor points at the last one returned.
			page.NextCursor = encodeEndpointCursor(lastAt, lastID)
			break
		}
		var data []byte
		if err := rows.Scan(&lastAt, &lastID, &data); err != nil {
			return page, fmt.Errorf("postgres: list endpoints of %s: %w", accountID, err)
		}
		ep, err := decodeEndpoint(data)
		if err != nil {
			return page, err
		}
		page.Endpoints = append(page.Endpoints, ep)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("postgres: list endpoints of %s: %w", accountID, err)
	}
	return page, nil
}

func encodeEndpointCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

func decodeEndpointCursor(cursor string) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", false
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(us).UTC(), id, true
}

// PatchEndpoint applies change to the stored endpoint and writes it with UpdatedAt at
// the backend's clock, in one transaction; an error from change writes nothing. A
// change may not alter the endpoint's id, account or creation time. Disabling holds
// its delivery streams (delivery_streams.endpoint_disabled, which claims pass by);
// re-enabling releases them, due now: they go on where they stopped.
func (db *DB) PatchEndpoint(ctx context.Context, accountID, id string, change func(*references.Endpoint) error) (references.Endpoint, error) {
	var out references.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := getEndpoint(ctx, tx, accountID, id, noLock); err != nil {
			return err
		}
		// The lock order puts delivery streams before endpoints.
		if err := lockEndpointStreams(ctx, tx, id); err != nil {
			return err
		}
		old, err := getEndpoint(ctx, tx, accountID, id, lockEndpoint)
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
		if err := saveEndpoint(ctx, tx, &ep); err != nil {
			return err
		}
		if ep.Enabled != old.Enabled {
			if err := holdEndpointStreams(ctx, tx, id, !ep.Enabled, now); err != nil {
				return err
			}
		}
		out = ep
		return nil
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("postgres: patch endpoint %s: %w", id, err)
	}
	return out, nil
}

// DeleteEndpoint deletes the endpoint with its delivery streams, its messages (by the
// foreign key's cascade) and its queued resends, in one transaction.
func (db *DB) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getEndpoint(ctx, tx, accountID, id, noLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM delivery_streams WHERE destination = $1", id); err != nil {
			return fmt.Errorf("postgres: delete the streams of endpoint %s: %w", id, err)
		}
		tag, err := tx.Exec(ctx, "DELETE FROM endpoints WHERE id = $1 AND account_id = $2", id, accountID)
		if err != nil {
			return fmt.Errorf("postgres: delete endpoint %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return references.Errorf(references.CodeNotFound, "endpoint %s not found", id) // deleted meanwhile
		}
		if _, err := tx.Exec(ctx, "DELETE FROM redeliveries WHERE destination = $1", id); err != nil {
			return fmt.Errorf("postgres: delete the resends of endpoint %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: delete endpoint %s: %w", id, err)
	}
	return nil
}

// RotateEndpointSecret makes secret the endpoint's newest signing secret at the
// backend's clock, by the rule of references.RotateSecrets, and appends the rotation
// to the account's audit log as actor's, in one transaction.
func (db *DB) RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time, actor string) (references.Endpoint, error) {
	var ep references.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		if ep, err = getEndpoint(ctx, tx, accountID, id, lockEndpoint); err != nil {
			return err
		}
		ep.Rotate(secret, now, graceUntil.UTC())
		ep.UpdatedAt = now
		if err := saveEndpoint(ctx, tx, &ep); err != nil {
			return err
		}
		_, err = db.appendAudit(ctx, tx, references.AuditEntry{
			AccountID: accountID, At: now, Actor: actor, Action: references.AuditEndpointSecretRotated, TargetID: id,
		})
		return err
	})
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("postgres: rotate the secret of endpoint %s: %w", id, err)
	}
	return ep, nil
}
