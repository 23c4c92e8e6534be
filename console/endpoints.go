package console

// The webhooks pages: the account's endpoints, the add/edit form, an endpoint's
// page with its secret, test, recovery and chart (endpoint_page.go), and its
// messages (messages.go). Every handler works on the viewer's account only: another
// account's endpoint is not found, as the Service answers.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// endpointsPath is where an endpoint's pages live.
func endpointsPath(id string) string { return Prefix + "/webhooks/" + url.PathEscape(id) }

// epRow is one endpoint of the list, with its last 24 hours.
type epRow struct {
	epView
	Stats epStats
}

// endpointsPage is the data of endpoints.html.
type endpointsPage struct {
	Endpoints  []epRow
	Cursor     string // of this page; empty on the first
	NextCursor string
}

// endpoints is GET /ui/webhooks: the account's endpoints with their state and the
// success rate and latency of the last 24 hours (one EndpointStats each; an account
// has at most MaxEndpointsPerAccount, which fit on one page).
func (s *Server) endpoints(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	page, err := s.svc.ListEndpoints(ctx, acct, references.ListQuery{Cursor: c.QueryParam("cursor")})
	if err != nil {
		return s.errorPage(c, err)
	}
	data := endpointsPage{Cursor: c.QueryParam("cursor"), NextCursor: page.NextCursor}
	for _, ep := range page.Endpoints {
		st, err := s.svc.EndpointStats(ctx, acct, ep.ID)
		if err != nil {
			return s.errorPage(c, err)
		}
		data.Endpoints = append(data.Endpoints, epRow{epView: epView{ep}, Stats: epStats{st}})
	}
	return s.render(c, http.StatusOK, "endpoints.html", "Webhooks", "webhooks", data)
}

// endpointFormPage is the data of endpoint_form.html.
type endpointFormPage struct {
	Endpoint *epView // nil when adding one
	Form     endpointForm
	Errors   fieldErrors
	Groups   []eventTypeGroup
	Action   string
	Back     string
}

func (s *Server) renderEndpointForm(c echo.Context, status int, ep *references.Endpoint, f endpointForm, errs fieldErrors) error {
	data := endpointFormPage{Form: f, Errors: epMessages(errs, epFormFields...), Groups: eventTypeGroups(), Action: Prefix + "/webhooks", Back: Prefix + "/webhooks"}
	title := "Add an endpoint"
	if ep != nil {
		data.Endpoint = &epView{*ep}
		data.Action, data.Back = endpointsPath(ep.ID), endpointsPath(ep.ID)
		title = "Edit endpoint"
	}
	return s.render(c, status, "endpoint_form.html", title, "webhooks", data)
}

// newEndpointForm is GET /ui/webhooks/new.
func (s *Server) newEndpointForm(c echo.Context) error {
	return s.renderEndpointForm(c, http.StatusOK, nil, newEndpointFormDefaults(), nil)
}

// createEndpoint is POST /ui/webhooks. A new endpoint's page follows (303), where
// its secret can be revealed: the secret is never put in a URL, and showing it in
// the answer to this POST would show it again on every reload of that answer.
func (s *Server) createEndpoint(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return s.errorPage(c, echo.NewHTTPError(http.StatusBadRequest, "the form could not be read"))
	}
	f := readEndpointForm(c, form)
	p, errs := f.patch(true)
	if errs != nil {
		return s.renderEndpointForm(c, http.StatusUnprocessableEntity, nil, f, errs)
	}
	ep, err := s.svc.CreateEndpoint(c.Request().Context(), viewerOf(c).AccountID(), p)
	if err != nil {
		return s.endpointFormError(c, nil, f, err)
	}
	return s.redirectNotice(c, endpointsPath(ep.ID),
		"Endpoint added. Reveal its signing secret below to verify its webhooks.")
}

// endpointFormError renders the form again with the Service's error beside its
// field: 422 for invalid values, 403 at a quota; any other error is an error page.
func (s *Server) endpointFormError(c echo.Context, ep *references.Endpoint, f endpointForm, err error) error {
	errs, ok := epServiceErrors(err)
	if !ok {
		return s.errorPage(c, err)
	}
	status, _ := statusOf(err)
	return s.renderEndpointForm(c, status, ep, f, errs)
}

// editEndpointForm is GET /ui/webhooks/:id/edit.
func (s *Server) editEndpointForm(c echo.Context) error {
	ep, err := s.svc.GetEndpoint(c.Request().Context(), viewerOf(c).AccountID(), c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	return s.renderEndpointForm(c, http.StatusOK, &ep, endpointFormOf(ep), nil)
}

// updateEndpoint is POST /ui/webhooks/:id: the edit form, every setting at once.
func (s *Server) updateEndpoint(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	form, err := c.FormParams()
	if err != nil {
		return s.errorPage(c, echo.NewHTTPError(http.StatusBadRequest, "the form could not be read"))
	}
	f := readEndpointForm(c, form)
	p, errs := f.patch(false)
	if errs != nil {
		return s.renderEndpointForm(c, http.StatusUnprocessableEntity, &ep, f, errs)
	}
	if _, err := s.svc.PatchEndpoint(ctx, acct, ep.ID, p); err != nil {
		return s.endpointFormError(c, &ep, f, err)
	}
	return s.redirectNotice(c, endpointsPath(ep.ID), "Endpoint saved.")
}

// deleteEndpoint is POST /ui/webhooks/:id/delete, after a confirmation.
func (s *Server) deleteEndpoint(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	if !confirmed(c) {
		return s.confirm(c, fmt.Sprintf("Delete the endpoint %s with its message log? Nothing more is sent to it; this cannot be undone.", ep.URL), endpointsPath(ep.ID))
	}
	if err := s.svc.DeleteEndpoint(ctx, acct, ep.ID); err != nil {
		return s.errorPage(c, err)
	}
	return s.redirectNotice(c, Prefix+"/webhooks", "Endpoint "+ep.URL+" deleted.")
}

// epView is an endpoint with the wording its pages show.
type epView struct {
	references.Endpoint
}

// State is "Enabled" or "Disabled" with why, in words.
func (v epView) State() string {
	if v.Enabled {
		return "Enabled"
	}
	return "Disabled: " + v.DisabledWhy()
}

// DisabledWhy says why the endpoint was disabled.
func (v epView) DisabledWhy() string {
	switch v.DisabledReason {
	case references.DisabledByUser:
		return "by a user"
	case references.DisabledGone:
		return "the receiver answered 410 Gone"
	case references.DisabledByReceiver:
		return "the receiver asked for it (webhook-delivery: disable)"
	case references.DisabledFailing:
		return "failing for longer than its policy allows"
	}
	return string(v.DisabledReason)
}

// EventTypesText lists what the endpoint receives.
func (v epView) EventTypesText() string {
	if len(v.EventTypes) == 0 {
		return "every update type"
	}
	return strings.Join(v.EventTypes, ", ")
}

// FilterText says which references the endpoint is restricted to.
func (v epView) FilterText() string {
	var parts []string
	if len(v.Filter.CarrierCodes) > 0 {
		parts = append(parts, "carriers "+strings.Join(v.Filter.CarrierCodes, ", "))
	}
	if len(v.Filter.Metadata) > 0 {
		md := endpointFormOf(v.Endpoint).Metadata
		parts = append(parts, "metadata "+strings.ReplaceAll(md, "\n", ", "))
	}
	if len(parts) == 0 {
		return "every reference"
	}
	return strings.Join(parts, "; ")
}

// FormatText is the delivery format with its batch size.
func (v epView) FormatText() string {
	if v.Format == references.FormatBatch {
		return fmt.Sprintf("batch, up to %d updates per POST", v.BatchSize)
	}
	return "standard, one update per POST"
}

// RetryText is the retry policy in words.
func (v epView) RetryText() string {
	switch {
	case v.MaxAttempts > 0:
		return fmt.Sprintf("up to %d attempts", v.MaxAttempts)
	case v.RetryWindow > 0:
		return "retried for " + dur(v.RetryWindow)
	}
	return "retried for the server's retry window"
}

// epStats is an endpoint's last 24 hours in words.
type epStats struct {
	references.EndpointStats
}

// Finished is how many messages of the period ended, delivered or failed: the
// success rate's base.
func (s epStats) Finished() int {
	return s.Counts[references.MessageSucceeded] + s.Counts[references.MessageFailed]
}

// Total is how many messages the period holds.
func (s epStats) Total() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// SuccessText is the success rate as a percentage, "—" when nothing finished.
func (s epStats) SuccessText() string {
	if s.Finished() == 0 {
		return noValue
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", s.SuccessRate*100), "0"), ".") + " %"
}

// SuccessClass colours the success rate.
func (s epStats) SuccessClass() string {
	switch {
	case s.Finished() == 0:
		return "muted"
	case s.SuccessRate >= 0.99:
		return "ok"
	case s.SuccessRate >= 0.9:
		return "warn"
	}
	return "bad"
}

// P99Text and P50Text are the attempts' latencies, "—" without attempts.
func (s epStats) P99Text() string { return s.latency(s.LatencyP99MS) }

// P50Text is the median attempt latency.
func (s epStats) P50Text() string { return s.latency(s.LatencyP50MS) }

func (s epStats) latency(ms int64) string {
	if s.Attempts == 0 {
		return noValue
	}
	return dur(time.Duration(ms) * time.Millisecond)
}

// Delivered, Failed, Retrying and Pending count the period's messages by status.
func (s epStats) Delivered() int { return s.Counts[references.MessageSucceeded] }

// Failed counts the messages given up.
func (s epStats) Failed() int { return s.Counts[references.MessageFailed] }

// Retrying counts the messages that failed and will be tried again.
func (s epStats) Retrying() int { return s.Counts[references.MessageSending] }

// Pending counts the messages not tried yet.
func (s epStats) Pending() int { return s.Counts[references.MessagePending] }

// epAttempt is a delivery attempt with its latency in words.
type epAttempt struct {
	references.DeliveryAttempt
}

// LatencyText is how long the receiver took to answer.
func (a epAttempt) LatencyText() string {
	return dur(time.Duration(a.LatencyMS) * time.Millisecond)
}
