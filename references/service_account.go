package references

// The Service's account side: API keys and webhook signing secrets.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// HashAPIKey returns the hex SHA-256 of an API key, the form keys are stored in.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewAPIKey returns a new random API key and its stored form for the account, with
// the given scopes (see ParseScopes).
func NewAPIKey(accountID string, scopes []Scope, now time.Time) (key string, stored APIKey) {
	key = "thk_" + rand.Text() + rand.Text()
	return key, APIKey{
		ID:        NewID("key_"),
		AccountID: accountID,
		Prefix:    key[:12],
		Hash:      HashAPIKey(key),
		Scopes:    slices.Clone(scopes),
		CreatedAt: now.UTC(),
	}
}

// Authenticate returns the live API key matching key, or an unauthorized error that
// says why: unknown, revoked or expired. The use is passed to KeyUsed.
func (s *Service) Authenticate(ctx context.Context, key string) (APIKey, error) {
	if key == "" {
		return APIKey{}, Errorf(CodeUnauthorized, "missing API key: send Authorization: Bearer <key>")
	}
	k, err := s.store.LookupAPIKey(ctx, HashAPIKey(key))
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return APIKey{}, Errorf(CodeUnauthorized, "unknown API key")
		}
		return APIKey{}, fmt.Errorf("authenticate: %w", err)
	}
	now := s.opts.Now().UTC()
	switch {
	case k.RevokedAt != nil:
		return APIKey{}, Errorf(CodeUnauthorized, "this API key was revoked at %s", k.RevokedAt.UTC().Format(time.RFC3339))
	case k.Expired(now):
		return APIKey{}, Errorf(CodeUnauthorized, "this API key expired at %s; ask an admin of the account for a new one", k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if s.opts.KeyUsed != nil {
		s.opts.KeyUsed(k, now)
	}
	return k, nil
}

// NewWebhookSecret returns a Standard Webhooks secret: "whsec_" + base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// WebhookSecret returns the account's signing secrets, newest first, with expiries.
func (s *Service) WebhookSecret(ctx context.Context, accountID string) (Account, error) {
	return s.store.GetAccount(ctx, accountID)
}

// RotateWebhookSecret makes a new signing secret. The one it replaces keeps signing
// for grace (DefaultRotationGrace when nil; zero replaces it at once), so receivers
// can switch without dropping events; older secrets keep their own expiry, and at most
// MaxLiveSecrets sign (see Account.Rotate).
func (s *Service) RotateWebhookSecret(ctx context.Context, accountID string, grace *time.Duration) (Account, error) {
	g := DefaultRotationGrace
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > MaxRotationGrace {
		return Account{}, Invalidf("grace_seconds", "must be between 0 and %d", int(MaxRotationGrace.Seconds()))
	}
	return s.store.RotateWebhookSecret(ctx, accountID, NewWebhookSecret(), s.opts.Now().UTC().Add(g), ActorFrom(ctx))
}
