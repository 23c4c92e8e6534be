package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// AccountEvent is one entry of an account's operational feed: something that happened
// to its delivery (an endpoint disabled, a message given up).
type AccountEvent struct {
	ID          string    `json:"id"`
	Sequence    uint64    `json:"sequence"` // 1, 2, 3 ... per account
	Type        string    `json:"type"`
	CreatedAt   time.Time `json:"created_at"`
	EndpointID  string    `json:"endpoint_id"`
	EndpointURL string    `json:"endpoint_url"`
	// On endpoint.disabled.
	DisabledReason references.DisabledReason `json:"disabled_reason,omitempty"`
	// On message.attempt.exhausted: the message given up and its last attempt.
	MessageID      string `json:"message_id,omitempty"`
	ReferenceID    string `json:"reference_id,omitempty"`
	Attempts       int    `json:"attempts,omitempty"`
	LastStatusCode int    `json:"last_status_code,omitempty"`
	LastError      string `json:"last_error,omitempty"`
}

func newAccountEvent(e references.AccountEvent) AccountEvent {
	return AccountEvent{
		ID: e.ID, Sequence: e.Sequence, Type: e.Type, CreatedAt: e.CreatedAt,
		EndpointID: e.EndpointID, EndpointURL: e.EndpointURL, DisabledReason: e.DisabledReason,
		MessageID: e.MessageID, ReferenceID: e.ReferenceID, Attempts: e.Attempts,
		LastStatusCode: e.LastStatusCode, LastError: e.LastError,
	}
}

// AccountEventPage is the answer of GET /account/events, in sequence order.
type AccountEventPage struct {
	Events []AccountEvent `json:"events"`
	// NextAfter, passed as ?after=, continues the feed.
	NextAfter uint64 `json:"next_after"`
}

// listAccountEvents is GET /account/events?after=&limit=, the operational feed.
func (s *server) listAccountEvents(c echo.Context) error {
	var after uint64
	if raw := c.QueryParam("after"); raw != "" {
		var err error
		if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return references.Invalidf("after", "must be the sequence number of an event (an integer of 0 or more)")
		}
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.svc.AccountEvents(c.Request().Context(), apiKey(c).AccountID, after, limit)
	if err != nil {
		return err
	}
	out := AccountEventPage{Events: make([]AccountEvent, len(page.Events)), NextAfter: page.NextAfter}
	for i, e := range page.Events {
		out.Events[i] = newAccountEvent(e)
	}
	return c.JSON(http.StatusOK, out)
}
