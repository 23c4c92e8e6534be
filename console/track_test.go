package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// listAll returns every reference of acct.
func (r *rig) listAll(acct string) []references.Reference {
	r.t.Helper()
	page, err := r.svc.List(context.Background(), acct, references.ListQuery{Limit: references.MaxPageSize})
	if err != nil {
		r.t.Fatal(err)
	}
	return page.References
}

func TestTrack_CreatesTheReferenceAndGoesToItsPage(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	form := b.get("/ui/track")
	if form.status != http.StatusOK {
		t.Fatalf("GET /ui/track: %d", form.status)
	}
	for _, want := range []string{`<form id="track-form"`, `<select id="kind" name="kind"`, `<input id="identifier" name="identifier"`,
		`<input id="carrier" name="carrier_code"`, `<input id="callback" name="callback_url"`, `<textarea id="metadata" name="metadata"`,
		`<label for="kind">`, `<label for="identifier">`, `<label for="carrier">`, `<label for="callback">`, `<label for="metadata">`} {
		if !strings.Contains(form.body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	res := b.post("/ui/track", url.Values{
		"kind": {"container_id"}, "identifier": {" mscu 123456-6 "}, "carrier_code": {""},
		"callback_url": {"https://example.com/hooks"}, "metadata": {"po = 4711\r\n\r\nteam=blue\n"},
	})
	if res.status != http.StatusSeeOther {
		t.Fatalf("POST /ui/track: %d %s", res.status, res.body)
	}
	refs := r.listAll(accountA)
	if len(refs) != 1 {
		t.Fatalf("%d references stored", len(refs))
	}
	ref := refs[0]
	if ref.ContainerID != "MSCU1234566" || ref.CarrierCode != "MSCU" || !ref.CarrierDetected || ref.CallbackURL != "https://example.com/hooks" ||
		ref.Metadata["po"] != "4711" || ref.Metadata["team"] != "blue" || len(ref.Metadata) != 2 {
		t.Errorf("stored %+v", ref)
	}
	if n := b.followNotice(res, "/ui/shipments/"+ref.ID); n != "Tracking container MSCU1234566 with carrier MSCU." {
		t.Errorf("the shipment page after tracking: notice %q", n)
	}
}

func TestTrack_BillOfLadingAndBooking(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	for _, tt := range []struct{ kind, ident, carrier string }{
		{"bill_of_lading", "MAEU123456789", ""},
		{"booking_number", "BK12345", "CMDU"},
	} {
		r.clock.Advance(time.Second) // the list is in creation order
		if res := b.post("/ui/track", url.Values{"kind": {tt.kind}, "identifier": {tt.ident}, "carrier_code": {tt.carrier}}); res.status != http.StatusSeeOther {
			t.Errorf("%s: %d %s", tt.kind, res.status, res.body)
		}
	}
	refs := r.listAll(accountA)
	if len(refs) != 2 || refs[0].BillOfLading != "MAEU123456789" || refs[0].CarrierCode != "MAEU" || refs[1].BookingNumber != "BK12345" || refs[1].CarrierCode != "CMDU" {
		t.Errorf("stored %+v", refs)
	}
}

func TestTrack_InvalidInputShowsTheMessageBesideTheFieldAndStoresNothing(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	valid := url.Values{"kind": {"container_id"}, "identifier": {"MSCU1234566"}, "carrier_code": {"MAEU"}, "callback_url": {"https://example.com/h"}, "metadata": {"po=1"}}
	with := func(k, v string) url.Values {
		f := cloneValues(valid)
		f.Set(k, v)
		return f
	}
	tests := []struct {
		name  string
		form  url.Values
		field string
		says  string
	}{
		{"check digit", with("identifier", "MSCU1234567"), "identifier", "check digit of MSCU123456 is 6, not 7"},
		{"empty identifier", with("identifier", "  "), "identifier", "is required"},
		{"bill of lading characters", url.Values{"kind": {"bill_of_lading"}, "identifier": {"MAEU-12/34"}, "carrier_code": {"MAEU"}}, "identifier", "A-Z and 0-9"},
		{"booking without carrier", url.Values{"kind": {"booking_number"}, "identifier": {"BK12345"}}, "carrier_code", "is required with a booking_number"},
		{"carrier", with("carrier_code", "M4"), "carrier_code", "SCAC"},
		{"callback", with("callback_url", "ftp://example.com/h"), "callback_url", "must use https"},
		{"metadata line", with("metadata", "po=1\nno pair here"), "metadata", "line 2: write key=value"},
		{"metadata twice", with("metadata", "po=1\npo=2"), "metadata", `key &#34;po&#34; is given twice`},
		{"metadata value too long", with("metadata", "po="+strings.Repeat("x", references.MaxMetadataValueLen+1)), "metadata", "over"},
		{"kind", with("kind", "pallet"), "kind", "choose container, bill of lading or booking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.post("/ui/track", tt.form)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422: %s", res.status, res.body)
			}
			msg := element(res.body, "p", "error-"+tt.field)
			if !strings.Contains(msg, `class="field-error"`) || !strings.Contains(msg, tt.says) {
				t.Errorf("beside %s: %q, want %q", tt.field, msg, tt.says)
			}
			if !regexp.MustCompile(`aria-describedby="(?:[^"]* )?error-` + tt.field + `" aria-invalid="true"`).MatchString(res.body) {
				t.Errorf("%s is not described by its error and marked invalid", tt.field)
			}
			// What was typed comes back.
			if ident := tt.form.Get("identifier"); strings.TrimSpace(ident) != "" && !strings.Contains(res.body, `value="`+strings.ReplaceAll(ident, "/", "&#47;")+`"`) &&
				!strings.Contains(res.body, `value="`+ident+`"`) {
				t.Errorf("the identifier typed (%q) is not kept", ident)
			}
			if md := tt.form.Get("metadata"); len(md) < 100 && !strings.Contains(res.body, ">"+md+"</textarea>") {
				t.Errorf("the metadata typed is not kept")
			}
			if n := len(r.listAll(accountA)); n != 0 {
				t.Errorf("%d references stored", n)
			}
		})
	}
}

func TestTrack_AlreadyTrackedLinksToTheReference(t *testing.T) {
	r := newRig(t)
	existing := r.container(accountA, "MSCU1234566")
	b := r.signIn(r.keyA)
	res := b.post("/ui/track", url.Values{"kind": {"container_id"}, "identifier": {"MSCU1234566"}, "carrier_code": {"MAEU"}})
	if res.status != http.StatusConflict {
		t.Fatalf("%d, want 409: %s", res.status, res.body)
	}
	if !strings.Contains(res.body, `<a href="/ui/shipments/`+existing.ID+`" id="existing-reference">`) {
		t.Errorf("no link to the reference tracked already:\n%s", element(res.body, "form", "track-form"))
	}
	if n := len(r.listAll(accountA)); n != 1 {
		t.Errorf("%d references stored", n)
	}
	// Another account tracks the same container on its own.
	if res := r.signIn(r.keyB).post("/ui/track", url.Values{"kind": {"container_id"}, "identifier": {"MSCU1234566"}, "carrier_code": {"MAEU"}}); res.status != http.StatusSeeOther {
		t.Errorf("account B: %d", res.status)
	}
}

func TestTrack_NeedsTheWriteScope(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.readKey(accountA))
	if res := b.get("/ui/track"); res.status != http.StatusForbidden {
		t.Errorf("GET /ui/track with a read key: %d", res.status)
	}
	if res := b.post("/ui/track", url.Values{"kind": {"container_id"}, "identifier": {"MSCU1234566"}, "carrier_code": {"MAEU"}}); res.status != http.StatusForbidden {
		t.Errorf("POST /ui/track with a read key: %d", res.status)
	}
	if n := len(r.listAll(accountA)); n != 0 {
		t.Errorf("%d references stored", n)
	}
	// Without the CSRF token, nothing either.
	w := r.signIn(r.keyA)
	if res := w.postRaw("/ui/track", url.Values{"kind": {"container_id"}, "identifier": {"MSCU1234566"}, "carrier_code": {"MAEU"}}); res.status != http.StatusForbidden {
		t.Errorf("POST /ui/track without CSRF: %d", res.status)
	}
	if n := len(r.listAll(accountA)); n != 0 {
		t.Errorf("%d references stored", n)
	}
}

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		err  string
	}{
		{"", nil, ""},
		{"\n \n", nil, ""},
		{"a=1", map[string]string{"a": "1"}, ""},
		{" a = 1 \r\nb=x=y\n", map[string]string{"a": "1", "b": "x=y"}, ""},
		{"a=", map[string]string{"a": ""}, ""},
		{"=1", nil, "line 1"},
		{"a=1\nb", nil, "line 2"},
		{"a=1\na=2", nil, "given twice"},
	}
	for _, tt := range tests {
		got, err := parseMetadata(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}
