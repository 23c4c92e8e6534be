package dcsa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trackhook/trackhook/internal/retryafter"
	"github.com/trackhook/trackhook/references"
)

// APIError is a response of the carrier other than 200 OK, with what its DCSA error
// body said. Its text is what ends up in a reference's last_poll_error: "carrier
// answered 400: invalidQuery: limit must be positive" when the body gives details,
// "carrier answered 502 Bad Gateway" when it gives none. Fetch returns it inside a
// *references.SourceError that says what kind of failure the status is.
type APIError struct {
	StatusCode int
	// StatusText is the body's statusCodeText, "" when it has none. Carriers do not
	// always match it to the status (a 422 saying "Bad Request"), so the text shows it
	// only when there are no details and it differs from the status's standard text.
	StatusText string
	Details    []ErrorDetail
}

// ErrorDetail is one entry of a DCSA error body's errors list.
type ErrorDetail struct {
	Reason  string
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("carrier answered " + strconv.Itoa(e.StatusCode))
	standard := http.StatusText(e.StatusCode)
	switch {
	case len(e.Details) > 0:
		for i, d := range e.Details {
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString("; ")
			}
			if d.Reason != "" && d.Message != "" {
				b.WriteString(d.Reason + ": " + d.Message)
			} else {
				b.WriteString(d.Reason + d.Message)
			}
		}
	case e.StatusText != "" && !strings.EqualFold(e.StatusText, standard):
		b.WriteString(": " + e.StatusText)
	case standard != "":
		b.WriteString(" " + standard)
	}
	return b.String()
}

// maxRetryAfter caps what a carrier's Retry-After can make the poller wait.
const maxRetryAfter = 24 * time.Hour

// withRetryAfter adds the wait the carrier asked for to the text of err, so that
// last_poll_error says it: "carrier answered 429 Too Many Requests (retry after 30s)".
func withRetryAfter(err error, after time.Duration) error {
	if after <= 0 {
		return err
	}
	return fmt.Errorf("%w (retry after %v)", err, after)
}

// badAnswer marks err as an answer of the carrier that cannot be used.
func badAnswer(err error) error {
	return &references.SourceError{Kind: references.ErrSourceBadAnswer, Err: err}
}

// maxErrorBody is how much of an error response is read. DCSA error bodies are small.
const maxErrorBody = 64 << 10

// Limits on the error text taken from a body, so last_poll_error stays one short line.
const (
	maxErrorDetails  = 3
	maxErrorFieldLen = 200
)

// wireError is the DCSA error body. statusCode is not read: the HTTP status is
// authoritative.
type wireError struct {
	StatusCodeText text `json:"statusCodeText"`
	Errors         []struct {
		Reason  text `json:"reason"`
		Message text `json:"message"`
	} `json:"errors"`
	// Some gateways in front of DCSA APIs answer with their own shapes.
	Message          text `json:"message"`
	Error            text `json:"error"`
	ErrorDescription text `json:"error_description"`
}

// newAPIError builds the error for a non-200 response from its status and body. A body
// that is not JSON (an HTML error page of a proxy) adds nothing to the text.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var w wireError
	if json.Unmarshal(body, &w) != nil {
		return e
	}
	e.StatusText = clean(string(w.StatusCodeText), maxErrorFieldLen)
	for _, d := range w.Errors {
		if len(e.Details) == maxErrorDetails {
			break
		}
		detail := ErrorDetail{Reason: clean(string(d.Reason), maxErrorFieldLen), Message: clean(string(d.Message), maxErrorFieldLen)}
		if detail != (ErrorDetail{}) {
			e.Details = append(e.Details, detail)
		}
	}
	if len(e.Details) == 0 {
		detail := ErrorDetail{
			Reason:  clean(string(w.Error), maxErrorFieldLen),
			Message: clean(string(firstOf(w.ErrorDescription, w.Message)), maxErrorFieldLen),
		}
		if detail != (ErrorDetail{}) {
			e.Details = append(e.Details, detail)
		}
	}
	return e
}

// requestError drops the URL that net/http puts in front of transport errors (it is
// long, and the query is already in the error's context) and marks the source
// unavailable, unless the request was cancelled (shutdown is nobody's fault) or the
// error already says its kind (a refused redirect).
func requestError(err error) error {
	return requestErrorOf("GET /v2/events", err)
}

// requestErrorOf is requestError for the request op ("DELETE
// /v2/event-subscriptions/{id}").
func requestErrorOf(op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", op, ue.Err)
	}
	var kind *references.SourceError
	if errors.Is(err, context.Canceled) || errors.As(err, &kind) {
		return err
	}
	return &references.SourceError{Kind: references.ErrSourceUnavailable, Err: err}
}

// bodyError classifies an error met reading a page: the connection failing or timing
// out leaves the source unavailable, a cancelled poll is nobody's fault, and anything
// else is an answer that cannot be used.
func bodyError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	var netErr net.Error
	if ctx.Err() != nil || errors.As(err, &netErr) {
		return &references.SourceError{Kind: references.ErrSourceUnavailable, Err: err}
	}
	return badAnswer(err)
}

// statusError reads a non-200 response into an *APIError, wrapped as not found or in
// a *references.SourceError of the status's kind.
func (c *Client) statusError(resp *http.Response) error {
	return c.statusErrorOf(resp, references.ErrShipmentNotFound)
}

// statusErrorOf is statusError with the error that the API's own 404 means (a
// shipment the carrier does not know, a subscription it does not have), and more
// secrets to keep out of the text: a carrier may echo a request body that holds one.
func (c *Client) statusErrorOf(resp *http.Response, notFound error, secrets ...string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// The answer becomes last_poll_error and a tracking.failed update, which every
	// account tracking this carrier reads: a carrier echoing our credentials must not
	// spread them.
	apiErr := newAPIError(resp.StatusCode, redact(body, append(c.credentialsOf(resp.Request), secrets...)))
	status := resp.StatusCode
	switch {
	case status == http.StatusNotFound && looksLikeJSON(resp.Header.Get("Content-Type"), body):
		return fmt.Errorf("%w: %w", apiErr, notFound)
	case status == http.StatusNotFound:
		// A 404 page that is not the API's own answer means a wrong base_url; calling it
		// "not found" would make the poller unsubscribe every reference.
		return &references.SourceError{Kind: references.ErrSourceBadRequest,
			Err: fmt.Errorf("%w (not an answer of a DCSA API: check base_url)", apiErr)}
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		kind := references.ErrSourceRateLimited
		if status == http.StatusServiceUnavailable {
			kind = references.ErrSourceUnavailable
		}
		after, _ := retryafter.Parse(resp.Header.Get("Retry-After"), c.clock.Now())
		after = min(after, maxRetryAfter)
		return &references.SourceError{Kind: kind, RetryAfter: after, Err: withRetryAfter(apiErr, after)}
	case status == http.StatusRequestTimeout, status >= 500:
		return &references.SourceError{Kind: references.ErrSourceUnavailable, Err: apiErr}
	case status >= 400:
		return &references.SourceError{Kind: references.ErrSourceBadRequest, Err: apiErr}
	default: // 1xx, 2xx other than 200, 3xx: not an answer this client can read
		return badAnswer(apiErr)
	}
}

// credentialsOf returns the credentials req carried: the configured auth headers'
// values, the bearer token, and the OAuth2 client secret.
func (c *Client) credentialsOf(req *http.Request) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minCredentialLen {
			out = append(out, s)
		}
	}
	if req != nil {
		for name := range c.cfg.Auth.Headers {
			add(req.Header.Get(name))
		}
		if _, token, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
			add(token)
		}
	}
	if o := c.cfg.Auth.OAuth2; o != nil {
		add(o.ClientSecret)
	}
	return out
}

// redact replaces every credential in body with [redacted].
func redact(body []byte, credentials []string) []byte {
	for _, s := range credentials {
		body = bytes.ReplaceAll(body, []byte(s), []byte("[redacted]"))
	}
	return body
}

// looksLikeJSON tells an API's own 404 (JSON, or empty) from a proxy's or a web
// server's error page.
func looksLikeJSON(contentType string, body []byte) bool {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return true
	}
	return strings.Contains(contentType, "json") || trimmed[0] == '{' || trimmed[0] == '['
}
