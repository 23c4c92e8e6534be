package references

// The Service's API keys managed while running, and the audit log.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// keyStore is what the Service needs of persistence for API keys (see AccountStore
// for each method's promise); it is part of Store.
type keyStore interface {
	CreateAPIKey(ctx context.Context, key APIKey) error
	LookupAPIKey(ctx context.Context, hash string) (APIKey, error)
	ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, r KeyRevocation) (APIKey, error)
}

// KeyRequest is a new API key as a client asks for it.
type KeyRequest struct {
	Name   string
	Scopes []string // required: read, write, admin (see ParseScopes)
	// At most one of ExpiresAt and ExpiresIn (see ParseKeyLifetime); neither: the
	// key never expires.
	ExpiresAt *time.Time
	ExpiresIn string
}

// CreateKey makes a new API key for the account and returns it in clear, the only
// time it is ever shown, with its stored form. Keys made this way are never operator
// keys.
func (s *Service) CreateKey(ctx context.Context, accountID string, req KeyRequest) (key string, stored APIKey, err error) {
	if err := ValidateKeyName(req.Name); err != nil {
		return "", APIKey{}, err
	}
	scopes, err := ParseScopes(req.Scopes)
	if err != nil {
		return "", APIKey{}, err
	}
	now := s.opts.Now().UTC()
	expires, err := keyExpiry(req, now)
	if err != nil {
		return "", APIKey{}, err
	}
	key, stored = NewAPIKey(accountID, scopes, now)
	stored.Name, stored.ExpiresAt, stored.CreatedBy = req.Name, expires, ActorFrom(ctx)
	if err := s.store.CreateAPIKey(ctx, stored); err != nil {
		return "", APIKey{}, err
	}
	return key, stored, nil
}

// keyExpiry returns when a key asked for at now expires, or nil for never.
func keyExpiry(req KeyRequest, now time.Time) (*time.Time, error) {
	switch {
	case req.ExpiresAt != nil && req.ExpiresIn != "":
		return nil, Invalidf("expires_in", "give expires_at or expires_in, not both")
	case req.ExpiresIn != "":
		d, err := ParseKeyLifetime(req.ExpiresIn)
		if err != nil {
			return nil, err
		}
		at := now.Add(d)
		return &at, nil
	case req.ExpiresAt != nil:
		at := req.ExpiresAt.UTC()
		if at.Before(now.Add(MinKeyLifetime)) || at.After(now.Add(MaxKeyLifetime)) {
			return nil, Invalidf("expires_at", "must be between a minute and %d days from now", int(MaxKeyLifetime/(24*time.Hour)))
		}
		return &at, nil
	}
	return nil, nil
}

// Keys returns the account's API keys, revoked and expired ones included, in
// creation order.
func (s *Service) Keys(ctx context.Context, accountID string) ([]APIKey, error) {
	return s.store.ListAPIKeys(ctx, accountID)
}

// RevokeKey revokes one of the account's keys by its id; it stops working at once.
// Another account's key is not found; the account's last live admin key is refused
// (see CheckRevoke). Revoking a revoked key is not an error.
func (s *Service) RevokeKey(ctx context.Context, accountID, id string) (APIKey, error) {
	if !strings.HasPrefix(id, "key_") {
		// The store also matches prefixes of keys, which only the keys command uses.
		return APIKey{}, Errorf(CodeNotFound, "API key %s not found", id)
	}
	return s.store.RevokeAPIKey(ctx, KeyRevocation{
		AccountID: accountID, Key: id, Actor: ActorFrom(ctx), At: s.opts.Now().UTC(),
	})
}

// Audit returns the account's audit log after the sequence after, oldest first.
func (s *Service) Audit(ctx context.Context, accountID string, after uint64, limit int) (AuditPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return AuditPage{}, err
	}
	entries, err := s.store.ListAudit(ctx, accountID, after, limit)
	if err != nil {
		return AuditPage{}, err
	}
	next := after
	if len(entries) > 0 {
		next = entries[len(entries)-1].Sequence
	}
	return AuditPage{Entries: entries, NextAfter: next}, nil
}

// audit appends an entry for an operation the store did without one (endpoints
// created and deleted), right after it succeeded.
func (s *Service) audit(ctx context.Context, accountID string, action AuditAction, targetID string) error {
	_, err := s.store.AppendAudit(ctx, AuditEntry{
		AccountID: accountID, At: s.opts.Now().UTC(), Actor: ActorFrom(ctx), Action: action, TargetID: targetID,
	})
	if err != nil {
		return fmt.Errorf("%s %s done, but its audit entry could not be written: %w", action, targetID, err)
	}
	return nil
}
