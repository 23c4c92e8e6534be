package api

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// keysConformance drives the key routes, the audit log and the answers of missing
// scopes through their success and error answers, for
// TestOpenAPI_RealResponsesMatchTheSpec.
func keysConformance(t *testing.T, seen map[string][]int) {
	b := setup(t, withEveryRoute)
	c := newConformance(t, loadSpec(t), b, seen)
	run := func(name, method, path, key, body string, status int, invalid bool) []byte {
		return c.run(t, call{name: name, method: method, path: path, key: key, body: body, status: status, invalidRequest: invalid})
	}
	expires := b.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)

	full := decode[CreatedAPIKey](t, run("create key", http.MethodPost, "/account/keys", b.adminKey,
		`{"name":"dashboard","scopes":["read"],"expires_at":"`+expires+`"}`, 201, false))
	admin := decode[CreatedAPIKey](t, run("create admin key", http.MethodPost, "/account/keys", b.adminKey,
		`{"scopes":["admin"],"expires_in":"90d"}`, 201, false))
	run("create key without scopes", http.MethodPost, "/account/keys", b.adminKey, `{"name":"x"}`, 422, true)
	run("create key unknown scope", http.MethodPost, "/account/keys", b.adminKey, `{"scopes":["root"]}`, 422, true)
	run("create key bad lifetime", http.MethodPost, "/account/keys", b.adminKey, `{"scopes":["read"],"expires_in":"forever"}`, 422, false)
	run("create key unknown field", http.MethodPost, "/account/keys", b.adminKey, `{"scopes":["read"],"operator":true}`, 400, true)
	run("create key with a write key", http.MethodPost, "/account/keys", b.keyA, `{"scopes":["read"]}`, 403, false)

	b.do(t, http.MethodGet, "/references", full.Key, nil) // nothing records the use here: last_used_at stays absent
	run("list keys", http.MethodGet, "/account/keys", b.adminKey, "", 200, false)
	run("list keys with a read key", http.MethodGet, "/account/keys", full.Key, "", 403, false)

	run("revoke key", http.MethodDelete, "/account/keys/"+full.ID, admin.Key, "", 200, false)
	run("revoke key again", http.MethodDelete, "/account/keys/"+full.ID, admin.Key, "", 200, false)
	run("revoke key of another account", http.MethodDelete, "/account/keys/"+full.ID, b.keyText(t, accountB, false, references.ScopeAdmin), "", 404, false)
	run("revoke itself", http.MethodDelete, "/account/keys/"+admin.ID, admin.Key, "", 200, false)
	adminID := b.keyID(t, b.adminKey)
	run("revoke the last admin key", http.MethodDelete, "/account/keys/"+adminID, b.adminKey, "", 409, false)
	run("revoked key", http.MethodGet, "/references", full.Key, "", 401, false)

	run("audit", http.MethodGet, "/account/audit?after=0&limit=3", b.adminKey, "", 200, false)
	run("audit at the end", http.MethodGet, "/account/audit?after=1000", b.adminKey, "", 200, false)
	run("audit bad after", http.MethodGet, "/account/audit?after=x", b.adminKey, "", 422, true)
	run("audit with a write key", http.MethodGet, "/account/audit", b.keyA, "", 403, false)

	// The write routes' answer to a read key.
	read := b.keyText(t, accountA, false, references.ScopeRead)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": "https://example.com/hooks"})
	refPath, epPath := "/references/"+ref.ID, "/endpoints/"+ep.ID
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPost, "/references", `{"booking_number":"BK123456","carrier_code":"HLCU"}`},
		{http.MethodPatch, refPath, `{"callback_url":"https://example.com/x"}`},
		{http.MethodDelete, refPath, ""},
		{http.MethodPost, refPath + "/updates/upd_X/redeliver", ""},
		{http.MethodGet, "/account/webhook-secret", ""},
		{http.MethodPost, "/account/webhook-secret/rotate", ""},
		{http.MethodPost, "/endpoints", `{"url":"https://example.com/h"}`},
		{http.MethodPatch, epPath, `{"description":"x"}`},
		{http.MethodDelete, epPath, ""},
		{http.MethodGet, epPath + "/secret", ""},
		{http.MethodPost, epPath + "/secret/rotate", ""},
		{http.MethodPost, epPath + "/messages/upd_X/resend", ""},
		{http.MethodPost, epPath + "/recover", `{"since":"` + b.clock.Now().Format(time.RFC3339) + `"}`},
		{http.MethodPost, epPath + "/test", ""},
	} {
		run("read key: "+r.method+" "+r.path, r.method, r.path, read, r.body, 403, false)
	}
	run("expired key", http.MethodGet, "/references", expiredKey(t, b), "", 401, false)
}

// expiredKey returns a read key of account A that expired a second ago.
func expiredKey(t *testing.T, b *testBundle) string {
	t.Helper()
	key := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}, "expires_in": "1m"}).Key
	b.clock.Advance(time.Minute + time.Second)
	return key
}

// TestOpenAPI_KeyRoutesMatchTheSpec runs keysConformance on its own, and checks each
// key route was answered with success.
func TestOpenAPI_KeyRoutesMatchTheSpec(t *testing.T) {
	seen := map[string][]int{}
	keysConformance(t, seen)
	for _, op := range []string{"createAPIKey", "listAPIKeys", "revokeAPIKey", "listAudit"} {
		if !slices.ContainsFunc(seen[op], func(s int) bool { return s < 300 }) {
			t.Errorf("%s was never answered with success; seen %v", op, seen[op])
		}
	}
}

// TestOpenAPI_KeyEnumsAreTheDomains keeps the spec's scopes and audit actions equal to
// the domain's.
func TestOpenAPI_KeyEnumsAreTheDomains(t *testing.T) {
	doc := loadSpec(t)
	if got, want := enumOf(t, doc, "Scope", ""), sortedStrings(references.Scopes()); !slices.Equal(got, want) {
		t.Errorf("Scope lists %v; the domain has %v", got, want)
	}
	if got, want := enumOf(t, doc, "AuditAction", ""), sortedStrings(references.AuditActions()); !slices.Equal(got, want) {
		t.Errorf("AuditAction lists %v; the domain has %v", got, want)
	}
}
