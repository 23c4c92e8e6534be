package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// The /account/keys routes and /account/audit, for keys with the admin scope: an
// account's keys managed while it runs, and the log of what was done to its keys and
// secrets. A key never leaves the server after the answer that created it; lists show
// its id and prefix only.

// APIKey is an API key as the key routes show it: never its text or its hash.
type APIKey struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Prefix string   `json:"prefix"` // the key's first characters, to recognise it
	Scopes []string `json:"scopes"`
	// Operator keys (made on the server only) also reach /admin/* and /metrics.
	Operator   bool       `json:"operator,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func newAPIKey(k references.APIKey) APIKey {
	return APIKey{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: references.ScopeNames(k.Scopes), Operator: k.Operator,
		CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
}

// CreatedAPIKey is the answer of POST /account/keys: the new key's text, shown this
// once, with what the list shows of it.
type CreatedAPIKey struct {
	Key string `json:"key"`
	APIKey
}

// APIKeyList is the answer of GET /account/keys, in creation order.
type APIKeyList struct {
	Keys []APIKey `json:"keys"`
}

// keyBody is the JSON body of POST /account/keys. expires_at is read after decoding,
// so that a malformed time is a 422 on its field.
type keyBody struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
	ExpiresIn string   `json:"expires_in"`
}

func (b *keyBody) request() (references.KeyRequest, error) {
	req := references.KeyRequest{Name: b.Name, Scopes: b.Scopes, ExpiresIn: b.ExpiresIn}
	if b.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *b.ExpiresAt)
		if err != nil {
			return req, references.Invalidf("expires_at", "must be an RFC 3339 time such as 2027-03-01T00:00:00Z")
		}
		req.ExpiresAt = &t
	}
	return req, nil
}

// createKey is POST /account/keys.
func (s *server) createKey(c echo.Context) error {
	noStore(c)
	var body keyBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	req, err := body.request()
	if err != nil {
		return err
	}
	key, stored, err := s.svc.CreateKey(c.Request().Context(), apiKey(c).AccountID, req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, CreatedAPIKey{Key: key, APIKey: newAPIKey(stored)})
}

// listKeys is GET /account/keys.
func (s *server) listKeys(c echo.Context) error {
	keys, err := s.svc.Keys(c.Request().Context(), apiKey(c).AccountID)
	if err != nil {
		return err
	}
	out := APIKeyList{Keys: make([]APIKey, len(keys))}
	for i, k := range keys {
		out.Keys[i] = newAPIKey(k)
	}
	return c.JSON(http.StatusOK, out)
}

// revokeKey is DELETE /account/keys/:id. The key in use may revoke itself; this
// answer is its last.
func (s *server) revokeKey(c echo.Context) error {
	id, err := pathID(c, "id", "API key")
	if err != nil {
		return err
	}
	k, err := s.svc.RevokeKey(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newAPIKey(k))
}

// AuditEntry is one entry of the account's audit log.
type AuditEntry struct {
	Sequence uint64    `json:"sequence"` // 1, 2, 3 ... per account
	At       time.Time `json:"at"`
	// Actor is the id of the key that acted (key_...), "cli" (trackhook keys) or
	// "system" (serve at start).
	Actor    string                 `json:"actor"`
	Action   references.AuditAction `json:"action"`
	TargetID string                 `json:"target_id"`
}

func newAuditEntry(e references.AuditEntry) AuditEntry {
	return AuditEntry{Sequence: e.Sequence, At: e.At, Actor: e.Actor, Action: e.Action, TargetID: e.TargetID}
}

// AuditPage is the answer of GET /account/audit, oldest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// NextAfter, passed as ?after=, continues the log.
	NextAfter uint64 `json:"next_after"`
}

// listAudit is GET /account/audit?after=&limit=.
func (s *server) listAudit(c echo.Context) error {
	var after uint64
	if raw := c.QueryParam("after"); raw != "" {
		var err error
		if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return references.Invalidf("after", "must be the sequence number of an entry (an integer of 0 or more)")
		}
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.svc.Audit(c.Request().Context(), apiKey(c).AccountID, after, limit)
	if err != nil {
		return err
	}
	out := AuditPage{Entries: make([]AuditEntry, len(page.Entries)), NextAfter: page.NextAfter}
	for i, e := range page.Entries {
		out.Entries[i] = newAuditEntry(e)
	}
	return c.JSON(http.StatusOK, out)
}
