package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// revealEndpointSecret is POST /ui/webhooks/:id/secret/reveal (write scope): the
// page with the live secrets in full, as GET /endpoints/:id/secret gives them: the
// newest in #secret-value, the previous ones while their grace lasts below it.
// Secrets are only ever in the answer to this POST, never in a URL or a GET page.
func (s *Server) revealEndpointSecret(c echo.Context) error {
	ep, err := s.svc.GetEndpoint(c.Request().Context(), viewerOf(c).AccountID(), c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	live := ep.Live(s.opts.Now())
	if len(live) == 0 {
		return s.errorPage(c, fmt.Errorf("endpoint %s has no live secret", ep.ID))
	}
	return s.renderEndpoint(c, http.StatusOK, ep, func(p *endpointPage) { p.Revealed = live })
}

// rotateEndpointSecret is POST /ui/webhooks/:id/secret/rotate with grace_seconds,
// after a confirmation: a new secret signs from now and the previous one for the
// grace chosen. The page that follows lists the live secrets with their expiries;
// the new one is revealed there with the button, as any time.
func (s *Server) rotateEndpointSecret(c echo.Context) error {
	ctx, acct := c.Request().Context(), viewerOf(c).AccountID()
	ep, err := s.svc.GetEndpoint(ctx, acct, c.Param("id"))
	if err != nil {
		return s.errorPage(c, err)
	}
	raw := strings.TrimSpace(c.FormValue("grace_seconds"))
	secs, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil || secs < 0 || secs > int64(time.Duration(1<<62)/time.Second) {
		return s.renderEndpoint(c, http.StatusUnprocessableEntity, ep, func(p *endpointPage) {
			p.Errors = fieldErrors{"grace_seconds": "choose how long the current secret keeps signing"}
		})
	}
	grace := time.Duration(secs) * time.Second
	if !confirmed(c) {
		q := "Rotate the signing secret of " + ep.URL + "? A new secret signs from now; "
		if grace == 0 {
			q += "the current one stops signing at once, so receivers that have not got the new one will reject webhooks."
		} else {
			q += "the current one keeps signing for " + dur(grace) + ", while receivers change to the new one."
		}
		return s.confirm(c, q, endpointsPath(ep.ID))
	}
	if _, err := s.svc.RotateEndpointSecret(ctx, acct, ep.ID, &grace); err != nil {
		if errs, ok := epServiceErrors(err); ok {
			return s.renderEndpoint(c, http.StatusUnprocessableEntity, ep, func(p *endpointPage) { p.Errors = errs })
		}
		return s.errorPage(c, err)
	}
	notice := "Secret rotated: reveal the new one below. "
	if grace == 0 {
		notice += "The previous secret no longer signs."
	} else {
		notice += "The previous secret signs until " + s.opts.Now().UTC().Add(grace).Format(whenLayout) + "."
	}
	return s.redirectNotice(c, endpointsPath(ep.ID), notice)
}
