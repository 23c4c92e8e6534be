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

// Live returns the secrets that sign at time now, newest first (see LiveSecrets).
func (a *Account) Live(now time.Time) []WebhookSecret { return LiveSecrets(a.WebhookSecrets, now) }

// LiveSecrets returns the account's secrets to sign with at time now, newest first.
func (a *Account) LiveSecrets(now time.Time) []string { return secretTexts(a.Live(now)) }

// Rotate makes secret the account's newest signing secret at now (see RotateSecrets).
func (a *Account) Rotate(secret string, now, graceUntil time.Time) {
	a.WebhookSecrets = RotateSecrets(a.WebhookSecrets, secret, now, graceUntil)
}

// Live returns the endpoint's secrets that sign at time now, newest first.
func (ep *Endpoint) Live(now time.Time) []WebhookSecret { return LiveSecrets(ep.Secrets, now) }

// LiveSecrets returns the endpoint's secrets to sign with at time now, newest first.
func (ep *Endpoint) LiveSecrets(now time.Time) []string { return secretTexts(ep.Live(now)) }

// Rotate makes secret the endpoint's newest signing secret at now (see RotateSecrets).
func (ep *Endpoint) Rotate(secret string, now, graceUntil time.Time) {
	ep.Secrets = RotateSecrets(ep.Secrets, secret, now, graceUntil)
}

// LiveSecrets returns those of secrets (oldest first) that sign at time now, newest
// first: at most MaxLiveSecrets, the newest ones (a store written before the limit may
// hold more).
func LiveSecrets(secrets []WebhookSecret, now time.Time) []WebhookSecret {
	var out []WebhookSecret
	for i := len(secrets) - 1; i >= 0 && len(out) < MaxLiveSecrets; i-- {
		if s := secrets[i]; s.LiveAt(now) {
			out = append(out, s)
		}
	}
	return out
}

func secretTexts(live []WebhookSecret) []string {
	out := make([]string, len(live))
	for i, s := range live {
		out[i] = s.Secret
	}
	return out
}

// RotateSecrets returns secrets (oldest first) with secret added as the newest at now.
// The secret that was the newest keeps signing until graceUntil; when graceUntil is
// not after now it is replaced at once. Secrets already in their grace keep their own
// expiry, so a rotation never shortens a grace another rotation gave, with one
// exception: when more than MaxLiveSecrets would sign, the oldest grace ends now.
// Expired secrets are dropped.
func RotateSecrets(secrets []WebhookSecret, secret string, now, graceUntil time.Time) []WebhookSecret {
	kept := make([]WebhookSecret, 0, MaxLiveSecrets)
	for _, s := range secrets {
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
	return kept
}
