package reliability_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// hostileRun sends hostile requests to an API, counts them, and checks each answer:
// one of the expected statuses, never a 5xx, an error in the API's JSON shape, and no
// secret in the body.
type hostileRun struct {
	t       *testing.T
	api     *apiServer
	secrets map[string]string
	tried   int
}

// expect sends one request (body may be nil) and checks the answer's status is one of
// want.
func (h *hostileRun) expect(name string, want []int, key, method, path string, body io.Reader, header ...string) response {
	h.t.Helper()
	h.tried++
	r, err := h.api.call(key, method, path, body, header...)
	if err != nil {
		h.t.Errorf("%s: %s %.80s: %v", name, method, path, err)
		return r
	}
	if !slices.Contains(want, r.status) {
		h.t.Errorf("%s: %s %.80s answered %d %.300s, want one of %v", name, method, path, r.status, r.body, want)
	}
	if r.status >= 400 && r.errorCode() == "" {
		h.t.Errorf("%s: error answer %d is not the API's JSON error shape: %.200s", name, r.status, r.body)
	}
	assertNoSecrets(h.t, name+": the answer", string(r.body), h.secrets)
	return r
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// unsized hides a body's length, so that it is sent chunked without Content-Length.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// TestHostileAPI_InputIsRefusedCleanly sends malformed, oversized, mistyped, look-alike,
// traversing and injected input to every route of the real API over a real store. Each
// is refused with the right 4xx and the API's error shape, nothing is stored from it,
// and the service still works afterwards.
func TestHostileAPI_InputIsRefusedCleanly(t *testing.T) {
	db := openStore(t)
	_, keyA, _ := newAccount(t, db, "acct_a", false)
	secretB, keyB, _ := newAccount(t, db, "acct_b", false)
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf})
	h := &hostileRun{t: t, api: a, secrets: map[string]string{
		"API key of A": keyA, "API key of B": keyB, "hash of A's key": references.HashAPIKey(keyA), "webhook secret of B": secretB,
	}}
	refA := a.create(t, keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": "https://hooks.example.com/a"})
	for n := range 3 {
		if err := appendUpdate(t.Context(), db, refA, n+1); err != nil {
			t.Fatal(err)
		}
	}
	const (
		ok, created, bad, unauth, notFound, notAllowed, tooLarge, mediaType, invalid = 200, 201, 400, 401, 404, 405, 413, 415, 422
	)

	t.Run("bodies", func(t *testing.T) {
		h.t = t
		big := `{"container_id":"MSCU1234566","carrier_code":"MSCU","metadata":{"pad":"` + strings.Repeat("a", 70<<10) + `"}}`
		deep := `{"metadata":` + strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat(`}`, 100_000) + `}`
		cases := []struct {
			name string
			body io.Reader
			want int
		}{
			{"64 KiB + 6 bytes", jsonBody(big), tooLarge},
			{"oversized without Content-Length", unsized{jsonBody(big)}, tooLarge},
			{"10 MiB", bytes.NewReader(bytes.Repeat([]byte("{"), 10<<20)), tooLarge},
			{"nested 100,000 deep", jsonBody(deep), tooLarge},
			{"nested 10,000 deep, under the size limit", jsonBody(`{"metadata":` + strings.Repeat(`{"a":`, 10_000) + `1` + strings.Repeat(`}`, 10_000) + `}`), bad},
			{"empty", jsonBody(""), bad},
			{"blank", jsonBody(" \n\t "), bad},
			{"open brace", jsonBody("{"), bad},
			{"close brace", jsonBody("}"), bad},
			{"array", jsonBody("[]"), bad},
			{"null", jsonBody("null"), bad},
			{"true", jsonBody("true"), bad},
			{"number", jsonBody("123"), bad},
			{"string", jsonBody(`"MSCU1234566"`), bad},
			{"missing value", jsonBody(`{"container_id":}`), bad},
			{"trailing comma", jsonBody(`{"container_id":"MSCU1234566",}`), bad},
			{"two objects", jsonBody(`{}{}`), bad},
			{"trailing garbage", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU"} x`), bad},
			{"unknown field", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","admin":true}`), bad},
			{"account_id smuggled in", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","account_id":"acct_b"}`), bad},
			{"id smuggled in", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","id":"ref_mine"}`), bad},
			{"invalid UTF-8", jsonBody("{\"container_id\":\"\xff\xfe\",\"carrier_code\":\"MSCU\"}"), bad},
			{"raw NUL", jsonBody("{\"container_id\":\"MSCU\x001234566\"}"), bad},
			{"byte order mark", jsonBody("\ufeff{\"container_id\":\"TGHU1234567\",\"carrier_code\":\"MSCU\"}"), bad},
			{"container_id a number", jsonBody(`{"container_id":1234566,"carrier_code":"MSCU"}`), bad},
			{"container_id true", jsonBody(`{"container_id":true,"carrier_code":"MSCU"}`), bad},
			{"container_id an array", jsonBody(`{"container_id":["MSCU1234566"],"carrier_code":"MSCU"}`), bad},
			{"container_id an object", jsonBody(`{"container_id":{"$ne":null},"carrier_code":"MSCU"}`), bad},
			{"carrier_code a number", jsonBody(`{"container_id":"TGHU1234567","carrier_code":1}`), bad},
			{"callback_url an object", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","callback_url":{}}`), bad},
			{"event_types a string", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","event_types":"shipment.updated"}`), bad},
			{"event_types of numbers", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","event_types":[1]}`), bad},
			{"metadata an array", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","metadata":[]}`), bad},
			{"metadata of numbers", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","metadata":{"a":1}}`), bad},
			{"metadata nested", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","metadata":{"a":{"b":"c"}}}`), bad},
			{"poll_interval a number", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","poll_interval":5}`), bad},
			{"poll_interval nonsense", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","poll_interval":"5 parsecs"}`), invalid},
			{"poll_interval negative", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","poll_interval":"-1h"}`), invalid},
			{"poll_interval overflowing", jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU","poll_interval":"9999999999h"}`), invalid},
			{"no identifier", jsonBody(`{"carrier_code":"MSCU"}`), invalid},
			{"two identifiers", jsonBody(`{"container_id":"TGHU1234567","booking_number":"ABCD1234","carrier_code":"MSCU"}`), invalid},
			{"null identifier", jsonBody(`{"container_id":null,"carrier_code":"MSCU"}`), invalid},
		}
		for _, c := range cases {
			h.expect(c.name, []int{c.want}, keyA, http.MethodPost, "/references", c.body)
		}
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "json", ";;;"} {
			h.expect("Content-Type "+ct, []int{mediaType}, keyA, http.MethodPost, "/references",
				jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU"}`), "Content-Type", ct)
		}
		h.expect("PATCH with an unknown field", []int{bad}, keyA, http.MethodPatch, "/references/"+refA, jsonBody(`{"status":"active"}`))
		h.expect("PATCH with a wrong type", []int{bad}, keyA, http.MethodPatch, "/references/"+refA, jsonBody(`{"callback_url":42}`))
		h.expect("PATCH oversized", []int{tooLarge}, keyA, http.MethodPatch, "/references/"+refA, jsonBody(big))
		h.expect("rotate with a huge grace", []int{invalid}, keyA, http.MethodPost, "/account/webhook-secret/rotate", jsonBody(`{"grace_seconds":9223372036854775807}`))
		h.expect("rotate with a negative grace", []int{invalid}, keyA, http.MethodPost, "/account/webhook-secret/rotate", jsonBody(`{"grace_seconds":-1}`))
		h.expect("rotate with a float grace", []int{bad}, keyA, http.MethodPost, "/account/webhook-secret/rotate", jsonBody(`{"grace_seconds":1e400}`))
	})

	t.Run("look-alike identifiers", func(t *testing.T) {
		h.t = t
		tricks := map[string]string{
			"Cyrillic Es":         "MSСU1234566",
			"Greek Omicron digit": "MSCU12345Ο6",
			"full-width":          "ＭＳＣＵ1234566",
			"zero-width space":    "MSCU\u200b1234566",
			"zero-width joiner":   "MSCU1234\u200d566",
			"byte order mark":     "\ufeffMSCU1234566",
			"RTL override":        "\u202eMSCU1234566",
			"LTR mark":            "MSCU1234566\u200e",
			"NUL inside":          "MSCU\x001234566",
			"NUL at the end":      "MSCU1234566\x00",
			"combining accent":    "MSCU1234566\u0301",
			"superscript digit":   "MSCU¹234566",
			"Arabic-Indic digits": "MSCU١٢٣٤٥٦٦",
			"soft hyphen":         "MSCU\u00ad1234566",
			"no-break space":      "MSCU\u00a01234566",
			"Kelvin sign":         "\u212aMCU1234566",
			"tab":                 "MSCU\t1234566",
			"line feed inside":    "MSCU\n1234566",
			"dotless i":           "MSCU1234566ı",
		}
		for name, id := range tricks {
			for _, field := range []string{"container_id", "bill_of_lading", "booking_number"} {
				body, _ := json.Marshal(map[string]string{field: id, "carrier_code": "MSCU"})
				h.expect(name+" in "+field, []int{invalid}, keyA, http.MethodPost, "/references", bytes.NewReader(body))
			}
		}
		for name, code := range map[string]string{"Cyrillic Es": "MSСU", "zero-width space": "MS\u200bCU", "NUL": "MS\x00C", "full-width": "ＭＳＣＵ", "Kelvin sign": "\u212aMCU"} {
			body, _ := json.Marshal(map[string]string{"container_id": "TGHU1234567", "carrier_code": code})
			h.expect(name+" in carrier_code", []int{invalid}, keyA, http.MethodPost, "/references", bytes.NewReader(body))
		}
	})

	t.Run("path traversal and odd ids", func(t *testing.T) {
		h.t = t
		ids := []string{
			"..", ".", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%2F..%2Fetc%2Fpasswd", "..%252F..%252Fetc%252Fpasswd",
			"%252e%252e%252f", "..%5C..%5Cwindows", "..%c0%af..%c0%afetc", "ref_x%00", "%00", "ref_x%0d%0aX-Injected:%201",
			"ref_%E2%80%8Bx", "ref_%D0%A1x", "ref_x;ls", "ref_x'%20OR%20'1'='1", "%7B%22%24ne%22%3Anull%7D", "*", "ref_*",
			strings.Repeat("a", 10_000), "ref_x%20", "%20", "ref_" + strings.Repeat("%25", 30),
		}
		routes := []struct {
			method, pattern string
			body            string
		}{
			{http.MethodGet, "/references/%s", ""},
			{http.MethodDelete, "/references/%s", ""},
			{http.MethodPatch, "/references/%s", `{"event_types":[]}`},
			{http.MethodGet, "/references/%s/updates", ""},
			{http.MethodGet, "/references/%s/deliveries", ""},
			{http.MethodGet, "/references/%s/shipment", ""},
			{http.MethodPost, "/references/%s/updates/upd_x/redeliver", ""},
			{http.MethodPost, "/references/" + refA + "/updates/%s/redeliver", ""},
		}
		for _, id := range ids {
			for _, r := range routes {
				var body io.Reader
				if r.body != "" {
					body = jsonBody(r.body)
				}
				h.expect(fmt.Sprintf("id %.40q on %s %s", id, r.method, r.pattern), []int{notFound}, keyA, r.method, fmt.Sprintf(r.pattern, id), body)
			}
		}
		// Traversal that leaves the route's shape: no route, never a file or a 5xx.
		for _, p := range []string{
			"/references/../../etc/passwd", "/references/%2e%2e/%2e%2e/etc/passwd", "/references/" + refA + "/../" + refA,
			"/references/" + refA + "/updates/../../../admin/backup", "//references", "/references//" + refA, "/./references/" + refA,
		} {
			h.expect("path "+p, []int{notFound, notAllowed}, keyA, http.MethodGet, p, nil)
		}
	})

	t.Run("injection strings", func(t *testing.T) {
		h.t = t
		injections := []string{
			`' OR '1'='1`, `"; DROP TABLE references; --`, `1; DELETE FROM refs`, `{"$ne": null}`, `{"$gt": ""}`,
			`__proto__`, `constructor.prototype`, `${jndi:ldap://example.com/a}`, `{{7*7}}`, `<script>alert(1)</script>`,
			"\x00", `\u0000`, `../../../../etc/passwd`, `%00`, "\r\nSet-Cookie: a=b",
		}
		for _, s := range injections {
			for _, field := range []string{"container_id", "bill_of_lading", "booking_number", "carrier_code"} {
				body := map[string]string{"carrier_code": "MSCU", field: s}
				if field == "carrier_code" {
					body["container_id"] = "TGHU1234567"
				}
				b, _ := json.Marshal(body)
				h.expect(fmt.Sprintf("%q in %s", s, field), []int{invalid}, keyA, http.MethodPost, "/references", bytes.NewReader(b))
			}
			for _, q := range []string{"status", "limit", "cursor"} {
				h.expect(fmt.Sprintf("%q in ?%s", s, q), []int{invalid}, keyA, http.MethodGet, "/references?"+q+"="+url.QueryEscape(s), nil)
			}
			h.expect(fmt.Sprintf("%q in ?after", s), []int{invalid}, keyA, http.MethodGet, "/references/"+refA+"/updates?after="+url.QueryEscape(s), nil)
			h.expect(fmt.Sprintf("%q in ?cursor of deliveries", s), []int{invalid}, keyA, http.MethodGet, "/references/"+refA+"/deliveries?cursor="+url.QueryEscape(s), nil)
		}
		for _, u := range []string{
			"javascript:alert(1)", "file:///etc/passwd", "gopher://example.com/", "https://user:pass@example.com/",
			"https://example.com/\r\nX-Injected: 1", "https://exa mple.com/", "https://[::1", "//example.com/x", "https:///x",
			"https://example.com/" + strings.Repeat("a", 3000), "http://example.com/", "data:text/plain,hi",
		} {
			b, _ := json.Marshal(map[string]string{"container_id": "TGHU1234567", "carrier_code": "MSCU", "callback_url": u})
			h.expect(fmt.Sprintf("callback %.40q", u), []int{invalid}, keyA, http.MethodPost, "/references", bytes.NewReader(b))
			b, _ = json.Marshal(map[string]string{"callback_url": u})
			h.expect(fmt.Sprintf("PATCH callback %.40q", u), []int{invalid}, keyA, http.MethodPatch, "/references/"+refA, bytes.NewReader(b))
		}
		// Numbers at and past the edges of their types.
		for _, q := range []string{"limit=-1", "limit=0", "limit=501", "limit=99999999999999999999", "limit=1e3", "limit=0x10", "status=ACTIVE", "status=active%00"} {
			h.expect("?"+q, []int{invalid}, keyA, http.MethodGet, "/references?"+q, nil)
		}
		for _, q := range []string{"after=-1", "after=18446744073709551616", "after=1.5", "limit=-5", "limit=100000"} {
			h.expect("updates ?"+q, []int{invalid}, keyA, http.MethodGet, "/references/"+refA+"/updates?"+q, nil)
		}
		// The largest sequence: nothing comes after it (a store seeking to after+1 wraps
		// around to the start of the feed).
		r := h.expect("updates ?after=18446744073709551615", []int{ok}, keyA, http.MethodGet, "/references/"+refA+"/updates?after=18446744073709551615", nil)
		var page api.UpdatePage
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Updates) != 0 || page.NextAfter != 1<<64-1 {
			t.Errorf("updates after the largest sequence: %d updates, next_after %d, %v", len(page.Updates), page.NextAfter, err)
		}
		h.expect("Idempotency-Key of 256 bytes", []int{invalid}, keyA, http.MethodPost, "/references",
			jsonBody(`{"container_id":"TGHU1234567","carrier_code":"MSCU"}`), "Idempotency-Key", strings.Repeat("k", 256))

		// Metadata is free text: stored and given back byte for byte, never interpreted.
		meta := map[string]string{}
		for i, s := range injections {
			meta[fmt.Sprintf("k%02d", i)] = s
		}
		meta["__proto__"], meta["$where"], meta["../../x"] = "x", "sleep(1000)", "y"
		id := a.create(t, keyA, map[string]any{"booking_number": "INJECT0001", "carrier_code": "MSCU", "metadata": meta})
		h.tried++
		r = a.mustCall(t, keyA, http.MethodGet, "/references/"+id, nil)
		var got api.Reference
		if err := json.Unmarshal(r.body, &got); err != nil || !mapsEqual(got.Metadata, meta) {
			t.Errorf("metadata came back changed: %v %v", got.Metadata, err)
		}
	})

	t.Run("authorization headers", func(t *testing.T) {
		h.t = t
		for name, hdr := range map[string]string{
			"empty": "", "scheme only": "Bearer", "scheme and space": "Bearer ", "Basic": "Basic dXNlcjpwYXNz",
			"key and more": "Bearer " + keyA + " " + keyA, "key prefix only": "Bearer " + keyA[:12], "SQL": "Bearer ' OR '1'='1",
			"100 KB key": "Bearer " + strings.Repeat("k", 100<<10), "key of another scheme": "Token " + keyA,
			"key hash": "Bearer " + references.HashAPIKey(keyA), "two spaces": "Bearer  x",
		} {
			r := h.expect("Authorization "+name, []int{unauth}, "", http.MethodGet, "/references", nil, "Authorization", hdr)
			if r.status == unauth && !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("Authorization %s: 401 without WWW-Authenticate: Bearer", name)
			}
		}
		h.expect("lower-case scheme", []int{ok}, "", http.MethodGet, "/references", nil, "Authorization", "bearer "+keyA)
		for _, m := range []string{http.MethodPut, "TRACE", "PROPFIND"} {
			h.expect("method "+m, []int{notAllowed, notFound}, keyA, m, "/references", nil)
		}
		h.expect("admin route with a plain key", []int{http.StatusForbidden, notFound}, keyA, http.MethodGet, "/admin/backup", nil)
	})

	t.Run("1,000 concurrent creates", func(t *testing.T) {
		h.t = t
		same := func(int) map[string]any { return map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"} }
		spellings := []string{"HLXU8097840", "hlxu8097840", "HLXU 809784-0", " hlxu 8097840", "HLXU-809784-0"}
		spelled := func(i int) map[string]any {
			return map[string]any{"container_id": spellings[i%len(spellings)], "carrier_code": []string{"HLCU", "hlcu", " HLCU "}[i%3]}
		}
		for _, c := range []struct {
			name string
			body func(int) map[string]any
		}{{"same spelling", same}, {"different spellings of one container", spelled}} {
			winner, conflicts := concurrentCreates(t, a, keyA, 1000, c.body, "")
			h.tried += 1000
			t.Logf("%s: one 201 (%s), %d conflicts naming it", c.name, winner, conflicts)
		}
		body := func(int) map[string]any { return map[string]any{"booking_number": "IDEM0001", "carrier_code": "MSCU"} }
		winner, replays := concurrentCreates(t, a, keyA, 1000, body, "idem-concurrent-1")
		h.tried += 1000
		t.Logf("same Idempotency-Key: one reference (%s), %d answers replayed", winner, replays)
	})

	t.Run("still healthy", func(t *testing.T) {
		h.t = t
		a.create(t, keyA, map[string]any{"container_id": "TGHU1234567", "carrier_code": "MSCU"})
		r := a.mustCall(t, keyA, http.MethodGet, "/references?limit=500", nil)
		var page api.ReferencePage
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != ok {
			t.Fatalf("list: %d %v", r.status, err)
		}
		want := map[string]bool{"MSCU1234566": true, "CSQU3054383": true, "HLXU8097840": true, "TGHU1234567": true, "INJECT0001": true, "IDEM0001": true}
		for _, ref := range page.References {
			ident := ref.ContainerID + ref.BillOfLading + ref.BookingNumber // exactly one is set
			if !want[ident] {
				t.Errorf("a hostile request created %s (%q)", ref.ID, ident)
			}
			delete(want, ident)
		}
		if len(want) != 0 || len(page.References) != 6 {
			t.Errorf("%d references listed; missing %v", len(page.References), want)
		}
	})
	path := db.Path()
	a.srv.Close()
	_ = db.Close()
	checkStoreFile(t, path)
	assertNoSecrets(t, "the API's log", a.logs.String(), h.secrets)
	t.Logf("hostile API input: %d requests tried, none answered 5xx", h.tried)
}

// concurrentCreates sends n creates at once (body(i) for the i-th) and checks that
// exactly one reference is made. Without an idempotency key, exactly one answer is
// 201 and the others are 409 naming its id; with one, every answer is 201 with the
// same id and all but one say Idempotent-Replayed. It returns the id and the number of
// conflicts or replays.
func concurrentCreates(t *testing.T, a *apiServer, key string, n int, body func(int) map[string]any, idemKey string) (string, int) {
	t.Helper()
	results := make([]response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		b, _ := json.Marshal(body(i))
		wg.Go(func() {
			<-start
			var hdr []string
			if idemKey != "" {
				hdr = []string{"Idempotency-Key", idemKey}
			}
			results[i], errs[i] = a.call(key, http.MethodPost, "/references", bytes.NewReader(b), hdr...)
		})
	}
	close(start)
	wg.Wait()
	var winners []string
	ids := map[string]int{}
	others := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		switch {
		case r.status == http.StatusCreated:
			var ref api.Reference
			_ = json.Unmarshal(r.body, &ref)
			ids[ref.ID]++
			if r.header.Get("Idempotent-Replayed") == "true" {
				others++
			} else {
				winners = append(winners, ref.ID)
			}
		case r.status == http.StatusConflict && idemKey == "":
			ids["conflict:"+r.referenceID()]++
			others++
		default:
			t.Fatalf("create %d: %d %s", i, r.status, r.body)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d creates made a reference (%v), want exactly 1", len(winners), winners)
	}
	for id, count := range ids {
		if id != winners[0] && id != "conflict:"+winners[0] {
			t.Errorf("%d answers name %s, not the winner %s", count, id, winners[0])
		}
	}
	return winners[0], others
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestHostileAPI_FloodIsRateLimitedPerKey floods the API with one key: beyond the
// burst every request gets 429 with Retry-After, while another key of the same account
// and a key of another account are served as if nothing happened. The API's clock
// stands still, so the counts are exact.
func TestHostileAPI_FloodIsRateLimitedPerKey(t *testing.T) {
	const limit, burst, flood = 10, 20, 300
	db := openStore(t)
	_, keyA, _ := newAccount(t, db, "acct_a", false)
	_, keyB, _ := newAccount(t, db, "acct_b", false)
	keyA2, storedA2 := references.NewAPIKey("acct_a", []references.Scope{references.ScopeWrite}, time.Now())
	if err := db.CreateAPIKey(t.Context(), storedA2); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	a := newAPIServer(t, db, references.ServiceOptions{Now: clk.Now}, api.Options{RateLimit: limit, RateBurst: burst, Now: clk.Now})

	results := make([]response, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() { results[i] = a.mustCall(t, keyA, http.MethodGet, "/references", nil) })
	}
	wg.Wait()
	served, limited := 0, 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			served++
		case http.StatusTooManyRequests:
			limited++
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || r.errorCode() != "rate_limited" {
				t.Errorf("429 with Retry-After %q and body %s", r.header.Get("Retry-After"), r.body)
			}
		default:
			t.Errorf("flood answer %d %s", r.status, r.body)
		}
	}
	if served != burst || limited != flood-burst {
		t.Errorf("flood of %d: %d served, %d limited; want %d served (the burst)", flood, served, limited, burst)
	}
	for name, key := range map[string]string{"another key of the same account": keyA2, "a key of another account": keyB} {
		if r := a.mustCall(t, key, http.MethodGet, "/references", nil); r.status != http.StatusOK {
			t.Errorf("%s during the flood: %d %s", name, r.status, r.body)
		}
	}
	if r := a.mustCall(t, keyA, http.MethodGet, "/references", nil); r.status != http.StatusTooManyRequests {
		t.Errorf("the flooding key right after: %d", r.status)
	}
	clk.Advance(time.Second)
	servedAfter := 0
	for range 2 * limit {
		if a.mustCall(t, keyA, http.MethodGet, "/references", nil).status == http.StatusOK {
			servedAfter++
		}
	}
	if servedAfter != limit {
		t.Errorf("one second later the flooding key got %d requests through, want %d", servedAfter, limit)
	}
	t.Logf("flood: %d concurrent requests with one key: %d served, %d answered 429 with Retry-After; other keys unaffected; %d more a second later",
		flood, served, limited, servedAfter)
}
