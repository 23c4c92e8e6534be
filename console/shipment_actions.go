package console

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// The actions of the shipment page. Each answers 303 back to the page with a notice
// saying what happened, or why it did not (a refresh asked too soon, a paused
// reference): those are the reference's state, not errors of the request. Another
// account's reference is 404, before any confirmation page.

// refresh polls the reference at once: POST /ui/shipments/:id/refresh.
func (s *Server) refresh(c echo.Context) error {
	return s.act(c, func(acct, id string) (string, error) {
		_, err := s.svc.Refresh(c.Request().Context(), acct, id)
		var soon *references.RefreshTooSoon
		if errors.As(err, &soon) {
			wait := max(soon.RetryAfter.Round(time.Second), time.Second)
			return fmt.Sprintf("Not refreshed: one refresh a minute is allowed; try again in %s.", dur(wait)), nil
		}
		return "Refresh asked: the poll runs now, and what it finds shows here once it is recorded.", err
	})
}

// pause stops polling and delivering: POST /ui/shipments/:id/pause.
func (s *Server) pause(c echo.Context) error {
	return s.act(c, func(acct, id string) (string, error) {
		_, err := s.svc.Pause(c.Request().Context(), acct, id)
		return "Paused: neither polled nor delivered until resumed.", err
	})
}

// resume tracks a paused reference again: POST /ui/shipments/:id/resume.
func (s *Server) resume(c echo.Context) error {
	return s.act(c, func(acct, id string) (string, error) {
		_, err := s.svc.Resume(c.Request().Context(), acct, id)
		return "Resumed: polled at once, and pending deliveries go on.", err
	})
}

// unsubscribe stops tracking, after a confirmation: POST /ui/shipments/:id/unsubscribe.
func (s *Server) unsubscribe(c echo.Context) error {
	return s.actConfirmed(c, func(ref *references.Reference) string {
		_, ident := ref.Identifier()
		return fmt.Sprintf("Stop tracking %s? It is not polled again, its feed ends with a reference.unsubscribed update, and this cannot be undone (track it again to start a new feed).", ident)
	}, func(acct, id string) (string, error) {
		_, err := s.svc.Unsubscribe(c.Request().Context(), acct, id)
		return "Unsubscribed: tracking stopped.", err
	})
}

// resendUpdate sends one update to the callback again, after a confirmation: POST
// /ui/shipments/:id/updates/:update_id/resend.
func (s *Server) resendUpdate(c echo.Context) error {
	updateID := c.Param("update_id")
	return s.actConfirmed(c, func(ref *references.Reference) string {
		return fmt.Sprintf("Send update %s to %s again? The receiver gets it a second time, with the same webhook-id.", updateID, ref.CallbackURL)
	}, func(acct, id string) (string, error) {
		err := s.svc.Redeliver(c.Request().Context(), acct, id, updateID)
		return fmt.Sprintf("Update %s is queued to be sent again to the callback.", updateID), err
	})
}

// act runs do on the viewer's reference :id and redirects to its page with the
// notice do returns. Invalid requests and conflicts become the notice (the API's
// message); a reference not found, or any other error, is an error page.
func (s *Server) act(c echo.Context, do func(acct, id string) (string, error)) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	id := c.Param("id")
	notice, err := do(v.AccountID(), id)
	if err != nil {
		var e *references.Error
		if !errors.As(err, &e) || (e.Code != references.CodeConflict && e.Code != references.CodeInvalid) {
			return s.errorPage(c, err)
		}
		notice = "Not done: " + e.Message
	}
	return s.redirectNotice(c, shipmentPath(id), notice)
}

// actConfirmed is act for a destructive action: without confirm=yes it renders the
// confirmation page, with question(ref), for a reference of the viewer's account.
func (s *Server) actConfirmed(c echo.Context, question func(*references.Reference) string, do func(acct, id string) (string, error)) error {
	if !confirmed(c) {
		v, err := s.viewer(c)
		if err != nil {
			return s.errorPage(c, err)
		}
		ref, err := s.svc.Get(c.Request().Context(), v.AccountID(), c.Param("id"))
		if err != nil {
			return s.errorPage(c, err)
		}
		return s.confirm(c, question(&ref), shipmentPath(ref.ID))
	}
	return s.act(c, do)
}

func shipmentPath(id string) string { return Prefix + "/shipments/" + url.PathEscape(id) }
