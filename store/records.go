package store

import (
	"slices"
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
// The operator flag keeps the name "admin" it has always had: keys written before
// scopes existed had no other right to tell apart. Scopes are written only when they
// differ from what that flag implies (legacyScopes), so a key of the old kind is
// written as it always was, and an old record reads with the rights it had.
type apiKeyRecord struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"account_id"`
	Name       string     `json:"name,omitempty"`
	Prefix     string     `json:"prefix"`
	Hash       string     `json:"hash"`
	Scopes     []string   `json:"scopes,omitempty"`
	Operator   bool       `json:"admin"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// legacyScopes are the scopes of a key stored before scopes existed: an admin key
// had every right, another could read and write.
func legacyScopes(admin bool) []references.Scope {
	if admin {
		return []references.Scope{references.ScopeAdmin}
	}
	return []references.Scope{references.ScopeWrite}
}

func newAPIKeyRecord(k *references.APIKey) *apiKeyRecord {
	r := &apiKeyRecord{
		ID: k.ID, AccountID: k.AccountID, Name: k.Name, Prefix: k.Prefix, Hash: k.Hash,
		Operator: k.Operator, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
	if len(k.Scopes) > 0 && !slices.Equal(k.Scopes, legacyScopes(k.Operator)) {
		r.Scopes = references.ScopeNames(k.Scopes)
	}
	return r
}

func (r *apiKeyRecord) apiKey() references.APIKey {
	k := references.APIKey{
		ID: r.ID, AccountID: r.AccountID, Name: r.Name, Prefix: r.Prefix, Hash: r.Hash,
		Operator: r.Operator, Scopes: legacyScopes(r.Operator), CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt,
	}
	if len(r.Scopes) > 0 {
		k.Scopes = make([]references.Scope, len(r.Scopes))
		for i, s := range r.Scopes {
			k.Scopes[i] = references.Scope(s)
		}
	}
	return k
}

// auditRecord is one entry of an account's audit log, in the audit bucket.
type auditRecord struct {
	Sequence uint64                 `json:"sequence"`
	At       time.Time              `json:"at"`
	Actor    string                 `json:"actor"`
	Action   references.AuditAction `json:"action"`
	TargetID string                 `json:"target_id"`
}

func newAuditRecord(e *references.AuditEntry) *auditRecord {
	return &auditRecord{Sequence: e.Sequence, At: e.At, Actor: e.Actor, Action: e.Action, TargetID: e.TargetID}
}

func (r *auditRecord) entry(accountID string) references.AuditEntry {
	return references.AuditEntry{
		Sequence: r.Sequence, AccountID: accountID, At: r.At, Actor: r.Actor, Action: r.Action, TargetID: r.TargetID,
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
// A batch create's key keeps every item's outcome in Batch instead.
type idempotencyRecord struct {
	ReferenceID string         `json:"reference_id"`
	RequestHash string         `json:"request_hash"`
	ExpiresAt   time.Time      `json:"expires_at"`
	Batch       []batchOutcome `json:"batch,omitempty"`
}

// batchOutcome is one item's outcome of a batch create: the reference it created,
// or the error it was refused with.
type batchOutcome struct {
	ReferenceID string `json:"reference_id,omitempty"`
	Code        string `json:"code,omitempty"`
	Field       string `json:"field,omitempty"`
	Message     string `json:"message,omitempty"`
	ConflictID  string `json:"conflict_id,omitempty"`
}
