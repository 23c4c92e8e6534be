package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// trackValues is what form#track-form holds: the values as typed, so a form with
// errors comes back as it was sent.
type trackValues struct {
	Kind       string // container_id, bill_of_lading, booking_number
	Identifier string
	Carrier    string
	Callback   string
	Metadata   string // key=value, one a line

	Errors     map[string]string // by field name (see trackFields)
	FormError  string
	ConflictID string // the reference that tracks the identifier already
}

// trackKinds are the choices of select#kind, with their labels.
var trackKinds = []struct{ Value, Label string }{
	{string(references.KindContainer), "Container"},
	{string(references.KindBillOfLading), "Bill of lading"},
	{string(references.KindBooking), "Booking"},
}

// Kinds lists the choices of select#kind for the template.
func (f *trackValues) Kinds() []struct{ Value, Label string } { return trackKinds }

// trackFields maps the fields of the references API's errors to the form's (the
// names of its inputs, which name the p.field-error#error-<name> beside them).
var trackFields = map[string]string{
	string(references.KindContainer):    "identifier",
	string(references.KindBillOfLading): "identifier",
	string(references.KindBooking):      "identifier",
	"carrier_code":                      "carrier_code",
	"callback_url":                      "callback_url",
	"metadata":                          "metadata",
	"kind":                              "kind",
	"identifier":                        "identifier",
}

// trackForm renders the form: GET /ui/track. Like the POST, it needs the write
// scope (routes.go registers both without requireWrite, so they apply it here).
func (s *Server) trackForm(c echo.Context) error {
	return s.requireWrite(func(c echo.Context) error {
		return s.renderTrack(c, http.StatusOK, &trackValues{Kind: string(references.KindContainer)})
	})(c)
}

func (s *Server) renderTrack(c echo.Context, status int, f *trackValues) error {
	return s.render(c, status, "track.html", "Track a shipment", "shipments", f)
}

// track creates a reference from the form: POST /ui/track. Errors the API names a
// field for come back beside that field (422; 409 for an identifier tracked already,
// with a link to it), with the values as typed; nothing is stored then.
func (s *Server) track(c echo.Context) error { return s.requireWrite(s.trackCreate)(c) }

func (s *Server) trackCreate(c echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	f := &trackValues{
		Kind:       c.FormValue("kind"),
		Identifier: c.FormValue("identifier"),
		Carrier:    c.FormValue("carrier_code"),
		Callback:   c.FormValue("callback_url"),
		Metadata:   c.FormValue("metadata"),
	}
	req := references.CreateRequest{
		CarrierCode: strings.TrimSpace(f.Carrier),
		CallbackURL: strings.TrimSpace(f.Callback),
	}
	switch ident := strings.TrimSpace(f.Identifier); references.IdentifierKind(f.Kind) {
	case references.KindContainer:
		req.ContainerID = ident
	case references.KindBillOfLading:
		req.BillOfLading = ident
	case references.KindBooking:
		req.BookingNumber = ident
	default:
		return s.trackFailed(c, f, references.Invalidf("kind", "choose container, bill of lading or booking"))
	}
	if strings.TrimSpace(f.Identifier) == "" {
		return s.trackFailed(c, f, references.Invalidf("identifier", "is required"))
	}
	meta, err := parseMetadata(f.Metadata)
	if err != nil {
		return s.trackFailed(c, f, err)
	}
	req.Metadata = meta
	ref, _, err := s.svc.Create(c.Request().Context(), v.AccountID(), req, "")
	if err != nil {
		return s.trackFailed(c, f, err)
	}
	kind, ident := ref.Identifier()
	notice := fmt.Sprintf("Tracking %s %s with carrier %s.", kindWords(kind), ident, ref.CarrierCode)
	return s.redirectNotice(c, shipmentPath(ref.ID), notice)
}

// trackFailed re-renders the form with err beside its field, at the status its code
// gives; an error that is no one field's is a page of its own unless it is the form's
// (a conflict, a quota).
func (s *Server) trackFailed(c echo.Context, f *trackValues, err error) error {
	var e *references.Error
	if !errors.As(err, &e) {
		return s.errorPage(c, err)
	}
	status, _ := statusOf(err)
	switch {
	case e.Code == references.CodeConflict:
		f.FormError, f.ConflictID = e.Message, e.ReferenceID
	case e.Field != "":
		field, ok := trackFields[e.Field]
		if !ok {
			field = trackFields[strings.SplitN(e.Field, ".", 2)[0]]
		}
		if field == "" {
			f.FormError = e.Field + " " + e.Message
			break
		}
		f.Errors = map[string]string{field: e.Message}
	case e.Code == references.CodeQuotaExceeded:
		f.FormError = e.Message
	default:
		return s.errorPage(c, err)
	}
	return s.renderTrack(c, status, f)
}

// parseMetadata reads the metadata textarea: one key=value a line, blank lines
// skipped, spaces around keys and values trimmed. The references Service checks the
// sizes.
func parseMetadata(text string) (map[string]string, error) {
	var m map[string]string
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			return nil, references.Invalidf("metadata", "line %d: write key=value, one pair a line", i+1)
		}
		if m == nil {
			m = map[string]string{}
		}
		if _, dup := m[k]; dup {
			return nil, references.Invalidf("metadata", "line %d: key %q is given twice", i+1, k)
		}
		m[k] = val
	}
	return m, nil
}
