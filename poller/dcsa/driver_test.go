package dcsa

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// testEnv is a getenv with the variables the examples use.
func testEnv(name string) string {
	return map[string]string{"MAEU_KEY": "maeu-key-1", "HLCU_SECRET": "hlcu-secret-2"}[name]
}

func parseSources(t *testing.T, yaml string) (*poller.Sources, error) {
	t.Helper()
	return poller.NewRegistry(Driver()).Parse([]byte(yaml), "yaml", testEnv)
}

func TestDriver_DecodesACarrierBlock(t *testing.T) {
	s, err := parseSources(t, `carriers:
  MAEU:
    type: dcsa
    base_url: https://a.test/${MAEU_KEY}
    auth:
      headers: {Consumer-Key: "${MAEU_KEY}", X-Plain: plain-value}
      oauth2: {token_url: https://a.test/t, client_id: x, client_secret: "${HLCU_SECRET}", scopes: [a, b]}
    timeout: 1m30s
    requests_per_second: 0.5
    max_concurrency: 2
    max_pages: 3
    max_events: 40
    max_body_bytes: 1000
`)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		BaseURL: "https://a.test/maeu-key-1",
		Auth: Auth{
			Headers: map[string]string{"Consumer-Key": "maeu-key-1", "X-Plain": "plain-value"},
			OAuth2:  &OAuth2{TokenURL: "https://a.test/t", ClientID: "x", ClientSecret: "hlcu-secret-2", Scopes: []string{"a", "b"}},
		},
		Timeout: 90 * time.Second, RequestsPerSecond: 0.5, MaxConcurrency: 2, MaxPages: 3, MaxEvents: 40, MaxBodyBytes: 1000,
	}
	if got := s.Carriers["MAEU"]; !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got %+v\nwant %+v", got, want)
	}
}

func TestDriver_RejectsBadBlocks(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"dcsa without base_url", "carriers:\n  MAEU: {type: dcsa}\n", "carriers.MAEU.base_url: is required"},
		{"dcsa with a relative base_url", "carriers:\n  MAEU: {type: dcsa, base_url: api.test/tnt}\n", "carriers.MAEU.base_url: must be an absolute http:// or https:// URL"},
		{"dcsa oauth2 without secret", "carriers:\n  HLCU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      oauth2: {token_url: https://a.test/t, client_id: x}\n",
			"carriers.HLCU.auth.oauth2.client_secret: is required"},
		{"unset variable", "carriers:\n  MAEU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      headers:\n        Consumer-Key: ${NO_SUCH_VAR}\n",
			"carriers.MAEU.auth.headers.Consumer-Key: environment variable NO_SUCH_VAR is not set"},
		{"unset variable in a secret", "carriers:\n  HLCU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      oauth2: {token_url: https://a.test/t, client_id: x, client_secret: \"${HLCU_SCRET}\"}\n",
			"carriers.HLCU.auth.oauth2.client_secret: environment variable HLCU_SCRET is not set"},
		{"unknown key deep down", "carriers:\n  HLCU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      oauth2: {token_url: https://a.test/t, client_id: x, client_secret: y, scope: z}\n",
			`line 6: unknown key "scope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSources(t, tt.data)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestDriver_ClientLogsToTheServiceLogger builds a client through the registry, as
// cmd/trackhook does, and checks that its warnings reach the logger it was given.
func TestDriver_ClientLogsToTheServiceLogger(t *testing.T) {
	f := newFakeDCSA(t)
	f.events = func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"},
			{"eventID": "2", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}]`)
	}
	s, err := parseSources(t, fmt.Sprintf("carriers:\n  MAEU: {type: dcsa, base_url: '%s'}\n", f.baseURL()))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r, err := s.Router(poller.SourceEnv{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock.NewFake(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ByCarrier["MAEU"].Fetch(t.Context(), references.Reference{ContainerID: fixtureContainer})
	if err != nil || len(got.Events) != 1 {
		t.Fatalf("Fetch = %v, %v; want the one usable event", got, err)
	}
	if !strings.Contains(logs.String(), "dcsa: skipped unusable events") || !strings.Contains(logs.String(), "source=MAEU") {
		t.Errorf("logs %q: want the skipped event reported", logs.String())
	}
}
