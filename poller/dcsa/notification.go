package dcsa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/trackhook/trackhook/references"
)

// A notification is what a carrier POSTs to a subscription's callback URL: a JSON array
// of events (the same schemas as GET /v2/events), with these headers (T&T v2.2, the
// callback of POST /v2/event-subscriptions):
//
//	Notification-Signature: sha256=<hex>   HMAC-SHA256 of the raw body with the secret
//	Subscription-ID: <the subscription's id>
//	API-Version: <SemVer of the carrier's API>
//
// The signature covers the body only, neither a header nor the URL, and has no
// timestamp: a carrier's retry is byte for byte a replay, so the receiver deduplicates
// by event id rather than refusing repeats. The deprecated Signature header of older
// versions is not read.
//
// The specification defines one answer, 204 No Content for a notification accepted,
// and no verification request (HEAD or GET) of the callback URL before the first
// notification. DCSA's reference publisher (DCSA-Event-Core, MessageSignatureHandler)
// counts any other status as a failure and sends the bundle again later, 200 included;
// it halves its bundle after a 413, and waits as a 429's or 503's Retry-After asks.
// CallbackStatus maps the errors of this file to those answers.

// Header names of a notification.
const (
	HeaderNotificationSignature = "Notification-Signature"
	HeaderSubscriptionID        = "Subscription-ID"
)

// Bounds of a notification. A carrier bundles a few events per notification; these
// leave room for large bundles and refuse a body built to exhaust memory.
const (
	MaxNotificationBytes  = 4 << 20 // 4 MiB
	MaxNotificationEvents = 2000
)

// maxSignatureHeaderLen bounds the Notification-Signature header read: "sha256=" and
// 64 hex digits, with room for spaces.
const maxSignatureHeaderLen = 256

var (
	// ErrBadSignature is the failure of a notification's signature: every signature
	// error below wraps it, so a caller answers them all alike.
	ErrBadSignature = errors.New("bad Notification-Signature")
	// ErrNoSignature: the request has no Notification-Signature header, or several.
	ErrNoSignature = fmt.Errorf("%w: the header is missing or repeated", ErrBadSignature)
	// ErrMalformedSignature: the header is not "sha256=<64 hex digits>".
	ErrMalformedSignature = fmt.Errorf("%w: not sha256=<64 hex digits>", ErrBadSignature)
	// ErrSignatureMismatch: the signature is well formed but no live secret made it.
	ErrSignatureMismatch = fmt.Errorf("%w: no secret of the subscription signed this body", ErrBadSignature)

	// ErrNoSecret: VerifyNotification was given no usable secret, so nothing can pass.
	// It is the receiver's fault, not the sender's.
	ErrNoSecret = errors.New("no secret to verify the notification with")
	// ErrSubscriptionMismatch: the Subscription-ID header is missing, repeated, or not
	// the subscription the callback URL belongs to.
	ErrSubscriptionMismatch = errors.New("the Subscription-ID header does not name this subscription")
	// ErrUnknownSubscription is for the receiver to return when the callback URL names
	// a subscription it does not have; CallbackStatus answers it 404.
	ErrUnknownSubscription = errors.New("unknown subscription")
	// ErrNotificationTooLarge: the body is over MaxNotificationBytes or holds more
	// than MaxNotificationEvents events.
	ErrNotificationTooLarge = errors.New("notification too large")
	// ErrMalformedNotification: the body is not a JSON array of events, or none of its
	// events can be used.
	ErrMalformedNotification = errors.New("malformed notification")
)

// VerifyNotification checks the Notification-Signature header of a notification:
// "sha256=<hex>", the HMAC-SHA256 of body with one of secrets. Several secrets are live
// while one replaces another, the carrier signing with the old until it has taken the
// new; each is tried, in constant time. Empty secrets are skipped: anyone can sign
// with an empty key. Signature failures wrap ErrBadSignature; no usable secret is
// ErrNoSecret.
func VerifyNotification(body []byte, signatureHeader string, secrets [][]byte) error {
	usable := 0
	for _, s := range secrets {
		if len(s) > 0 {
			usable++
		}
	}
	if usable == 0 {
		return ErrNoSecret
	}
	sig, err := parseSignature(signatureHeader)
	if err != nil {
		return err
	}
	match := 0
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		// No early exit: the time taken does not tell which secret matched.
		if hmac.Equal(sig, Sign(body, s)) {
			match = 1
		}
	}
	if match == 0 {
		return ErrSignatureMismatch
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body with secret: the signature a carrier puts,
// hex encoded after "sha256=", in Notification-Signature.
func Sign(body, secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// SignatureHeader returns the Notification-Signature value of body signed with secret.
func SignatureHeader(body, secret []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(body, secret))
}

// parseSignature reads "sha256=<hex>". The type is matched without regard to case, as
// DCSA's reference implementation does; sha256 is the only type v2.2 defines.
func parseSignature(header string) ([]byte, error) {
	if len(header) > maxSignatureHeaderLen {
		return nil, ErrMalformedSignature
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, ErrNoSignature
	}
	typ, value, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(typ, "sha256") {
		return nil, ErrMalformedSignature
	}
	sig, err := hex.DecodeString(value)
	if err != nil || len(sig) != sha256.Size {
		return nil, ErrMalformedSignature
	}
	return sig, nil
}

// VerifyNotificationRequest checks the headers of a notification request for
// subscription: exactly one Subscription-ID header naming it (ErrSubscriptionMismatch
// otherwise), and exactly one Notification-Signature header that one of secrets made
// (see VerifyNotification). body is the raw body as read, before any parsing.
func VerifyNotificationRequest(h http.Header, body []byte, subscription string, secrets [][]byte) error {
	ids := h.Values(HeaderSubscriptionID)
	if len(ids) != 1 || strings.TrimSpace(ids[0]) != subscription || subscription == "" {
		return ErrSubscriptionMismatch
	}
	sigs := h.Values(HeaderNotificationSignature)
	if len(sigs) != 1 {
		return ErrNoSignature
	}
	return VerifyNotification(body, sigs[0], secrets)
}

// ReadNotificationBody reads a notification's body, at most MaxNotificationBytes of
// it: a longer body is ErrNotificationTooLarge, and is not read to its end.
func ReadNotificationBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(&limitedReader{r: r, left: MaxNotificationBytes})
	if errors.Is(err, errBodyTooLarge) {
		return nil, fmt.Errorf("%w: over %d bytes", ErrNotificationTooLarge, MaxNotificationBytes)
	}
	return body, err
}

// ParseNotification maps the events of a notification's body as Fetch maps those of a
// poll: the same fields, the same limits, events without a usable type, classifier,
// code or time skipped, an event id seen twice kept once, and the events sorted by
// time. A body over MaxNotificationBytes or MaxNotificationEvents wraps
// ErrNotificationTooLarge; one that is not a JSON array of events, or of which no
// event can be used, wraps ErrMalformedNotification. An empty array is no events and
// no error. Call it only on a body whose signature was verified.
func ParseNotification(body []byte) ([]references.Event, error) {
	p, err := parseNotification(body)
	if err != nil {
		return nil, err
	}
	return p.events, nil
}

// ParseNotification is the package's ParseNotification for a notification of ref's
// subscription, as this client would have polled ref: the events of other containers
// than a container reference's own are dropped (see Fetch), and skipped events are
// logged as a poll logs them.
func (c *Client) ParseNotification(ctx context.Context, ref references.Reference, body []byte) ([]references.Event, error) {
	p, err := parseNotification(body)
	if err != nil {
		return nil, fmt.Errorf("dcsa %s: %w", c.name, err)
	}
	if p.nSkip > 0 {
		c.log.WarnContext(ctx, "dcsa: skipped unusable events in a notification", "source", c.name, "skipped", p.nSkip, "reasons", p.skipped)
	}
	if ref.ContainerID != "" {
		p.events, _ = ownEvents(p.events, ref.ContainerID)
	}
	return p.events, nil
}

func parseNotification(body []byte) (*page, error) {
	if len(body) > MaxNotificationBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrNotificationTooLarge, MaxNotificationBytes)
	}
	p, err := parseEvents(bytes.NewReader(body), MaxNotificationEvents)
	switch {
	case errors.Is(err, errTooManyEvents):
		return nil, fmt.Errorf("%w: over %d events", ErrNotificationTooLarge, MaxNotificationEvents)
	case err != nil:
		return nil, fmt.Errorf("%w: %s", ErrMalformedNotification, strings.Replace(err.Error(), "malformed response: ", "", 1))
	case len(p.events) == 0 && p.total > 0:
		return nil, fmt.Errorf("%w: none of the %d events could be used: %s", ErrMalformedNotification, p.total, strings.Join(p.skipped, "; "))
	}
	seen := make(map[string]bool, len(p.events))
	p.events = slices.DeleteFunc(p.events, func(e references.Event) bool {
		if e.ID == "" {
			return false
		}
		dup := seen[e.ID]
		seen[e.ID] = true
		return dup
	})
	slices.SortStableFunc(p.events, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return p, nil
}

// CallbackStatus is the status a callback answers a notification with, given the
// error of checking and storing it: 204 No Content when it was accepted (duplicates
// included), 401 for a bad signature (DCSA's reference publisher logs it as "might
// need a secret reset"), 400 for a Subscription-ID that does not match or a malformed
// body, 404 for an unknown subscription, 413 for a body too large (the publisher
// sends smaller bundles), and 500 for anything else, such as ErrNoSecret or a
// storage failure, which the carrier will retry.
func CallbackStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusNoContent
	case errors.Is(err, ErrBadSignature):
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnknownSubscription):
		return http.StatusNotFound
	case errors.Is(err, ErrSubscriptionMismatch), errors.Is(err, ErrMalformedNotification):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotificationTooLarge):
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusInternalServerError
	}
}
