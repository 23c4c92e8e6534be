package references

import (
	"slices"
	"strings"
	"time"
)

// ListQuery selects a page of references: the filters all must match, in the order
// Sort names.
type ListQuery struct {
	Status Status // empty for all
	Limit  int
	Cursor string // opaque, from a previous ReferencePage.NextCursor of the same Sort

	// Identifier matches the reference's own identifier (of any kind) or the number
	// of a container in its latest snapshot: exactly, or as a prefix when it ends with
	// "*" (see IdentifierPrefix).
	Identifier  string
	CarrierCode string
	// Metadata pairs must all be in the reference's metadata, with these values.
	Metadata     map[string]string
	UpdatedSince *time.Time // UpdatedAt at or after
	// ETABefore and ETAAfter bound the latest snapshot's ETA (exclusive); a reference
	// without an ETA matches neither.
	ETABefore, ETAAfter *time.Time
	// HasCallback, when set, keeps the references with (true) or without (false) a
	// callback_url.
	HasCallback *bool
	// Failing keeps the references whose last poll failed or whose callback
	// deliveries are failing.
	Failing bool
	// LateAt, when set, keeps the references whose latest snapshot is late at that
	// time (see ShipmentSummary.Late).
	LateAt *time.Time
	Sort   ListSort
}

// ListSort is the order of a list of references.
type ListSort string

// Orders of ListQuery.Sort.
const (
	SortCreated ListSort = "created" // oldest first; the default
	SortETA     ListSort = "eta"     // earliest ETA first, then those without an ETA in creation order
)

// MaxIdentifierFilterLen bounds ListQuery.Identifier (the longest identifier is 35).
const MaxIdentifierFilterLen = 36

// Normalize validates the filters of q and returns them in the form the store
// compares: the identifier and carrier upper case, times in UTC, the default sort.
// Status and Limit are checked by Service.List.
func (q ListQuery) Normalize() (ListQuery, error) {
	switch q.Sort {
	case "":
		q.Sort = SortCreated
	case SortCreated, SortETA:
	default:
		return q, Invalidf("sort", "must be created or eta")
	}
	if q.Identifier != "" {
		id, ok := asciiUpper(strings.TrimSpace(q.Identifier))
		body := strings.TrimSuffix(id, "*")
		if !ok || body == "" || len(id) > MaxIdentifierFilterLen || strings.ContainsFunc(body, notAlnum) {
			return q, Invalidf("identifier", "must be a container number, bill of lading or booking number (A-Z, 0-9, at most 35), optionally ending with * for a prefix")
		}
		q.Identifier = id
	}
	if q.CarrierCode != "" {
		c, err := NormalizeCarrierCode(q.CarrierCode)
		if err != nil {
			return q, err
		}
		q.CarrierCode = c
	}
	if len(q.Metadata) > MaxMetadataKeys {
		return q, Invalidf("metadata", "may filter on at most %d keys", MaxMetadataKeys)
	}
	for k, v := range q.Metadata {
		if k == "" || len(k) > MaxMetadataKeyLen || len(v) > MaxMetadataValueLen {
			return q, Invalidf("metadata."+k, "keys must be 1 to %d bytes and values at most %d", MaxMetadataKeyLen, MaxMetadataValueLen)
		}
	}
	for _, t := range []**time.Time{&q.UpdatedSince, &q.ETABefore, &q.ETAAfter, &q.LateAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return q, nil
}

func notAlnum(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }

// IdentifierPrefix returns the identifier filter without its "*" and whether it is a
// prefix.
func (q *ListQuery) IdentifierPrefix() (value string, prefix bool) {
	v, prefix := strings.CutSuffix(q.Identifier, "*")
	return v, prefix
}

// MatchesIdentifier reports whether the identifier filter matches value (a
// reference's identifier or a container number); an empty filter matches all.
func (q *ListQuery) MatchesIdentifier(value string) bool {
	if q.Identifier == "" {
		return true
	}
	v, prefix := q.IdentifierPrefix()
	if prefix {
		return strings.HasPrefix(value, v)
	}
	return value == v
}

// Matches reports whether ref, whose latest snapshot has the given summary (nil: no
// snapshot) and container numbers, passes every filter of a normalised q.
func (q *ListQuery) Matches(ref *Reference, sum *ShipmentSummary, containers []string) bool {
	if q.Status != "" && ref.Status != q.Status {
		return false
	}
	if q.HasCallback != nil && (ref.CallbackURL != "") != *q.HasCallback {
		return false
	}
	if q.Failing && !ref.Failing() {
		return false
	}
	if q.LateAt != nil && (sum == nil || !sum.Late(*q.LateAt)) {
		return false
	}
	var eta *time.Time
	if sum != nil {
		eta = sum.ETA
	}
	if q.CarrierCode != "" && ref.CarrierCode != q.CarrierCode {
		return false
	}
	if q.UpdatedSince != nil && ref.UpdatedAt.Before(*q.UpdatedSince) {
		return false
	}
	for k, v := range q.Metadata {
		if got, ok := ref.Metadata[k]; !ok || got != v {
			return false
		}
	}
	if !q.MatchesETA(eta) {
		return false
	}
	if q.Identifier != "" {
		_, own := ref.Identifier()
		if !q.MatchesIdentifier(own) && !slices.ContainsFunc(containers, q.MatchesIdentifier) {
			return false
		}
	}
	return true
}

// FiltersETA reports whether q bounds the ETA.
func (q *ListQuery) FiltersETA() bool { return q.ETABefore != nil || q.ETAAfter != nil }

// MatchesETA reports whether eta (nil: none) is within q's ETA bounds.
func (q *ListQuery) MatchesETA(eta *time.Time) bool {
	if !q.FiltersETA() {
		return true
	}
	if eta == nil {
		return false
	}
	if q.ETABefore != nil && !eta.Before(*q.ETABefore) {
		return false
	}
	return q.ETAAfter == nil || eta.After(*q.ETAAfter)
}
