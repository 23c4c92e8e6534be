package store

import (
	"time"

	"github.com/trackhook/trackhook/references"
)

// The values stored as JSON have their own types here, so that the file's format is
// the store's to keep: the field names are those trackhook has always written, and a
// change to the domain types or to the API cannot change them. Each record converts
// from and to its domain type, keeping nil apart from empty as JSON does.

// accountRecord is an account as stored in the accounts bucket.
type accountRecord struct {
	ID             string                `json:"id"`
	CreatedAt      time.Time             `json:"created_at"`
	WebhookSecrets []webhookSecretRecord `json:"webhook_secrets"`
}

type webhookSecretRecord struct {
	Secret    string     `json:"secret"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func newAccountRecord(a *references.Account) *accountRecord {
	r := &accountRecord{ID: a.ID, CreatedAt: a.CreatedAt}
	if a.WebhookSecrets != nil {
		r.WebhookSecrets = make([]webhookSecretRecord, len(a.WebhookSecrets))
		for i, s := range a.WebhookSecrets {
			r.WebhookSecrets[i] = webhookSecretRecord{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
		}
	}
	return r
}

func decodeAccount(data []byte) (references.Account, error) {
	var r accountRecord
	if err := unmarshal(data, &r); err != nil {
		return references.Account{}, err
	}
	return r.account(), nil
}

func (r *accountRecord) account() references.Account {
	a := references.Account{ID: r.ID, CreatedAt: r.CreatedAt}
	if r.WebhookSecrets != nil {
		a.WebhookSecrets = make([]references.WebhookSecret, len(r.WebhookSecrets))
		for i, s := range r.WebhookSecrets {
			a.WebhookSecrets[i] = references.WebhookSecret{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
		}
	}
	return a
}

// apiKeyRecord is an API key as stored in the api_keys bucket: its hash, never the key.
type apiKeyRecord struct {
	ID        string     `json:"id"`
	AccountID string     `json:"account_id"`
	Prefix    string     `json:"prefix"`
	Hash      string     `json:"hash"`
	Admin     bool       `json:"admin"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func newAPIKeyRecord(k *references.APIKey) *apiKeyRecord {
	return &apiKeyRecord{
		ID: k.ID, AccountID: k.AccountID, Prefix: k.Prefix, Hash: k.Hash,
		Admin: k.Admin, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt,
	}
}

func (r *apiKeyRecord) apiKey() references.APIKey {
	return references.APIKey{
		ID: r.ID, AccountID: r.AccountID, Prefix: r.Prefix, Hash: r.Hash,
		Admin: r.Admin, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt,
	}
}

// attemptRecord is one entry of the delivery log, in the attempts bucket.
type attemptRecord struct {
	Destination  string                    `json:"destination,omitempty"`
	ReferenceID  string                    `json:"reference_id"`
	UpdateID     string                    `json:"update_id"`
	Sequence     uint64                    `json:"sequence"`
	Attempt      int                       `json:"attempt"`
	URL          string                    `json:"url"`
	At           time.Time                 `json:"attempted_at"`
	StatusCode   int                       `json:"status_code,omitempty"`
	Error        string                    `json:"error,omitempty"`
	LatencyMS    int64                     `json:"latency_ms"`
	ResponseBody string                    `json:"response_body,omitempty"`
	Outcome      references.AttemptOutcome `json:"outcome"`
	NextRetryAt  *time.Time                `json:"next_retry_at,omitempty"`
	Redelivery   bool                      `json:"redelivery,omitempty"`
	Disable      references.DisabledReason `json:"disable,omitempty"`
}

func newAttemptRecord(a *references.DeliveryAttempt) *attemptRecord {
	return &attemptRecord{
		ReferenceID: a.ReferenceID, UpdateID: a.UpdateID, Sequence: a.Sequence, Attempt: a.Attempt,
		URL: a.URL, At: a.At, StatusCode: a.StatusCode, Error: a.Error, LatencyMS: a.LatencyMS,
		ResponseBody: a.ResponseBody, Outcome: a.Outcome, NextRetryAt: a.NextRetryAt, Redelivery: a.Redelivery,
		Destination: a.Destination, Disable: a.Disable,
	}
}

func (r *attemptRecord) attempt() references.DeliveryAttempt {
	return references.DeliveryAttempt{
		ReferenceID: r.ReferenceID, UpdateID: r.UpdateID, Sequence: r.Sequence, Attempt: r.Attempt,
		URL: r.URL, At: r.At, StatusCode: r.StatusCode, Error: r.Error, LatencyMS: r.LatencyMS,
		ResponseBody: r.ResponseBody, Outcome: r.Outcome, NextRetryAt: r.NextRetryAt, Redelivery: r.Redelivery,
		Destination: r.Destination, Disable: r.Disable,
	}
}

// idempotencyRecord remembers which reference a create with an Idempotency-Key made.
type idempotencyRecord struct {
	ReferenceID string    `json:"reference_id"`
	RequestHash string    `json:"request_hash"`
	ExpiresAt   time.Time `json:"expires_at"`
}
