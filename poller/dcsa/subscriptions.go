package dcsa

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/trackhook/trackhook/references"
)

// The push model of DCSA Track & Trace v2.2: a subscriber registers a callback URL
// and a secret with POST /v2/event-subscriptions, filtered by one of a shipment's
// identifiers, and the carrier POSTs the matching events to the callback as they
// happen, signed with the secret (see notification.go). The operations below use the
// Client's HTTP client, credentials, rate and concurrency limits, as polling does.

// Secret sizes. The v2.2 specification says only that the secret is base64 encoded
// (format: byte); DCSA's reference implementation (DCSA-Event-Core, SignatureMethod
// HMAC_SHA256) accepts exactly 64 bytes, so SecretSize is what NewSecret makes. A
// shorter secret is refused below MinSecretSize: HMAC-SHA256 is only as strong as its
// key, and a key longer than SHA-256's block of 64 bytes gains nothing.
const (
	SecretSize    = 64
	MinSecretSize = 32
)

// maxSubscriptionBody bounds the answer to a subscription request; a subscription is a
// few hundred bytes.
const maxSubscriptionBody = 256 << 10

// maxSubscriptionPages bounds ListSubscriptions against a server that paginates
// without end.
const maxSubscriptionPages = 100

// maxCallbackURLLen bounds the callback URL sent to the carrier.
const maxCallbackURLLen = 2048

var (
	// ErrSubscriptionNotFound is returned by GetSubscription and UpdateSecret when the
	// carrier answers 404: it does not have the subscription (any more), so the caller
	// should create it again.
	ErrSubscriptionNotFound = errors.New("subscription not found at the carrier")
	// ErrInvalidSubscription is returned, before anything is sent, for a request the
	// carrier could only refuse: no callback URL, a secret of the wrong size, an
	// identifier the API does not take, a subscription id that is not one.
	ErrInvalidSubscription = errors.New("invalid subscription request")
)

// NewSecret returns a random secret of SecretSize bytes, for CreateSubscription and
// UpdateSecret.
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	rand.Read(b) // never fails: it crashes the program instead (crypto/rand)
	return b
}

// SubscriptionRequest is what CreateSubscription asks a carrier for: the events of one
// reference, pushed to CallbackURL and signed with Secret.
type SubscriptionRequest struct {
	// CallbackURL is where the carrier POSTs the events: an absolute http(s) URL.
	CallbackURL string
	// Secret is the key of the notifications' HMAC-SHA256 signatures, MinSecretSize to
	// SecretSize bytes (see NewSecret); it is sent base64 encoded.
	Secret []byte
	// Reference selects the events by its identifier: its container
	// (equipmentReference), bill of lading (transportDocumentReference) or booking
	// (carrierBookingReference), within the lengths CheckReference checks.
	Reference references.Reference
	// EventTypes limits the events pushed to these types; empty means all.
	EventTypes []references.EventType
}

// Subscription is a subscription as the carrier describes it. The carrier never sends
// the secret back.
type Subscription struct {
	// ID is the carrier's id for the subscription (a UUID in v2.2), used in its URLs
	// and in the Subscription-ID header of each notification.
	ID          string
	CallbackURL string
	// EventTypes are the event types pushed; empty means all.
	EventTypes []references.EventType
	// Kind and Identifier are the identifier the subscription filters by; both are
	// empty when it filters by none of a container, bill of lading or booking.
	Kind       references.IdentifierKind
	Identifier string
}

// wireSubscriptionBody is the body of POST /v2/event-subscriptions
// (subscriptionBodyWithSecret). Only the identifier of the reference is a filter;
// every other filter of the schema is left out, so every event of the shipment matches.
type wireSubscriptionBody struct {
	CallbackURL                string   `json:"callbackUrl"`
	Secret                     string   `json:"secret"`
	EventType                  []string `json:"eventType,omitempty"`
	EquipmentReference         string   `json:"equipmentReference,omitempty"`
	CarrierBookingReference    string   `json:"carrierBookingReference,omitempty"`
	TransportDocumentReference string   `json:"transportDocumentReference,omitempty"`
}

// wireSecretBody is the body of PUT /v2/event-subscriptions/{id}/secret.
type wireSecretBody struct {
	Secret string `json:"secret"`
}

// wireSubscription is the subscription schema of an answer, read leniently like events.
type wireSubscription struct {
	SubscriptionID             text           `json:"subscriptionID"`
	CallbackURL                text           `json:"callbackUrl"`
	EventType                  wireEventTypes `json:"eventType"`
	EquipmentReference         text           `json:"equipmentReference"`
	CarrierBookingReference    text           `json:"carrierBookingReference"`
	BookingReference           text           `json:"bookingReference"` // deprecated in v2
	TransportDocumentReference text           `json:"transportDocumentReference"`
}

// wireEventTypes reads eventType as the array v2.2 specifies, or as the
// comma-separated list some servers echo from the query syntax of GET /v2/events.
type wireEventTypes []text

func (w *wireEventTypes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for v := range strings.SplitSeq(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				*w = append(*w, text(v))
			}
		}
		return nil
	}
	var list []text
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*w = list
	return nil
}

// subscription maps a wire subscription to a Subscription. Event types this client
// does not know are dropped; an id that cannot be used in a URL is an error.
func (w *wireSubscription) subscription() (Subscription, error) {
	s := Subscription{
		ID:          string(w.SubscriptionID),
		CallbackURL: clean(string(w.CallbackURL), maxCallbackURLLen),
	}
	if err := checkSubscriptionID(s.ID); err != nil {
		return Subscription{}, fmt.Errorf("subscriptionID: %w", err)
	}
	for _, t := range w.EventType {
		switch et := references.EventType(strings.ToUpper(string(t))); et {
		case references.EventTransport, references.EventEquipment, references.EventShipment:
			if !slices.Contains(s.EventTypes, et) {
				s.EventTypes = append(s.EventTypes, et)
			}
		}
	}
	switch {
	case w.EquipmentReference != "":
		s.Kind, s.Identifier = references.KindContainer, clean(string(w.EquipmentReference), maxTextLen)
	case w.TransportDocumentReference != "":
		s.Kind, s.Identifier = references.KindBillOfLading, clean(string(w.TransportDocumentReference), maxTextLen)
	case w.CarrierBookingReference != "" || w.BookingReference != "":
		s.Kind, s.Identifier = references.KindBooking, clean(string(firstOf(w.CarrierBookingReference, w.BookingReference)), maxTextLen)
	}
	return s, nil
}

// maxSubscriptionIDLen bounds a subscription id; a UUID has 36 characters.
const maxSubscriptionIDLen = 128

// checkSubscriptionID accepts the ids that can stand in a URL path as they are: v2.2
// specifies a UUID, and carriers that use other ids use letters, digits and -._~.
// Anything else (a slash, "..") could make the request reach another path.
func checkSubscriptionID(id string) error {
	switch {
	case id == "":
		return errors.New("is empty")
	case len(id) > maxSubscriptionIDLen:
		return fmt.Errorf("is over %d characters", maxSubscriptionIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%q is not an id", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return fmt.Errorf("%q is not an id: only letters, digits and -._~ are taken", clean(id, 40))
		}
	}
	return nil
}

// checkSecret checks the size of a secret and returns it base64 encoded.
func checkSecret(secret []byte) (string, error) {
	if len(secret) < MinSecretSize || len(secret) > SecretSize {
		return "", fmt.Errorf("%w: the secret has %d bytes, it must have %d to %d", ErrInvalidSubscription, len(secret), MinSecretSize, SecretSize)
	}
	return base64.StdEncoding.EncodeToString(secret), nil
}

// body returns the JSON body of req, or an error naming what is wrong with it.
func (req *SubscriptionRequest) body() (wireSubscriptionBody, error) {
	var b wireSubscriptionBody
	if len(req.CallbackURL) > maxCallbackURLLen {
		return b, fmt.Errorf("%w: the callback URL is over %d bytes", ErrInvalidSubscription, maxCallbackURLLen)
	}
	u, err := parseHTTPURL(req.CallbackURL)
	if err != nil {
		return b, fmt.Errorf("%w: callback URL: %w", ErrInvalidSubscription, err)
	}
	if u.Fragment != "" {
		return b, fmt.Errorf("%w: callback URL: must not have a fragment", ErrInvalidSubscription)
	}
	b.CallbackURL = req.CallbackURL
	if b.Secret, err = checkSecret(req.Secret); err != nil {
		return b, err
	}
	query, err := filter(req.Reference)
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrInvalidSubscription, err)
	}
	b.EquipmentReference = query.Get("equipmentReference")
	b.CarrierBookingReference = query.Get("carrierBookingReference")
	b.TransportDocumentReference = query.Get("transportDocumentReference")
	for _, t := range req.EventTypes {
		switch t {
		case references.EventTransport, references.EventEquipment, references.EventShipment:
			if !slices.Contains(b.EventType, string(t)) {
				b.EventType = append(b.EventType, string(t))
			}
		default:
			return b, fmt.Errorf("%w: event type %q is not SHIPMENT, TRANSPORT or EQUIPMENT", ErrInvalidSubscription, clean(string(t), 16))
		}
	}
	return b, nil
}

// CreateSubscription asks the carrier to push the events of req.Reference to
// req.CallbackURL (POST /v2/event-subscriptions) and returns the subscription it made.
// The fields the carrier's answer leaves out are those of the request. An invalid
// request is an error wrapping ErrInvalidSubscription and nothing is sent; a carrier's
// refusal or failure is a *references.SourceError, as for Fetch (a 404 is a bad
// request here: the API has no subscriptions at that base_url).
func (c *Client) CreateSubscription(ctx context.Context, req SubscriptionRequest) (Subscription, error) {
	body, err := req.body()
	if err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: create subscription: %w", c.name, err)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: create subscription: %w", c.name, err)
	}
	notFound := &references.SourceError{Kind: references.ErrSourceBadRequest, Err: errors.New("the API has no event subscriptions here (check base_url)")}
	answer, err := c.call(ctx, http.MethodPost, c.subs.String(), raw, notFound, body.Secret)
	if err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: create subscription: %w", c.name, err)
	}
	sub, err := parseSubscription(answer)
	if err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: create subscription: %w", c.name, err)
	}
	if sub.CallbackURL == "" {
		sub.CallbackURL = req.CallbackURL
	}
	if sub.Kind == "" {
		sub.Kind, sub.Identifier = req.Reference.Identifier()
	}
	if len(sub.EventTypes) == 0 && len(body.EventType) > 0 {
		sub.EventTypes = slices.Clone(req.EventTypes)
	}
	return sub, nil
}

// GetSubscription returns the carrier's subscription id (GET
// /v2/event-subscriptions/{id}). A 404 of the API is an error wrapping
// ErrSubscriptionNotFound: the carrier lost or ended it, and it can be created again.
func (c *Client) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	if err := checkSubscriptionID(id); err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: get subscription: %w: subscription id %w", c.name, ErrInvalidSubscription, err)
	}
	answer, err := c.call(ctx, http.MethodGet, c.subs.JoinPath(id).String(), nil, ErrSubscriptionNotFound)
	if err != nil {
		return Subscription{}, fmt.Errorf("dcsa %s: get subscription %s: %w", c.name, id, err)
	}
	sub, err := parseSubscription(answer)
	switch {
	case err != nil:
		return Subscription{}, fmt.Errorf("dcsa %s: get subscription %s: %w", c.name, id, err)
	case sub.ID != id:
		return Subscription{}, fmt.Errorf("dcsa %s: get subscription %s: %w", c.name, id, badAnswer(fmt.Errorf("the carrier answered with subscription %s", sub.ID)))
	}
	return sub, nil
}

// UpdateSecret replaces the secret of subscription id (PUT
// /v2/event-subscriptions/{id}/secret). The carrier signs with the new secret from
// its answer on; notifications already under way may still carry the old one's
// signature, so the callback should accept both for a while. A 404 of the API is an
// error wrapping ErrSubscriptionNotFound.
func (c *Client) UpdateSecret(ctx context.Context, id string, secret []byte) error {
	if err := checkSubscriptionID(id); err != nil {
		return fmt.Errorf("dcsa %s: update secret: %w: subscription id %w", c.name, ErrInvalidSubscription, err)
	}
	encoded, err := checkSecret(secret)
	if err != nil {
		return fmt.Errorf("dcsa %s: update secret of %s: %w", c.name, id, err)
	}
	raw, err := json.Marshal(wireSecretBody{Secret: encoded})
	if err != nil {
		return fmt.Errorf("dcsa %s: update secret of %s: %w", c.name, id, err)
	}
	if _, err := c.call(ctx, http.MethodPut, c.subs.JoinPath(id, "secret").String(), raw, ErrSubscriptionNotFound, encoded); err != nil {
		return fmt.Errorf("dcsa %s: update secret of %s: %w", c.name, id, err)
	}
	return nil
}

// DeleteSubscription ends subscription id (DELETE /v2/event-subscriptions/{id}). A
// subscription the carrier does not have (404, or 410 Gone) is already ended: that
// is not an error.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	if err := checkSubscriptionID(id); err != nil {
		return fmt.Errorf("dcsa %s: delete subscription: %w: subscription id %w", c.name, ErrInvalidSubscription, err)
	}
	_, err := c.call(ctx, http.MethodDelete, c.subs.JoinPath(id).String(), nil, ErrSubscriptionNotFound)
	var apiErr *APIError
	switch {
	case err == nil, errors.Is(err, ErrSubscriptionNotFound):
		return nil
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusGone:
		return nil
	}
	return fmt.Errorf("dcsa %s: delete subscription %s: %w", c.name, id, err)
}

// ListSubscriptions returns every subscription the carrier holds for these
// credentials (GET /v2/event-subscriptions, following Next-Page), to find the ones
// trackhook no longer knows of. An entry without a usable id is skipped.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var (
		out     []Subscription
		cursors = map[string]bool{}
		query   = url.Values{}
	)
	notFound := &references.SourceError{Kind: references.ErrSourceBadRequest, Err: errors.New("the API has no event subscriptions here (check base_url)")}
	for n := 1; ; n++ {
		u := *c.subs
		u.RawQuery = query.Encode()
		answer, next, err := c.callPage(ctx, u.String(), notFound)
		if err != nil {
			return nil, fmt.Errorf("dcsa %s: list subscriptions: page %d: %w", c.name, n, err)
		}
		var page []wireSubscription
		if err := json.Unmarshal(answer, &page); err != nil {
			return nil, fmt.Errorf("dcsa %s: list subscriptions: page %d: %w", c.name, n, badAnswer(fmt.Errorf("malformed subscription list: %v", err)))
		}
		for i := range page {
			if sub, err := page[i].subscription(); err == nil {
				out = append(out, sub)
			}
		}
		switch {
		case next == "":
			return out, nil
		case n >= maxSubscriptionPages:
			return nil, fmt.Errorf("dcsa %s: list subscriptions: %w", c.name, badAnswer(fmt.Errorf("more than %d pages: the server keeps paginating", maxSubscriptionPages)))
		case cursors[next]:
			return nil, fmt.Errorf("dcsa %s: list subscriptions: %w", c.name, badAnswer(errors.New("the server sent the same Next-Page cursor twice")))
		}
		cursors[next] = true
		query.Set("cursor", next)
	}
}

// call sends one subscription request and returns the body of a 2xx answer. A non-2xx
// answer is an error as statusErrorOf makes it, with notFound for the API's own 404;
// secrets are kept out of its text.
func (c *Client) call(ctx context.Context, method, rawURL string, body []byte, notFound error, secrets ...string) ([]byte, error) {
	answer, _, err := c.send(ctx, method, rawURL, body, notFound, secrets...)
	return answer, err
}

// callPage is call for a GET that may have a next page: it also returns the cursor of
// the Next-Page header, or "".
func (c *Client) callPage(ctx context.Context, rawURL string, notFound error) ([]byte, string, error) {
	answer, header, err := c.send(ctx, http.MethodGet, rawURL, nil, notFound)
	if err != nil {
		return nil, "", err
	}
	next, err := nextCursor(header.Get("Next-Page"))
	if err != nil {
		return nil, "", badAnswer(err)
	}
	return answer, next, nil
}

func (c *Client) send(ctx context.Context, method, rawURL string, body []byte, notFound error, secrets ...string) ([]byte, http.Header, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, nil, err
	}
	defer c.release()
	resp, err := c.do(ctx, method, rawURL, body, "")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, c.statusErrorOf(resp, notFound, secrets...)
	}
	answer, err := io.ReadAll(&limitedReader{r: resp.Body, left: maxSubscriptionBody})
	switch {
	case errors.Is(err, errBodyTooLarge):
		return nil, nil, badAnswer(fmt.Errorf("response body over %d bytes", maxSubscriptionBody))
	case err != nil:
		return nil, nil, bodyError(ctx, err)
	}
	return answer, resp.Header, nil
}

// parseSubscription reads the subscription of an answer's body.
func parseSubscription(body []byte) (Subscription, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Subscription{}, badAnswer(errors.New("the answer has no subscription in its body"))
	}
	var w wireSubscription
	if err := json.Unmarshal(body, &w); err != nil {
		return Subscription{}, badAnswer(fmt.Errorf("malformed subscription: %v", err))
	}
	sub, err := w.subscription()
	if err != nil {
		return Subscription{}, badAnswer(err)
	}
	return sub, nil
}
