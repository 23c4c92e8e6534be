package console

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// readCSV parses an export, failing the test unless it is one.
func readCSV(t *testing.T, res page) [][]string {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("export: %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := res.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="shipments-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], csvHeader) {
		t.Fatalf("header %v", recs[:min(1, len(recs))])
	}
	return recs
}

func column(recs [][]string, name string) []string {
	i := slices.Index(csvHeader, name)
	var out []string
	for _, r := range recs[1:] {
		out = append(out, r[i])
	}
	return out
}

func TestShipmentsCSV_ExportsEveryMatchingReferenceAcrossPages(t *testing.T) {
	r := newRig(t)
	var maeu []string
	for i := range 520 { // more than one page of the store's reads (500)
		r.clock.Advance(time.Second)
		maeu = append(maeu, r.container(accountA, cn("MSCU", 1000+i)).ID)
		if i%100 == 0 {
			r.track(accountA, references.CreateRequest{ContainerID: cn("CMAU", 1000+i), CarrierCode: "CMDU"})
		}
	}
	r.container(accountB, cn("MSCU", 1000))
	b := r.signIn(r.keyA)

	recs := readCSV(t, b.get("/ui/shipments.csv?carrier=MAEU"))
	if got := column(recs, "id"); !slices.Equal(got, maeu) {
		t.Errorf("%d rows, want the %d MAEU references in creation order", len(got), len(maeu))
	}
	all := readCSV(t, b.get("/ui/shipments.csv"))
	if len(all)-1 != 526 {
		t.Errorf("unfiltered: %d rows, want 526 (B's left out)", len(all)-1)
	}
	paused := readCSV(t, b.get("/ui/shipments.csv?status=paused"))
	if len(paused) != 1 {
		t.Errorf("status=paused: %d rows, want none", len(paused)-1)
	}
}

func TestShipmentsCSV_RowsHoldTheReferenceAndItsSummary(t *testing.T) {
	r := newRig(t)
	f := newFleet(r)
	b := r.signIn(r.keyA)
	recs := readCSV(t, b.get("/ui/shipments.csv?late=on"))
	if len(recs) != 2 {
		t.Fatalf("late: %d rows, want 1", len(recs)-1)
	}
	row := map[string]string{}
	for i, h := range csvHeader {
		row[h] = recs[1][i]
	}
	want := map[string]string{
		"id": f.late.ID, "kind": "container_id", "identifier": cn("MSCU", 2), "carrier_code": "MAEU", "status": "active",
		"shipment_status": "in_transit", "origin_unlocode": "CNSHA", "origin_name": "Shanghai container terminal",
		"destination_unlocode": "NLRTM", "destination_name": "Rotterdam",
		"eta": "2026-03-24T12:00:00Z", "first_eta": "2026-03-21T12:00:00Z", "eta_move_hours": "72.0", "late": "true",
		"last_polled_at": "2026-03-01T12:00:00Z", "last_poll_error": "", "callback_url": "", "metadata": "",
		"created_at": "2026-03-01T12:00:00Z",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %q, want %q", k, row[k], v)
		}
	}
}

func TestShipmentsCSV_CellsThatASpreadsheetWouldRunAreQuoted(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.track(accountA, references.CreateRequest{
		ContainerID: cn("MSCU", 7), CarrierCode: "MAEU", CallbackURL: "https://example.com/h",
		Metadata: map[string]string{"po": "=1+2"},
	})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), cn("MSCU", 7)), "")
	// The ETA moved earlier: a negative number, which stays a number.
	r.clock.Advance(time.Hour)
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(19*24*time.Hour), cn("MSCU", 7)), "")
	r.recordPoll(ref.ID, nil, "+cmd|' /C calc'!A0")

	recs := readCSV(t, r.signIn(r.keyA).get("/ui/shipments.csv"))
	row := map[string]string{}
	for i, h := range csvHeader {
		row[h] = recs[1][i]
	}
	for k, v := range map[string]string{
		"last_poll_error": `'+cmd|' /C calc'!A0`,
		"eta_move_hours":  "-24.0",
		"metadata":        `{"po":"=1+2"}`, // JSON starts with {: no formula
	} {
		if row[k] != v {
			t.Errorf("%s = %q, want %q", k, row[k], v)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{`=HYPERLINK("x")`, `'=HYPERLINK("x")`},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"+1", "'+1"}, // only plain negative numbers are left alone
		{"-2+3", "'-2+3"},
		{"-24.5", "-24.5"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"Rotterdam", "Rotterdam"},
		{"", ""},
	} {
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShipmentsCSV_LocationNamesAreGuarded(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.container(accountA, cn("MSCU", 8))
	events := voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), cn("MSCU", 8))
	for i := range events {
		switch events[i].Location.UNLocode {
		case "CNSHA":
			events[i].Location.Name = `=HYPERLINK("http://evil.example/","click")`
		case "NLRTM":
			events[i].Location.Name = "@SUM(A1:A9)"
		}
	}
	r.recordPoll(ref.ID, events, "")
	recs := readCSV(t, r.signIn(r.keyA).get("/ui/shipments.csv"))
	if got := column(recs, "origin_name")[0]; got != `'=HYPERLINK("http://evil.example/","click")` {
		t.Errorf("origin_name %q", got)
	}
	if got := column(recs, "destination_name")[0]; got != "'@SUM(A1:A9)" {
		t.Errorf("destination_name %q", got)
	}
}

func TestShipmentsCSV_IsCutAtItsBoundWithARowSayingSo(t *testing.T) {
	limit := exportRowLimit
	exportRowLimit = 3
	t.Cleanup(func() { exportRowLimit = limit })
	r := newRig(t)
	for i := range 5 {
		r.container(accountA, cn("MSCU", 20+i))
	}
	recs := readCSV(t, r.signIn(r.keyA).get("/ui/shipments.csv"))
	if len(recs) != 1+3+1 || !strings.HasPrefix(recs[4][0], "# cut at 3 rows") {
		t.Errorf("%d records, last %v; want 3 rows and the cut", len(recs)-1, recs[len(recs)-1])
	}
}

func TestShipmentsCSV_InvalidFiltersAreAnErrorPage(t *testing.T) {
	r := newRig(t)
	res := r.signIn(r.keyA).get("/ui/shipments.csv?q=bad!")
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.header.Get("Content-Type"), "text/html") {
		t.Errorf("%d %s, want a 422 page", res.status, res.header.Get("Content-Type"))
	}
	if res.header.Get("Content-Disposition") != "" {
		t.Error("an error is offered as a download")
	}
}
