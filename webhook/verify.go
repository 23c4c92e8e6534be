package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far the webhook-timestamp may be from the receiver's clock
// when [Verifier.Tolerance] is not set: the value the specification's libraries use.
const DefaultTolerance = 5 * time.Minute

// Reasons a request fails verification. [Verifier.Verify] returns one of them, wrapped
// with details, so a receiver can log why and branch with errors.Is. A receiver should
// answer any of them with a 4xx status and not process the body.
var (
	// ErrMissingHeader means webhook-id, webhook-timestamp or webhook-signature (or,
	// without any of them, the svix- header of the same name) is absent or empty.
	ErrMissingHeader = errors.New("missing webhook header")
	// ErrInvalidTimestamp means webhook-timestamp is not a whole number of Unix seconds.
	ErrInvalidTimestamp = errors.New("invalid webhook timestamp")
	// ErrTooOld means the timestamp is further in the past than the tolerance (a replay, or
	// a receiver clock running fast).
	ErrTooOld = errors.New("webhook timestamp too old")
	// ErrTooNew means the timestamp is further in the future than the tolerance (a receiver
	// clock running slow).
	ErrTooNew = errors.New("webhook timestamp too new")
	// ErrNoMatchingSignature means no v1 signature in webhook-signature matches any of the
	// secrets for this id, timestamp and body.
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// Verifier checks the signature of incoming webhooks. Build it once with
// [NewVerifier]; it is safe for concurrent use as long as its fields are not changed.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may be from Now, either way. Zero or less
	// means DefaultTolerance.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to a fixed time.
	Now func() time.Time

	keys [][]byte
}

// NewVerifier returns a Verifier accepting signatures made with any of secrets. Give
// both the old and the new secret while rotating; a secret that does not parse is an
// error wrapping [ErrInvalidSecret], reported here rather than on every request.
func NewVerifier(secrets ...string) (*Verifier, error) {
	keys, err := parseSecrets(secrets)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys}, nil
}

// Verify returns nil if header carries a valid, timely signature of body made with one
// of the Verifier's secrets, and otherwise an error wrapping ErrMissingHeader,
// ErrInvalidTimestamp, ErrTooOld, ErrTooNew or ErrNoMatchingSignature. It reads the
// webhook- headers; only when none of them is present does it read the svix- ones
// (see [HeaderSvixID]), so that a request never has two sources for one value.
//
// body must be the raw request body, byte for byte: a body decoded and re-encoded as
// JSON will not verify. Signature entries of versions other than "v1" are skipped.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	names := headerNames(header)
	id := first(header, names.id)
	tsText := first(header, names.timestamp)
	sigs := strings.Join(all(header, names.signature), " ")
	for _, h := range []struct{ name, value string }{
		{names.id, id}, {names.timestamp, tsText}, {names.signature, sigs},
	} {
		if strings.TrimSpace(h.value) == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, h.name)
		}
	}

	unix, err := parseTimestamp(tsText)
	if err != nil {
		return err
	}
	if err := v.checkAge(time.Unix(unix, 0)); err != nil {
		return err
	}

	expected := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		expected[i] = mac(k, id, unix, body)
	}
	for _, entry := range strings.Fields(sigs) {
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.Strict().DecodeString(encoded)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for _, want := range expected {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// Verify is a one-call form of [NewVerifier] and [Verifier.Verify] for a receiver that
// does not keep a Verifier: it checks header and body against secrets, with tolerance
// (DefaultTolerance if zero or less) around now. A bad secret is reported as an error
// wrapping [ErrInvalidSecret].
func Verify(secrets []string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	v, err := NewVerifier(secrets...)
	if err != nil {
		return err
	}
	v.Tolerance = tolerance
	v.Now = func() time.Time { return now }
	return v.Verify(header, body)
}

func (v *Verifier) checkAge(ts time.Time) error {
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	switch {
	case now.Sub(ts) > tol:
		return fmt.Errorf("%w: %s is %s before now, the tolerance is %s", ErrTooOld, ts.UTC().Format(time.RFC3339), now.Sub(ts).Round(time.Second), tol)
	case ts.Sub(now) > tol:
		return fmt.Errorf("%w: %s is %s after now, the tolerance is %s", ErrTooNew, ts.UTC().Format(time.RFC3339), ts.Sub(now).Round(time.Second), tol)
	}
	return nil
}

// signatureHeaders names the three headers a request is verified with.
type signatureHeaders struct{ id, timestamp, signature string }

// headerNames returns the webhook- names, or the svix- ones for a request that has
// none of the webhook- headers: what Svix-style senders that omit them send.
func headerNames(h http.Header) signatureHeaders {
	standard := signatureHeaders{HeaderID, HeaderTimestamp, HeaderSignature}
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		if len(all(h, name)) > 0 {
			return standard
		}
	}
	for _, name := range []string{HeaderSvixID, HeaderSvixTimestamp, HeaderSvixSignature} {
		if len(all(h, name)) > 0 {
			return signatureHeaders{HeaderSvixID, HeaderSvixTimestamp, HeaderSvixSignature}
		}
	}
	return standard
}

// parseTimestamp reads Unix seconds written as decimal digits only: strconv.ParseInt
// alone would also take a sign.
func parseTimestamp(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a number of Unix seconds", ErrInvalidTimestamp, truncate(s, 32))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is out of range", ErrInvalidTimestamp, truncate(s, 32))
	}
	return n, nil
}

// all returns the values of the header name. A map built by hand with the lower-case
// name as key (http.Header{"webhook-id": ...}) is accepted too, since that is how the
// specification spells the names.
func all(h http.Header, name string) []string {
	if v := h.Values(name); len(v) > 0 {
		return v
	}
	return h[name]
}

func first(h http.Header, name string) string {
	if v := all(h, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
