package references

import (
	"errors"
	"time"
)

// Kinds of tracking-source failure, for errors.Is. A source reports them with a
// *SourceError; the poller's source guard decides from them alone whether a source is
// failing, and the poller how long to back off. A source that does not know a
// shipment returns ErrShipmentNotFound instead.
var (
	// ErrSourceRateLimited: the source asked to be called less often (an HTTP 429).
	// The source is up but overwhelmed: it counts as failing.
	ErrSourceRateLimited = errors.New("rate limited by the source")
	// ErrSourceUnavailable: the source is down or did not answer in time (a 5xx or
	// 408 answer, a timeout, a connection error), or its circuit breaker is open.
	ErrSourceUnavailable = errors.New("source unavailable")
	// ErrSourceBadAnswer: the source answered with something that cannot be used
	// (malformed or unexpected content, endless pagination, an unexpected status).
	// It counts as failing: the source is broken for this client.
	ErrSourceBadAnswer = errors.New("unusable answer from the source")
	// ErrSourceBadRequest: the source is up and refused the request itself (a 4xx
	// answer: a bad query, refused credentials, a base URL that is not the API's).
	// It does not count as failing; the poll error tells the user what to fix.
	ErrSourceBadRequest = errors.New("request refused by the source")
)

// SourceError is a failure of a tracking source. Kind is one of ErrSourceRateLimited,
// ErrSourceUnavailable, ErrSourceBadAnswer and ErrSourceBadRequest, and errors.Is
// matches it; Err says what happened, in the source's own words, and is the text of
// the error (it becomes the reference's last_poll_error). Find it with errors.As to
// read RetryAfter.
type SourceError struct {
	Kind error
	// RetryAfter is how long the source asked to be left alone (an HTTP Retry-After,
	// or the time until a circuit breaker lets a call through); 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

// Error returns the text of Err, or of Kind when there is no Err.
func (e *SourceError) Error() string {
	if e.Err == nil {
		return e.Kind.Error()
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *SourceError) Unwrap() error { return e.Err }

// Is reports whether target is the error's Kind.
func (e *SourceError) Is(target error) bool { return target == e.Kind }
