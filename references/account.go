package references

import "time"

// DefaultAccount is the account of the key serve creates on an empty store.
const DefaultAccount = "default"

// Account owns references, API keys and webhook signing secrets.
type Account struct {
	ID             string
	CreatedAt      time.Time
	WebhookSecrets []WebhookSecret // oldest first
}

// WebhookSecret is one Standard Webhooks signing secret ("whsec_" + base64 of 32 random
// bytes). During a rotation the old secret is kept until ExpiresAt.
type WebhookSecret struct {
	Secret    string
	CreatedAt time.Time
	ExpiresAt *time.Time // nil for the newest secret, which has no end
}

// LiveAt reports whether the secret still signs at time now.
func (s *WebhookSecret) LiveAt(now time.Time) bool {
	return s.ExpiresAt == nil || now.Before(*s.ExpiresAt)
}

// MaxLiveSecrets is how many signing secrets sign at once at most: the newest and two
// in their grace period. Every webhook carries one signature per live secret, so the
// number is kept small whatever the rotations asked for.
const MaxLiveSecrets = 3

// Live returns the secrets that sign at time now, newest first: at most
// MaxLiveSecrets, the newest ones (a store written before the limit may hold more).
func (a *Account) Live(now time.Time) []WebhookSecret {
	var out []WebhookSecret
	for i := len(a.WebhookSecrets) - 1; i >= 0 && len(out) < MaxLiveSecrets; i-- {
		if s := a.WebhookSecrets[i]; s.LiveAt(now) {
			out = append(out, s)
		}
	}
	return out
}

// LiveSecrets returns the secrets to sign with at time now, newest first (see Live).
func (a *Account) LiveSecrets(now time.Time) []string {
	live := a.Live(now)
	out := make([]string, len(live))
	for i, s := range live {
		out[i] = s.Secret
	}
	return out
}

// Rotate makes secret the account's newest signing secret at now. The secret that was
// the newest keeps signing until graceUntil; when graceUntil is not after now it is
// replaced at once. Secrets already in their grace keep their own expiry, so a
// rotation never shortens a grace another rotation gave, with one exception: when more
// than MaxLiveSecrets would sign, the oldest grace ends now. Expired secrets are dropped.
func (a *Account) Rotate(secret string, now, graceUntil time.Time) {
	kept := make([]WebhookSecret, 0, MaxLiveSecrets)
	for _, s := range a.WebhookSecrets {
		if s.ExpiresAt == nil {
			until := graceUntil
			s.ExpiresAt = &until
		}
		if s.LiveAt(now) {
			kept = append(kept, s)
		}
	}
	kept = append(kept, WebhookSecret{Secret: secret, CreatedAt: now})
	if n := len(kept) - MaxLiveSecrets; n > 0 {
		kept = kept[n:] // the oldest graces end
	}
	a.WebhookSecrets = kept
}

// APIKey is an API key as stored: only its SHA-256 hash and a short prefix for display
// are kept, never the key itself.
type APIKey struct {
	ID        string // key_...
	AccountID string
	Prefix    string // the first characters of the key, to recognise it
	Hash      string // hex SHA-256 of the key
	Admin     bool
	CreatedAt time.Time
	RevokedAt *time.Time
}
