package dcsa

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults applied by New to the zero fields of a Config.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxPages     = 20
	DefaultMaxEvents    = 5000
	DefaultMaxBodyBytes = 10 << 20 // 10 MiB per page
)

// Config configures a Client for one carrier's DCSA Track & Trace v2.2 endpoint.
// Zero values mean the defaults above, no rate limit and no concurrency limit.
type Config struct {
	// BaseURL is the URL the API's paths hang off, for example
	// "https://api.carrier.example/track-and-trace"; "/v2/events" is appended to it.
	BaseURL string
	Auth    Auth
	// Timeout bounds one HTTP request (one page, or one token request).
	Timeout time.Duration
	// RequestsPerSecond caps the request rate to the carrier; 0 means no cap.
	RequestsPerSecond float64
	// MaxConcurrency caps the requests in flight to the carrier; 0 means no cap.
	MaxConcurrency int
	// MaxPages and MaxEvents stop a server that paginates without end.
	MaxPages  int
	MaxEvents int
	// MaxBodyBytes is the largest response body read for one page.
	MaxBodyBytes int64
}

// Auth holds the credentials sent to the carrier: static headers (an API key, or a
// client id and secret pair), an OAuth2 client-credentials grant, or both.
type Auth struct {
	Headers map[string]string
	OAuth2  *OAuth2
}

// OAuth2 is an OAuth2 client-credentials grant. The token is cached and fetched again
// shortly before it expires.
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// LogValue keeps secrets out of logs: header values and the client secret are redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.Any("auth", c.Auth),
		slog.Duration("timeout", c.Timeout),
		slog.Float64("requests_per_second", c.RequestsPerSecond),
		slog.Int("max_concurrency", c.MaxConcurrency),
	)
}

// String is LogValue for fmt, so that printing a Config with %v shows no secret.
func (c Config) String() string { return c.LogValue().String() }

// LogValue shows the header names and the OAuth2 client, never a header value or the
// client secret.
func (a Auth) LogValue() slog.Value {
	var attrs []slog.Attr
	if len(a.Headers) > 0 {
		names := slices.Sorted(maps.Keys(a.Headers))
		attrs = append(attrs, slog.String("headers", strings.Join(names, ",")+" (values redacted)"))
	}
	if a.OAuth2 != nil {
		attrs = append(attrs, slog.Any("oauth2", *a.OAuth2))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue for fmt.
func (a Auth) String() string { return a.LogValue().String() }

// LogValue shows the grant without its client secret.
func (o OAuth2) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_url", o.TokenURL),
		slog.String("client_id", o.ClientID),
		slog.String("client_secret", "(redacted)"),
		slog.Any("scopes", o.Scopes),
	)
}

// String is LogValue for fmt.
func (o OAuth2) String() string { return o.LogValue().String() }

// withDefaults returns a copy of c with the zero limits replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// Validate checks c as New would, for callers that load configurations before
// building clients. Each error names the field at fault as a sources file writes it
// ("base_url: is required").
func (c Config) Validate() error {
	_, err := c.withDefaults().validate()
	return err
}

// validate checks c (after defaults) and returns the parsed base URL.
func (c Config) validate() (*url.URL, error) {
	base, err := parseHTTPURL(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("base_url: must not have a query or a fragment")
	}
	switch {
	case c.Timeout < 0:
		return nil, errors.New("timeout: must not be negative")
	case c.RequestsPerSecond < 0 || math.IsNaN(c.RequestsPerSecond) || math.IsInf(c.RequestsPerSecond, 0):
		return nil, errors.New("requests_per_second: must be a positive number, or 0 for no limit")
	case c.MaxConcurrency < 0:
		return nil, errors.New("max_concurrency: must not be negative")
	case c.MaxPages < 0:
		return nil, errors.New("max_pages: must not be negative")
	case c.MaxEvents < 0:
		return nil, errors.New("max_events: must not be negative")
	case c.MaxBodyBytes < 0:
		return nil, errors.New("max_body_bytes: must not be negative")
	}
	for name, value := range c.Auth.Headers {
		if err := validHeader(name, value); err != nil {
			return nil, fmt.Errorf("auth.headers: %w", err)
		}
	}
	if o := c.Auth.OAuth2; o != nil {
		if _, err := parseHTTPURL(o.TokenURL); err != nil {
			return nil, fmt.Errorf("auth.oauth2.token_url: %w", err)
		}
		if o.ClientID == "" {
			return nil, errors.New("auth.oauth2.client_id: is required")
		}
		if o.ClientSecret == "" {
			return nil, errors.New("auth.oauth2.client_secret: is required")
		}
		if _, ok := c.Auth.Headers["Authorization"]; ok {
			return nil, errors.New("auth: an Authorization header and oauth2 exclude each other")
		}
	}
	return base, nil
}

// parseHTTPURL accepts absolute http(s) URLs without credentials in them: credentials
// belong in auth, where they are kept out of error messages.
func parseHTTPURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return nil, errors.New("must not contain credentials: put them in auth")
	}
	return u, nil
}

// validHeader rejects header names and values that net/http would refuse or that
// would smuggle a second header.
func validHeader(name, value string) error {
	if name == "" {
		return errors.New("a header name is empty")
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return fmt.Errorf("%q is not a valid header name", name)
		}
	}
	if http.CanonicalHeaderKey(name) == "Api-Version" {
		return fmt.Errorf("%s is set by the client", name)
	}
	if value == "" {
		// Usually an unset environment variable: better refused than sent empty.
		return fmt.Errorf("%s has an empty value", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("%s has a line break in its value", name)
	}
	return nil
}
