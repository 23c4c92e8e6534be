package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// cn returns a container number of owner (4 letters) and serial with its check digit.
func cn(owner string, serial int) string {
	s := fmt.Sprintf("%s%06d", owner, serial)
	return s + fmt.Sprint(references.ContainerCheckDigit(s))
}

// voyage returns the events of a voyage from Shanghai to Rotterdam by way of
// Singapore: gated in and loaded at start, departed, the rest planned but the arrival
// at eta, estimated.
func voyage(start, eta time.Time, container string) []references.Event {
	return []references.Event{
		forContainer(ev(references.EventEquipment, references.ClassifierActual, references.CodeGateIn, "CNSHA", "Shanghai container terminal", start), container),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierActual, references.CodeLoad, "CNSHA", "Shanghai container terminal", start.Add(12*time.Hour)), container), "NORDIC AURORA", "9434761", "412W"),
		onVessel(ev(references.EventTransport, references.ClassifierActual, references.CodeDeparture, "CNSHA", "Shanghai", start.Add(20*time.Hour)), "NORDIC AURORA", "9434761", "412W"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeDischarge, "SGSIN", "Singapore", start.Add(7*24*time.Hour)), container), "NORDIC AURORA", "9434761", "412W"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeLoad, "SGSIN", "Singapore", start.Add(8*24*time.Hour)), container), "MAERSK ESSEN", "9456783", "215E"),
		onVessel(ev(references.EventTransport, references.ClassifierEstimated, references.CodeArrival, "NLRTM", "Rotterdam", eta), "MAERSK ESSEN", "9456783", "215E"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeDischarge, "NLRTM", "Rotterdam", eta.Add(10*time.Hour)), container), "MAERSK ESSEN", "9456783", "215E"),
	}
}

// fleet is account A's references of the list tests, one of each kind the filters
// tell apart, and a reference of account B with the same identifier as A's first.
type fleet struct {
	onTime, late, failing, callback, paused, unsubscribed, other references.Reference
}

func (f *fleet) all() []string {
	return []string{f.onTime.ID, f.late.ID, f.failing.ID, f.callback.ID, f.paused.ID, f.unsubscribed.ID}
}

func newFleet(r *rig) *fleet {
	r.t.Helper()
	ctx := context.Background()
	now := r.clock.Now()
	f := &fleet{}
	f.onTime = r.container(accountA, cn("MSCU", 1))
	r.recordPoll(f.onTime.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), cn("MSCU", 1)), "")
	f.late = r.container(accountA, cn("MSCU", 2))
	r.recordPoll(f.late.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), cn("MSCU", 2)), "")
	r.recordPoll(f.late.ID, voyage(now.Add(-48*time.Hour), now.Add(23*24*time.Hour), cn("MSCU", 2)), "") // 3 days later than first said
	f.failing = r.container(accountA, cn("MSCU", 3))
	r.recordPoll(f.failing.ID, nil, "carrier answered 503")
	f.callback = r.track(accountA, references.CreateRequest{BillOfLading: "MAEU900000001", CarrierCode: "MAEU", CallbackURL: "https://example.com/hook"})
	f.paused = r.track(accountA, references.CreateRequest{ContainerID: cn("CMAU", 4), CarrierCode: "CMDU"})
	if _, err := r.svc.Pause(ctx, accountA, f.paused.ID); err != nil {
		r.t.Fatal(err)
	}
	f.unsubscribed = r.track(accountA, references.CreateRequest{ContainerID: cn("HLXU", 5), CarrierCode: "HLCU"})
	if _, err := r.svc.Unsubscribe(ctx, accountA, f.unsubscribed.ID); err != nil {
		r.t.Fatal(err)
	}
	f.other = r.container(accountB, cn("MSCU", 1))
	return f
}

func TestShipments_ListsTheAccountsReferencesWithTheirSummaries(t *testing.T) {
	r := newRig(t)
	f := newFleet(r)
	b := r.signIn(r.keyA)
	res := b.get("/ui/")
	if res.status != http.StatusOK {
		t.Fatalf("GET /ui/: %d %s", res.status, res.body)
	}
	if got := rowIDs(res.body); !sameIDs(got, f.all()) {
		t.Fatalf("rows %v, want A's %v", got, f.all())
	}
	if strings.Contains(res.body, f.other.ID) {
		t.Error("account B's reference is listed to A")
	}
	row := func(id string) string {
		start := strings.Index(res.body, `<tr data-ref-id="`+id+`"`)
		return res.body[start : start+strings.Index(res.body[start:], "</tr>")]
	}
	for _, want := range []string{
		`<a href="/ui/shipments/` + f.onTime.ID + `">` + cn("MSCU", 1) + `</a>`, "container", "MAEU", `data-status="active"`, "in transit",
		`CNSHA</abbr> Shanghai container terminal → <abbr class="locode" title="UN/LOCODE">NLRTM</abbr> Rotterdam`,
		`<time datetime="2026-03-21T12:00:00Z"`, "as first announced", "just now",
	} {
		if !strings.Contains(row(f.onTime.ID), want) {
			t.Errorf("on-time row lacks %q:\n%s", want, row(f.onTime.ID))
		}
	}
	if late := row(f.late.ID); !strings.Contains(late, "&#43;3 days since first ETA") || !strings.Contains(late, `<span class="badge bad">late</span>`) {
		t.Errorf("late row does not say how the ETA moved:\n%s", late)
	}
	if strings.Contains(row(f.onTime.ID), ">late<") {
		t.Error("the on-time row is marked late")
	}
	if failing := row(f.failing.ID); !strings.Contains(failing, "carrier answered 503") {
		t.Errorf("failing row does not show its poll error:\n%s", failing)
	}
	if cb := row(f.callback.ID); !strings.Contains(cb, "bill of lading") || !strings.Contains(cb, "not polled yet") || !strings.Contains(cb, "not known yet") {
		t.Errorf("unpolled row:\n%s", cb)
	}
	for _, id := range []string{"filters", "counts", "export-csv", "track-link", "shipments"} {
		if !strings.Contains(res.body, `id="`+id+`"`) {
			t.Errorf("no #%s on the page", id)
		}
	}
	if strings.Contains(res.body, `id="next-page"`) {
		t.Error("a next page link on the only page")
	}
}

func TestShipments_Filters(t *testing.T) {
	r := newRig(t)
	f := newFleet(r)
	b := r.signIn(r.keyA)
	tests := []struct {
		name  string
		query url.Values
		want  []string
		form  string // what the form shows of the filter
	}{
		{"none", url.Values{}, f.all(), ""},
		{"identifier exact", url.Values{"q": {cn("MSCU", 1)}}, []string{f.onTime.ID}, `value="` + cn("MSCU", 1) + `"`},
		{"identifier prefix", url.Values{"q": {"MSCU*"}}, []string{f.onTime.ID, f.late.ID, f.failing.ID}, `value="MSCU*"`},
		{"identifier prefix in lower case", url.Values{"q": {"mscu00000*"}}, []string{f.onTime.ID, f.late.ID, f.failing.ID}, ""},
		{"identifier of a bill of lading", url.Values{"q": {"MAEU900000001"}}, []string{f.callback.ID}, ""},
		{"status active", url.Values{"status": {"active"}}, []string{f.onTime.ID, f.late.ID, f.failing.ID, f.callback.ID}, `<option value="active" selected>`},
		{"status paused", url.Values{"status": {"paused"}}, []string{f.paused.ID}, `<option value="paused" selected>`},
		{"status unsubscribed", url.Values{"status": {"unsubscribed"}}, []string{f.unsubscribed.ID}, ""},
		{"carrier", url.Values{"carrier": {"cmdu"}}, []string{f.paused.ID}, `value="cmdu"`},
		{"with a callback", url.Values{"has_callback": {"yes"}}, []string{f.callback.ID}, `<option value="yes" selected>`},
		{"without a callback", url.Values{"has_callback": {"no"}}, []string{f.onTime.ID, f.late.ID, f.failing.ID, f.paused.ID, f.unsubscribed.ID}, ""},
		{"callback any", url.Values{"has_callback": {"any"}}, f.all(), ""},
		{"failing", url.Values{"failing": {"on"}}, []string{f.failing.ID}, `name="failing" checked`},
		{"late", url.Values{"late": {"on"}}, []string{f.late.ID}, `name="late" checked`},
		{"prefix and failing", url.Values{"q": {"MSCU*"}, "failing": {"on"}}, []string{f.failing.ID}, ""},
		{"prefix and paused", url.Values{"q": {"MSCU*"}, "status": {"paused"}}, nil, ""},
		{"by ETA", url.Values{"sort": {"eta"}}, f.all(), `<option value="eta" selected>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.get("/ui/?" + tt.query.Encode())
			if res.status != http.StatusOK {
				t.Fatalf("%d %s", res.status, res.body)
			}
			if got := rowIDs(res.body); !sameIDs(got, tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			if tt.form != "" && !strings.Contains(element(res.body, "form", "filters"), tt.form) {
				t.Errorf("the form does not keep the filter (%s)", tt.form)
			}
			if tt.want == nil && !strings.Contains(res.body, "No shipments match.") {
				t.Error("an empty list does not say so")
			}
			// The export keeps the filters.
			if href := linkHref(res.body, "export-csv"); href != "/ui/shipments.csv"+querySuffix(tt.query) {
				t.Errorf("export link %q", href)
			}
		})
	}
}

// querySuffix is the query the list puts in its links for the filters q.
func querySuffix(q url.Values) string {
	v := url.Values{}
	for k, vs := range q {
		if k == "has_callback" && vs[0] == "any" {
			continue
		}
		v[k] = vs
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func TestShipments_InvalidFiltersAre422WithTheMessageBesideTheField(t *testing.T) {
	r := newRig(t)
	newFleet(r)
	b := r.signIn(r.keyA)
	tests := []struct {
		name  string
		query url.Values
		field string // "" for a message of the form
		says  string
	}{
		{"identifier", url.Values{"q": {"MSCU-1!"}}, "q", "must be a container number"},
		{"identifier too long", url.Values{"q": {strings.Repeat("A", 40)}}, "q", "at most 35"},
		{"status", url.Values{"status": {"lost"}}, "status", "must be active, paused or unsubscribed"},
		{"carrier", url.Values{"carrier": {"M1"}}, "carrier", "SCAC"},
		{"callback", url.Values{"has_callback": {"maybe"}}, "has_callback", "must be any, yes or no"},
		{"sort", url.Values{"sort": {"size"}}, "sort", "must be created or eta"},
		{"cursor", url.Values{"cursor": {"!!"}}, "", "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.get("/ui/?" + tt.query.Encode())
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", res.status)
			}
			if ids := rowIDs(res.body); len(ids) != 0 {
				t.Errorf("rows listed with invalid filters: %v", ids)
			}
			if tt.field == "" {
				if !strings.Contains(res.body, `<p class="form-error" role="alert">`) || !strings.Contains(res.body, tt.says) {
					t.Errorf("no form error saying %q", tt.says)
				}
				return
			}
			msg := element(res.body, "p", "error-"+tt.field)
			if !strings.Contains(msg, `class="field-error"`) || !strings.Contains(msg, tt.says) {
				t.Errorf("error beside %s: %q, want %q", tt.field, msg, tt.says)
			}
			if !strings.Contains(res.body, `aria-invalid="true"`) || !strings.Contains(res.body, "error-"+tt.field+`"`) {
				t.Error("the field is not marked invalid and described by its error")
			}
		})
	}
}

func TestShipments_CountsPerStatusLinkToTheFilteredList(t *testing.T) {
	r := newRig(t)
	f := newFleet(r)
	b := r.signIn(r.keyA)
	counts := element(b.get("/ui/").body, "ul", "counts")
	for _, want := range []string{
		`<a href="/ui/" data-status="All" aria-current="true"><span class="count">6</span> All</a>`,
		`<a href="/ui/?status=active" data-status="active"><span class="count">4</span> active</a>`,
		`<a href="/ui/?status=paused" data-status="paused"><span class="count">1</span> paused</a>`,
		`<a href="/ui/?status=unsubscribed" data-status="unsubscribed"><span class="count">1</span> unsubscribed</a>`,
	} {
		if !strings.Contains(counts, want) {
			t.Errorf("#counts lacks %s:\n%s", want, counts)
		}
	}
	res := b.get("/ui/?status=paused")
	if got := rowIDs(res.body); !sameIDs(got, []string{f.paused.ID}) {
		t.Errorf("the paused count's list: %v", got)
	}
	if !strings.Contains(element(res.body, "ul", "counts"), `data-status="paused" aria-current="true"`) {
		t.Error("the current status is not marked")
	}
	// Account B counts its own only.
	if counts := element(r.signIn(r.keyB).get("/ui/").body, "ul", "counts"); !strings.Contains(counts, `<span class="count">1</span> All`) {
		t.Errorf("B's counts:\n%s", counts)
	}
}

func TestShipments_PagesWithTheStoresCursorKeepingTheFilters(t *testing.T) {
	r := newRig(t)
	var want []string
	for i := range 120 {
		r.clock.Advance(time.Second) // creation order is by time
		want = append(want, r.container(accountA, cn("MSCU", 100+i)).ID)
		if i%10 == 0 {
			r.track(accountA, references.CreateRequest{ContainerID: cn("CMAU", 100+i), CarrierCode: "CMDU"})
		}
	}
	b := r.signIn(r.keyA)
	var got []string
	path, pages := "/ui/?carrier=MAEU", 0
	for path != "" {
		res := b.get(path)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.status)
		}
		pages++
		ids := rowIDs(res.body)
		if len(ids) > listPageSize {
			t.Fatalf("page of %d rows", len(ids))
		}
		got = append(got, ids...)
		if pages > 1 && linkHref(res.body, "first-page") != "/ui/?carrier=MAEU" {
			t.Errorf("page %d: first page link %q", pages, linkHref(res.body, "first-page"))
		}
		path = linkHref(res.body, "next-page")
		if path != "" && !strings.Contains(path, "carrier=MAEU") {
			t.Fatalf("the next page link drops the filter: %s", path)
		}
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
	}
	if pages != 3 || len(got) != len(want) || !sameIDs(got, want) {
		t.Errorf("%d pages, %d rows; want 3 pages with each of the %d MAEU references once", pages, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d is %s, want %s: not in creation order", i, got[i], want[i])
		}
	}
}

func TestShipments_ReadKeySeesTheListButNoTrackLink(t *testing.T) {
	r := newRig(t)
	f := newFleet(r)
	res := r.signIn(r.readKey(accountA)).get("/ui/")
	if res.status != http.StatusOK || !sameIDs(rowIDs(res.body), f.all()) {
		t.Fatalf("%d, rows %v", res.status, rowIDs(res.body))
	}
	if strings.Contains(res.body, `id="track-link"`) {
		t.Error("a read key is offered the track form")
	}
	if !strings.Contains(res.body, `id="export-csv"`) {
		t.Error("a read key is not offered the export")
	}
}
