package console

// Signing in and out, sessions, CSRF, scopes and the security headers of every page.

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/internal/keylimit"
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

// CookieName is the cookie that holds a session's token. Only its hash is stored.
const CookieName = "trackhook_session"

// securityHeaders are sent with every console page: no script or style but the
// console's own files, no framing (clickjacking), no MIME sniffing, no referrer to
// other sites, and nothing kept in caches (pages show secrets and account data).
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "same-origin"},
	{"Cache-Control", "no-store"},
}

// viewerOf returns who is signed in, nil on the sign-in page.
func viewerOf(c echo.Context) *Viewer {
	v, _ := c.Get(viewerKey).(*Viewer)
	return v
}

// secure sets the security headers on every console response, and renders any
// error a handler returns (unknown paths under /ui/ included) as an HTML page rather
// than the API's JSON.
func (s *Server) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		for _, kv := range securityHeaders {
			h.Set(kv[0], kv[1])
		}
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		return s.errorPage(c, err)
	}
}

// requireSession lets a request through when its cookie names a live session, and
// puts who is signed in on it: the Viewer for the pages, and the key's id as the
// actor of everything the request changes (the audit log names it). Without one, a
// page asks to sign in and comes back afterwards; an action is refused with 401, as
// its form's data cannot survive the detour.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		var token string
		if ck, err := req.Cookie(CookieName); err == nil {
			token = ck.Value
		}
		sess, key, err := s.svc.Session(req.Context(), token)
		if err != nil {
			if references.ErrorCode(err) != references.CodeUnauthorized {
				return s.errorPage(c, err)
			}
			if token != "" {
				s.clearCookie(c)
			}
			switch {
			case req.Method == http.MethodGet || req.Method == http.MethodHead:
				return c.Redirect(http.StatusSeeOther, signInURL(req.URL.RequestURI()))
			case req.URL.Path == Prefix+"/sign-out":
				// Signed out already: say so rather than refuse.
				return c.Redirect(http.StatusSeeOther, Prefix+"/sign-in")
			}
			return s.errorPage(c, err)
		}
		c.Set(viewerKey, &Viewer{Session: sess, Key: key})
		c.SetRequest(req.WithContext(references.WithActor(req.Context(), key.ID)))
		return next(c)
	}
}

// checkCSRF refuses every POST whose field csrf is not the session's token (compared
// in constant time) before anything runs: another site can make a browser post a
// form, but cannot read the token from a page.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead {
			return next(c)
		}
		v := viewerOf(c)
		sent := c.FormValue("csrf")
		if v == nil || v.CSRF() == "" || sent == "" ||
			subtle.ConstantTimeCompare([]byte(sent), []byte(v.CSRF())) != 1 {
			return s.errorPage(c, echo.NewHTTPError(http.StatusForbidden,
				"This form is out of date or did not come from this console (its CSRF token is missing or wrong). Nothing was changed: go back, reload the page and try again."))
		}
		return next(c)
	}
}

// requireScope refuses, with 403, a key without scope.
func (s *Server) requireScope(scope references.Scope, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := viewerOf(c); v == nil || !v.Can(scope) {
			return s.errorPage(c, echo.NewHTTPError(http.StatusForbidden,
				"The API key you signed in with does not have the "+string(scope)+" scope this needs. Sign in with another key."))
		}
		return next(c)
	}
}

func (s *Server) requireWrite(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireScope(references.ScopeWrite, next)
}

func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return s.requireScope(references.ScopeAdmin, next)
}

// requireOperator lets operator keys through, and only when the server was given
// the store's operator view.
func (s *Server) requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if v := viewerOf(c); v == nil || !v.Key.Operator {
			return s.errorPage(c, echo.NewHTTPError(http.StatusForbidden,
				"The operator view is for operator keys (made by trackhook keys create --operator)."))
		}
		if s.opts.Operator == nil {
			return s.errorPage(c, echo.NewHTTPError(http.StatusNotFound, "This server has no operator view."))
		}
		return next(c)
	}
}

// signInData is what sign_in.html shows.
type signInData struct {
	Next  string // where to go after signing in, a local path
	Error string // why the last attempt failed
}

func (s *Server) signInForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	// Someone still signed in has nothing to do here.
	if ck, err := c.Request().Cookie(CookieName); err == nil && ck.Value != "" {
		if _, _, err := s.svc.Session(c.Request().Context(), ck.Value); err == nil {
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	return s.render(c, http.StatusOK, "sign_in.html", "Sign in", "", signInData{Next: next})
}

// signIn opens a session for the key posted, sets its cookie and goes on to the
// page asked for. Wrong keys are counted per client address, as the API counts
// them; over the limit, the address is refused with 429 before the key is looked up.
// The key is never written back into the page, a log or a URL.
func (s *Server) signIn(c echo.Context) error {
	req := c.Request()
	next := safeNext(c.FormValue("next"))
	// A form posted from another site could sign a browser in to the poster's
	// account; browsers say where a request comes from in Sec-Fetch-Site.
	if req.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return s.errorPage(c, echo.NewHTTPError(http.StatusForbidden, "Sign in from this console's own page."))
	}
	addr := keylimit.ClientAddr(req)
	if d := s.signInFailures.Delay(addr); d > 0 {
		c.Response().Header().Set("Retry-After", strconv.FormatInt(keylimit.RetryAfter(d), 10))
		return s.render(c, http.StatusTooManyRequests, "sign_in.html", "Sign in", "", signInData{
			Next: next, Error: "Too many failed sign-ins from this address: wait a minute and try again.",
		})
	}
	key := strings.TrimSpace(c.FormValue("key"))
	if key == "" {
		return s.render(c, http.StatusUnprocessableEntity, "sign_in.html", "Sign in", "", signInData{
			Next: next, Error: "Enter an API key.",
		})
	}
	token, sess, err := s.svc.SignIn(req.Context(), key)
	if err != nil {
		var e *references.Error
		if !errors.As(err, &e) || e.Code != references.CodeUnauthorized {
			return s.errorPage(c, err)
		}
		s.signInFailures.Take(addr)
		s.log.InfoContext(req.Context(), "console sign-in refused", "addr", addr, "reason", e.Message)
		return s.render(c, http.StatusUnauthorized, "sign_in.html", "Sign in", "", signInData{
			Next: next, Error: "Not signed in: " + e.Message + ".",
		})
	}
	s.log.InfoContext(req.Context(), "console sign-in", "account", sess.AccountID, "key", sess.KeyID)
	// A cookie for the browser's session only, without Expires: the store ends the
	// session (idle, absolute, revoked key), and the browser's clock has no say.
	c.SetCookie(&http.Cookie{
		Name: CookieName, Value: token, Path: Prefix,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(req),
	})
	return c.Redirect(http.StatusSeeOther, next)
}

// signOut ends the session in the store, so its cookie is worthless even if kept,
// and clears the cookie.
func (s *Server) signOut(c echo.Context) error {
	if ck, err := c.Request().Cookie(CookieName); err == nil {
		if err := s.svc.SignOut(c.Request().Context(), ck.Value); err != nil {
			return s.errorPage(c, err)
		}
	}
	s.clearCookie(c)
	return s.redirectNotice(c, Prefix+"/sign-in", "Signed out.")
}

func (s *Server) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: CookieName, Value: "", Path: Prefix, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(c.Request()),
	})
}

// secureCookies reports whether cookies must only travel over HTTPS: the request
// came over TLS, or the public URL is https (TLS ends in a proxy in front).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || (s.opts.PublicURL != nil && s.opts.PublicURL.Scheme == "https")
}

// signInURL is the sign-in page that comes back to next afterwards.
func signInURL(next string) string {
	next = safeNext(next)
	if next == Prefix+"/" {
		return Prefix + "/sign-in"
	}
	return Prefix + "/sign-in?next=" + url.QueryEscape(next)
}

// safeNext returns next when it is a path of the console (so signing in can never
// send a browser to another site), else the console's first page.
func safeNext(next string) string {
	const home = Prefix + "/"
	if !strings.HasPrefix(next, home) || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, home) ||
		strings.Contains(u.Path, "/..") || u.Path == Prefix+"/sign-in" || u.Path == Prefix+"/sign-out" {
		return home
	}
	return u.RequestURI()
}
