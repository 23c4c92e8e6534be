package api

import (
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// messageHead is what a message shows in a list and on its own: one update (or
// operational event) queued for one endpoint, and where its delivery stands.
type messageHead struct {
	// ID is the update's (or operational event's) id, the webhook-id of a standard
	// delivery.
	ID string `json:"id"`
	// ReferenceID is empty for an operational event.
	ReferenceID string `json:"reference_id,omitempty"`
	// Sequence is the update's in its reference's feed, or the event's in the
	// account's operational feed.
	Sequence      uint64                    `json:"sequence"`
	EventType     string                    `json:"event_type"`
	Tags          []string                  `json:"tags"`
	CreatedAt     time.Time                 `json:"created_at"`
	Status        references.MessageStatus  `json:"status"`
	FailReason    references.AttemptOutcome `json:"fail_reason,omitempty"`
	NextAttemptAt *time.Time                `json:"next_attempt_at,omitempty"`
	// BatchID is set once the message went out in a batch: the batch's webhook-id.
	BatchID string `json:"batch_id,omitempty"`
}

func newMessageHead(m *references.Message) messageHead {
	h := messageHead{
		ID:            m.ID,
		ReferenceID:   m.ReferenceID,
		Sequence:      m.Sequence,
		EventType:     m.EventType,
		Tags:          m.Tags,
		CreatedAt:     m.CreatedAt,
		Status:        m.Status,
		FailReason:    m.FailReason,
		NextAttemptAt: m.NextAttemptAt,
		BatchID:       m.BatchID,
	}
	if h.Tags == nil {
		h.Tags = []string{}
	}
	return h
}

// Message is one message as GET /endpoints/:id/messages lists it: with the number of
// attempts and the last one's answer.
type Message struct {
	messageHead
	Attempts    int             `json:"attempts"`
	LastAttempt *AttemptSummary `json:"last_attempt"` // null before the first attempt
}

// AttemptSummary is the receiver's answer to an attempt, as a list of messages shows
// it.
type AttemptSummary struct {
	At         time.Time                 `json:"at"`
	StatusCode int                       `json:"status_code,omitempty"` // absent when there was no answer
	LatencyMS  int64                     `json:"latency_ms"`
	Error      string                    `json:"error,omitempty"`
	Outcome    references.AttemptOutcome `json:"outcome"`
}

func newMessage(m *references.Message) Message {
	out := Message{messageHead: newMessageHead(m), Attempts: len(m.Attempts)}
	if a := m.LastAttempt(); a != nil {
		out.LastAttempt = &AttemptSummary{At: a.At, StatusCode: a.StatusCode, LatencyMS: a.LatencyMS, Error: a.Error, Outcome: a.Outcome}
	}
	return out
}

// MessagePage is the answer of GET /endpoints/:id/messages, newest first.
type MessagePage struct {
	Messages []Message `json:"messages"`
	// NextCursor, passed as ?cursor=, gives older messages; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func newMessagePage(p references.MessagePage) MessagePage {
	out := MessagePage{Messages: make([]Message, len(p.Messages)), NextCursor: p.NextCursor}
	for i := range p.Messages {
		out.Messages[i] = newMessage(&p.Messages[i])
	}
	return out
}

// MessageDetail is the answer of GET /endpoints/:id/messages/:message_id: the message
// with every attempt and what it carries.
type MessageDetail struct {
	messageHead
	Attempts []MessageAttempt `json:"attempts"` // oldest first
	// Payload is the update in its webhook wire form, or the operational event as
	// the endpoint receives it; absent when retention removed the update from the
	// feed.
	Payload any `json:"payload,omitempty"`
}

// MessageAttempt is one POST of a message to its endpoint.
type MessageAttempt struct {
	Attempt      int                       `json:"attempt"`
	URL          string                    `json:"url"`
	At           time.Time                 `json:"at"`
	StatusCode   int                       `json:"status_code,omitempty"`
	Error        string                    `json:"error,omitempty"`
	LatencyMS    int64                     `json:"latency_ms"`
	ResponseBody string                    `json:"response_body,omitempty"`
	Outcome      references.AttemptOutcome `json:"outcome"`
	NextRetryAt  *time.Time                `json:"next_retry_at,omitempty"`
	// Redelivery is set on an attempt asked for with .../resend or .../recover.
	Redelivery bool `json:"resend,omitempty"`
	// Disable says why this attempt disabled the endpoint, when it did.
	Disable references.DisabledReason `json:"disabled_reason,omitempty"`
}

func newMessageDetail(m references.Message, body references.MessageBody) MessageDetail {
	out := MessageDetail{messageHead: newMessageHead(&m), Attempts: make([]MessageAttempt, len(m.Attempts))}
	for i, a := range m.Attempts {
		out.Attempts[i] = MessageAttempt{
			Attempt: a.Attempt, URL: a.URL, At: a.At, StatusCode: a.StatusCode, Error: a.Error,
			LatencyMS: a.LatencyMS, ResponseBody: a.ResponseBody, Outcome: a.Outcome,
			NextRetryAt: a.NextRetryAt, Redelivery: a.Redelivery, Disable: a.Disable,
		}
	}
	switch {
	case body.Update != nil:
		out.Payload = webhook.NewUpdate(*body.Update)
	case body.Event != nil:
		out.Payload = webhook.NewOperationalEvent(*body.Event)
	}
	return out
}

// TestResult is the answer of POST /endpoints/:id/test: what the receiver said to
// an endpoint.test event.
type TestResult struct {
	StatusCode   int                       `json:"status_code,omitempty"` // absent when there was no answer
	LatencyMS    int64                     `json:"latency_ms"`
	ResponseBody string                    `json:"response_body,omitempty"`
	Error        string                    `json:"error,omitempty"`
	Outcome      references.AttemptOutcome `json:"outcome"`
	// Disable is set when the answer would disable the endpoint (410, or the header
	// webhook-delivery: disable); a test applies nothing.
	Disable references.DisabledReason `json:"disabled_reason,omitempty"`
}

func newTestResult(a references.DeliveryAttempt) TestResult {
	return TestResult{
		StatusCode: a.StatusCode, LatencyMS: a.LatencyMS, ResponseBody: a.ResponseBody, Error: a.Error,
		Outcome: a.Outcome, Disable: a.Disable,
	}
}

// EndpointStats is the answer of GET /endpoints/:id/stats: the endpoint's messages
// created since Since (24 hours ago) by status, and their attempts' latencies.
type EndpointStats struct {
	Since time.Time `json:"since"`
	// Counts has every status, 0 included.
	Counts       map[references.MessageStatus]int `json:"counts"`
	SuccessRate  float64                          `json:"success_rate"`
	LatencyP50MS int64                            `json:"latency_p50_ms"`
	LatencyP99MS int64                            `json:"latency_p99_ms"`
	Attempts     int                              `json:"attempts"`
}

func newEndpointStats(st references.EndpointStats) EndpointStats {
	out := EndpointStats{
		Since: st.Since, Counts: map[references.MessageStatus]int{}, SuccessRate: st.SuccessRate,
		LatencyP50MS: st.LatencyP50MS, LatencyP99MS: st.LatencyP99MS, Attempts: st.Attempts,
	}
	for _, status := range references.MessageStatuses {
		out.Counts[status] = st.Counts[status]
	}
	return out
}

// recoverAnswer is the answer of POST /endpoints/:id/recover.
type recoverAnswer struct {
	Queued int `json:"queued"` // failed messages queued for one more attempt
}
