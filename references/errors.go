package references

import (
	"errors"
	"fmt"
)

// Error codes the domain and the store produce, which a client can branch on. The
// HTTP layer maps each to one status, and has codes of its own for what only HTTP can
// get wrong (a body it cannot read, a missing right, a rate limit; see api/errors.go).
const (
	CodeInvalid      = "invalid"      // the request was read but a value is not acceptable
	CodeUnauthorized = "unauthorized" // no key, unknown key or revoked key
	CodeNotFound     = "not_found"    // no such thing in the caller's account
	CodeConflict     = "conflict"     // the thing exists already
	CodeInternal     = "internal"     // anything unexpected; details are only logged
	// CodeIdempotencyMismatch: an Idempotency-Key was reused with a different request.
	CodeIdempotencyMismatch = "idempotency_mismatch"
	// CodeQuotaExceeded: the account is at a quota (of active references, of endpoints).
	CodeQuotaExceeded = "quota_exceeded"
	// CodeUnavailable: something the request depends on cannot answer now (shutting
	// down, a callback's host that could not be resolved for now): try again.
	CodeUnavailable = "unavailable"
)

// ErrTemporary matches (errors.Is) a failure that may pass on its own, such as a DNS
// lookup that timed out: ServiceOptions.CheckCallback marks one with Temporary so
// the Service answers CodeUnavailable rather than CodeInvalid.
var ErrTemporary = errors.New("temporary failure")

// Temporary marks err as a failure that may pass on its own (see ErrTemporary),
// keeping its message.
func Temporary(err error) error { return temporary{err} }

type temporary struct{ err error }

func (t temporary) Error() string        { return t.err.Error() }
func (t temporary) Unwrap() error        { return t.err }
func (t temporary) Is(target error) bool { return target == ErrTemporary }

// Error is a domain error with a machine-readable code and a message written for the
// API user. Field names the request field at fault, when there is one; ReferenceID
// names the existing reference on a conflict.
type Error struct {
	Code        string
	Message     string
	Field       string
	ReferenceID string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Is makes errors.Is(err, ErrNotFound) and friends match any *Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == "" && t.Field == ""
}

// Sentinels for errors.Is. They carry only a code, so they match any error of that code.
var (
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrUnauthorized = &Error{Code: CodeUnauthorized}
)

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf returns an invalid-input error naming the field at fault.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or CodeInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrShipmentNotFound is returned (wrapped) by a tracking source that does not know the
// shipment. The poller counts how long this lasts and unsubscribes after a limit.
var ErrShipmentNotFound = errors.New("shipment not found at the source")

// ErrNothingToDeliver is returned by the store when a reference has no update waiting
// for delivery.
var ErrNothingToDeliver = errors.New("nothing to deliver")
