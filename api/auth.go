package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"

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
			addr = clientAddr(c.Request())
			if d := s.authFailures.delay(addr); d > 0 {
				return retryLater(c, d, "too many failed authentications from this address")
			}
		}
		token, err := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if err == nil {
			var key references.APIKey
			if key, err = s.svc.Authenticate(c.Request().Context(), token); err == nil {
				c.Set(ctxAPIKey, key)
				return next(c)
			}
		}
		if references.ErrorCode(err) == references.CodeUnauthorized {
			if s.authFailures != nil {
				s.authFailures.take(addr)
			}
			// RFC 6750: tell the client which scheme to use.
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="trackhook"`)
		}
		return err
	}
}

// clientAddr names the client whose failed authentications are counted: the address
// of the connection. trackhook has no trusted-proxy setting, so no header a client
// can write (X-Forwarded-For, X-Real-IP) is believed. An IPv6 client counts by its
// /64, the block one host usually has to pick addresses from.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
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

// requireAdmin lets only admin keys through.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !apiKey(c).Admin {
			return references.Errorf(codeForbidden, "this route needs an admin API key")
		}
		return next(c)
	}
}
