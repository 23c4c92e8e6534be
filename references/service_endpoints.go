package references

import (
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"
)

// endpointStore is what the Service needs of persistence for account endpoints (see
// EndpointStore for each method's promise); it is part of Store.
type endpointStore interface {
	CreateEndpoint(ctx context.Context, ep Endpoint, maxPerAccount int) (Endpoint, error)
	GetEndpoint(ctx context.Context, accountID, id string) (Endpoint, error)
	ListEndpoints(ctx context.Context, accountID string, q ListQuery) (EndpointPage, error)
	PatchEndpoint(ctx context.Context, accountID, id string, change func(*Endpoint) error) (Endpoint, error)
	DeleteEndpoint(ctx context.Context, accountID, id string) error
	RotateEndpointSecret(ctx context.Context, accountID, id, secret string, graceUntil time.Time, actor string) (Endpoint, error)
	ListMessages(ctx context.Context, accountID, endpointID string, q MessageQuery) (MessagePage, error)
	GetMessage(ctx context.Context, accountID, endpointID, messageID string) (Message, MessageBody, error)
	ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error
	RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error)
	EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (EndpointStats, error)
	ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]AccountEvent, error)
}

// Limits of endpoint settings.
const (
	MaxMinETAChange = 30 * 24 * time.Hour
	MinRetryWindow  = time.Minute
	MaxRetryWindow  = 30 * 24 * time.Hour
	MaxDisableAfter = 30 * 24 * time.Hour
	// StatsPeriod is the period GET /endpoints/:id/stats covers.
	StatsPeriod = 24 * time.Hour
)

// CreateEndpoint validates in (nil fields take their defaults: enabled, standard
// format and headers, DefaultDisableAfter) and stores a new endpoint with a fresh
// signing secret. in.URL is required.
func (s *Service) CreateEndpoint(ctx context.Context, accountID string, in EndpointPatch) (Endpoint, error) {
	if in.URL == nil {
		return Endpoint{}, Invalidf("url", "is required: the https URL webhooks are POSTed to")
	}
	if err := s.checkEndpointURL(ctx, *in.URL); err != nil {
		return Endpoint{}, err
	}
	now := s.opts.Now().UTC()
	ep := Endpoint{
		ID: NewID("ep_"), AccountID: accountID, Enabled: true,
		Format: FormatStandard, Headers: HeadersStandard, DisableAfter: DefaultDisableAfter,
		Secrets:   []WebhookSecret{{Secret: NewWebhookSecret(), CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := ep.Apply(in, now); err != nil {
		return Endpoint{}, err
	}
	ep, err := s.store.CreateEndpoint(ctx, ep, s.opts.MaxEndpointsPerAccount)
	if err != nil {
		return Endpoint{}, err
	}
	return ep, s.audit(ctx, accountID, AuditEndpointCreated, ep.ID)
}

// GetEndpoint returns an endpoint of the account; another account's is not found.
func (s *Service) GetEndpoint(ctx context.Context, accountID, id string) (Endpoint, error) {
	return s.store.GetEndpoint(ctx, accountID, id)
}

// ListEndpoints returns a page of the account's endpoints in creation order.
func (s *Service) ListEndpoints(ctx context.Context, accountID string, q ListQuery) (EndpointPage, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return EndpointPage{}, err
	}
	q.Limit, q.Status = limit, ""
	return s.store.ListEndpoints(ctx, accountID, q)
}

// PatchEndpoint changes an endpoint's settings. Enabled=true re-enables a disabled
// endpoint, which goes on with its pending messages; Enabled=false disables it
// (reason user) and it gets no new messages until re-enabled.
func (s *Service) PatchEndpoint(ctx context.Context, accountID, id string, p EndpointPatch) (Endpoint, error) {
	if p == (EndpointPatch{}) {
		return Endpoint{}, Invalidf("url", "give at least one setting to change")
	}
	if p.URL != nil {
		if err := s.checkEndpointURL(ctx, *p.URL); err != nil {
			return Endpoint{}, err
		}
	}
	now := s.opts.Now().UTC()
	return s.store.PatchEndpoint(ctx, accountID, id, func(ep *Endpoint) error {
		return ep.Apply(p, now)
	})
}

// DeleteEndpoint deletes an endpoint with its messages.
func (s *Service) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	if err := s.store.DeleteEndpoint(ctx, accountID, id); err != nil {
		return err
	}
	return s.audit(ctx, accountID, AuditEndpointDeleted, id)
}

// RotateEndpointSecret gives the endpoint a new signing secret; the previous one signs
// for grace more (DefaultRotationGrace when nil, 0 replaces it at once), as for the
// account's secret (see RotateSecrets).
func (s *Service) RotateEndpointSecret(ctx context.Context, accountID, id string, grace *time.Duration) (Endpoint, error) {
	g := DefaultRotationGrace
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > MaxRotationGrace {
		return Endpoint{}, Invalidf("grace_seconds", "must be between 0 and %d", int(MaxRotationGrace.Seconds()))
	}
	return s.store.RotateEndpointSecret(ctx, accountID, id, NewWebhookSecret(), s.opts.Now().UTC().Add(g), ActorFrom(ctx))
}

// Messages returns a page of an endpoint's messages, newest first.
func (s *Service) Messages(ctx context.Context, accountID, endpointID string, q MessageQuery) (MessagePage, error) {
	if q.Status != "" && !slices.Contains(MessageStatuses, q.Status) {
		return MessagePage{}, Invalidf("status", "must be one of pending, sending, succeeded, failed")
	}
	if q.After != nil && q.Before != nil && !q.After.Before(*q.Before) {
		return MessagePage{}, Invalidf("after", "must be earlier than before")
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return MessagePage{}, err
	}
	q.Limit = limit
	return s.store.ListMessages(ctx, accountID, endpointID, q)
}

// Message returns one message of an endpoint with every attempt and what it carries.
func (s *Service) Message(ctx context.Context, accountID, endpointID, messageID string) (Message, MessageBody, error) {
	return s.store.GetMessage(ctx, accountID, endpointID, messageID)
}

// ResendMessage queues a message to be sent once more now, whatever its status.
func (s *Service) ResendMessage(ctx context.Context, accountID, endpointID, messageID string) error {
	return s.store.ResendMessage(ctx, accountID, endpointID, messageID, s.opts.Now().UTC())
}

// RecoverMessages queues every failed message created since since (at most
// MaxRecoverAge ago) to be sent once more, and returns how many.
func (s *Service) RecoverMessages(ctx context.Context, accountID, endpointID string, since time.Time) (int, error) {
	now := s.opts.Now().UTC()
	switch {
	case since.IsZero():
		return 0, Invalidf("since", "is required: an RFC 3339 time at most 14 days ago")
	case since.Before(now.Add(-MaxRecoverAge)):
		return 0, Invalidf("since", "must be at most 14 days ago")
	case since.After(now):
		return 0, Invalidf("since", "must not be in the future")
	}
	return s.store.RecoverMessages(ctx, accountID, endpointID, since, now)
}

// TestEndpoint sends an endpoint.test event to the endpoint now, enabled or not, and
// returns the receiver's answer. Nothing is recorded.
func (s *Service) TestEndpoint(ctx context.Context, accountID, id string) (DeliveryAttempt, error) {
	ep, err := s.store.GetEndpoint(ctx, accountID, id)
	if err != nil {
		return DeliveryAttempt{}, err
	}
	if s.opts.TestEndpoint == nil {
		return DeliveryAttempt{}, Errorf(CodeUnavailable, "this server does not send test events")
	}
	return s.opts.TestEndpoint(ctx, ep)
}

// EndpointStats summarises the endpoint's messages of the last StatsPeriod.
func (s *Service) EndpointStats(ctx context.Context, accountID, id string) (EndpointStats, error) {
	return s.store.EndpointStats(ctx, accountID, id, s.opts.Now().UTC().Add(-StatsPeriod))
}

// AccountEventPage is one page of an account's operational feed.
type AccountEventPage struct {
	Events    []AccountEvent
	NextAfter uint64 // pass as ?after= to continue
}

// AccountEvents returns the account's operational events after the sequence after.
func (s *Service) AccountEvents(ctx context.Context, accountID string, after uint64, limit int) (AccountEventPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return AccountEventPage{}, err
	}
	events, err := s.store.ListAccountEvents(ctx, accountID, after, limit)
	if err != nil {
		return AccountEventPage{}, err
	}
	next := after
	if len(events) > 0 {
		next = events[len(events)-1].Sequence
	}
	return AccountEventPage{Events: events, NextAfter: next}, nil
}

func (s *Service) checkEndpointURL(ctx context.Context, raw string) error {
	err := s.checkCallback(ctx, raw)
	var e *Error
	if errors.As(err, &e) && e.Field == "callback_url" {
		renamed := *e
		renamed.Field = "url"
		return &renamed
	}
	return err
}

// Apply validates p and sets it on the endpoint; on error the endpoint is left as it
// was. The URL's destination is checked by the Service before (it may take a DNS
// lookup, which has no place in a store's transaction).
func (ep *Endpoint) Apply(p EndpointPatch, now time.Time) error {
	next := *ep
	if err := next.apply(p, now); err != nil {
		return err
	}
	if next.MaxAttempts > 0 && next.RetryWindow > 0 {
		return Invalidf("max_attempts", "give max_attempts or retry_window, not both")
	}
	if next.Format != FormatBatch && p.BatchSize != nil {
		return Invalidf("batch_size", "applies to the batch format only")
	}
	next.UpdatedAt = now
	*ep = next
	return nil
}

func (ep *Endpoint) apply(p EndpointPatch, now time.Time) error {
	if p.URL != nil {
		ep.URL = *p.URL
	}
	if p.Description != nil {
		d := *p.Description
		if len(d) > MaxEndpointDescriptionLen || !utf8.ValidString(d) {
			return Invalidf("description", "must be valid UTF-8 of at most %d bytes", MaxEndpointDescriptionLen)
		}
		ep.Description = d
	}
	if p.EventTypes != nil {
		types, err := validateEndpointEventTypes(*p.EventTypes)
		if err != nil {
			return err
		}
		ep.EventTypes = types
	}
	if p.MinETAChange != nil {
		if d := *p.MinETAChange; d < 0 || d > MaxMinETAChange {
			return Invalidf("min_eta_change", "must be between 0s and %s", MaxMinETAChange)
		}
		ep.MinETAChange = *p.MinETAChange
	}
	if p.Filter != nil {
		f, err := validateFilter(*p.Filter)
		if err != nil {
			return err
		}
		ep.Filter = f
	}
	if p.Format != nil {
		switch *p.Format {
		case FormatStandard:
			ep.BatchSize = 0
		case FormatBatch:
			if ep.BatchSize == 0 {
				ep.BatchSize = DefaultBatchSize
			}
		default:
			return Invalidf("format", "must be standard or batch")
		}
		ep.Format = *p.Format
	}
	if p.BatchSize != nil {
		if n := *p.BatchSize; n < 1 || n > MaxBatchSize {
			return Invalidf("batch_size", "must be between 1 and %d", MaxBatchSize)
		}
		ep.BatchSize = *p.BatchSize
	}
	if p.Headers != nil {
		if h := *p.Headers; h != HeadersStandard && h != HeadersSvix {
			return Invalidf("headers", "must be standard or svix")
		}
		ep.Headers = *p.Headers
	}
	if p.MaxAttempts != nil {
		if n := *p.MaxAttempts; n < 0 || n > MaxEndpointAttempts {
			return Invalidf("max_attempts", "must be between 0 (use the retry window) and %d", MaxEndpointAttempts)
		}
		ep.MaxAttempts = *p.MaxAttempts
	}
	if p.RetryWindow != nil {
		if d := *p.RetryWindow; d != 0 && (d < MinRetryWindow || d > MaxRetryWindow) {
			return Invalidf("retry_window", "must be 0s (the server's window) or between %s and %s", MinRetryWindow, MaxRetryWindow)
		}
		ep.RetryWindow = *p.RetryWindow
	}
	if p.DisableAfter != nil {
		if d := *p.DisableAfter; d < 0 || d > MaxDisableAfter {
			return Invalidf("disable_after", "must be between 0s and %s", MaxDisableAfter)
		}
		ep.DisableAfter = *p.DisableAfter
	}
	if p.Enabled != nil {
		switch {
		case *p.Enabled && !ep.Enabled:
			ep.Enabled, ep.DisabledReason, ep.DisabledAt, ep.FailingSince = true, "", nil, nil
		case !*p.Enabled && ep.Enabled:
			ep.Enabled, ep.DisabledReason, ep.DisabledAt = false, DisabledByUser, &now
		}
	}
	return nil
}

func validateEndpointEventTypes(types []string) ([]string, error) {
	if len(types) > MaxEndpointEventTypes {
		return nil, Invalidf("event_types", "may list at most %d entries, got %d", MaxEndpointEventTypes, len(types))
	}
	out := []string{}
	for _, t := range types {
		if err := ValidateEventTypePattern(t); err != nil {
			return nil, Invalidf("event_types", "%v", err)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func validateFilter(f EndpointFilter) (EndpointFilter, error) {
	if len(f.CarrierCodes) > MaxFilterCarrierCodes {
		return f, Invalidf("filter.carrier_codes", "may list at most %d carriers", MaxFilterCarrierCodes)
	}
	var codes []string
	for _, c := range f.CarrierCodes {
		code, err := NormalizeCarrierCode(c)
		if err != nil {
			return f, Invalidf("filter.carrier_codes", "%q is not a SCAC code of 2 to 4 letters", c)
		}
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	if err := ValidateMetadata(f.Metadata); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return f, Invalidf("filter.metadata", "%s", e.Message)
		}
		return f, err
	}
	if len(f.Metadata) == 0 {
		f.Metadata = nil
	}
	return EndpointFilter{CarrierCodes: codes, Metadata: f.Metadata}, nil
}
