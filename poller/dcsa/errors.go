package dcsa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

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
