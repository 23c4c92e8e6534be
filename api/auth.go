package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/internal/keylimit"
	"github.com/trackhook/trackhook/references"
)

// authenticate requires "Authorization: Bearer <api key>" and leaves the key's stored
// form in the context for the handlers (see apiKey). Failed authentications are
// counted per client address: over their limit, the address is refused with 429
// before its key is hashed and looked up, so guessing keys stays slow and cheap.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var addr string
		if s.authFailures != nil {
			addr = keylimit.ClientAddr(c.Request())
			if d := s.authFailures.Delay(addr); d > 0 {
				return retryLater(c, d, "too many failed authentications from this address")
			}
		}
		token, err := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if err == nil {
			var key references.APIKey
			if key, err = s.svc.Authenticate(c.Request().Context(), token); err == nil {
				c.Set(ctxAPIKey, key)
				// What the request changes is written in the audit log as this key's.
				c.SetRequest(c.Request().WithContext(references.WithActor(c.Request().Context(), key.ID)))
				return next(c)
			}
		}
		if references.ErrorCode(err) == references.CodeUnauthorized {
			if s.authFailures != nil {
				s.authFailures.Take(addr)
			}
			// RFC 6750: tell the client which scheme to use.
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="trackhook"`)
		}
		return err
	}
}

// bearerToken extracts the key from an Authorization header value. An empty header
// gives an empty key, which the service reports as missing.
func bearerToken(header string) (string, error) {
	if header == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", references.Errorf(references.CodeUnauthorized, `the Authorization header must be "Bearer <api key>"`)
	}
	return token, nil
}

// apiKey returns the key authenticate accepted. On a route registered without
// authenticate it panics (a 500) rather than return a zero key: an empty account id
// would read as "any account" further down.
func apiKey(c echo.Context) references.APIKey {
	key, ok := c.Get(ctxAPIKey).(references.APIKey)
	if !ok || key.AccountID == "" {
		panic("api: apiKey called on a route without authenticate")
	}
	return key
}

// requireMethodScope lets a key through when it has the scope the request's method
// needs: GET and HEAD read, every other method writes. Routes that need more add
// requireScope or requireOperator after it.
func requireMethodScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		need := references.ScopeWrite
		if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
			need = references.ScopeRead
		}
		return checkScope(c, need, next)
	}
}

// requireScope lets only keys with scope need (or a higher one) through.
func requireScope(need references.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return checkScope(c, need, next) }
	}
}

func checkScope(c echo.Context, need references.Scope, next echo.HandlerFunc) error {
	key := apiKey(c)
	if !key.Grants(need) {
		return references.Errorf(codeForbidden, "this route needs an API key with the %s scope; this key's scopes are %s",
			need, strings.Join(references.ScopeNames(key.Scopes), ", "))
	}
	return next(c)
}

// requireOperator lets only operator keys through: the operator routes show every
// account's data, which no account's own admin key may see.
func requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !apiKey(c).Operator {
			return references.Errorf(codeForbidden, "this route shows every account's data and needs an operator key "+
				"(made on the server with trackhook keys create --operator)")
		}
		return next(c)
	}
}
