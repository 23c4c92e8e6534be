package references

import "time"

// DefaultAccount is the account of the key serve creates on an empty store.
const DefaultAccount = "default"

// Account owns references, API keys and webhook signing secrets.
type Account struct {
	ID             string
	CreatedAt      time.Time
	WebhookSecrets []WebhookSecret
}

// WebhookSecret is one Standard Webhooks signing secret ("whsec_" + base64 of 32 random
// bytes). During a rotation the old secret is kept until ExpiresAt.
type WebhookSecret struct {
	Secret    string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// LiveSecrets returns the secrets to sign with at time now, newest first.
func (a *Account) LiveSecrets(now time.Time) []string {
	var out []string
	for i := len(a.WebhookSecrets) - 1; i >= 0; i-- {
		s := a.WebhookSecrets[i]
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s.Secret)
		}
	}
	return out
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
