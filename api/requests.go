package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/trackhook/trackhook/references"
)

// createBody is the JSON body of POST /references. poll_interval is kept raw while
// the body is decoded and read afterwards (see request), so that a bad value is
// reported with its field, after any other fault of the body, as it always was.
//
// The omitempty options do not change decoding: they make requestHash's encoding of
// the body the one the request hash of an Idempotency-Key has always been taken of.
type createBody struct {
	ContainerID   string            `json:"container_id,omitempty"`
	BillOfLading  string            `json:"bill_of_lading,omitempty"`
	BookingNumber string            `json:"booking_number,omitempty"`
	CarrierCode   string            `json:"carrier_code"`
	CallbackURL   string            `json:"callback_url,omitempty"`
	EventTypes    []string          `json:"event_types,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	PollInterval  json.RawMessage   `json:"poll_interval,omitempty"`
}

// request returns the create request the body asks for, with the hashes an
// Idempotency-Key is checked against.
func (b *createBody) request() (references.CreateRequest, error) {
	req := references.CreateRequest{
		ContainerID:   b.ContainerID,
		BillOfLading:  b.BillOfLading,
		BookingNumber: b.BookingNumber,
		CarrierCode:   b.CarrierCode,
		CallbackURL:   b.CallbackURL,
		EventTypes:    b.EventTypes,
		Metadata:      b.Metadata,
	}
	interval, err := durationField("poll_interval", b.PollInterval)
	if err != nil {
		return req, err
	}
	if interval != nil {
		p := references.Duration(*interval)
		req.PollInterval = &p
	}
	n := req.Normalized()
	normal := createBody{
		ContainerID: n.ContainerID, BillOfLading: n.BillOfLading, BookingNumber: n.BookingNumber,
		CarrierCode: n.CarrierCode, CallbackURL: n.CallbackURL, EventTypes: n.EventTypes, Metadata: n.Metadata,
	}
	req.RequestHash = normal.requestHash(req.PollInterval)
	if legacy := b.requestHash(req.PollInterval); legacy != req.RequestHash {
		req.LegacyRequestHash = legacy
	}
	return req, nil
}

// requestHash is the hex SHA-256 of the body in a canonical encoding: fields in a fixed
// order, empty ones left out, poll_interval as Go writes a duration ("1h30m0s"). So
// spacing, field order and "90m" for "1h30m" do not make a retry a different request.
// request takes it of the normalised body, so neither does "mscu" for "MSCU"; of a
// body already in normal form that is the hash earlier versions took and stored.
func (b *createBody) requestHash(interval *references.Duration) string {
	canonical := *b
	canonical.PollInterval = nil
	if interval != nil {
		canonical.PollInterval, _ = Duration(*interval).MarshalJSON() // a string: cannot fail
	}
	data, _ := json.Marshal(canonical) // strings, slices and maps of strings: cannot fail
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// patchBody is the JSON body of PATCH /references/:id. Absent (or null) fields are
// left as they are.
type patchBody struct {
	CallbackURL *string   `json:"callback_url"`
	EventTypes  *[]string `json:"event_types"`
}

func (b *patchBody) patch() references.Patch {
	return references.Patch{CallbackURL: b.CallbackURL, EventTypes: b.EventTypes}
}
