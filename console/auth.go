package console

// PLACEHOLDER (helper B): sign-in, sessions, CSRF, security headers.

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// Viewer is who is signed in: the session and the API key it was opened with, whose
// scopes decide what the console shows and allows.
type Viewer struct {
	Session references.Session
	Key     references.APIKey
}

// AccountID is the account every page shows.
func (v *Viewer) AccountID() string { return v.Session.AccountID }

// CSRF is the token every state-changing form sends as the field "csrf".
func (v *Viewer) CSRF() string { return v.Session.CSRFToken }

// Can reports whether the viewer's key grants scope (read, write, admin).
func (v *Viewer) Can(scope references.Scope) bool { return v.Key.Grants(scope) }

const viewerKey = "console.viewer"

// viewerOf returns who is signed in, nil on the sign-in page.
func viewerOf(c echo.Context) *Viewer {
	v, _ := c.Get(viewerKey).(*Viewer)
	return v
}

// noticeOf returns the one-line result an action passed on in ?notice=.
func noticeOf(c echo.Context) string { return c.QueryParam("notice") }

func (s *Server) secure(next echo.HandlerFunc) echo.HandlerFunc         { return next }
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc { return next }
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc      { return next }
func (s *Server) requireWrite(next echo.HandlerFunc) echo.HandlerFunc   { return next }
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc   { return next }
func (s *Server) requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return next
}

func (s *Server) signInForm(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) signIn(c echo.Context) error     { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) signOut(c echo.Context) error    { return c.NoContent(http.StatusNotImplemented) }
