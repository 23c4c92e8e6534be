package api

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/api")

// everyCode is every error code the API answers with, and its status.
var everyCode = []struct {
	code   string
	status int
}{
	{codeBadRequest, 400},
	{references.CodeUnauthorized, 401},
	{codeForbidden, 403},
	{references.CodeQuotaExceeded, 403},
	{references.CodeNotFound, 404},
	{codeMethodNotAllowed, 405},
	{references.CodeConflict, 409},
	{codeTooLarge, 413},
	{codeUnsupportedMediaType, 415},
	{references.CodeInvalid, 422},
	{references.CodeIdempotencyMismatch, 422},
	{codeRateLimited, 429},
	{references.CodeInternal, 500},
	{references.CodeUnavailable, 503},
	{codeNotImplemented, 501},
}

func TestStatusFor_EveryDomainCode(t *testing.T) {
	tests := append(everyCode[:len(everyCode):len(everyCode)], struct {
		code   string
		status int
	}{"some_future_code", 500})
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := statusFor(tt.code); got != tt.status {
				t.Errorf("statusFor(%q) = %d, want %d", tt.code, got, tt.status)
			}
		})
	}
}

// TestOpenAPI_ListsEveryErrorCode keeps the spec's list of error codes the list of
// codes the API answers with: no code a client never sees, none it is not told of.
func TestOpenAPI_ListsEveryErrorCode(t *testing.T) {
	var want []string
	for _, c := range everyCode {
		want = append(want, c.code)
	}
	var got []string
	for _, v := range loadSpec(t).Components.Schemas["ErrorDetail"].Value.Properties["code"].Value.Enum {
		got = append(got, v.(string))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("openapi.yaml lists the error codes %v; the API answers with %v", got, want)
	}
}

// TestOpenAPI_ListsEveryAttemptOutcome keeps the delivery log's outcome enum the list
// of outcomes the store can record.
func TestOpenAPI_ListsEveryAttemptOutcome(t *testing.T) {
	var want, got []string
	for _, o := range references.AttemptOutcomes {
		want = append(want, string(o))
	}
	for _, v := range loadSpec(t).Components.Schemas["DeliveryAttempt"].Value.Properties["outcome"].Value.Enum {
		got = append(got, v.(string))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("openapi.yaml lists the attempt outcomes %v; the delivery log records %v", got, want)
	}
}

func TestHandleError_UnknownAndWrappedErrors(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		leak   string // must not appear in the body
	}{
		{"plain error is internal", errors.New("db exploded at /var/lib/x"), 500, references.CodeInternal, "exploded"},
		{"unknown code is internal", references.Errorf("weird", "secret detail"), 500, references.CodeInternal, "secret"},
		{"wrapped domain error keeps its code", fmt.Errorf("get: %w", references.Errorf(references.CodeNotFound, "reference x not found")), 404, references.CodeNotFound, "get:"},
		{"echo 5xx is internal", echo.NewHTTPError(http.StatusBadGateway, "upstream details"), 500, references.CodeInternal, "upstream"},
		{"echo 4xx keeps its status", echo.NewHTTPError(http.StatusRequestEntityTooLarge), 413, codeTooLarge, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fmt.Sprintf("/test-error-%d", i)
			b.e.GET(path, func(echo.Context) error { return tt.err })
			rec := httptest.NewRecorder()
			b.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			wantError(t, rec.Result(), rec.Body.Bytes(), tt.status, tt.code, "")
			if tt.leak != "" && strings.Contains(rec.Body.String(), tt.leak) {
				t.Errorf("body %s leaks %q", rec.Body.String(), tt.leak)
			}
		})
	}
}

// TestErrorResponses_Golden records what clients see for typical mistakes, so a change
// of wording or status shows up in review. Rewrite with go test ./api -run Golden -update.
func TestErrorResponses_Golden(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})
	readKey, _ := b.newKey(t, accountA, false, references.ScopeRead)
	adminID := b.keyID(t, b.adminKey)
	revokedKey, revoked := b.newKey(t, accountA, false, references.ScopeRead)
	if _, err := b.db.RevokeAPIKey(context.Background(), references.KeyRevocation{Key: revoked.ID, At: b.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	expiredKey, expired := references.NewAPIKey(accountA, []references.Scope{references.ScopeRead}, b.clock.Now())
	expired.ExpiresAt = &expired.CreatedAt // expired at once
	if err := b.db.CreateAPIKey(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		method, path, key, body string
	}{
		{http.MethodGet, "/references", "", ""},
		{http.MethodGet, "/references", "nope", ""},
		{http.MethodGet, "/admin/backup", b.keyA, ""},
		{http.MethodGet, "/nowhere", b.keyA, ""},
		{http.MethodPut, "/references", b.keyA, ""},
		{http.MethodGet, "/references/ref_NOSUCH", b.keyA, ""},
		{http.MethodGet, "/references?limit=1000", b.keyA, ""},
		{http.MethodPost, "/references", b.keyA, `{"container_id":"CSQU3054384","carrier_code":"MAEU"}`},
		{http.MethodPost, "/references", b.keyA, `{"container_id":"CSQU3054383","carrier_code":"MAEU"}`},
		{http.MethodPost, "/references", b.keyA, `{"container_id":"CSQU3054383","carrier":"MAEU"}`},
		{http.MethodPost, "/references", b.keyA, `{"container_id":["CSQU3054383"],"carrier_code":"MAEU"}`},
		{http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456","carrier_code":"MAEU","poll_interval":15}`},
		{http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456","carrier_code":"MAEU","callback_url":"http://example.com"}`},
		{http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456"}`},
		{http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456",}`},
		{http.MethodPatch, "/references/" + ref.ID, b.keyA, `{}`},
		{http.MethodGet, "/references/" + ref.ID + "/updates?after=first", b.keyA, ""},
		{http.MethodGet, "/references", revokedKey, ""},
		{http.MethodGet, "/references", expiredKey, ""},
		{http.MethodPost, "/references", readKey, `{"booking_number":"BK123456","carrier_code":"MAEU"}`},
		{http.MethodGet, "/account/keys", b.keyA, ""},
		{http.MethodPost, "/account/keys", b.adminKey, `{"scopes":["root"]}`},
		{http.MethodPost, "/account/keys", b.adminKey, `{"scopes":["read"],"expires_in":"1y"}`},
		{http.MethodDelete, "/account/keys/" + adminID, b.adminKey, ""},
	}
	var out strings.Builder
	for _, r := range requests {
		var body *strings.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		var req *http.Request
		if body != nil {
			req = httptest.NewRequest(r.method, r.path, body)
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(r.method, r.path, nil)
		}
		if r.key != "" {
			req.Header.Set("Authorization", "Bearer "+r.key)
		}
		rec := httptest.NewRecorder()
		b.e.ServeHTTP(rec, req)
		// Ids are random: name them by role so the file is stable.
		ids := strings.NewReplacer(ref.ID, "<ref_id>", adminID, "<admin_key_id>")
		got := ids.Replace(rec.Body.String())
		shownPath := ids.Replace(r.path)
		fmt.Fprintf(&out, "%s %s %s\n%d %s", r.method, shownPath, r.body, rec.Code, got)
		out.WriteString("\n")
	}

	golden := filepath.Join("..", "testdata", "api", "errors.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("error responses differ from %s (rerun with -update if intended):\n%s", golden, out.String())
	}
}

// Issue 11, item 22: the wording clients saw for three common mistakes.
func TestErrorMessages_SayWhatToDo(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, key, body string
		status          int
		field, want     string
	}{
		{"no key: the usage reads as written, not \\u003ckey\\u003e", "", "", 401, "",
			`"message":"missing API key: send Authorization: Bearer <key>"`},
		{"missing carrier code", b.keyA, `{"booking_number":"BK123456"}`, 422, "carrier_code",
			`"message":"is required with a booking_number: booking numbers carry no carrier prefix to detect the carrier from; give the carrier's SCAC code of 2 to 4 letters, e.g. MAEU"`},
		{"http callback names the development flag", b.keyA, `{"booking_number":"BK123456","carrier_code":"MAEU","callback_url":"http://example.com/h"}`, 422, "callback_url",
			`--allow-insecure-callbacks`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			resp, raw := b.do(t, http.MethodPost, "/references", tt.key, body)
			code := references.CodeInvalid
			if tt.status == 401 {
				code = references.CodeUnauthorized
			}
			wantError(t, resp, raw, tt.status, code, tt.field)
			if !strings.Contains(string(raw), tt.want) {
				t.Errorf("body %s, want it to contain %s", raw, tt.want)
			}
		})
	}
	// A blank carrier code is missing too; a wrong one is still named as such.
	resp, raw := b.do(t, http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456","carrier_code":" "}`)
	if e := wantError(t, resp, raw, 422, references.CodeInvalid, "carrier_code"); !strings.HasPrefix(e.Message, "is required") {
		t.Errorf("blank carrier_code: %q", e.Message)
	}
	resp, raw = b.do(t, http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456","carrier_code":"M4EU"}`)
	if e := wantError(t, resp, raw, 422, references.CodeInvalid, "carrier_code"); !strings.HasPrefix(e.Message, "must be a SCAC code") {
		t.Errorf("wrong carrier_code: %q", e.Message)
	}
}

// TestCreate_CallbackCheckAnswers422ForForbiddenAnd503ForTemporary: a destination the
// guard refuses is the client's mistake (422); one whose name could not be resolved
// for now is not (503, try again). Neither message names what the host resolved to.
func TestCreate_CallbackCheckAnswers422ForForbiddenAnd503ForTemporary(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.service.CheckCallback = func(_ context.Context, raw string) error {
			if strings.Contains(raw, "flaky") {
				return references.Temporary(errors.New("the host flaky.example could not be resolved now"))
			}
			return errors.New("the host private.example is not an allowed destination")
		}
	})
	tests := []struct {
		host   string
		status int
		code   string
	}{
		{"private.example", 422, references.CodeInvalid},
		{"flaky.example", 503, references.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			body := `{"booking_number":"BK123456","carrier_code":"MAEU","callback_url":"https://` + tt.host + `/h"}`
			resp, raw := b.do(t, http.MethodPost, "/references", b.keyA, body)
			wantError(t, resp, raw, tt.status, tt.code, "callback_url")
			if !strings.Contains(string(raw), tt.host) {
				t.Errorf("body %s does not name the host", raw)
			}
		})
	}
}
