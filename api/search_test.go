package api

import (
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func ids(page ReferencePage) []string {
	out := []string{}
	for _, r := range page.References {
		out = append(out, r.ID)
	}
	return out
}

func TestListReferences_FiltersSelectOnlyTheAccountsReferences(t *testing.T) {
	b := setup(t)
	c1 := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"po": "1", "team": "x"}})
	b.clock.Advance(time.Second) // creation order is by time
	c2 := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU", "metadata": map[string]string{"po": "2", "team": "x"}})
	b.clock.Advance(time.Second)
	bol := b.create(t, b.keyA, map[string]any{"bill_of_lading": "MAEU123456789", "carrier_code": "MAEU"})
	b.create(t, b.keyB, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"po": "1", "team": "x"}})
	pollWithDemo(t, b, c1.ID)

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{c1.ID, c2.ID, bol.ID}},
		{"identifier=mscu1234566", []string{c1.ID}},
		{"identifier=MAEU123456789", []string{bol.ID}},
		{"identifier=CSQU*", []string{c2.ID}},
		{"identifier=MAEU12*&limit=1", []string{bol.ID}},
		{"carrier_code=maeu", []string{c2.ID, bol.ID}},
		{"metadata.team=x&metadata.po=2", []string{c2.ID}},
		{"metadata.team=y", []string{}},
		{"status=active&limit=1", []string{c1.ID, c2.ID, bol.ID}},
		{"eta_after=2000-01-01T00:00:00Z", []string{c1.ID}},
		{"eta_before=2000-01-01T00:00:00Z", []string{}},
		{"sort=eta&limit=2", []string{c1.ID, c2.ID, bol.ID}},
		{"updated_since=2100-01-01T00:00:00%2B01:00", []string{}},
		{"has_callback=false", []string{c1.ID, c2.ID, bol.ID}},
		{"has_callback=true", []string{}},
		{"failing=true", []string{}},
		{"failing=false&late=false", []string{c1.ID, c2.ID, bol.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := []string{}
			q := tt.query
			for range 10 {
				resp, body := b.do(t, http.MethodGet, "/references?"+q, b.keyA, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				page := decode[ReferencePage](t, body)
				got = append(got, ids(page)...)
				if page.NextCursor == "" {
					break
				}
				q = tt.query + "&cursor=" + page.NextCursor
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("another account sees only its own", func(t *testing.T) {
		for _, q := range []string{"identifier=MSCU1234566", "identifier=M*", "metadata.team=x", "carrier_code=MSCU", "sort=eta"} {
			_, body := b.do(t, http.MethodGet, "/references?"+q, b.keyB, nil)
			for _, r := range decode[ReferencePage](t, body).References {
				if r.AccountID != "acct_b" || r.ID == c1.ID {
					t.Errorf("%s: account B sees %s of %s", q, r.ID, r.AccountID)
				}
			}
		}
	})
}

func TestListReferences_BadFilterIs422NamingTheParameter(t *testing.T) {
	b := setup(t)
	tests := []struct{ query, field string }{
		{"identifier=MS-CU", "identifier"},
		{"identifier=*", "identifier"},
		{"identifier=" + strings.Repeat("A", 40), "identifier"},
		{"carrier_code=M", "carrier_code"},
		{"updated_since=yesterday", "updated_since"},
		{"eta_before=2026-03-01", "eta_before"},
		{"eta_after=1", "eta_after"},
		{"sort=size", "sort"},
		{"format=xml", "format"},
		{"status=gone", "status"},
		{"limit=0", "limit"},
		{"carrier_code=MSCU&carrier_code=MAEU", "carrier_code"},
		{"metadata.=x", "metadata."},
		{"sort=eta&cursor=AAAAAAAAAAAAAA", "cursor"},
		{"has_callback=maybe", "has_callback"},
		{"failing=1", "failing"},
		{"late=yes", "late"},
		{"late=true&late=false", "late"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := b.do(t, http.MethodGet, "/references?"+tt.query, b.keyA, nil)
			wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
		})
	}
}

func TestListReferences_ExportsTheFilteredListAsCSV(t *testing.T) {
	b := setup(t)
	c1 := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"po": "=1+1"}})
	b.clock.Advance(time.Second)
	b.create(t, b.keyA, map[string]any{"bill_of_lading": "MAEU123456789", "carrier_code": "MAEU"})
	b.create(t, b.keyB, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})
	pollWithDemo(t, b, c1.ID)

	for _, tt := range []struct {
		name, query string
		headers     []string
		rows        int
	}{
		{"format=csv", "?format=csv", nil, 2},
		{"Accept", "", []string{"Accept", "text/csv"}, 2},
		{"filtered", "?format=csv&carrier_code=MSCU", nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodGet, "/references"+tt.query, b.keyA, nil, tt.headers...)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
				!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("status %d, type %q, disposition %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), body)
			}
			rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v\n%s", err, body)
			}
			if !slices.Equal(rows[0], csvHeader) || len(rows)-1 != tt.rows {
				t.Fatalf("header %q and %d rows, want %q and %d", rows[0], len(rows)-1, csvHeader, tt.rows)
			}
			first := rows[1]
			if first[0] != c1.ID || first[2] != "MSCU1234566" || first[11] == "" || first[12] != `{"po":"=1+1"}` {
				t.Errorf("first row %q: want %s with its ETA and metadata as JSON", first, c1.ID)
			}
		})
	}
}

func TestCSVSafe_GuardsFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+cmd": "'+cmd", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"": "", "MSCU1234566": "MSCU1234566", "{\"a\":\"=\"}": "{\"a\":\"=\"}",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGetShipment_LatestSnapshotOr404(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})
	path := "/references/" + ref.ID + "/shipment"

	resp, body := b.do(t, http.MethodGet, path, b.keyA, nil)
	d := wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	if !strings.Contains(d.Message, "no snapshot yet") {
		t.Errorf("message %q, want it to say there is no snapshot yet", d.Message)
	}
	pollWithDemo(t, b, ref.ID)
	resp, body = b.do(t, http.MethodGet, path, b.keyA, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"events"`) {
		t.Fatalf("after polls: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodGet, path, b.keyB, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
}

func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{
		"", "identifier=MSCU12*&carrier_code=mscu&metadata.po=1&sort=eta", "eta_before=2026-03-01T12:00:00Z&eta_after=2026-03-01T12:00:00%2B02:00",
		"limit=500&cursor=AAAA", "format=csv", "metadata.=&metadata.%00=x", "identifier=**", "updated_since=9999-12-31T23:59:59.999999999Z",
		"limit=-1&limit=2", "status=active", "has_callback=false&failing=true&late=true", "late=yes",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, _, err := parseListQuery(v, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		if err == nil {
			q, err = q.Normalize()
		}
		if err != nil {
			var e *references.Error
			if !errors.As(err, &e) || e.Code != references.CodeInvalid || e.Field == "" {
				t.Fatalf("%q: error %v is not invalid on a field", raw, err)
			}
			return
		}
		if v, prefix := q.IdentifierPrefix(); q.Identifier != "" && (v == "" || strings.Contains(v, "*") || !prefix && !q.MatchesIdentifier(v)) {
			t.Fatalf("%q: identifier %q accepted", raw, q.Identifier)
		}
		if q.Limit < 0 || q.Limit > 0 && q.Limit < 1 {
			t.Fatalf("%q: limit %d accepted", raw, q.Limit)
		}
	})
}
