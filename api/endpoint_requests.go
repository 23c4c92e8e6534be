package api

import (
	"encoding/json"
	"time"

	"github.com/trackhook/trackhook/references"
)

// endpointBody is the JSON body of POST /endpoints and PATCH /endpoints/:id. Absent (or
// null) fields are left as they are (on create: the defaults). The durations are kept
// raw while the body is decoded and read afterwards, so that a bad one is reported
// with its field (see durationField).
type endpointBody struct {
	URL          *string         `json:"url"`
	Description  *string         `json:"description"`
	EventTypes   *[]string       `json:"event_types"`
	MinETAChange json.RawMessage `json:"min_eta_change"`
	Enabled      *bool           `json:"enabled"`
	Filter       *filterBody     `json:"filter"`
	Format       *string         `json:"format"`
	BatchSize    *int            `json:"batch_size"`
	Headers      *string         `json:"headers"`
	RetryWindow  json.RawMessage `json:"retry_window"`
	MaxAttempts  *int            `json:"max_attempts"`
	DisableAfter json.RawMessage `json:"disable_after"`
}

// filterBody is an endpoint's filter as a request gives it. It replaces the filter as
// a whole: {} removes it.
type filterBody struct {
	CarrierCodes []string          `json:"carrier_codes"`
	Metadata     map[string]string `json:"metadata"`
}

// patch returns the change the body asks for; the Service validates its values.
func (b *endpointBody) patch() (references.EndpointPatch, error) {
	p := references.EndpointPatch{
		URL:         b.URL,
		Description: b.Description,
		EventTypes:  b.EventTypes,
		Enabled:     b.Enabled,
		BatchSize:   b.BatchSize,
		MaxAttempts: b.MaxAttempts,
	}
	if b.Filter != nil {
		p.Filter = &references.EndpointFilter{CarrierCodes: b.Filter.CarrierCodes, Metadata: b.Filter.Metadata}
	}
	if b.Format != nil {
		f := references.DeliveryFormat(*b.Format)
		p.Format = &f
	}
	if b.Headers != nil {
		h := references.HeaderStyle(*b.Headers)
		p.Headers = &h
	}
	var err error
	if p.MinETAChange, err = durationField("min_eta_change", b.MinETAChange); err != nil {
		return p, err
	}
	if p.RetryWindow, err = durationField("retry_window", b.RetryWindow); err != nil {
		return p, err
	}
	if p.DisableAfter, err = durationField("disable_after", b.DisableAfter); err != nil {
		return p, err
	}
	return p, nil
}

// durationField reads a duration field kept raw by the decoder: nil when it is absent
// or null. A string that is not a duration is invalid (422); a value that is not even
// a string cannot be read (400), as for any field of the wrong JSON type.
func durationField(name string, raw json.RawMessage) (*time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var d Duration
	if err := json.Unmarshal(raw, &d); err != nil {
		code := references.CodeInvalid
		if raw[0] != '"' {
			code = codeBadRequest
		}
		return nil, &references.Error{Code: code, Field: name, Message: name + ": " + err.Error()}
	}
	v := time.Duration(d)
	return &v, nil
}

// recoverBody is the JSON body of POST /endpoints/:id/recover. since is read after
// decoding, so that a time that cannot be read is reported with its field.
type recoverBody struct {
	Since *string `json:"since"`
}

// since returns the time the body gives; the zero time when it gives none (which the
// Service refuses, naming the field).
func (b *recoverBody) since() (time.Time, error) {
	if b.Since == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *b.Since)
	if err != nil {
		return time.Time{}, references.Invalidf("since", "must be an RFC 3339 time such as 2026-03-01T12:00:00Z, at most 14 days ago")
	}
	return t, nil
}
