package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// An endpoint's Messages tab: its message log with a status filter, one message
// with what it carried and every attempt, and resending it.

// messagesPage is the data of messages.html.
type messagesPage struct {
	Endpoint   epView
	Status     string
	Statuses   []epChoice
	Messages   []references.Message
	Cursor     string // of this page; empty on the first
	NextCursor string
	Errors     fieldErrors
}

// msgStatuses are the choices of form#message-filter, named as the API names them.
var msgStatuses = []epChoice{
	{Value: "", Label: "All", Selected: true},
	{Value: string(references.MessagePending), Label: "Pending (not tried yet)"},
	{Value: string(references.MessageSending), Label: "Sending (failed, to be retried)"},
	{Value: string(references.MessageSucceeded), Label: "Succeeded"},
	{Value: string(references.MessageFailed), Label: "Failed (given up)"},
}

// messages is GET /ui/webhooks/:id/messages?status=&cursor=, newest first.
func (s *Server) messages(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	status := c.QueryParam("status")
	data := messagesPage{Endpoint: epView{ep}, Status: status, Statuses: epSelect(msgStatuses, status), Cursor: c.QueryParam("cursor")}
	page, err := s.svc.Messages(ctx, acct, ep.ID, references.MessageQuery{
		Status: references.MessageStatus(status), Cursor: data.Cursor,
	})
	if err != nil {
		errs, ok := epServiceErrors(err)
		if !ok {
			return s.errorPage(c, err)
		}
		data.Errors = epMessages(errs, "status", "cursor")
		return s.render(c, http.StatusUnprocessableEntity, "messages.html", "Messages", "webhooks", data)
	}
	data.Messages, data.NextCursor = page.Messages, page.NextCursor
	return s.render(c, http.StatusOK, "messages.html", "Messages", "webhooks", data)
}

// messagePage is the data of message.html.
type messagePage struct {
	Endpoint epView
	Message  references.Message
	// Body is what the message carries as its POST body, indented; empty when
	// retention removed it. BodyNote says how it was sent when not alone.
	Body     string
	BodyNote string
	Headers  []msgHeader
	Attempts []epAttempt // oldest first
}

// msgHeader is one header a delivery of the message carries.
type msgHeader struct {
	Name, Value string
}

// message is GET /ui/webhooks/:id/messages/:message_id.
func (s *Server) message(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	m, body, err := s.svc.Message(ctx, acct, ep.ID, c.Param("message_id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	data := messagePage{Endpoint: epView{ep}, Message: m, Headers: msgHeaders(ep, m)}
	for _, a := range m.Attempts {
		data.Attempts = append(data.Attempts, epAttempt{a})
	}
	raw, err := msgBody(body)
	if err != nil {
		return s.errorPage(c, err)
	}
	if raw != nil {
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			return s.errorPage(c, err)
		}
		data.Body = out.String()
	}
	if m.BatchID != "" {
		data.BodyNote = "This message went out in the batch " + m.BatchID +
			": the POST's body was {\"type\":\"batch\",\"data\":[...]} with this update among the reference's next ones."
	}
	return s.render(c, http.StatusOK, "message.html", "Message "+m.ID, "webhooks", data)
}

// msgBody is the message's body as the encoders that deliver it write it; nil when
// retention removed what the message carried.
func msgBody(b references.MessageBody) ([]byte, error) {
	switch {
	case b.Update != nil:
		return webhook.Encode(*b.Update)
	case b.Event != nil:
		return webhook.EncodeEvent(*b.Event)
	}
	return nil, nil
}

// msgHeaders are the headers a delivery of m carries, as the notifier sets them.
// They are not stored: webhook-timestamp is the newest attempt's, and the signature
// is shown as its form only, since it depends on the secrets live at each attempt.
// The signature is no secret, but it is of no use to read either.
func msgHeaders(ep references.Endpoint, m references.Message) []msgHeader {
	id := m.ID
	if m.BatchID != "" {
		id = m.BatchID
	}
	ts := "the time of each attempt, in Unix seconds"
	if a := m.LastAttempt(); a != nil {
		ts = strconv.FormatInt(a.At.Unix(), 10) + " (the newest attempt)"
	}
	sig := "v1,<base64 HMAC-SHA256 of webhook-id.webhook-timestamp.body> for each secret live at the attempt, separated by spaces"
	hs := []msgHeader{
		{"content-type", "application/json"},
		{webhook.HeaderID, id},
		{webhook.HeaderTimestamp, ts},
		{webhook.HeaderSignature, sig},
	}
	if ep.Headers == references.HeadersSvix {
		hs = append(hs, msgHeader{webhook.HeaderSvixID, id}, msgHeader{webhook.HeaderSvixTimestamp, ts}, msgHeader{webhook.HeaderSvixSignature, "as webhook-signature"})
	}
	return hs
}

// messagePath is the page of a message.
func messagePath(endpointID, messageID string) string {
	return endpointsPath(endpointID) + "/messages/" + url.PathEscape(messageID)
}

// resendMessage is POST /ui/webhooks/:id/messages/:message_id/resend, after a
// confirmation: the message is queued to be sent once more now.
func (s *Server) resendMessage(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	m, _, err := s.svc.Message(ctx, acct, ep.ID, c.Param("message_id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	back := messagePath(ep.ID, m.ID)
	if !confirmed(c) {
		return s.confirm(c, "Send the message "+m.ID+" ("+m.EventType+") to "+ep.URL+" once more, now? Receivers see the same webhook-id again.", back)
	}
	if err := s.svc.ResendMessage(ctx, acct, ep.ID, m.ID); err != nil {
		return s.errorPage(c, err)
	}
	return s.redirectNotice(c, back, "Message queued to be sent again.")
}

// StatusClass colours a message status (for the templates).
func (p messagesPage) StatusClass(st references.MessageStatus) string { return msgStatusClass(st) }

// StatusClass colours the message's status.
func (p messagePage) StatusClass() string { return msgStatusClass(p.Message.Status) }

func msgStatusClass(st references.MessageStatus) string {
	switch st {
	case references.MessageSucceeded:
		return "ok"
	case references.MessageFailed:
		return "bad"
	case references.MessageSending:
		return "warn"
	}
	return "muted"
}

// Filtered reports whether the list is filtered by status.
func (p messagesPage) Filtered() bool {
	return p.Status != "" && slices.Contains(references.MessageStatuses, references.MessageStatus(p.Status))
}
