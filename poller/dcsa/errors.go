package dcsa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is a response of the carrier other than 200 OK, with what its DCSA error
// body said. Its text is what ends up in a reference's last_poll_error, for example
// "401 Unauthorized: invalidToken: token expired".
type APIError struct {
	StatusCode int
	StatusText string // the body's statusCodeText, or the standard text of StatusCode
	Details    []ErrorDetail
}

// ErrorDetail is one entry of a DCSA error body's errors list.
type ErrorDetail struct {
	Reason  string
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.StatusText != "" {
		b.WriteString(" " + e.StatusText)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		switch {
		case d.Reason != "" && d.Message != "":
			b.WriteString(d.Reason + ": " + d.Message)
		default:
			b.WriteString(d.Reason + d.Message)
		}
	}
	return b.String()
}

// HTTPStatus returns the status code, for callers (such as the poller's circuit
// breaker) that tell "the carrier answered" from "the carrier is down" without
// importing this package.
func (e *APIError) HTTPStatus() int { return e.StatusCode }

// RetryAfterError is returned (wrapped) when the carrier asks the client to slow down:
// a 429, or a 503 with a Retry-After header. After is the wait the carrier asked for,
// zero when it did not say; callers back off at least that long. Find it with
// errors.As, as a *RetryAfterError or as an interface{ RetryAfter() time.Duration }.
type RetryAfterError struct {
	After time.Duration
	Err   error // the *APIError of the response
}

func (e *RetryAfterError) Error() string {
	if e.After <= 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns After; the poller finds it by this method, without importing
// this package.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// maxRetryAfter caps what a server can make the poller wait.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
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
	e := &APIError{StatusCode: status, StatusText: http.StatusText(status)}
	var w wireError
	if json.Unmarshal(body, &w) != nil {
		return e
	}
	if s := clean(string(w.StatusCodeText), maxErrorFieldLen); s != "" {
		e.StatusText = s
	}
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
