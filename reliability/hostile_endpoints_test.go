package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
)

// TestHostileAPI_EndpointInputIsRefusedCleanly sends malformed, oversized, mistyped,
// out-of-range and injected input to every route of account endpoints (/endpoints,
// their secrets, messages, resends, recovery, tests, stats, and the operational
// feed) over a real store. Each is refused with a 4xx in the API's error shape and
// no secret in it, nothing the account can see of its endpoints changes, and no
// secret reaches the API's log.
func TestHostileAPI_EndpointInputIsRefusedCleanly(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	_, key, _ := newAccount(t, db, "acct_h", false)
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf, RotationLimit: rate.Inf})
	ep, secret := a.createEndpoint(t, key, map[string]any{"url": "https://hooks.example.com/all", "description": "everything"})
	batchEP, batchSecret := a.createEndpoint(t, key, map[string]any{"url": "https://hooks.example.com/batch", "format": "batch", "batch_size": 3})
	ref := a.create(t, key, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})
	for n := range 3 {
		if err := appendUpdate(ctx, db, ref, n+1); err != nil {
			t.Fatal(err)
		}
	}
	msgs := a.messageIDs(t, key, ep.ID)
	if len(msgs) != 3 {
		t.Fatalf("the endpoint has %d messages, want the 3 updates", len(msgs))
	}
	h := &hostileRun{t: t, api: a, secrets: secretNames(key, map[string]string{"endpoint secret": secret, "batch endpoint secret": batchSecret})}
	before := a.endpointsView(t, key)
	const (
		bad, notFound, notAllowed, tooLarge, mediaType, invalid = 400, 404, 405, 413, 415, 422
	)
	big := `{"url":"https://hooks.example.com/x","description":"` + strings.Repeat("a", 70<<10) + `"}`
	deep := `{"filter":{"metadata":` + strings.Repeat(`{"a":`, 100_000) + `"1"` + strings.Repeat(`}`, 100_000) + `}}`
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	// Bodies of POST /endpoints and PATCH /endpoints/:id alike.
	bodies := []struct {
		name string
		body func() io.Reader
		want int
	}{
		{"64 KiB + 6 bytes", func() io.Reader { return jsonBody(big) }, tooLarge},
		{"oversized without Content-Length", func() io.Reader { return unsized{jsonBody(big)} }, tooLarge},
		{"10 MiB", func() io.Reader { return bytes.NewReader(bytes.Repeat([]byte("{"), 10<<20)) }, tooLarge},
		{"nested 100,000 deep", func() io.Reader { return jsonBody(deep) }, tooLarge},
		{"empty", func() io.Reader { return jsonBody("") }, bad},
		{"array", func() io.Reader { return jsonBody(`[{"url":"https://hooks.example.com/x"}]`) }, bad},
		{"null", func() io.Reader { return jsonBody("null") }, bad},
		{"string", func() io.Reader { return jsonBody(`"https://hooks.example.com/x"`) }, bad},
		{"truncated", func() io.Reader { return jsonBody(`{"url":"https://hooks.example.com/x"`) }, bad},
		{"trailing garbage", func() io.Reader { return jsonBody(`{"description":"x"} x`) }, bad},
		{"two objects", func() io.Reader { return jsonBody(`{"description":"x"}{"description":"y"}`) }, bad},
		{"unknown field", func() io.Reader { return jsonBody(`{"url":"https://hooks.example.com/x","admin":true}`) }, bad},
		{"secret smuggled in", func() io.Reader {
			return jsonBody(`{"url":"https://hooks.example.com/x","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`)
		}, bad},
		{"secrets smuggled in", func() io.Reader { return jsonBody(`{"url":"https://hooks.example.com/x","secrets":[]}`) }, bad},
		{"id smuggled in", func() io.Reader { return jsonBody(`{"url":"https://hooks.example.com/x","id":"ep_mine"}`) }, bad},
		{"account_id smuggled in", func() io.Reader { return jsonBody(`{"url":"https://hooks.example.com/x","account_id":"acct_b"}`) }, bad},
		{"disabled_reason smuggled in", func() io.Reader { return jsonBody(`{"disabled_reason":"user"}`) }, bad},
		{"failing_since smuggled in", func() io.Reader { return jsonBody(`{"failing_since":"2026-03-01T00:00:00Z"}`) }, bad},
		{"url a number", func() io.Reader { return jsonBody(`{"url":42}`) }, bad},
		{"url an object", func() io.Reader { return jsonBody(`{"url":{"$ne":null}}`) }, bad},
		{"description a number", func() io.Reader { return jsonBody(`{"description":1}`) }, bad},
		{"description too long", func() io.Reader { return jsonBody(`{"description":"` + strings.Repeat("d", 1025) + `"}`) }, invalid},
		{"description invalid UTF-8", func() io.Reader { return jsonBody("{\"description\":\"\xff\xfe\"}") }, bad},
		{"event_types a string", func() io.Reader { return jsonBody(`{"event_types":"shipment.updated"}`) }, bad},
		{"event_types of numbers", func() io.Reader { return jsonBody(`{"event_types":[1]}`) }, bad},
		{"event_types unknown", func() io.Reader { return jsonBody(`{"event_types":["shipment.teleported"]}`) }, invalid},
		{"event_types wildcard of nothing", func() io.Reader { return jsonBody(`{"event_types":["nothing.*"]}`) }, invalid},
		{"event_types injection", func() io.Reader { return jsonBody(`{"event_types":["' OR '1'='1"]}`) }, invalid},
		{"event_types 51", func() io.Reader {
			return jsonBody(`{"event_types":["*"` + strings.Repeat(`,"*"`, 50) + `]}`)
		}, invalid},
		{"enabled a string", func() io.Reader { return jsonBody(`{"enabled":"yes"}`) }, bad},
		{"filter an array", func() io.Reader { return jsonBody(`{"filter":[]}`) }, bad},
		{"filter unknown field", func() io.Reader { return jsonBody(`{"filter":{"account_id":"acct_b"}}`) }, bad},
		{"filter metadata of numbers", func() io.Reader { return jsonBody(`{"filter":{"metadata":{"a":1}}}`) }, bad},
		{"filter metadata nested", func() io.Reader { return jsonBody(`{"filter":{"metadata":{"a":{"b":"c"}}}}`) }, bad},
		{"filter carrier_codes a string", func() io.Reader { return jsonBody(`{"filter":{"carrier_codes":"MSCU"}}`) }, bad},
		{"filter carrier_codes nonsense", func() io.Reader { return jsonBody(`{"filter":{"carrier_codes":["MS\u0000CU"]}}`) }, invalid},
		{"format unknown", func() io.Reader { return jsonBody(`{"format":"xml"}`) }, invalid},
		{"format a number", func() io.Reader { return jsonBody(`{"format":1}`) }, bad},
		{"batch_size a string", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":"3"}`) }, bad},
		{"batch_size a float", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":2.5}`) }, bad},
		{"batch_size 1e99", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":1e99}`) }, bad},
		{"batch_size negative", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":-1}`) }, invalid},
		{"batch_size 0", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":0}`) }, invalid},
		{"batch_size 501", func() io.Reader { return jsonBody(`{"format":"batch","batch_size":501}`) }, invalid},
		{"headers unknown", func() io.Reader { return jsonBody(`{"headers":"stripe"}`) }, invalid},
		{"max_attempts negative", func() io.Reader { return jsonBody(`{"max_attempts":-1}`) }, invalid},
		{"max_attempts 101", func() io.Reader { return jsonBody(`{"max_attempts":101}`) }, invalid},
		{"max_attempts overflowing", func() io.Reader { return jsonBody(`{"max_attempts":99999999999999999999}`) }, bad},
		{"max_attempts and retry_window", func() io.Reader { return jsonBody(`{"max_attempts":5,"retry_window":"1h"}`) }, invalid},
		{"min_eta_change a number", func() io.Reader { return jsonBody(`{"min_eta_change":3600}`) }, bad},
		{"min_eta_change nonsense", func() io.Reader { return jsonBody(`{"min_eta_change":"5 parsecs"}`) }, invalid},
		{"min_eta_change negative", func() io.Reader { return jsonBody(`{"min_eta_change":"-1h"}`) }, invalid},
		{"min_eta_change overflowing", func() io.Reader { return jsonBody(`{"min_eta_change":"9999999999h"}`) }, invalid},
		{"min_eta_change a day", func() io.Reader { return jsonBody(`{"min_eta_change":"1d"}`) }, invalid},
		{"retry_window under a minute", func() io.Reader { return jsonBody(`{"retry_window":"59s"}`) }, invalid},
		{"retry_window over 30 days", func() io.Reader { return jsonBody(`{"retry_window":"721h"}`) }, invalid},
		{"retry_window an object", func() io.Reader { return jsonBody(`{"retry_window":{}}`) }, bad},
		{"disable_after negative", func() io.Reader { return jsonBody(`{"disable_after":"-5m"}`) }, invalid},
		{"disable_after empty", func() io.Reader { return jsonBody(`{"disable_after":""}`) }, invalid},
		{"disable_after true", func() io.Reader { return jsonBody(`{"disable_after":true}`) }, bad},
	}
	urls := []string{
		"javascript:alert(1)", "file:///etc/passwd", "gopher://example.com/", "ftp://example.com/",
		"https://user:pass@example.com/", "https://example.com/\r\nX-Injected: 1", "https://exa mple.com/",
		"https://[::1", "//example.com/x", "https:///x", "https://example.com/" + strings.Repeat("a", 3000),
		"http://example.com/", "data:text/plain,hi", "", " ",
	}

	t.Run("create", func(t *testing.T) {
		h.t = t
		for _, c := range bodies {
			body := c.body()
			h.expect("create: "+c.name, []int{c.want}, key, http.MethodPost, "/endpoints", body)
		}
		h.expect("create without url", []int{invalid}, key, http.MethodPost, "/endpoints", jsonBody(`{"description":"no url"}`))
		h.expect("create with a null url", []int{invalid}, key, http.MethodPost, "/endpoints", jsonBody(`{"url":null}`))
		for _, u := range urls {
			b, _ := json.Marshal(map[string]string{"url": u})
			r := h.expect(fmt.Sprintf("create with url %.40q", u), []int{invalid}, key, http.MethodPost, "/endpoints", bytes.NewReader(b))
			if r.status == invalid && !strings.Contains(string(r.body), `"field":"url"`) {
				t.Errorf("url %.40q refused without naming the field url: %s", u, r.body)
			}
		}
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ";;;"} {
			h.expect("create with Content-Type "+ct, []int{mediaType}, key, http.MethodPost, "/endpoints",
				jsonBody(`{"url":"https://hooks.example.com/x"}`), "Content-Type", ct)
		}
	})

	t.Run("change", func(t *testing.T) {
		h.t = t
		for _, c := range bodies {
			h.expect("PATCH: "+c.name, []int{c.want}, key, http.MethodPatch, "/endpoints/"+ep.ID, c.body())
		}
		h.expect("PATCH nothing", []int{invalid}, key, http.MethodPatch, "/endpoints/"+ep.ID, jsonBody(`{}`))
		h.expect("PATCH batch_size of a standard endpoint", []int{invalid}, key, http.MethodPatch, "/endpoints/"+ep.ID, jsonBody(`{"batch_size":3}`))
		h.expect("PATCH batch_size 0 of a batch endpoint", []int{invalid}, key, http.MethodPatch, "/endpoints/"+batchEP.ID, jsonBody(`{"batch_size":0}`))
		h.expect("PATCH retry_window beside max_attempts", []int{invalid}, key, http.MethodPatch, "/endpoints/"+ep.ID, jsonBody(`{"max_attempts":3,"retry_window":"2h"}`))
		for _, u := range urls {
			b, _ := json.Marshal(map[string]string{"url": u})
			h.expect(fmt.Sprintf("PATCH url %.40q", u), []int{invalid}, key, http.MethodPatch, "/endpoints/"+ep.ID, bytes.NewReader(b))
		}
		h.expect("PATCH with Content-Type text/plain", []int{mediaType}, key, http.MethodPatch, "/endpoints/"+ep.ID,
			jsonBody(`{"description":"x"}`), "Content-Type", "text/plain")
	})

	t.Run("secrets", func(t *testing.T) {
		h.t = t
		for _, c := range []struct {
			name, body string
			want       int
		}{
			{"grace huge", `{"grace_seconds":9223372036854775807}`, invalid},
			{"grace negative", `{"grace_seconds":-1}`, invalid},
			{"grace over the limit", `{"grace_seconds":604801}`, invalid},
			{"grace a float", `{"grace_seconds":1e400}`, bad},
			{"grace a string", `{"grace_seconds":"60"}`, bad},
			{"grace null and unknown field", `{"grace_seconds":null,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, bad},
			{"an array", `[]`, bad},
			{"truncated", `{"grace_seconds":`, bad},
		} {
			h.expect("rotate: "+c.name, []int{c.want}, key, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate", jsonBody(c.body))
		}
		h.expect("rotate oversized", []int{tooLarge}, key, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate", jsonBody(big))
		h.expect("rotate with Content-Type text/plain", []int{mediaType}, key, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate",
			jsonBody(`{"grace_seconds":0}`), "Content-Type", "text/plain")
	})

	t.Run("recover", func(t *testing.T) {
		h.t = t
		now := time.Now().UTC()
		for _, c := range []struct {
			name, body string
			want       int
		}{
			{"no since", `{}`, invalid},
			{"since null", `{"since":null}`, invalid},
			{"since empty", `{"since":""}`, invalid},
			{"since a word", `{"since":"yesterday"}`, invalid},
			{"since a date only", `{"since":"2026-03-01"}`, invalid},
			{"since month 13", `{"since":"2026-13-01T00:00:00Z"}`, invalid},
			{"since without a zone", `{"since":"2026-03-01T12:00:00"}`, invalid},
			{"since with a space", `{"since":"2026-03-01 12:00:00Z"}`, invalid},
			{"since Unix seconds", `{"since":1772366400}`, bad},
			{"since an object", `{"since":{"$gt":""}}`, bad},
			{"since 15 days ago", `{"since":"` + now.Add(-15*24*time.Hour).Format(time.RFC3339) + `"}`, invalid},
			{"since year 1", `{"since":"0001-01-01T00:00:00Z"}`, invalid},
			{"since tomorrow", `{"since":"` + now.Add(24*time.Hour).Format(time.RFC3339) + `"}`, invalid},
			{"since year 9999", `{"since":"9999-12-31T23:59:59Z"}`, invalid},
			{"since injection", `{"since":"' OR '1'='1"}`, invalid},
			{"unknown field", `{"since":"` + recent + `","status":"succeeded"}`, bad},
			{"empty body", ``, bad},
		} {
			h.expect("recover: "+c.name, []int{c.want}, key, http.MethodPost, "/endpoints/"+ep.ID+"/recover", jsonBody(c.body))
		}
		h.expect("recover oversized", []int{tooLarge}, key, http.MethodPost, "/endpoints/"+ep.ID+"/recover", jsonBody(big))
	})

	t.Run("queries", func(t *testing.T) {
		h.t = t
		var cursor string
		{
			var page api.MessagePage
			_ = json.Unmarshal(a.mustCall(t, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?limit=1", nil).body, &page)
			cursor = page.NextCursor
		}
		garbage := []string{"-1", "0", "501", "1e3", "0x10", "99999999999999999999", "abc", "1 OR 1=1", "%00", " 5"}
		for _, q := range garbage {
			h.expect("endpoints ?limit="+q, []int{invalid}, key, http.MethodGet, "/endpoints?limit="+url.QueryEscape(q), nil)
			h.expect("messages ?limit="+q, []int{invalid}, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?limit="+url.QueryEscape(q), nil)
			h.expect("events ?limit="+q, []int{invalid}, key, http.MethodGet, "/account/events?limit="+url.QueryEscape(q), nil)
		}
		// Cursors that are no index key: refused.
		for _, c := range []string{"x", "%%%", "' OR '1'='1", "ref_x", "\x00", "====", ep.ID, batchEP.ID, cursor[:len(cursor)-2]} {
			h.expect(fmt.Sprintf("endpoints ?cursor=%.30q", c), []int{invalid}, key, http.MethodGet, "/endpoints?cursor="+url.QueryEscape(c), nil)
			h.expect(fmt.Sprintf("messages ?cursor=%.30q", c), []int{invalid}, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?cursor="+url.QueryEscape(c), nil)
		}
		h.expect("messages ?cursor of an endpoints page", []int{invalid}, key, http.MethodGet,
			"/endpoints/"+ep.ID+"/messages?cursor=eyJhY2NvdW50IjoiYWNjdF9iIn0", nil)
		// A cursor is an index key, base64: one forged in the right shape is only a
		// place to start from within the account's own endpoint or messages.
		for _, c := range []string{strings.Repeat("A", 5000), "eyJhY2NvdW50IjoiYWNjdF9iIn0", cursor + "A", "x" + cursor} {
			h.expect(fmt.Sprintf("endpoints ?cursor=%.30q (forged)", c), []int{http.StatusOK, invalid}, key, http.MethodGet, "/endpoints?cursor="+url.QueryEscape(c), nil)
			h.expect(fmt.Sprintf("messages ?cursor=%.30q (forged)", c), []int{http.StatusOK, invalid}, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?cursor="+url.QueryEscape(c), nil)
		}
		for _, q := range []string{"PENDING", "delivered", "pending\x00", "*", "' OR '1'='1", "pending,failed"} {
			h.expect("messages ?status="+q, []int{invalid}, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?status="+url.QueryEscape(q), nil)
		}
		for _, name := range []string{"after", "before"} {
			for _, v := range []string{"yesterday", "2026-03-01", "2026-13-01T00:00:00Z", "2026-03-01T12:00:00", "1772366400", "' OR '1'='1", "2026-03-01T25:00:00Z"} {
				h.expect("messages ?"+name+"="+v, []int{invalid}, key, http.MethodGet, "/endpoints/"+ep.ID+"/messages?"+name+"="+url.QueryEscape(v), nil)
			}
		}
		h.expect("messages after not before before", []int{invalid}, key, http.MethodGet,
			"/endpoints/"+ep.ID+"/messages?after=2026-03-02T00:00:00Z&before=2026-03-01T00:00:00Z", nil)
		h.expect("messages after equal to before", []int{invalid}, key, http.MethodGet,
			"/endpoints/"+ep.ID+"/messages?after=2026-03-01T00:00:00Z&before=2026-03-01T00:00:00Z", nil)
		for _, v := range []string{"-1", "18446744073709551616", "1.5", "abc", "0x10", "' OR '1'='1"} {
			h.expect("events ?after="+v, []int{invalid}, key, http.MethodGet, "/account/events?after="+url.QueryEscape(v), nil)
		}
		r := h.expect("events ?after=18446744073709551615", []int{http.StatusOK}, key, http.MethodGet, "/account/events?after=18446744073709551615", nil)
		var page api.AccountEventPage
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Events) != 0 || page.NextAfter != 1<<64-1 {
			t.Errorf("events after the largest sequence: %s %v", r.body, err)
		}
	})

	t.Run("odd ids", func(t *testing.T) {
		h.t = t
		odd := []string{
			"..", ".", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%2F..%2Fetc%2Fpasswd", "x%00", "%00", "x%0d%0aX-Injected:%201",
			"%E2%80%8Bx", "%D0%A1x", "x;ls", "x'%20OR%20'1'='1", "%7B%22%24ne%22%3Anull%7D", "*", "ep_*", "upd_*",
			strings.Repeat("a", 10_000), "x%20", "%20", ref,
		}
		for _, r := range endpointRoutes(recent) {
			for _, id := range append(odd, msgs[0], strings.ToLower(ep.ID), ep.ID+"x", "ep_"+ep.ID) {
				h.expect(fmt.Sprintf("endpoint id %.40q on %s %s", id, r.method, r.pattern), []int{notFound}, key, r.method, r.path(id, msgs[0]), bodyReader(r.body))
			}
			if !strings.Contains(r.pattern, "%[2]s") {
				continue
			}
			for _, id := range append(odd, ep.ID, strings.ToLower(msgs[0]), msgs[0]+"x", "upd_"+msgs[0]) {
				h.expect(fmt.Sprintf("message id %.40q on %s %s", id, r.method, r.pattern), []int{notFound}, key, r.method, r.path(ep.ID, id), bodyReader(r.body))
			}
		}
		for _, p := range []string{
			"/endpoints/../../etc/passwd", "/endpoints/%2e%2e/%2e%2e/etc/passwd", "/endpoints/" + ep.ID + "/../" + ep.ID + "/secret",
			"/endpoints/" + ep.ID + "/messages/../../../admin/backup", "//endpoints", "/endpoints//" + ep.ID, "/endpoints/" + ep.ID + "/secrets",
			"/endpoints/" + ep.ID + "/secret/rotate/now",
		} {
			h.expect("path "+p, []int{notFound, notAllowed}, key, http.MethodGet, p, nil)
		}
		for _, m := range []string{http.MethodPut, "TRACE", "PROPFIND"} {
			h.expect("method "+m+" on an endpoint", []int{notAllowed, notFound}, key, m, "/endpoints/"+ep.ID, nil)
		}
		h.expect("DELETE the secret", []int{notAllowed, notFound}, key, http.MethodDelete, "/endpoints/"+ep.ID+"/secret", nil)
		h.expect("GET the rotation", []int{notAllowed, notFound}, key, http.MethodGet, "/endpoints/"+ep.ID+"/secret/rotate", nil)
	})

	if after := a.endpointsView(t, key); after != before {
		t.Errorf("the account's endpoints changed under hostile input:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	path := db.Path()
	a.srv.Close()
	_ = db.Close()
	checkStoreFile(t, path)
	assertNoSecrets(t, "the API's log", a.logs.String(), h.secrets)
	t.Logf("hostile endpoint input: %d requests tried, each refused with a 4xx, nothing changed", h.tried)
}

// bodyReader returns a reader of body, nil when it is empty.
func bodyReader(body string) io.Reader {
	if body == "" {
		return nil
	}
	return jsonBody(body)
}
