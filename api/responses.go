package api

import (
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Reference is a tracked reference as the API returns it (create, get, list, patch,
// delete). Exactly one of ContainerID, BillOfLading and BookingNumber is set.
type Reference struct {
	ID              string            `json:"id"`
	AccountID       string            `json:"account_id"`
	ContainerID     string            `json:"container_id,omitempty"`
	BillOfLading    string            `json:"bill_of_lading,omitempty"`
	BookingNumber   string            `json:"booking_number,omitempty"`
	CarrierCode     string            `json:"carrier_code"`
	CarrierDetected bool              `json:"carrier_detected,omitempty"` // carrier_code was detected, not given
	CallbackURL     string            `json:"callback_url,omitempty"`
	EventTypes      []string          `json:"event_types,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	PollInterval    Duration          `json:"poll_interval,omitempty"`

	Status            references.Status            `json:"status"`
	UnsubscribeReason references.UnsubscribeReason `json:"unsubscribe_reason,omitempty"`
	UnsubscribedAt    *time.Time                   `json:"unsubscribed_at,omitempty"`
	CreatedAt         time.Time                    `json:"created_at"`
	UpdatedAt         time.Time                    `json:"updated_at"`

	LastPolledAt        *time.Time `json:"last_polled_at,omitempty"`
	NextPollAt          *time.Time `json:"next_poll_at,omitempty"`
	LastPollError       string     `json:"last_poll_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures,omitempty"`
	NotFoundSince       *time.Time `json:"not_found_since,omitempty"`

	// LastSequence is the sequence of the newest update in the feed;
	// DeliveredSequence that of the newest one delivered or given up on.
	LastSequence      uint64                   `json:"last_sequence"`
	DeliveredSequence uint64                   `json:"delivered_sequence,omitempty"`
	DeliveryState     references.DeliveryState `json:"delivery_state,omitempty"`
	FailingSince      *time.Time               `json:"failing_since,omitempty"`

	// PausedAt is set while the reference is paused; LastRefreshAt is the last
	// refresh asked for (POST /references/:id/refresh).
	PausedAt      *time.Time `json:"paused_at,omitempty"`
	LastRefreshAt *time.Time `json:"last_refresh_at,omitempty"`

	Push *PushSubscription `json:"push,omitempty"`
}

// PushSubscription is a reference's subscription at its carrier's push API, without
// its secrets.
type PushSubscription struct {
	Source     string     `json:"source"`
	ID         string     `json:"subscription_id"`
	CreatedAt  time.Time  `json:"created_at"`
	RotatedAt  time.Time  `json:"rotated_at"`
	CheckedAt  time.Time  `json:"checked_at"`
	LastPushAt *time.Time `json:"last_push_at,omitempty"`
}

// newPushSubscription returns the wire form of p, nil for none.
func newPushSubscription(p *references.PushSubscription) *PushSubscription {
	if p == nil {
		return nil
	}
	return &PushSubscription{
		Source: p.Source, ID: p.ID, CreatedAt: p.CreatedAt, RotatedAt: p.RotatedAt,
		CheckedAt: p.CheckedAt, LastPushAt: p.LastPushAt,
	}
}

// newReference returns the wire form of r. It shares r's slices and maps.
func newReference(r references.Reference) Reference {
	return Reference{
		ID:                  r.ID,
		AccountID:           r.AccountID,
		ContainerID:         r.ContainerID,
		BillOfLading:        r.BillOfLading,
		BookingNumber:       r.BookingNumber,
		CarrierCode:         r.CarrierCode,
		CarrierDetected:     r.CarrierDetected,
		CallbackURL:         r.CallbackURL,
		EventTypes:          r.EventTypes,
		Metadata:            r.Metadata,
		PollInterval:        Duration(r.PollInterval),
		Status:              r.Status,
		UnsubscribeReason:   r.UnsubscribeReason,
		UnsubscribedAt:      r.UnsubscribedAt,
		CreatedAt:           r.CreatedAt,
		UpdatedAt:           r.UpdatedAt,
		LastPolledAt:        r.LastPolledAt,
		NextPollAt:          r.NextPollAt,
		LastPollError:       r.LastPollError,
		ConsecutiveFailures: r.ConsecutiveFailures,
		NotFoundSince:       r.NotFoundSince,
		LastSequence:        r.LastSequence,
		DeliveredSequence:   r.DeliveredSequence,
		DeliveryState:       r.DeliveryState,
		FailingSince:        r.FailingSince,
		PausedAt:            r.PausedAt,
		LastRefreshAt:       r.LastRefreshAt,
		Push:                newPushSubscription(r.Push),
	}
}

// ReferencePage is the answer of GET /references: references in creation order.
type ReferencePage struct {
	References []Reference `json:"references"`
	// NextCursor, passed as ?cursor=, gives the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func newReferencePage(p references.ReferencePage) ReferencePage {
	out := ReferencePage{References: make([]Reference, len(p.References)), NextCursor: p.NextCursor}
	for i, r := range p.References {
		out.References[i] = newReference(r)
	}
	return out
}

// UpdatePage is the answer of GET /references/:id/updates, the pull feed. Each update
// is what a webhook carries as its data.
type UpdatePage struct {
	Updates []webhook.Update `json:"updates"`
	// NextAfter, passed as ?after=, continues the feed.
	NextAfter uint64 `json:"next_after"`
}

func newUpdatePage(p references.UpdatePage) UpdatePage {
	out := UpdatePage{Updates: webhook.NewUpdates(p.Updates), NextAfter: p.NextAfter}
	if out.Updates == nil {
		out.Updates = []webhook.Update{}
	}
	return out
}

// DeliveryAttempt is one POST of an update to a callback URL, as the delivery log
// shows it.
type DeliveryAttempt struct {
	ReferenceID string `json:"reference_id"`
	UpdateID    string `json:"update_id"`
	// Sequence is the update's sequence; Attempt is 1 for the first try of it.
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
	// Redelivery is set on an attempt asked for with POST .../redeliver.
	Redelivery bool `json:"redelivery,omitempty"`
}

func newDeliveryAttempt(a references.DeliveryAttempt) DeliveryAttempt {
	return DeliveryAttempt{
		ReferenceID:  a.ReferenceID,
		UpdateID:     a.UpdateID,
		Sequence:     a.Sequence,
		Attempt:      a.Attempt,
		URL:          a.URL,
		At:           a.At,
		StatusCode:   a.StatusCode,
		Error:        a.Error,
		LatencyMS:    a.LatencyMS,
		ResponseBody: a.ResponseBody,
		Outcome:      a.Outcome,
		NextRetryAt:  a.NextRetryAt,
		Redelivery:   a.Redelivery,
	}
}

// DeliveryPage is the answer of GET /references/:id/deliveries, newest first.
type DeliveryPage struct {
	Deliveries []DeliveryAttempt `json:"deliveries"`
	// NextCursor, passed as ?cursor=, gives older attempts; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func newDeliveryPage(p references.DeliveryPage) DeliveryPage {
	out := DeliveryPage{Deliveries: make([]DeliveryAttempt, len(p.Deliveries)), NextCursor: p.NextCursor}
	for i, a := range p.Deliveries {
		out.Deliveries[i] = newDeliveryAttempt(a)
	}
	return out
}

// WebhookSecret is a signing secret as the webhook-secret routes show it. ExpiresAt is
// set on an old secret that still signs during a rotation's grace period.
type WebhookSecret struct {
	Secret    string     `json:"secret"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}
