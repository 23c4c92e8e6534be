package console

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// The add/edit form of an endpoint. The form reads what a person typed into an
// EndpointPatch and nothing more: every rule about the values is the Service's
// (Endpoint.Apply), whose field errors come back beside the fields. Only what the
// API would read from JSON is checked here (a number that is not a number, a
// duration that is not a duration), as the API's decoder does.

// endpointForm is the endpoint form as typed, kept as text so that a 422 shows the
// person what they wrote.
type endpointForm struct {
	URL          string
	Description  string
	EventTypes   []string // the checked names of the catalogue
	Patterns     string   // other event_types entries (wildcards), one per line
	MinETAChange string
	CarrierCodes string // filter.carrier_codes, separated by spaces or commas
	Metadata     string // filter.metadata, one key=value per line
	Format       string
	BatchSize    string
	HeaderStyle  string
	MaxAttempts  string
	RetryWindow  string
	DisableAfter string
	Enabled      bool
}

// Form field names differ from the API's where a dot or the API's name would read
// badly in a form; epFormField maps the Service's field names to them, so that its
// errors land beside the right control (p.field-error#error-<form field>).
var epFormFieldOf = map[string]string{
	"filter.carrier_codes": "filter_carrier_codes",
	"filter.metadata":      "filter_metadata",
	"filter":               "filter_metadata",
	"headers":              "header_style",
}

func epFormField(apiField string) string {
	if f, ok := epFormFieldOf[apiField]; ok {
		return f
	}
	return apiField
}

// newEndpointFormDefaults is the form of a new endpoint: the Service's defaults.
func newEndpointFormDefaults() endpointForm {
	return endpointForm{
		Format:       string(references.FormatStandard),
		HeaderStyle:  string(references.HeadersStandard),
		DisableAfter: epFormatDuration(references.DefaultDisableAfter),
		Enabled:      true,
	}
}

// endpointFormOf is the edit form of ep, filled with its settings.
func endpointFormOf(ep references.Endpoint) endpointForm {
	f := endpointForm{
		URL:          ep.URL,
		Description:  ep.Description,
		MinETAChange: epFormatDuration(ep.MinETAChange),
		CarrierCodes: strings.Join(ep.Filter.CarrierCodes, ", "),
		Format:       string(ep.Format),
		HeaderStyle:  string(ep.Headers),
		MaxAttempts:  strconv.Itoa(ep.MaxAttempts),
		RetryWindow:  epFormatDuration(ep.RetryWindow),
		DisableAfter: epFormatDuration(ep.DisableAfter),
		Enabled:      ep.Enabled,
	}
	if ep.Format == references.FormatBatch {
		f.BatchSize = strconv.Itoa(ep.BatchSize)
	}
	names := references.EventTypeNames()
	var patterns []string
	for _, t := range ep.EventTypes {
		if slices.Contains(names, t) {
			f.EventTypes = append(f.EventTypes, t)
		} else {
			patterns = append(patterns, t)
		}
	}
	f.Patterns = strings.Join(patterns, "\n")
	keys := make([]string, 0, len(ep.Filter.Metadata))
	for k := range ep.Filter.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		lines = append(lines, k+"="+ep.Filter.Metadata[k])
	}
	f.Metadata = strings.Join(lines, "\n")
	return f
}

// formValues is what readEndpointForm needs of a request's form.
type formValues interface {
	FormValue(name string) string
}

// readEndpointForm reads the posted form; values are the posted form's lists (for
// the checkboxes).
func readEndpointForm(c formValues, values map[string][]string) endpointForm {
	return endpointForm{
		URL:          strings.TrimSpace(c.FormValue("url")),
		Description:  c.FormValue("description"),
		EventTypes:   values["event_types"],
		Patterns:     c.FormValue("event_type_patterns"),
		MinETAChange: strings.TrimSpace(c.FormValue("min_eta_change")),
		CarrierCodes: c.FormValue("filter_carrier_codes"),
		Metadata:     c.FormValue("filter_metadata"),
		Format:       c.FormValue("format"),
		BatchSize:    strings.TrimSpace(c.FormValue("batch_size")),
		HeaderStyle:  c.FormValue("header_style"),
		MaxAttempts:  strings.TrimSpace(c.FormValue("max_attempts")),
		RetryWindow:  strings.TrimSpace(c.FormValue("retry_window")),
		DisableAfter: strings.TrimSpace(c.FormValue("disable_after")),
		Enabled:      c.FormValue("enabled") == "true",
	}
}

// fieldErrors are messages by form field name; "" is about the whole form.
type fieldErrors map[string]string

// patch returns the change the form asks for. Every field is given (the form shows
// them all), except: an empty number or duration is left out (on create: the
// default; on edit: unchanged), and the batch size goes only with the batch format,
// since a standard endpoint has none. Values that cannot be read give field errors.
// On create, an empty URL is not given, so that the Service says it is required.
func (f endpointForm) patch(create bool) (references.EndpointPatch, fieldErrors) {
	errs := fieldErrors{}
	p := references.EndpointPatch{
		URL:         &f.URL,
		Description: &f.Description,
		Enabled:     &f.Enabled,
	}
	if create && f.URL == "" {
		p.URL = nil
	}
	types := []string{}
	for _, t := range f.EventTypes {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, t := range strings.FieldsFunc(f.Patterns, epSeparator) {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	p.EventTypes = &types

	filter := references.EndpointFilter{CarrierCodes: strings.FieldsFunc(f.CarrierCodes, epSeparator)}
	md, err := epParseMetadata(f.Metadata)
	if err != nil {
		errs["filter_metadata"] = err.Error()
	}
	filter.Metadata = md
	p.Filter = &filter

	format := references.DeliveryFormat(f.Format)
	p.Format = &format
	headers := references.HeaderStyle(f.HeaderStyle)
	p.Headers = &headers
	if format == references.FormatBatch {
		p.BatchSize = epFormInt(errs, "batch_size", f.BatchSize)
	}
	p.MaxAttempts = epFormInt(errs, "max_attempts", f.MaxAttempts)
	p.MinETAChange = epFormDuration(errs, "min_eta_change", f.MinETAChange)
	p.RetryWindow = epFormDuration(errs, "retry_window", f.RetryWindow)
	p.DisableAfter = epFormDuration(errs, "disable_after", f.DisableAfter)
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
}

// Checked reports whether the form has the event type name checked (for the
// template).
func (f endpointForm) Checked(name string) bool { return slices.Contains(f.EventTypes, name) }

func epSeparator(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }

func epFormInt(errs fieldErrors, field, s string) *int {
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		errs[field] = "must be a whole number"
		return nil
	}
	return &n
}

func epFormDuration(errs fieldErrors, field, s string) *time.Duration {
	if s == "" {
		return nil
	}
	d, err := epParseDuration(s)
	if err != nil {
		errs[field] = err.Error()
		return nil
	}
	return &d
}

// epParseDuration reads a duration as the API does ("90m", "6h"), and also in days
// ("5d", "1d12h"), which is how people think of retry windows; a bare "0" is zero.
func epParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 30m, 6h or 5d", s)
	if s == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100_000 {
			return 0, bad
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || (days > 0 && d < 0) {
		return 0, bad
	}
	return days + d, nil
}

// epFormatDuration writes d as epParseDuration reads it, whole days first: "5d",
// "1d12h", "1h30m", "0".
func epFormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	var b strings.Builder
	if d < 0 {
		return d.String()
	}
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if d > 0 {
		s := d.String()
		// Go writes 1h30m0s; the zero units say nothing.
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// epParseMetadata reads key=value lines; blank lines are skipped. The Service checks
// the keys and values.
func epParseMetadata(s string) (map[string]string, error) {
	md := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: write one key=value per line", i+1)
		}
		md[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return md, nil
}

// epServiceErrors turns the Service's field error into the form's messages; ok is
// false for any other error, which the caller renders as an error page.
func epServiceErrors(err error) (fieldErrors, bool) {
	var e *references.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	switch e.Code {
	case references.CodeInvalid:
		if e.Field == "" {
			return fieldErrors{"": e.Message}, true
		}
		return fieldErrors{epFormField(e.Field): e.Message}, true
	case references.CodeQuotaExceeded:
		return fieldErrors{"": e.Message}, true
	}
	return nil, false
}

// eventTypeGroup is one fieldset of event type checkboxes.
type eventTypeGroup struct {
	Title string
	Hint  string
	Types []webhook.CatalogueEntry
}

// eventTypeGroups is the catalogue (GET /event-types) as the form offers it: only
// the names an endpoint may select (references.EventTypeNames), by kind. The
// catalogue encodes an example for each entry, so it is built once.
var eventTypeGroups = sync.OnceValue(func() []eventTypeGroup {
	names := references.EventTypeNames()
	groups := []eventTypeGroup{
		{Title: "Update types", Hint: "None checked (and no pattern): every update type."},
		{Title: "Finer kinds of shipment.updated", Hint: "An update is sent when one of its changes is of a kind checked here."},
		{Title: "Operational events", Hint: "Sent only when checked or matched by a pattern."},
	}
	for _, e := range webhook.Catalogue() {
		if !slices.Contains(names, e.Name) {
			continue
		}
		switch e.Kind {
		case webhook.KindType:
			groups[0].Types = append(groups[0].Types, e)
		case webhook.KindTag:
			groups[1].Types = append(groups[1].Types, e)
		case webhook.KindOperational:
			groups[2].Types = append(groups[2].Types, e)
		}
	}
	return groups
})

// epFieldLabels are the labels of the webhooks pages' fields, by form field name.
var epFieldLabels = map[string]string{
	"url": "URL", "description": "Description", "event_types": "Event types",
	"min_eta_change": "Smallest ETA change", "filter_carrier_codes": "Carriers",
	"filter_metadata": "Metadata", "format": "Format", "batch_size": "Batch size",
	"header_style": "Signature headers", "max_attempts": "Attempts",
	"retry_window": "Retry window", "disable_after": "Disable after", "enabled": "Enabled",
	"since": "Since", "grace_seconds": "Grace", "status": "Status", "cursor": "The page",
}

// epVerbs start the Service's messages that read as the end of a sentence whose
// subject is the field ("must be between 1 and 500").
var epVerbs = []string{"is ", "are ", "must ", "may ", "applies ", "give "}

// epMessages words errs for the page: a message that goes on from the field's name
// gets its label in front ("Batch size must be ..."), and one about a field the
// page has not (onFields) goes to the top of the form, naming it.
func epMessages(errs fieldErrors, onFields ...string) fieldErrors {
	if errs == nil {
		return nil
	}
	out := fieldErrors{}
	fields := make([]string, 0, len(errs))
	for f := range errs {
		fields = append(fields, f)
	}
	sort.Strings(fields) // messages joined at the top read in one order
	for _, field := range fields {
		msg := errs[field]
		label := epFieldLabels[field]
		if label == "" {
			label = field
		}
		for _, v := range epVerbs {
			if strings.HasPrefix(msg, v) {
				msg = label + " " + msg
				break
			}
		}
		if field != "" && !slices.Contains(onFields, field) {
			if !strings.HasPrefix(msg, label) {
				msg = label + ": " + msg
			}
			field = ""
		}
		if prev := out[field]; prev != "" {
			msg = prev + " " + msg
		}
		out[field] = msg
	}
	return out
}

// epFormFields are the fields of endpoint_form.html.
var epFormFields = []string{
	"url", "description", "event_types", "min_eta_change", "filter_carrier_codes", "filter_metadata",
	"format", "batch_size", "header_style", "max_attempts", "retry_window", "disable_after", "enabled",
}
