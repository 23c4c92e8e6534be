package api

import (
	"time"

	"github.com/trackhook/trackhook/references"
)

// Endpoint is an account webhook endpoint as the API returns it. Its secrets are
// never in it: SecretHint shows the end of the newest, to recognise it; GET
// /endpoints/:id/secret gives them.
type Endpoint struct {
	ID             string                    `json:"id"`
	AccountID      string                    `json:"account_id"`
	URL            string                    `json:"url"`
	Description    string                    `json:"description"`
	EventTypes     []string                  `json:"event_types"` // empty: every update type
	MinETAChange   Duration                  `json:"min_eta_change"`
	Filter         EndpointFilter            `json:"filter"`
	Format         references.DeliveryFormat `json:"format"`
	BatchSize      int                       `json:"batch_size,omitempty"` // with format batch
	Headers        references.HeaderStyle    `json:"headers"`
	MaxAttempts    int                       `json:"max_attempts"` // 0: the retry window decides
	RetryWindow    Duration                  `json:"retry_window"` // 0s: the server's window
	DisableAfter   Duration                  `json:"disable_after"`
	Enabled        bool                      `json:"enabled"`
	DisabledReason references.DisabledReason `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time                `json:"disabled_at,omitempty"`
	FailingSince   *time.Time                `json:"failing_since,omitempty"`
	SecretHint     string                    `json:"secret_hint"`
	CreatedAt      time.Time                 `json:"created_at"`
	UpdatedAt      time.Time                 `json:"updated_at"`
}

// EndpointFilter restricts an endpoint to some references; empty parts restrict
// nothing.
type EndpointFilter struct {
	CarrierCodes []string          `json:"carrier_codes"`
	Metadata     map[string]string `json:"metadata"`
}

// newEndpoint returns the wire form of ep at now (which decides the newest live
// secret). It shares ep's slices and maps.
func newEndpoint(ep references.Endpoint, now time.Time) Endpoint {
	out := Endpoint{
		ID:             ep.ID,
		AccountID:      ep.AccountID,
		URL:            ep.URL,
		Description:    ep.Description,
		EventTypes:     ep.EventTypes,
		MinETAChange:   Duration(ep.MinETAChange),
		Filter:         EndpointFilter{CarrierCodes: ep.Filter.CarrierCodes, Metadata: ep.Filter.Metadata},
		Format:         ep.Format,
		BatchSize:      ep.BatchSize,
		Headers:        ep.Headers,
		MaxAttempts:    ep.MaxAttempts,
		RetryWindow:    Duration(ep.RetryWindow),
		DisableAfter:   Duration(ep.DisableAfter),
		Enabled:        ep.Enabled,
		DisabledReason: ep.DisabledReason,
		DisabledAt:     ep.DisabledAt,
		FailingSince:   ep.FailingSince,
		CreatedAt:      ep.CreatedAt,
		UpdatedAt:      ep.UpdatedAt,
	}
	// Empty lists and maps are written as [] and {}: a receiver of the JSON need not
	// tell null from empty.
	if out.EventTypes == nil {
		out.EventTypes = []string{}
	}
	if out.Filter.CarrierCodes == nil {
		out.Filter.CarrierCodes = []string{}
	}
	if out.Filter.Metadata == nil {
		out.Filter.Metadata = map[string]string{}
	}
	if live := ep.Live(now); len(live) > 0 {
		out.SecretHint = secretHint(live[0].Secret)
	}
	return out
}

// secretHintTail is how many characters of a secret its hint shows: enough to tell
// two apart, far too few to guess the rest (a secret has 44 base64 characters).
const secretHintTail = 4

// secretHint masks a secret to its "whsec_" prefix and last characters, as consoles
// show one: "whsec_…abcd".
func secretHint(secret string) string {
	if len(secret) <= len("whsec_")+secretHintTail {
		return "whsec_…" // not a real secret; show nothing of it
	}
	return "whsec_…" + secret[len(secret)-secretHintTail:]
}

// EndpointPage is the answer of GET /endpoints: endpoints in creation order.
type EndpointPage struct {
	Endpoints []Endpoint `json:"endpoints"`
	// NextCursor, passed as ?cursor=, gives the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func newEndpointPage(p references.EndpointPage, now time.Time) EndpointPage {
	out := EndpointPage{Endpoints: make([]Endpoint, len(p.Endpoints)), NextCursor: p.NextCursor}
	for i, ep := range p.Endpoints {
		out.Endpoints[i] = newEndpoint(ep, now)
	}
	return out
}

// secretsOf returns the answer of a secret route for the live secrets, newest first.
func secretsOf(live []references.WebhookSecret) secretsBody {
	body := secretsBody{Secrets: []WebhookSecret{}}
	for _, s := range live {
		body.Secrets = append(body.Secrets, WebhookSecret{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	if len(body.Secrets) > 0 {
		body.Secret = body.Secrets[0].Secret
	}
	return body
}
