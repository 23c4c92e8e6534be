package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// The routes of an endpoint's deliveries: its messages, resends, recovery, a test
// send and its stats.

// listMessages is GET /endpoints/:id/messages?status=&after=&before=&limit=&cursor=,
// newest first.
func (s *server) listMessages(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	q := references.MessageQuery{Status: references.MessageStatus(c.QueryParam("status")), Cursor: c.QueryParam("cursor")}
	if q.After, err = queryTime(c, "after"); err != nil {
		return err
	}
	if q.Before, err = queryTime(c, "before"); err != nil {
		return err
	}
	if q.Limit, err = queryLimit(c); err != nil {
		return err
	}
	page, err := s.svc.Messages(c.Request().Context(), apiKey(c).AccountID, id, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newMessagePage(page))
}

// queryTime reads an RFC 3339 time from the query; nil when it is absent.
func queryTime(c echo.Context, name string) (*time.Time, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return nil, references.Invalidf(name, "must be an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	return &t, nil
}

// getMessage is GET /endpoints/:id/messages/:message_id.
func (s *server) getMessage(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	messageID, err := pathID(c, "message_id", "message")
	if err != nil {
		return err
	}
	m, body, err := s.svc.Message(c.Request().Context(), apiKey(c).AccountID, id, messageID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newMessageDetail(m, body))
}

// resendMessage is POST /endpoints/:id/messages/:message_id/resend.
func (s *server) resendMessage(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	messageID, err := pathID(c, "message_id", "message")
	if err != nil {
		return err
	}
	if err := s.svc.ResendMessage(c.Request().Context(), apiKey(c).AccountID, id, messageID); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, queuedBody{Status: "queued"})
}

// recoverMessages is POST /endpoints/:id/recover with {"since": RFC 3339}.
func (s *server) recoverMessages(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	var body recoverBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	since, err := body.since()
	if err != nil {
		return err
	}
	n, err := s.svc.RecoverMessages(c.Request().Context(), apiKey(c).AccountID, id, since)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, recoverAnswer{Queued: n})
}

// testEndpoint is POST /endpoints/:id/test: an endpoint.test event is sent now and
// the receiver's answer returned, whatever it was (the request itself succeeded).
func (s *server) testEndpoint(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	a, err := s.svc.TestEndpoint(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newTestResult(a))
}

// endpointStats is GET /endpoints/:id/stats.
func (s *server) endpointStats(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	st, err := s.svc.EndpointStats(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newEndpointStats(st))
}
