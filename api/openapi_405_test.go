package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPI_MethodAPathLacksIs405 checks what the spec says of methods a path does
// not list (OpenAPI 3.0 has no response object for them, so info.description says
// it): a 405 with code method_not_allowed, an Error body and an Allow header naming
// the path's methods; OPTIONS a 204 with the same header.
func TestOpenAPI_MethodAPathLacksIs405(t *testing.T) {
	doc := loadSpec(t)
	tighten(doc)
	if d := doc.Info.Description; !strings.Contains(d, "405") || !strings.Contains(d, "Allow") {
		t.Fatalf("info.description does not describe the 405 answer:\n%s", d)
	}
	b := setup(t, withEveryRoute)
	errSchema := doc.Components.Schemas["Error"].Value
	for path, item := range doc.Paths.Map() {
		var allowed []string
		for method := range item.Operations() {
			allowed = append(allowed, method)
		}
		missing := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead}
		missing = slices.DeleteFunc(missing, func(m string) bool { return slices.Contains(allowed, m) })
		url := strings.NewReplacer("{id}", "ref_X", "{update_id}", "upd_X", "{message_id}", "upd_X").Replace(path)
		wantAllow := append(slices.Clone(allowed), http.MethodOptions)
		slices.Sort(wantAllow)
		for _, method := range append(missing, http.MethodOptions) {
			resp, body := b.do(t, method, url, b.keyA, nil)
			want := http.StatusMethodNotAllowed
			if method == http.MethodOptions {
				want = http.StatusNoContent
			}
			allow := strings.Split(resp.Header.Get("Allow"), ", ")
			slices.Sort(allow)
			if resp.StatusCode != want || !slices.Equal(allow, wantAllow) {
				t.Errorf("%s %s: %d, Allow %v; want %d, Allow %v", method, url, resp.StatusCode, allow, want, wantAllow)
			}
			if want != http.StatusMethodNotAllowed || method == http.MethodHead {
				continue
			}
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s %s: %v: %s", method, url, err, body)
			}
			if err := errSchema.VisitJSON(v, openapi3.VisitAsResponse()); err != nil || !strings.Contains(string(body), `"method_not_allowed"`) {
				t.Errorf("%s %s: body %s does not match the Error schema with code method_not_allowed: %v", method, url, body, err)
			}
		}
	}
}
