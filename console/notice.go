package console

import (
	"encoding/base64"
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// A notice is the one-line result of an action, shown once on the page the action
// redirects to. It travels in a short-lived cookie, not in the URL: nobody can link to
// a console page showing a notice of their choosing (a phishing aid), and the next
// page shows it whichever instance serves it.
const (
	noticeCookie = "trackhook_notice"
	noticeMaxAge = 60 // seconds: enough for the redirect to be followed
	maxNotice    = 500
)

// redirectNotice answers 303 to path, with notice for the page there to show.
func (s *Server) redirectNotice(c echo.Context, path, notice string) error {
	c.SetCookie(s.noticeCookie(c, base64.RawURLEncoding.EncodeToString([]byte(notice)), noticeMaxAge))
	return c.Redirect(http.StatusSeeOther, path)
}

// takeNotice returns the notice an action left for this page, and clears it so that it
// shows once.
func (s *Server) takeNotice(c echo.Context) string {
	ck, err := c.Cookie(noticeCookie)
	if err != nil {
		return ""
	}
	c.SetCookie(s.noticeCookie(c, "", -1))
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(b) > maxNotice || !utf8.Valid(b) {
		return ""
	}
	return string(b)
}

func (s *Server) noticeCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: noticeCookie, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(c.Request()),
	}
}
