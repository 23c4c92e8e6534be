package references

import "strings"

// Normalized returns the request with its values in the form Create stores them:
// the identifier and the carrier code upper-cased (a container number also without
// spaces and hyphens), a blank carrier code empty, and the event types without
// repeats. A value that does not normalise is left as given, for Create to refuse.
// Two requests with the same normalised form are the same request: an
// Idempotency-Key replays either. A carrier code is not filled in by detection here:
// a request without one and a request naming the carrier it would detect are two
// requests, as the client wrote them.
func (r CreateRequest) Normalized() CreateRequest {
	keep := func(v string, normalize func(string) (string, error)) string {
		if n, err := normalize(v); err == nil {
			return n
		}
		return v
	}
	r.ContainerID = keep(r.ContainerID, NormalizeContainerID)
	r.BillOfLading = keep(r.BillOfLading, func(s string) (string, error) { return NormalizeDocumentNumber("bill_of_lading", s) })
	r.BookingNumber = keep(r.BookingNumber, func(s string) (string, error) { return NormalizeDocumentNumber("booking_number", s) })
	r.CarrierCode = keep(r.CarrierCode, NormalizeCarrierCode)
	if strings.TrimSpace(r.CarrierCode) == "" {
		r.CarrierCode = "" // no carrier code, however it was sent: detected at create
	}
	if types, err := ValidateEventTypes(r.EventTypes); err == nil {
		r.EventTypes = types
	}
	return r
}

// Matches reports whether a request hash stored with this key's first use is the
// hash of the request k comes with: its RequestHash, or its LegacyRequestHash.
func (k *IdempotencyKey) Matches(stored string) bool {
	return stored == k.RequestHash || (k.LegacyRequestHash != "" && stored == k.LegacyRequestHash)
}
