package api

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// metadataParam prefixes the query parameters that filter on metadata: metadata.KEY=VALUE.
const metadataParam = "metadata."

// listParams are the query parameters of GET /references besides metadata.KEY; others
// are ignored, as on every route.
var listParams = []string{"limit", "status", "cursor", "identifier", "carrier_code", "sort",
	"updated_since", "eta_before", "eta_after", "has_callback", "failing", "late", "format"}

// parseListQuery reads the query of GET /references: paging, filters, sort and format.
// Its errors are ErrInvalid on the parameter's name; values are checked further by
// the service (references.ListQuery.Normalize). csv is true for ?format=csv. late=true
// asks for the references late at now.
func parseListQuery(v url.Values, now time.Time) (q references.ListQuery, csv bool, err error) {
	for name, vals := range v {
		if len(vals) > 1 && (slices.Contains(listParams, name) || strings.HasPrefix(name, metadataParam)) {
			return q, false, references.Invalidf(name, "give it once")
		}
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return q, false, references.Invalidf("limit", "must be an integer between 1 and %d", references.MaxPageSize)
		}
		q.Limit = n
	}
	q.Status = references.Status(v.Get("status"))
	q.Cursor = v.Get("cursor")
	q.Identifier = v.Get("identifier")
	q.CarrierCode = v.Get("carrier_code")
	q.Sort = references.ListSort(v.Get("sort"))
	for name, dst := range map[string]**time.Time{"updated_since": &q.UpdatedSince, "eta_before": &q.ETABefore, "eta_after": &q.ETAAfter} {
		raw := v.Get(name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return q, false, references.Invalidf(name, "must be an RFC 3339 time such as 2026-03-01T12:00:00Z")
		}
		*dst = &t
	}
	if raw := v.Get("has_callback"); raw != "" {
		has, err := strconv.ParseBool(raw)
		if err != nil {
			return q, false, references.Invalidf("has_callback", "must be true or false")
		}
		q.HasCallback = &has
	}
	for name, only := range map[string]func(){
		"failing": func() { q.Failing = true },
		"late":    func() { q.LateAt = &now },
	} {
		switch v.Get(name) {
		case "", "false":
		case "true":
			only()
		default:
			return q, false, references.Invalidf(name, "must be true or false")
		}
	}
	for name := range v {
		key, ok := strings.CutPrefix(name, metadataParam)
		if !ok {
			continue
		}
		if q.Metadata == nil {
			q.Metadata = map[string]string{}
		}
		q.Metadata[key] = v.Get(name)
	}
	switch v.Get("format") {
	case "", "json":
	case "csv":
		csv = true
	default:
		return q, false, references.Invalidf("format", "must be json or csv")
	}
	return q, csv, nil
}
