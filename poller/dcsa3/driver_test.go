package dcsa3

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
)

// testEnv is a getenv with the variables the tests use.
func testEnv(name string) string {
	return map[string]string{"CT_KEY": "ct-api-key-1", "CT_SECRET": "ct-client-secret", "CT_PUSH": "push-secret-0123456789"}[name]
}

func parseSources(t *testing.T, format, data string) (*poller.Sources, error) {
	t.Helper()
	return poller.NewRegistry(Driver(), dcsa.Driver()).Parse([]byte(data), format, testEnv)
}

func TestDriver_DecodesACarrierBlock(t *testing.T) {
	want := Config{
		Config: dcsa.Config{
			BaseURL: "https://ct.test/ct-api-key-1",
			Auth: dcsa.Auth{
				Headers: map[string]string{"X-API-Key": "ct-api-key-1", "X-Plain": "plain-value"},
				OAuth2:  &dcsa.OAuth2{TokenURL: "https://ct.test/t", ClientID: "x", ClientSecret: "ct-client-secret", Scopes: []string{"ct.read"}},
			},
			Timeout: 90 * time.Second, RequestsPerSecond: 0.5, MaxConcurrency: 2, MaxPages: 3, MaxEvents: 40, MaxBodyBytes: 1000,
		},
		PageSize: 200,
	}
	tests := []struct{ format, data string }{
		{"yaml", `carriers:
  MAEU:
    type: dcsa-ct
    base_url: https://ct.test/${CT_KEY}
    auth:
      headers: {X-API-Key: "${CT_KEY}", X-Plain: plain-value}
      oauth2: {token_url: https://ct.test/t, client_id: x, client_secret: "${CT_SECRET}", scopes: [ct.read]}
    timeout: 1m30s
    requests_per_second: 0.5
    max_concurrency: 2
    max_pages: 3
    max_events: 40
    max_body_bytes: 1000
    page_size: 200
`},
		{"json", `{"carriers": {"MAEU": {"type": "dcsa-ct", "base_url": "https://ct.test/${CT_KEY}",
			"auth": {"headers": {"X-API-Key": "${CT_KEY}", "X-Plain": "plain-value"},
				"oauth2": {"token_url": "https://ct.test/t", "client_id": "x", "client_secret": "${CT_SECRET}", "scopes": ["ct.read"]}},
			"timeout": "1m30s", "requests_per_second": 0.5, "max_concurrency": 2, "max_pages": 3, "max_events": 40, "max_body_bytes": 1000,
			"page_size": 200}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			s, err := parseSources(t, tt.format, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Carriers["MAEU"]; !reflect.DeepEqual(got, want) {
				t.Errorf("config:\n got %+v\nwant %+v", got, want)
			}
			if len(s.Push) != 0 {
				t.Errorf("push %v without push: true", s.Push)
			}
		})
	}
}

func TestDriver_RejectsBadBlocks(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"no base_url", "carriers:\n  MAEU: {type: dcsa-ct}\n", "carriers.MAEU.base_url: is required"},
		{"a base_url with a query", "carriers:\n  MAEU: {type: dcsa-ct, base_url: 'https://a.test/?x=1'}\n", "carriers.MAEU.base_url: must not have a query or a fragment"},
		{"negative page size", "carriers:\n  MAEU: {type: dcsa-ct, base_url: https://a.test, page_size: -1}\n",
			"carriers.MAEU.page_size: must be between 1 and 100000, or 0 to send no limit"},
		{"unset variable", "carriers:\n  MAEU:\n    type: dcsa-ct\n    base_url: https://a.test\n    auth:\n      headers:\n        X-API-Key: ${NO_SUCH_VAR}\n",
			"carriers.MAEU.auth.headers.X-API-Key: environment variable NO_SUCH_VAR is not set"},
		{"unknown key", "carriers:\n  MAEU:\n    type: dcsa-ct\n    base_url: https://a.test\n    pagesize: 10\n", `line 5: unknown key "pagesize"`},
		{"unknown key deep down", "carriers:\n  MAEU:\n    type: dcsa-ct\n    base_url: https://a.test\n    auth: {oauth2: {token_url: https://a.test/t, client_id: x, client_secret: y, scope: z}}\n",
			`line 5: unknown key "scope"`},
		{"page_size of the wrong type", "carriers:\n  MAEU:\n    type: dcsa-ct\n    base_url: https://a.test\n    page_size: many\n", `line 5: "many" is not a valid whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSources(t, "yaml", tt.data)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestDriver_PushSettings(t *testing.T) {
	s, err := parseSources(t, "yaml", `carriers:
  MAEU:
    type: dcsa-ct
    base_url: https://ct.test
    push: true
    inbound_auth:
      bearer: ${CT_PUSH}
  HLCU:
    type: dcsa-ct
    base_url: https://ct.test
    push: true
    push_poll_interval: 12h
    inbound_auth:
      header: {name: x-carrier-key, value: "${CT_PUSH}"}
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]poller.PushConfig{
		"MAEU": {Model: poller.PushReceiver, PollInterval: 6 * time.Hour,
			InboundAuth: &poller.InboundAuth{Header: "Authorization", Scheme: "Bearer", Secret: "push-secret-0123456789"}},
		"HLCU": {Model: poller.PushReceiver, PollInterval: 12 * time.Hour,
			InboundAuth: &poller.InboundAuth{Header: "X-Carrier-Key", Secret: "push-secret-0123456789"}},
	}
	if !reflect.DeepEqual(s.Push, want) {
		t.Errorf("push:\n got %v\nwant %v", s.Push, want)
	}
	if strings.Contains(fmt.Sprint(s.Push), "push-secret") {
		t.Errorf("printing the settings shows the secret: %v", s.Push)
	}
}

// TestDriver_ClientLogsToTheServiceLogger builds a client through the registry, as
// cmd/trackhook does, and checks that its warnings reach the logger it was given.
func TestDriver_ClientLogsToTheServiceLogger(t *testing.T) {
	f := newFakePublisher(t)
	f.events = func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"events": [{"eventID": "bad"}, {"eventID": "a", "eventDateTime": "2025-01-01T00:00:00Z",
			"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}}]}`)
	}
	s, err := parseSources(t, "yaml", fmt.Sprintf("carriers:\n  MAEU: {type: dcsa-ct, base_url: %q}\n", f.baseURL()))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r, err := s.Router(poller.SourceEnv{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.For("MAEU").Fetch(t.Context(), blRef())
	if err != nil || len(got.Events) != 1 {
		t.Fatalf("Fetch: %v, %+v", err, got)
	}
	if !strings.Contains(logs.String(), "dcsa-ct: skipped unusable events") || !strings.Contains(logs.String(), "event 1: no eventClassification") {
		t.Errorf("logs:\n%s", logs.String())
	}
	if err := r.Check(blRef()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestConfig_KeepsSecretsOutOfLogs(t *testing.T) {
	cfg := Config{Config: dcsa.Config{BaseURL: "https://a.test", Auth: dcsa.Auth{
		Headers: map[string]string{"X-API-Key": "header-secret-1"},
		OAuth2:  &dcsa.OAuth2{TokenURL: "https://a.test/t", ClientID: "id", ClientSecret: "oauth-secret-2"}}}, PageSize: 5}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{logs.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg)} {
		if strings.Contains(out, "header-secret-1") || strings.Contains(out, "oauth-secret-2") || !strings.Contains(out, "page_size") {
			t.Errorf("output shows a secret or lacks the settings: %s", out)
		}
	}
}
