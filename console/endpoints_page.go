package console

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// endpointPage is the data of endpoint.html: the endpoint, its last 24 hours, its
// live secrets (masked) and what an action on the page just did.
type endpointPage struct {
	epView
	Stats epStats
	Live  []references.WebhookSecret // newest first
	// Revealed are the live secrets in full, newest first, after
	// button#reveal-secret.
	Revealed []references.WebhookSecret
	// Test is the receiver's answer to button#send-test.
	Test *epAttempt
	// Chart is deliveries per hour by outcome (see deliveriesChart), ChartNote what
	// it covers when that is not all of the last 24 hours.
	Chart     template.HTML
	ChartNote string
	Graces    []epChoice
	Recover   epRecoverForm
	Errors    fieldErrors
}

// epChoice is an option of a select.
type epChoice struct {
	Value, Label string
	Selected     bool
}

// epGraces are the choices of form#rotate-secret: how long the previous secret keeps
// signing (grace_seconds of the API).
var epGraces = []epChoice{
	{Value: "0", Label: "No grace: replace it at once"},
	{Value: "3600", Label: "1 hour"},
	{Value: strconv.Itoa(int(references.DefaultRotationGrace.Seconds())), Label: "1 day", Selected: true},
	{Value: "604800", Label: "7 days"},
}

// epRecoverForm is form#recover as typed.
type epRecoverForm struct {
	Ago   string // since_ago: one of epRecoverAgo
	Since string // since: a datetime-local, UTC, which wins over Ago
}

// epRecoverAgo are the choices of form#recover.
var epRecoverAgo = []epChoice{
	{Value: "1h", Label: "1 hour ago"},
	{Value: "6h", Label: "6 hours ago"},
	{Value: "24h", Label: "24 hours ago", Selected: true},
	{Value: "7d", Label: "7 days ago"},
}

// RecoverChoices are epRecoverAgo with the typed one selected.
func (p endpointPage) RecoverChoices() []epChoice {
	return epSelect(epRecoverAgo, p.Recover.Ago)
}

// epSelect returns choices with value selected, or the default when value is none
// of them.
func epSelect(choices []epChoice, value string) []epChoice {
	out := make([]epChoice, len(choices))
	found := false
	for i, ch := range choices {
		out[i] = ch
		out[i].Selected = ch.Value == value
		found = found || out[i].Selected
	}
	if !found {
		copy(out, choices)
	}
	return out
}

// NewestMasked is the secret that signs now, masked to its last characters.
func (p endpointPage) NewestMasked() string {
	if len(p.Live) == 0 {
		return noValue
	}
	return mask(p.Live[0].Secret)
}

// renderEndpoint renders the endpoint's page at status; with sets what an action
// adds to it.
func (s *Server) renderEndpoint(c echo.Context, status int, ep references.Endpoint, with func(*endpointPage)) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	now := s.opts.Now()
	st, err := s.svc.EndpointStats(ctx, acct, ep.ID)
	if err != nil {
		return s.errorPage(c, err)
	}
	data := endpointPage{epView: epView{ep}, Stats: epStats{st}, Live: ep.Live(now), Graces: epGraces, Recover: epRecoverForm{Ago: "24h"}}
	data.Chart, data.ChartNote, err = s.deliveriesChart(ctx, acct, ep.ID, now)
	if err != nil {
		return s.errorPage(c, err)
	}
	if with != nil {
		with(&data)
	}
	data.Errors = epMessages(data.Errors, "since", "grace_seconds")
	return s.render(c, status, "endpoint.html", ep.URL, "webhooks", data)
}

// endpoint is GET /ui/webhooks/:id.
func (s *Server) endpoint(c echo.Context) error {
	ep, err := s.svc.GetEndpoint(c.Request().Context(), viewerOf(c).AccountID(), c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	return s.renderEndpoint(c, http.StatusOK, ep, nil)
}

// testEndpoint is POST /ui/webhooks/:id/test: an endpoint.test event is sent now and
// the page shows the receiver's answer (nothing is recorded, as with the API).
func (s *Server) testEndpoint(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	a, err := s.svc.TestEndpoint(ctx, acct, ep.ID)
	if err != nil {
		return s.errorPage(c, err)
	}
	return s.renderEndpoint(c, http.StatusOK, ep, func(p *endpointPage) { p.Test = &epAttempt{a} })
}

// recoverMessages is POST /ui/webhooks/:id/recover: every failed message created
// since the time chosen is queued to be sent once more; the count is the notice.
func (s *Server) recoverMessages(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	f := epRecoverForm{Ago: c.FormValue("since_ago"), Since: strings.TrimSpace(c.FormValue("since"))}
	since, msg := f.since(s.opts.Now())
	if msg == "" {
		n, err := s.svc.RecoverMessages(ctx, acct, ep.ID, since)
		if err == nil {
			notice := plural(n, "failed message", "failed messages") + " since " + since.UTC().Format(whenLayout) + " queued to be sent again."
			return s.redirectNotice(c, endpointsPath(ep.ID), notice)
		}
		errs, ok := epServiceErrors(err)
		if !ok {
			return s.errorPage(c, err)
		}
		msg = errs["since"] + errs[""]
	}
	return s.renderEndpoint(c, http.StatusUnprocessableEntity, ep, func(p *endpointPage) {
		p.Recover, p.Errors = f, fieldErrors{"since": msg}
	})
}

// epDatetimeLocal are the layouts of an input type=datetime-local (with and
// without seconds).
var epDatetimeLocal = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// since returns the time the form asks for, or why it cannot be read.
func (f epRecoverForm) since(now time.Time) (time.Time, string) {
	if f.Since != "" {
		for _, layout := range epDatetimeLocal {
			if t, err := time.ParseInLocation(layout, f.Since, time.UTC); err == nil {
				return t, ""
			}
		}
		return time.Time{}, "must be a date and time such as 2026-03-01T12:00 (UTC)"
	}
	for _, ch := range epRecoverAgo {
		if ch.Value == f.Ago {
			d, _ := epParseDuration(ch.Value)
			return now.Add(-d), ""
		}
	}
	return time.Time{}, "choose how far back to go"
}
