package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/keyuse"
	"github.com/trackhook/trackhook/references"
)

// newKey stores a key of the account with the given scopes, as the keys command
// makes them, and returns its text and stored form.
func (b *testBundle) newKey(t testing.TB, accountID string, operator bool, scopes ...references.Scope) (string, references.APIKey) {
	t.Helper()
	key, stored := references.NewAPIKey(accountID, scopes, b.clock.Now())
	stored.Operator, stored.CreatedBy = operator, references.ActorCLI
	if err := b.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	return key, stored
}

// keyText stores a key as newKey does and returns only its text.
func (b *testBundle) keyText(t testing.TB, accountID string, operator bool, scopes ...references.Scope) string {
	t.Helper()
	key, _ := b.newKey(t, accountID, operator, scopes...)
	return key
}

// keyID returns the id of the key with the given text.
func (b *testBundle) keyID(t testing.TB, key string) string {
	t.Helper()
	k, err := b.db.LookupAPIKey(context.Background(), references.HashAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// createKey posts a key with the admin key adminKey and fails the test unless it is 201.
func (b *testBundle) createKey(t testing.TB, adminKey string, body map[string]any) CreatedAPIKey {
	t.Helper()
	resp, raw := b.do(t, http.MethodPost, "/account/keys", adminKey, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key %v: %d %s", body, resp.StatusCode, raw)
	}
	return decode[CreatedAPIKey](t, raw)
}

// listKeys returns the account's keys as GET /account/keys shows them.
func (b *testBundle) listKeys(t testing.TB, adminKey string) []APIKey {
	t.Helper()
	resp, raw := b.do(t, http.MethodGet, "/account/keys", adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list keys: %d %s", resp.StatusCode, raw)
	}
	return decode[APIKeyList](t, raw).Keys
}

// auditLog returns the account's whole audit log.
func (b *testBundle) auditLog(t testing.TB, adminKey string) []AuditEntry {
	t.Helper()
	resp, raw := b.do(t, http.MethodGet, "/account/audit?limit=500", adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit: %d %s", resp.StatusCode, raw)
	}
	return decode[AuditPage](t, raw).Entries
}

// TestScopes_EveryRouteNeedsItsScope sends every route the API serves with keys of
// each scope: a key below the route's scope is refused with 403 forbidden; one at or
// above it gets past the check (whatever the route then answers to made-up ids).
func TestScopes_EveryRouteNeedsItsScope(t *testing.T) {
	b := setup(t, withEveryRoute)
	type level int
	const (
		read level = iota
		write
		admin
		operator
	)
	keys := []struct {
		name  string
		key   string
		level level
	}{
		{"read", b.keyText(t, accountA, false, references.ScopeRead), read},
		{"write", b.keyText(t, accountA, false, references.ScopeWrite), write},
		{"read and write", b.keyText(t, accountA, false, references.ScopeRead, references.ScopeWrite), write},
		{"admin", b.keyText(t, accountA, false, references.ScopeAdmin), admin},
		{"operator", b.adminKey, operator},
	}
	// What a route needs beyond its method's scope (GET and HEAD read, others write).
	needs := map[string]level{
		"GET /account/webhook-secret": write,
		"GET /endpoints/:id/secret":   write,
		"POST /account/keys":          admin,
		"GET /account/keys":           admin,
		"DELETE /account/keys/:id":    admin,
		"GET /account/audit":          admin,
		"GET /admin/backup":           operator,
		"GET /admin/status":           operator,
	}
	public := []string{"GET /healthz", "GET /readyz", "GET /openapi.yaml"}
	tested := 0
	for _, r := range b.e.Routes() {
		route := r.Method + " " + r.Path
		if slices.Contains(public, route) {
			continue
		}
		need, ok := needs[route]
		if !ok {
			need = write
			if r.Method == http.MethodGet {
				need = read
			}
		}
		path := strings.NewReplacer(":id", "x_NOSUCH", ":update_id", "upd_NOSUCH", ":message_id", "upd_NOSUCH").Replace(r.Path)
		for _, k := range keys {
			t.Run(route+" "+k.name, func(t *testing.T) {
				resp, body := b.do(t, r.Method, path, k.key, nil)
				if k.level < need {
					wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
				} else if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("key %s on %s: %d %s", k.name, route, resp.StatusCode, body)
				}
			})
		}
		tested++
	}
	if tested < 30 {
		t.Fatalf("only %d routes tested", tested)
	}
}

func TestScopes_ReadKeyReadsButCannotChange(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": containerID(1), "carrier_code": "MSCU"})
	readKey := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}, "name": "dashboard"}).Key

	for _, path := range []string{"/references", "/references/" + ref.ID, "/references/" + ref.ID + "/updates", "/endpoints", "/event-types"} {
		if resp, body := b.do(t, http.MethodGet, path, readKey, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with a read key: %d %s", path, resp.StatusCode, body)
		}
	}
	changes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/references", map[string]any{"container_id": containerID(2), "carrier_code": "MSCU"}},
		{http.MethodPatch, "/references/" + ref.ID, map[string]any{"callback_url": "https://example.com/x"}},
		{http.MethodDelete, "/references/" + ref.ID, nil},
		{http.MethodPost, "/endpoints", map[string]any{"url": "https://example.com/hooks"}},
		{http.MethodPost, "/account/webhook-secret/rotate", nil},
		{http.MethodGet, "/account/webhook-secret", nil},
	}
	for _, c := range changes {
		resp, body := b.do(t, c.method, c.path, readKey, c.body)
		e := wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
		if !strings.Contains(e.Message, "write scope") {
			t.Errorf("%s %s: message %q does not name the scope needed", c.method, c.path, e.Message)
		}
	}
	// Nothing changed.
	resp, body := b.do(t, http.MethodGet, "/references", b.keyA, nil)
	if page := decode[ReferencePage](t, body); resp.StatusCode != http.StatusOK || len(page.References) != 1 || page.References[0].Status != references.StatusActive {
		t.Errorf("references after the refused changes: %s", body)
	}
	if resp, body := b.do(t, http.MethodGet, "/endpoints", b.keyA, nil); !strings.Contains(string(body), `"endpoints":[]`) {
		t.Errorf("endpoints after a refused create: %d %s", resp.StatusCode, body)
	}
}

func TestKeys_WriteKeyCannotManageKeys(t *testing.T) {
	b := setup(t)
	target := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}})
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/account/keys", map[string]any{"scopes": []string{"admin"}}},
		{http.MethodGet, "/account/keys", nil},
		{http.MethodDelete, "/account/keys/" + target.ID, nil},
		{http.MethodGet, "/account/audit", nil},
	} {
		resp, body := b.do(t, r.method, r.path, b.keyA, r.body)
		wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
	}
	if n := len(b.listKeys(t, b.adminKey)); n != 3 {
		t.Errorf("%d keys after the refused requests, want 3", n)
	}
}

func TestKeys_CreateShowsTheKeyOnceAndListShowsNoSecret(t *testing.T) {
	b := setup(t)
	resp, raw := b.do(t, http.MethodPost, "/account/keys", b.adminKey,
		map[string]any{"name": "CI", "scopes": []string{"write", "read"}, "expires_in": "90d"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	created := decode[CreatedAPIKey](t, raw)
	wantExpiry := b.clock.Now().Add(90 * 24 * time.Hour)
	if !strings.HasPrefix(created.Key, "thk_") || !strings.HasPrefix(created.Key, created.Prefix) || created.Name != "CI" ||
		!slices.Equal(created.Scopes, []string{"read", "write"}) || created.Operator || created.ExpiresAt == nil ||
		!created.ExpiresAt.Equal(wantExpiry) || created.LastUsedAt != nil || created.RevokedAt != nil {
		t.Errorf("created key %+v", created)
	}
	adminID := b.keyID(t, b.adminKey)
	if created.CreatedBy != adminID {
		t.Errorf("created_by %q, want the admin key %s", created.CreatedBy, adminID)
	}
	// The new key works at once, with its scopes.
	if resp, body := b.do(t, http.MethodPost, "/references", created.Key, map[string]any{"container_id": containerID(3), "carrier_code": "MSCU"}); resp.StatusCode != http.StatusCreated {
		t.Errorf("create a reference with the new key: %d %s", resp.StatusCode, body)
	}

	resp, list := b.do(t, http.MethodGet, "/account/keys", b.adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, list)
	}
	hash := references.HashAPIKey(created.Key)
	for _, secret := range []string{created.Key, hash, created.Key[len(created.Prefix):]} {
		if strings.Contains(string(list), secret) {
			t.Fatalf("the list shows a key's text or hash: %s", list)
		}
	}
	keys := decode[APIKeyList](t, list).Keys
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	if !slices.Contains(ids, created.ID) || !slices.Contains(ids, adminID) || slices.Contains(ids, b.keyID(t, b.keyB)) {
		t.Errorf("keys of account A: %q", ids)
	}
}

func TestKeys_RevokeTakesEffectAtOnce(t *testing.T) {
	b := setup(t)
	k := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"write"}})
	if resp, body := b.do(t, http.MethodGet, "/references", k.Key, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revoking: %d %s", resp.StatusCode, body)
	}
	b.clock.Advance(time.Minute)
	resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+k.ID, b.adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
	}
	if got := decode[APIKey](t, raw); got.RevokedAt == nil || !got.RevokedAt.Equal(b.clock.Now()) {
		t.Errorf("revoked key %+v, want revoked_at %v", got, b.clock.Now())
	}
	resp, body := b.do(t, http.MethodGet, "/references", k.Key, nil)
	if e := wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, ""); !strings.Contains(e.Message, "revoked") {
		t.Errorf("message %q does not say the key was revoked", e.Message)
	}
	// Again: not an error, and the time of the first revocation stays.
	b.clock.Advance(time.Minute)
	resp, raw = b.do(t, http.MethodDelete, "/account/keys/"+k.ID, b.adminKey, nil)
	if got := decode[APIKey](t, raw); resp.StatusCode != http.StatusOK || got.RevokedAt == nil || got.RevokedAt.Equal(b.clock.Now()) {
		t.Errorf("revoke again: %d %s", resp.StatusCode, raw)
	}
}

func TestKeys_ExpiryFollowsTheClock(t *testing.T) {
	b := setup(t)
	in := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}, "expires_in": "1h"})
	at := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"},
		"expires_at": b.clock.Now().Add(2 * time.Hour).Format(time.RFC3339)})
	b.clock.Advance(time.Hour - time.Second)
	for _, k := range []CreatedAPIKey{in, at} {
		if resp, body := b.do(t, http.MethodGet, "/references", k.Key, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before its expiry: %d %s", resp.StatusCode, body)
		}
	}
	b.clock.Advance(time.Second)
	resp, body := b.do(t, http.MethodGet, "/references", in.Key, nil)
	e := wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, "")
	if !strings.Contains(e.Message, "expired at "+in.ExpiresAt.UTC().Format(time.RFC3339)) {
		t.Errorf("message %q does not say when the key expired", e.Message)
	}
	if resp, body := b.do(t, http.MethodGet, "/references", at.Key, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the key with expires_at an hour later: %d %s", resp.StatusCode, body)
	}
	b.clock.Advance(time.Hour)
	resp, body = b.do(t, http.MethodGet, "/references", at.Key, nil)
	wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, "")
	// An expired key is listed as such, and does not count as the account's admin key.
	for _, k := range b.listKeys(t, b.adminKey) {
		if k.ID == in.ID && (k.ExpiresAt == nil || k.RevokedAt != nil) {
			t.Errorf("the expired key in the list: %+v", k)
		}
	}
}

func TestKeys_TheLastAdminKeyIsKept(t *testing.T) {
	b := setup(t)
	second := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"admin"}})
	// A key may revoke itself while another admin key is left.
	resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+second.ID, second.Key, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("an admin key revoking itself: %d %s", resp.StatusCode, raw)
	}
	resp, raw = b.do(t, http.MethodGet, "/account/keys", second.Key, nil)
	wantError(t, resp, raw, http.StatusUnauthorized, references.CodeUnauthorized, "")

	adminID := b.keyID(t, b.adminKey)
	resp, raw = b.do(t, http.MethodDelete, "/account/keys/"+adminID, b.adminKey, nil)
	e := wantError(t, resp, raw, http.StatusConflict, references.CodeConflict, "")
	if !strings.Contains(e.Message, "create another admin key first") {
		t.Errorf("message %q does not say what to do", e.Message)
	}
	if resp, raw := b.do(t, http.MethodGet, "/account/keys", b.adminKey, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the last admin key after the refusal: %d %s", resp.StatusCode, raw)
	}
	// Once another admin key exists, the first may go.
	third := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"admin"}})
	if resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+adminID, third.Key, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("revoke with another admin key left: %d %s", resp.StatusCode, raw)
	}
}

func TestKeys_AnotherAccountsAreNotFound(t *testing.T) {
	b := setup(t)
	adminB, _ := b.newKey(t, accountB, false, references.ScopeAdmin)
	keyOfA := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}})
	for _, id := range []string{keyOfA.ID, keyOfA.Prefix, "key_NOSUCH", "thk_whatever"} {
		resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+id, adminB, nil)
		wantError(t, resp, raw, http.StatusNotFound, references.CodeNotFound, "")
	}
	if resp, body := b.do(t, http.MethodGet, "/references", keyOfA.Key, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("A's key after B tried to revoke it: %d %s", resp.StatusCode, body)
	}
	for _, k := range b.listKeys(t, adminB) {
		if k.ID == keyOfA.ID {
			t.Errorf("B's list shows A's key %s", k.ID)
		}
	}
	for _, e := range b.auditLog(t, adminB) {
		if e.TargetID == keyOfA.ID {
			t.Errorf("B's audit log shows A's key: %+v", e)
		}
	}
}

func TestKeys_RefusesBadRequestsAndStoresNothing(t *testing.T) {
	b := setup(t)
	before, audited := len(b.listKeys(t, b.adminKey)), len(b.auditLog(t, b.adminKey))
	now := b.clock.Now()
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"no scopes", map[string]any{"name": "x"}, 422, references.CodeInvalid, "scopes"},
		{"empty scopes", map[string]any{"scopes": []string{}}, 422, references.CodeInvalid, "scopes"},
		{"unknown scope", map[string]any{"scopes": []string{"root"}}, 422, references.CodeInvalid, "scopes"},
		{"scope in upper case", map[string]any{"scopes": []string{"READ"}}, 422, references.CodeInvalid, "scopes"},
		{"scopes as a string", `{"scopes":"read"}`, 400, codeBadRequest, "scopes"},
		{"operator asked for", map[string]any{"scopes": []string{"admin"}, "operator": true}, 400, codeBadRequest, "operator"},
		{"lifetime not a lifetime", map[string]any{"scopes": []string{"read"}, "expires_in": "forever"}, 422, references.CodeInvalid, "expires_in"},
		{"lifetime too short", map[string]any{"scopes": []string{"read"}, "expires_in": "30s"}, 422, references.CodeInvalid, "expires_in"},
		{"lifetime too long", map[string]any{"scopes": []string{"read"}, "expires_in": "3651d"}, 422, references.CodeInvalid, "expires_in"},
		{"both expiries", map[string]any{"scopes": []string{"read"}, "expires_in": "1d", "expires_at": now.Add(48 * time.Hour).Format(time.RFC3339)}, 422, references.CodeInvalid, "expires_in"},
		{"expiry in the past", map[string]any{"scopes": []string{"read"}, "expires_at": now.Add(-time.Hour).Format(time.RFC3339)}, 422, references.CodeInvalid, "expires_at"},
		{"expiry not a time", map[string]any{"scopes": []string{"read"}, "expires_at": "tomorrow"}, 422, references.CodeInvalid, "expires_at"},
		{"name with a line break", map[string]any{"scopes": []string{"read"}, "name": "a\nb"}, 422, references.CodeInvalid, "name"},
		{"name too long", map[string]any{"scopes": []string{"read"}, "name": strings.Repeat("é", 65)}, 422, references.CodeInvalid, "name"},
		{"no body", nil, 400, codeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := b.do(t, http.MethodPost, "/account/keys", b.adminKey, tt.body)
			wantError(t, resp, raw, tt.status, tt.code, tt.field)
		})
	}
	if n := len(b.listKeys(t, b.adminKey)); n != before {
		t.Errorf("%d keys after refused creates, want %d", n, before)
	}
	if n := len(b.auditLog(t, b.adminKey)); n != audited {
		t.Errorf("%d audit entries after refused creates, want %d", n, audited)
	}
}

func TestAudit_RecordsKeyAndSecretOperations(t *testing.T) {
	b := setup(t)
	adminID := b.keyID(t, b.adminKey)
	cliKey, cliStored := b.newKey(t, accountA, false, references.ScopeRead) // as trackhook keys does

	created := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"write"}})
	if resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+created.ID, b.adminKey, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
	}
	b.rotate(t, b.adminKey, `{"grace_seconds":0}`)
	writeKey, writeStored := b.newKey(t, accountA, false, references.ScopeWrite)
	ep := b.createEndpoint(t, writeKey, map[string]any{"url": "https://example.com/hooks"})
	if resp, raw := b.do(t, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate", writeKey, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate the endpoint's secret: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := b.do(t, http.MethodDelete, "/endpoints/"+ep.ID, writeKey, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete the endpoint: %d %s", resp.StatusCode, raw)
	}
	// B's operations stay in B's log.
	b.rotate(t, b.keyB, "")

	got := b.auditLog(t, b.adminKey)
	want := []AuditEntry{
		{Actor: references.ActorCLI, Action: references.AuditKeyCreated, TargetID: cliStored.ID},
		{Actor: adminID, Action: references.AuditKeyCreated, TargetID: created.ID},
		{Actor: adminID, Action: references.AuditKeyRevoked, TargetID: created.ID},
		{Actor: adminID, Action: references.AuditWebhookSecretRotated, TargetID: accountA},
		{Actor: references.ActorCLI, Action: references.AuditKeyCreated, TargetID: writeStored.ID},
		{Actor: writeStored.ID, Action: references.AuditEndpointCreated, TargetID: ep.ID},
		{Actor: writeStored.ID, Action: references.AuditEndpointSecretRotated, TargetID: ep.ID},
		{Actor: writeStored.ID, Action: references.AuditEndpointDeleted, TargetID: ep.ID},
	}
	// The setup's keys of account A were made before: skip their entries.
	got = got[len(got)-len(want):]
	for i := range want {
		w, g := want[i], got[i]
		if g.Actor != w.Actor || g.Action != w.Action || g.TargetID != w.TargetID || !g.At.Equal(b.clock.Now()) {
			t.Errorf("entry %d: %+v, want %+v at %v", i, g, w, b.clock.Now())
		}
		if i > 0 && g.Sequence != got[i-1].Sequence+1 {
			t.Errorf("entry %d has sequence %d after %d", i, g.Sequence, got[i-1].Sequence)
		}
	}
	resp, raw := b.do(t, http.MethodGet, "/account/audit", b.adminKey, nil)
	for _, secret := range []string{b.adminKey, cliKey, writeKey, created.Key} {
		if strings.Contains(string(raw), secret) || strings.Contains(b.logs.String(), secret) {
			t.Fatalf("a key's text is in the audit log or the server's log")
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit: %d", resp.StatusCode)
	}

	// Pages: after and limit, next_after to continue.
	first := got[0].Sequence
	resp, raw = b.do(t, http.MethodGet, "/account/audit?limit=2&after="+strconv.FormatUint(first, 10), b.adminKey, nil)
	page := decode[AuditPage](t, raw)
	if resp.StatusCode != http.StatusOK || len(page.Entries) != 2 || page.Entries[0].Sequence != first+1 || page.NextAfter != first+2 {
		t.Errorf("page after %d: %d %s", first, resp.StatusCode, raw)
	}
	resp, raw = b.do(t, http.MethodGet, "/account/audit?after=-1", b.adminKey, nil)
	wantError(t, resp, raw, http.StatusUnprocessableEntity, references.CodeInvalid, "after")
}

func TestKeys_LastUsedIsWrittenInTheBackground(t *testing.T) {
	var rec *keyuse.Recorder
	b := setup(t, func(c *setupConfig) {
		c.service.KeyUsed = func(k references.APIKey, at time.Time) { rec.Seen(k, at) }
	})
	rec = keyuse.New(b.db, keyuse.Options{Clock: b.clock})
	k := b.createKey(t, b.adminKey, map[string]any{"scopes": []string{"read"}})
	lastUsed := func() *time.Time {
		for _, l := range b.listKeys(t, b.adminKey) {
			if l.ID == k.ID {
				return l.LastUsedAt
			}
		}
		t.Fatalf("key %s not listed", k.ID)
		return nil
	}
	b.clock.Advance(time.Minute)
	used := b.clock.Now()
	if resp, body := b.do(t, http.MethodGet, "/references", k.Key, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := lastUsed(); got != nil {
		t.Fatalf("last_used_at %v before the recorder wrote: the request wrote it", got)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); got == nil || !got.Equal(used) {
		t.Errorf("last_used_at %v, want %v", got, used)
	}
	// A refused key's use is not recorded.
	b.clock.Advance(time.Hour)
	if resp, raw := b.do(t, http.MethodDelete, "/account/keys/"+k.ID, b.adminKey, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
	}
	b.do(t, http.MethodGet, "/references", k.Key, nil)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); got == nil || !got.Equal(used) {
		t.Errorf("last_used_at %v after a refused use, want %v", got, used)
	}
}
