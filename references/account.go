package references

import "time"

// DefaultAccount is the account of the key serve creates on an empty store.
const DefaultAccount = "default"

// Account owns references, API keys and webhook signing secrets.
type Account struct {
	ID             string          `json:"id"`
	CreatedAt      time.Time       `json:"created_at"`
	WebhookSecrets []WebhookSecret `json:"webhook_secrets"`
}

// WebhookSecret is one Standard Webhooks signing secret ("whsec_" + base64 of 32 random
// bytes). During a rotation the old secret is kept until ExpiresAt.
type WebhookSecret struct {
	Secret    string     `json:"secret"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
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
	ID        string     `json:"id"` // key_...
	AccountID string     `json:"account_id"`
	Prefix    string     `json:"prefix"` // the first characters of the key, to recognise it
	Hash      string     `json:"hash"`   // hex SHA-256 of the key
	Admin     bool       `json:"admin"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}
