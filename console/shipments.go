package console

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// listPageSize is how many references a page of the shipments list shows.
const listPageSize = 50

// shipmentFilters are the filters of the shipments list and its CSV export, as the
// form#filters sends them (and every link of the list keeps them).
type shipmentFilters struct {
	Q           string // identifier, exact or prefix*
	Status      string // active, paused, unsubscribed; "" for all
	Carrier     string
	HasCallback string // any (""), yes, no
	Failing     bool
	Late        bool
	Sort        string // created (""), eta
}

func filtersOf(c echo.Context) shipmentFilters {
	return shipmentFilters{
		Q:           c.QueryParam("q"),
		Status:      c.QueryParam("status"),
		Carrier:     c.QueryParam("carrier"),
		HasCallback: c.QueryParam("has_callback"),
		Failing:     checked(c.QueryParam("failing")),
		Late:        checked(c.QueryParam("late")),
		Sort:        c.QueryParam("sort"),
	}
}

// checked reads a checkbox: browsers send "on" unless the input has a value.
func checked(v string) bool { return v == "on" || v == "yes" || v == "true" || v == "1" }

// listFields maps the fields of the references API's list errors to the form's.
var listFields = map[string]string{
	"identifier": "q", "status": "status", "carrier_code": "carrier", "sort": "sort", "has_callback": "has_callback",
}

// query returns the ListQuery of the filters; late is judged at now. The references
// Service validates the rest (identifier, carrier, status, sort).
func (f shipmentFilters) query(now time.Time) (references.ListQuery, error) {
	q := references.ListQuery{
		Identifier:  f.Q,
		Status:      references.Status(f.Status),
		CarrierCode: f.Carrier,
		Failing:     f.Failing,
		Sort:        references.ListSort(f.Sort),
	}
	switch f.HasCallback {
	case "", "any":
	case "yes", "no":
		has := f.HasCallback == "yes"
		q.HasCallback = &has
	default:
		return q, references.Invalidf("has_callback", "must be any, yes or no")
	}
	if f.Late {
		q.LateAt = &now
	}
	return q, nil
}

// values returns the filters as query parameters, without the empty ones.
func (f shipmentFilters) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", f.Q)
	set("status", f.Status)
	set("carrier", f.Carrier)
	if f.HasCallback != "any" {
		set("has_callback", f.HasCallback)
	}
	if f.Failing {
		v.Set("failing", "on")
	}
	if f.Late {
		v.Set("late", "on")
	}
	set("sort", f.Sort)
	return v
}

// href returns path with the filters, and the extra parameters, as its query.
func (f shipmentFilters) href(path string, extra ...string) string {
	v := f.values()
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// shipmentRow is one reference of the list, formatted.
type shipmentRow struct {
	ID              string
	Identifier      string
	Kind            string
	Carrier         string
	CarrierDetected bool
	Status          references.Status
	ShipmentStatus  string // in words; "" before the first snapshot
	Origin          place
	Destination     place
	ETA             *time.Time
	ETAMove         string
	Late            bool
	LastPoll        *time.Time
	PollError       string
	DeliveryFailing bool
}

func rowOf(ref *references.Reference, sum *references.ShipmentSummary, now time.Time) shipmentRow {
	kind, ident := ref.Identifier()
	row := shipmentRow{
		ID: ref.ID, Identifier: ident, Kind: kindWords(kind),
		Carrier: ref.CarrierCode, CarrierDetected: ref.CarrierDetected,
		Status:          ref.Status,
		LastPoll:        ref.LastPolledAt,
		PollError:       ref.LastPollError,
		DeliveryFailing: ref.DeliveryState == references.DeliveryFailing,
	}
	if sum != nil {
		row.ShipmentStatus = words(string(sum.Status))
		row.Origin, row.Destination = placeOf(sum.Origin), placeOf(sum.Destination)
		row.ETA = sum.ETA
		row.ETAMove = etaMoveText(sum)
		row.Late = sum.Late(now)
	}
	return row
}

// countLink is one status of #counts: how many references the account has in it,
// linking to the list filtered by it.
type countLink struct {
	Label   string
	N       int
	Href    string
	Current bool
}

type shipmentsData struct {
	Filters    shipmentFilters
	Errors     map[string]string // by form field
	FormError  string
	Counts     []countLink
	Rows       []shipmentRow
	First      bool   // the first page (no cursor)
	FirstHref  string // the first page with the same filters
	NextHref   string // "" on the last page
	ExportHref string
}

// shipments is the list of the account's references: GET /ui/.
func (s *Server) shipments(c echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	ctx := c.Request().Context()
	f := filtersOf(c)
	cursor := c.QueryParam("cursor")
	d := shipmentsData{
		Filters: f, First: cursor == "", FirstHref: f.href(Prefix + "/"),
		ExportHref: f.href(Prefix + "/shipments.csv"),
	}
	counts, err := s.svc.Counts(ctx, v.AccountID())
	if err != nil {
		return s.errorPage(c, err)
	}
	d.Counts = countLinks(counts, f.Status)

	now := s.opts.Now()
	q, err := f.query(now)
	var page references.ReferencePage
	if err == nil {
		q.Limit, q.Cursor = listPageSize, cursor
		page, err = s.svc.List(ctx, v.AccountID(), q)
	}
	if err != nil {
		var e *references.Error
		if !errors.As(err, &e) || e.Code != references.CodeInvalid {
			return s.errorPage(c, err)
		}
		if field, ok := listFields[e.Field]; ok {
			d.Errors = map[string]string{field: e.Message}
		} else {
			d.FormError = e.Field + " " + e.Message
		}
		return s.render(c, http.StatusUnprocessableEntity, "shipments.html", "Shipments", "shipments", d)
	}
	d.Rows = make([]shipmentRow, len(page.References))
	for i := range page.References {
		ref := &page.References[i]
		var sum *references.ShipmentSummary
		if got, ok := page.Summaries[ref.ID]; ok {
			sum = &got
		}
		d.Rows[i] = rowOf(ref, sum, now)
	}
	if page.NextCursor != "" {
		d.NextHref = f.href(Prefix+"/", "cursor", page.NextCursor)
	}
	return s.render(c, http.StatusOK, "shipments.html", "Shipments", "shipments", d)
}

func countLinks(counts map[references.Status]int, current string) []countLink {
	total := 0
	for _, n := range counts {
		total += n
	}
	out := []countLink{{Label: "All", N: total, Href: Prefix + "/", Current: current == ""}}
	for _, st := range []references.Status{references.StatusActive, references.StatusPaused, references.StatusUnsubscribed} {
		out = append(out, countLink{
			Label: string(st), N: counts[st],
			Href:    Prefix + "/?status=" + url.QueryEscape(string(st)),
			Current: current == string(st),
		})
	}
	return out
}

// viewer returns who is signed in; requireSession lets no request without one reach
// a page, so none is a bug, answered as unauthorized rather than a panic.
func (s *Server) viewer(c echo.Context) (*Viewer, error) {
	v := viewerOf(c)
	if v == nil {
		return nil, references.Errorf(references.CodeUnauthorized, "sign in first")
	}
	return v, nil
}
