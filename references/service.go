package references

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Store is what the Service needs of persistence. store.DB implements it.
type Store interface {
	// CreateReference stores a new active reference and its first due time, under the
	// conditions of opts (see ReferenceStore.CreateReference).
	CreateReference(ctx context.Context, ref Reference, opts CreateOptions) (stored Reference, replayed bool, err error)
	// CreateReferences stores a batch of references (see ReferenceStore.CreateReferences).
	CreateReferences(ctx context.Context, accountID string, items []BatchItem, opts CreateOptions) (results []CreateResult, replayed bool, err error)
	GetReference(ctx context.Context, accountID, id string) (Reference, error)
	ListReferences(ctx context.Context, accountID string, q ListQuery) (ReferencePage, error)
	// Shipment returns the reference's latest snapshot, nil before the first.
	Shipment(ctx context.Context, refID string) (*Shipment, error)
	// UnsubscribeReference stops tracking and ends the feed with a
	// reference.unsubscribed update (see ReferenceStore.UnsubscribeReference).
	UnsubscribeReference(ctx context.Context, accountID, id string, reason UnsubscribeReason, at time.Time) (Reference, error)
	// PatchReference changes the callback URL and event filter of an active reference.
	PatchReference(ctx context.Context, accountID, id string, patch Patch, at time.Time) (Reference, error)
	PauseStore
	ListUpdates(ctx context.Context, accountID, refID string, after uint64, limit int) ([]Update, error)
	// ListAccountUpdates reads the account feed (see FeedStore.ListAccountUpdates).
	ListAccountUpdates(ctx context.Context, accountID string, q AccountUpdateQuery) (AccountUpdatePage, error)
	GetAccount(ctx context.Context, accountID string) (Account, error)
	// RotateWebhookSecret makes secret the account's newest signing secret (see
	// AccountStore.RotateWebhookSecret).
	RotateWebhookSecret(ctx context.Context, accountID, secret string, graceUntil time.Time, actor string) (Account, error)
	ListDeliveries(ctx context.Context, accountID, refID string, q DeliveryQuery) (DeliveryPage, error)
	// RequestRedelivery queues one update of the reference to be sent again now.
	RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error
	endpointStore
	keyStore
	AuditStore
}

// DeliveryQuery selects a page of a reference's delivery log, newest first.
type DeliveryQuery struct {
	Limit  int
	Cursor string
}

// DeliveryPage is one page of the delivery log.
type DeliveryPage struct {
	Deliveries []DeliveryAttempt
	NextCursor string
}

// IdempotencyKey is a client's Idempotency-Key for a create, with a hash of the
// request it came with, so the same key reused for another request is refused (see
// Matches). RequestHash is stored with the key's first use.
type IdempotencyKey struct {
	Key               string
	RequestHash       string
	LegacyRequestHash string // see CreateRequest.LegacyRequestHash
	ExpiresAt         time.Time
}

// ReferencePage is one page of references in the order the query asked for. A page
// may hold fewer than the limit (even none) and still have a cursor: a filtered read
// stops after a bounded number of references (see store.ListReferences).
type ReferencePage struct {
	References []Reference
	NextCursor string // empty on the last page
}

// UpdatePage is one page of a reference's feed.
type UpdatePage struct {
	Updates   []Update
	NextAfter uint64 // pass as ?after= to continue
}

// Patch is a change to an active reference. Nil fields are left as they are.
type Patch struct {
	CallbackURL *string
	EventTypes  *[]string
}

// CallbackChange is what a patch did to a reference's callback, which the backend's
// delivery stream then follows.
type CallbackChange int

// What Reference.ApplyPatch did to the callback.
const (
	CallbackKept    CallbackChange = iota
	CallbackRemoved                // nothing to deliver to: the stream ends, the feed stays readable
	CallbackMoved                  // what is pending goes to the new URL, from its first try
)

// ApplyPatch applies p at at to a subscribed reference, by the rule every backend
// shares; an unsubscribed one is a conflict. A new callback URL starts its health
// afresh; removing it counts the whole feed as delivered.
func (r *Reference) ApplyPatch(p Patch, at time.Time) (CallbackChange, error) {
	if !r.Subscribed() {
		return CallbackKept, Errorf(CodeConflict, "reference %s is unsubscribed and cannot be changed", r.ID)
	}
	if p.EventTypes != nil {
		r.EventTypes = *p.EventTypes
	}
	r.UpdatedAt = at
	if p.CallbackURL == nil || *p.CallbackURL == r.CallbackURL {
		return CallbackKept, nil
	}
	r.CallbackURL = *p.CallbackURL
	r.DeliveryState, r.FailingSince = "", nil
	if r.CallbackURL == "" {
		r.DeliveredSequence = r.LastSequence
		return CallbackRemoved, nil
	}
	return CallbackMoved, nil
}

// PageSize is the size of a page a backend reads for a limit asked for:
// DefaultPageSize when none is, at most MaxPageSize (the service refuses larger ones).
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// Page size limits.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
	MaxIdempotencyKeyLen = 255
)

// ServiceOptions configures a Service.
type ServiceOptions struct {
	AllowInsecureCallbacks bool          // accept http:// callback URLs
	DefaultPollInterval    time.Duration // when a create gives none; default 15m
	MinPollInterval        time.Duration // default 5m
	MaxPollInterval        time.Duration // default 24h
	// CheckSource, when set, is asked whether the tracking source the reference's
	// carrier is routed to can track it (cmd/trackhook asks the poller's router: a DCSA
	// source knows the limits of its API). It gets the reference as validated, and its
	// error is shown to the client on the identifier's field.
	CheckSource func(ref Reference) error
	// CheckCallback, when set, is asked whether a callback URL's host is a permitted
	// destination (the notifier's SSRF guard). Its error is shown to the client: 422,
	// or 503 when it wraps ErrTemporary.
	CheckCallback func(ctx context.Context, rawURL string) error
	Now           func() time.Time
	// MaxActivePerAccount is each account's quota of active references; 0: none.
	MaxActivePerAccount int
	// MaxEndpointsPerAccount is each account's quota of endpoints; 0: none.
	MaxEndpointsPerAccount int
	// TestEndpoint, when set, sends an endpoint.test event to the endpoint and returns
	// the receiver's answer (cmd/trackhook wires the notifier's).
	TestEndpoint func(ctx context.Context, ep Endpoint) (DeliveryAttempt, error)
	// KeyUsed, when set, is told of every request a key authenticated, on the
	// request's path: it must return at once and write nothing itself (cmd/trackhook
	// wires internal/keyuse, which writes last-used times in the background, at most
	// once a minute per key).
	KeyUsed func(key APIKey, at time.Time)
	// PollRequested, when set, is told that a reference was made due at once (a
	// refresh, a resume), so the poller scans now rather than at its next tick. It
	// must return at once (cmd/trackhook wires the poller's Wake).
	PollRequested func()
}

// Service is the references API: validation and account scoping in front of the Store.
// The operations it writes in an account's audit log take their actor from the
// context (see WithActor).
type Service struct {
	store Store
	opts  ServiceOptions
}

// NewService returns a Service over store.
func NewService(store Store, opts ServiceOptions) *Service {
	if opts.DefaultPollInterval == 0 {
		opts.DefaultPollInterval = 15 * time.Minute
	}
	if opts.MinPollInterval == 0 {
		opts.MinPollInterval = 5 * time.Minute
	}
	if opts.MaxPollInterval == 0 {
		opts.MaxPollInterval = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, opts: opts}
}

// CreateRequest is what a client asks to track, as given (Create validates and
// normalises it).
type CreateRequest struct {
	ContainerID   string
	BillOfLading  string
	BookingNumber string
	CarrierCode   string // empty (or blank): detected from the identifier, see DetectCarrier
	CallbackURL   string
	EventTypes    []string
	Metadata      map[string]string
	PollInterval  *Duration // nil: the service's default
	// RequestHash identifies the request once normalised (see Normalized), so that an
	// Idempotency-Key reused with another request is refused and one retried in
	// another spelling (lower case) replays. The layer that read the request computes
	// it (the API hashes the normalised body); it is needed only with a key.
	RequestHash string
	// LegacyRequestHash, when set, is the hash earlier versions took of the request
	// as sent, before normalising (it differs only when normalising changed
	// something). A key stored with it still replays. Keys are kept IdempotencyTTL, so
	// it can go once a version with normalised hashes has run that long.
	LegacyRequestHash string
}

// NewID returns a random, URL-safe id with the given prefix, such as "ref_".
func NewID(prefix string) string {
	return prefix + rand.Text()
}

// Create validates req and creates an active reference in the account. With an
// idempotency key, a retried request returns the reference the first one created
// (replayed is true).
func (s *Service) Create(ctx context.Context, accountID string, req CreateRequest, idempotencyKey string) (ref Reference, replayed bool, err error) {
	ref, err = s.validate(ctx, req, s.checkCallback)
	if err != nil {
		return Reference{}, false, err
	}
	now := s.opts.Now().UTC()
	s.prepare(&ref, accountID, now)
	idem, err := s.idempotency(idempotencyKey, req.RequestHash, req.LegacyRequestHash, now)
	if err != nil {
		return Reference{}, false, err
	}
	return s.store.CreateReference(ctx, ref, CreateOptions{Idempotency: idem, MaxActive: s.opts.MaxActivePerAccount})
}

// prepare makes a validated reference a new active one of the account, due for its
// first poll at once.
func (s *Service) prepare(ref *Reference, accountID string, now time.Time) {
	ref.ID = NewID("ref_")
	ref.AccountID = accountID
	ref.Status = StatusActive
	ref.CreatedAt, ref.UpdatedAt = now, now
	next := now
	ref.NextPollAt = &next
}

// idempotency returns the key a create is stored under, or nil without one.
func (s *Service) idempotency(key, hash, legacyHash string, now time.Time) (*IdempotencyKey, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > MaxIdempotencyKeyLen {
		return nil, Invalidf("Idempotency-Key", "must be at most %d characters", MaxIdempotencyKeyLen)
	}
	if hash == "" {
		return nil, fmt.Errorf("create with Idempotency-Key %q: the request has no hash to check a retry against", key)
	}
	return &IdempotencyKey{Key: key, RequestHash: hash, LegacyRequestHash: legacyHash, ExpiresAt: now.Add(IdempotencyTTL)}, nil
}

// validate checks and normalises a create request; checkCallback vets its callback
// URL (the batch create remembers answers per URL).
func (s *Service) validate(ctx context.Context, req CreateRequest, checkCallback func(context.Context, string) error) (Reference, error) {
	var ref Reference
	set := 0
	var err error
	if req.ContainerID != "" {
		set++
		if ref.ContainerID, err = NormalizeContainerID(req.ContainerID); err != nil {
			return ref, err
		}
	}
	if req.BillOfLading != "" {
		set++
		if ref.BillOfLading, err = NormalizeDocumentNumber("bill_of_lading", req.BillOfLading); err != nil {
			return ref, err
		}
	}
	if req.BookingNumber != "" {
		set++
		if ref.BookingNumber, err = NormalizeDocumentNumber("booking_number", req.BookingNumber); err != nil {
			return ref, err
		}
	}
	if set != 1 {
		return ref, Invalidf("container_id", "give exactly one of container_id, bill_of_lading and booking_number (got %d)", set)
	}
	if err := carrierOf(&ref, req.CarrierCode); err != nil {
		return ref, err
	}
	if s.opts.CheckSource != nil {
		if err := s.opts.CheckSource(ref); err != nil {
			kind, _ := ref.Identifier()
			return ref, Invalidf(string(kind), "%v", err)
		}
	}
	if req.CallbackURL != "" {
		if err := checkCallback(ctx, req.CallbackURL); err != nil {
			return ref, err
		}
		ref.CallbackURL = req.CallbackURL
	}
	if ref.EventTypes, err = ValidateEventTypes(req.EventTypes); err != nil {
		return ref, err
	}
	if err := ValidateMetadata(req.Metadata); err != nil {
		return ref, err
	}
	ref.Metadata = req.Metadata
	ref.PollInterval = Duration(s.opts.DefaultPollInterval)
	if req.PollInterval != nil {
		d := time.Duration(*req.PollInterval)
		if d < s.opts.MinPollInterval || d > s.opts.MaxPollInterval {
			return ref, Invalidf("poll_interval", "must be between %s and %s", s.opts.MinPollInterval, s.opts.MaxPollInterval)
		}
		ref.PollInterval = *req.PollInterval
	}
	return ref, nil
}

func (s *Service) checkCallback(ctx context.Context, raw string) error {
	if _, err := ValidateCallbackURL(raw, s.opts.AllowInsecureCallbacks); err != nil {
		return err
	}
	if s.opts.CheckCallback != nil {
		if err := s.opts.CheckCallback(ctx, raw); err != nil {
			if errors.Is(err, ErrTemporary) {
				return &Error{Code: CodeUnavailable, Field: "callback_url", Message: fmt.Sprintf("could not be checked now: %v; try again", err)}
			}
			return Invalidf("callback_url", "is not a permitted destination: %v", err)
		}
	}
	return nil
}

// Get returns a reference of the account; another account's reference is not found.
func (s *Service) Get(ctx context.Context, accountID, id string) (Reference, error) {
	return s.store.GetReference(ctx, accountID, id)
}

// List returns a page of the account's references that pass q's filters, in creation
// order or by ETA.
func (s *Service) List(ctx context.Context, accountID string, q ListQuery) (ReferencePage, error) {
	switch q.Status {
	case "", StatusActive, StatusPaused, StatusUnsubscribed:
	default:
		return ReferencePage{}, Invalidf("status", "must be active, paused or unsubscribed")
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return ReferencePage{}, err
	}
	q.Limit = limit
	if q, err = q.Normalize(); err != nil {
		return ReferencePage{}, err
	}
	return s.store.ListReferences(ctx, accountID, q)
}

// Unsubscribe stops tracking a reference at the user's request (reason user). The
// feed ends with a reference.unsubscribed update, delivered to the callback after
// whatever is pending. It is idempotent.
func (s *Service) Unsubscribe(ctx context.Context, accountID, id string) (Reference, error) {
	return s.store.UnsubscribeReference(ctx, accountID, id, ReasonUser, s.opts.Now().UTC())
}

// Patch changes the callback URL (empty string removes it) and the event filter of an
// active reference. Updates not yet delivered go to the new URL.
func (s *Service) Patch(ctx context.Context, accountID, id string, p Patch) (Reference, error) {
	if p.CallbackURL == nil && p.EventTypes == nil {
		return Reference{}, Invalidf("callback_url", "give callback_url and/or event_types to change")
	}
	if p.CallbackURL != nil && *p.CallbackURL != "" {
		if err := s.checkCallback(ctx, *p.CallbackURL); err != nil {
			return Reference{}, err
		}
	}
	if p.EventTypes != nil {
		types, err := ValidateEventTypes(*p.EventTypes)
		if err != nil {
			return Reference{}, err
		}
		p.EventTypes = &types
	}
	return s.store.PatchReference(ctx, accountID, id, p, s.opts.Now().UTC())
}

// Updates returns the reference's feed after the given sequence.
func (s *Service) Updates(ctx context.Context, accountID, id string, after uint64, limit int) (UpdatePage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return UpdatePage{}, err
	}
	ups, err := s.store.ListUpdates(ctx, accountID, id, after, limit)
	if err != nil {
		return UpdatePage{}, err
	}
	page := UpdatePage{Updates: ups, NextAfter: after}
	if page.Updates == nil {
		page.Updates = []Update{}
	}
	if n := len(ups); n > 0 {
		page.NextAfter = ups[n-1].Sequence
	}
	return page, nil
}

func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 0 || limit > MaxPageSize:
		return 0, Invalidf("limit", "must be between 1 and %d", MaxPageSize)
	}
	return limit, nil
}

// DefaultRotationGrace is how long the previous webhook secret keeps signing after a
// rotation that names no grace.
const DefaultRotationGrace = 24 * time.Hour

// MaxRotationGrace bounds grace_seconds on a rotation.
const MaxRotationGrace = 7 * 24 * time.Hour

// Deliveries returns a page of the reference's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, accountID, refID string, q DeliveryQuery) (DeliveryPage, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return DeliveryPage{}, err
	}
	q.Limit = limit
	return s.store.ListDeliveries(ctx, accountID, refID, q)
}

// Redeliver queues one update of the reference to be POSTed again now, whatever its
// earlier outcome. The reference must have a callback URL.
func (s *Service) Redeliver(ctx context.Context, accountID, refID, updateID string) error {
	ref, err := s.store.GetReference(ctx, accountID, refID)
	if err != nil {
		return err
	}
	if ref.CallbackURL == "" {
		return Invalidf("callback_url", "the reference has no callback_url to deliver to; read its updates with GET /references/%s/updates", ref.ID)
	}
	return s.store.RequestRedelivery(ctx, accountID, refID, updateID, s.opts.Now().UTC())
}
