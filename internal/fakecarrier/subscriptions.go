package fakecarrier

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/trackhook/trackhook/references"
)

// SecretSize is the size of the secrets the carrier takes, decoded: v2.2 only says
// base64, and DCSA's reference implementation (DCSA-Event-Core) takes exactly 64 bytes
// for HMAC-SHA256, as this carrier does.
const SecretSize = 64

// maxSubscriptionBody bounds a subscription request's body.
const maxSubscriptionBody = 64 << 10

// subscription is a T&T v2.2 subscription the carrier holds.
type subscription struct {
	id         string
	callback   string
	eventTypes []string
	filter     filter
	secret     []byte
	previous   []byte // the secret before the last update, for the StaleSecret fault
	since      uint64 // observations up to this one are not pushed to it
	created    time.Time
	updates    int
	held       []*delivery // pushes held back by Reorder for the next Step
}

// wireSubscription is the subscription schema (subscriptionBodyWithSecret on POST).
type wireSubscription struct {
	SubscriptionID             string   `json:"subscriptionID,omitempty"`
	CallbackURL                string   `json:"callbackUrl"`
	Secret                     *string  `json:"secret,omitempty"`
	EventType                  []string `json:"eventType,omitempty"`
	EquipmentReference         string   `json:"equipmentReference,omitempty"`
	CarrierBookingReference    string   `json:"carrierBookingReference,omitempty"`
	TransportDocumentReference string   `json:"transportDocumentReference,omitempty"`
}

func (s *subscription) wire() wireSubscription {
	return wireSubscription{
		SubscriptionID:             s.id,
		CallbackURL:                s.callback,
		EventType:                  slices.Clone(s.eventTypes),
		EquipmentReference:         s.filter.equipment,
		CarrierBookingReference:    s.filter.booking,
		TransportDocumentReference: s.filter.document,
	}
}

// readSubscription reads and checks a subscription body as DCSA's reference
// implementation does: a callback URL, a filter within v2.2's lengths, known event
// types. The secret is checked by the caller, where it is expected.
func readSubscription(r *http.Request) (wireSubscription, filter, error) {
	var w wireSubscription
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSubscriptionBody))
	if err := dec.Decode(&w); err != nil {
		return w, filter{}, fmt.Errorf("the body is not a subscription: %v", err)
	}
	if w.CallbackURL == "" {
		return w, filter{}, errors.New("callbackUrl is required")
	}
	u, err := url.Parse(w.CallbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return w, filter{}, errors.New("callbackUrl must be an absolute http(s) URL")
	}
	f, err := tntFilter(w.EquipmentReference, w.TransportDocumentReference, w.CarrierBookingReference, w.EventType)
	return w, f, err
}

func decodeSecret(s *string) ([]byte, error) {
	if s == nil {
		return nil, errors.New("secret is required")
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		return nil, errors.New("secret is not base64")
	}
	if len(b) != SecretSize {
		return nil, fmt.Errorf("the secret must be exactly %d bytes long (when decoded), not %d", SecretSize, len(b))
	}
	return b, nil
}

// serveCreateSubscription is POST /v2/event-subscriptions: 201 with the subscription.
func (c *Carrier) serveCreateSubscription(w http.ResponseWriter, r *http.Request) {
	body, f, err := readSubscription(r)
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	if body.SubscriptionID != "" {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", "subscriptionID is not allowed when creating a subscription")
		return
	}
	secret, err := decodeSecret(body.Secret)
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	c.mu.Lock()
	c.nextSub++
	s := &subscription{
		id:         subscriptionID(c.opts.Seed, c.nextSub),
		callback:   body.CallbackURL,
		eventTypes: body.EventType,
		filter:     f,
		secret:     secret,
		since:      c.seq,
		created:    c.clock.Now(),
	}
	c.subs[s.id] = s
	c.subOrder = append(c.subOrder, s.id)
	c.stats.Created++
	answer := s.wire()
	c.mu.Unlock()
	writeJSON(w, http.StatusCreated, tntAPIVersion, answer)
}

// subscriptionID is a UUID-shaped id, unique within one carrier.
func subscriptionID(seed uint64, n int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(seed), uint16(seed>>32), n>>12&0xfff, n&0xfff, n)
}

func (c *Carrier) serveListSubscriptions(w http.ResponseWriter, r *http.Request) {
	offset, size, err := c.paging(r.URL.Query())
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidQuery", err.Error())
		return
	}
	c.mu.Lock()
	all := make([]wireSubscription, 0, len(c.subOrder))
	for _, id := range c.subOrder {
		all = append(all, c.subs[id].wire())
	}
	c.mu.Unlock()
	page, next := pageOf(all, offset, size)
	w.Header().Set("Current-Page", cursor(offset))
	if next >= 0 {
		w.Header().Set("Next-Page", cursor(next))
	}
	writeJSON(w, http.StatusOK, tntAPIVersion, page)
}

func (c *Carrier) serveGetSubscription(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	s := c.subs[r.PathValue("id")]
	var answer wireSubscription
	if s != nil {
		answer = s.wire()
	}
	c.mu.Unlock()
	if s == nil {
		c.writeTNTError(w, r, http.StatusNotFound, "notFound", "no subscription "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, tntAPIVersion, answer)
}

// serveUpdateSubscription is PUT /v2/event-subscriptions/{id}: a new callback URL or
// filter. The secret has its own operation, as in the reference implementation.
func (c *Carrier) serveUpdateSubscription(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, f, err := readSubscription(r)
	switch {
	case err != nil:
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	case body.Secret != nil:
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", "omit the secret: PUT .../"+id+"/secret changes it")
		return
	case body.SubscriptionID != id:
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", "the subscriptionID of the body is not the one of the URL")
		return
	}
	c.mu.Lock()
	s := c.subs[id]
	var answer wireSubscription
	if s != nil {
		s.callback, s.eventTypes, s.filter = body.CallbackURL, body.EventType, f
		answer = s.wire()
	}
	c.mu.Unlock()
	if s == nil {
		c.writeTNTError(w, r, http.StatusNotFound, "notFound", "no subscription "+id)
		return
	}
	writeJSON(w, http.StatusOK, tntAPIVersion, answer)
}

// serveDeleteSubscription is DELETE /v2/event-subscriptions/{id}: 204, or 404.
func (c *Carrier) serveDeleteSubscription(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.mu.Lock()
	s := c.subs[id]
	if s != nil {
		c.removeSub(id)
		c.deleted = append(c.deleted, s.view())
		c.stats.Deleted++
	}
	c.mu.Unlock()
	if s == nil {
		c.writeTNTError(w, r, http.StatusNotFound, "notFound", "no subscription "+id)
		return
	}
	w.Header().Set("API-Version", tntAPIVersion)
	w.WriteHeader(http.StatusNoContent)
}

// serveUpdateSecret is PUT /v2/event-subscriptions/{id}/secret: 204, and every push
// planned from then on is signed with the new secret.
func (c *Carrier) serveUpdateSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body struct {
		Secret *string `json:"secret"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxSubscriptionBody)).Decode(&body); err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", "the body is not a secret: "+err.Error())
		return
	}
	secret, err := decodeSecret(body.Secret)
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	c.mu.Lock()
	s := c.subs[id]
	if s != nil {
		s.previous, s.secret = s.secret, secret
		s.updates++
		c.stats.SecretUpdates++
	}
	c.mu.Unlock()
	if s == nil {
		c.writeTNTError(w, r, http.StatusNotFound, "notFound", "no subscription "+id)
		return
	}
	w.Header().Set("API-Version", tntAPIVersion)
	w.WriteHeader(http.StatusNoContent)
}

// view is the inspection form of s.
func (s *subscription) view() Subscription {
	v := Subscription{
		ID:            s.id,
		CallbackURL:   s.callback,
		EventTypes:    slices.Clone(s.eventTypes),
		Secret:        slices.Clone(s.secret),
		Created:       s.created,
		SecretUpdates: s.updates,
	}
	switch {
	case s.filter.equipment != "":
		v.Kind, v.Identifier = references.KindContainer, s.filter.equipment
	case s.filter.document != "":
		v.Kind, v.Identifier = references.KindBillOfLading, s.filter.document
	case s.filter.booking != "":
		v.Kind, v.Identifier = references.KindBooking, s.filter.booking
	}
	return v
}
