package poller_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	fakeclock "github.com/trackhook/trackhook/internal/clock" // poller_test.go has a type named clock
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// fixedNow is the time of the sources in these tests.
var fixedNow = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// buildRouter parses a YAML sources file and builds its router on a fake clock.
func buildRouter(t *testing.T, yaml string) poller.Router {
	t.Helper()
	s, err := testRegistry().Parse([]byte(yaml), "yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Router(poller.SourceEnv{Clock: fakeclock.NewFake(fixedNow)})
	if err != nil {
		t.Fatalf("Router: %v", err)
	}
	return r
}

func TestSourcesBuildRoutesEachCarrier(t *testing.T) {
	// A DCSA server that wants MAEU's key from the environment.
	var gotKey string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Consumer-Key")
		if r.URL.Path != "/tnt/v2/events" || r.URL.Query().Get("equipmentReference") != "MSKU7261948" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `[{"eventID": "e1", "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
			"eventDateTime": "2026-03-01T10:00:00Z", "equipmentEventTypeCode": "GTOT", "emptyIndicatorCode": "EMPTY"}]`)
	}))
	defer srv.Close()
	r := buildRouter(t, fmt.Sprintf("default: demo\ncarriers:\n  MAEU:\n    type: dcsa\n    base_url: %s/tnt\n    auth:\n      headers:\n        Consumer-Key: ${MAEU_KEY}\n  DEMO: {type: demo}\n", srv.URL))
	if len(r.ByCarrier) != 2 || r.Default == nil {
		t.Fatalf("sources %v, default %v", r.ByCarrier, r.Default)
	}
	for code, src := range map[string]poller.Source{"MAEU": r.ByCarrier["MAEU"], "DEMO": r.ByCarrier["DEMO"], "default": r.Default} {
		g, ok := src.(*poller.GuardedSource)
		if !ok || g.Name() != code {
			t.Errorf("%s: source %T, want a *poller.GuardedSource named %s", code, src, code)
		}
	}

	ctx := t.Context()
	ship, err := r.ByCarrier["MAEU"].Fetch(ctx, references.Reference{ContainerID: "MSKU7261948", CarrierCode: "MAEU"})
	if err != nil || len(ship.Events) != 1 || ship.Events[0].Code != "GTOT" {
		t.Fatalf("MAEU fetch = %+v, %v: want the DCSA server's event", ship, err)
	}
	if gotKey != "maeu-key-1" {
		t.Errorf("Consumer-Key %q, want the value of MAEU_KEY", gotKey)
	}

	ref := references.Reference{ID: "ref_1", ContainerID: "MSCU1234566", CarrierCode: "DEMO", CreatedAt: fixedNow.Add(-72 * time.Hour)}
	want, wantErr := demo.New(demo.Options{Speed: 1, Clock: fakeclock.NewFake(fixedNow)}).Fetch(ctx, ref)
	for name, src := range map[string]poller.Source{"DEMO": r.ByCarrier["DEMO"], "default": r.Default} {
		got, err := src.Fetch(ctx, ref)
		if !reflect.DeepEqual(got, want) || !errors.Is(err, wantErr) {
			t.Errorf("%s fetch differs from the demo source's", name)
		}
	}
}

func TestSourcesBuildDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(t *testing.T, r poller.Router)
	}{
		{"none", "default: none\ncarriers:\n  DEMO: {type: demo}\n", func(t *testing.T, r poller.Router) {
			if r.Default != nil {
				t.Errorf("default %v, want none", r.Default)
			}
		}},
		{"a carrier", "default: MAEU\ncarriers:\n  MAEU: {type: dcsa, base_url: 'https://a.test'}\n", func(t *testing.T, r poller.Router) {
			if r.Default != r.ByCarrier["MAEU"] {
				t.Errorf("default %v, want MAEU's source itself (one breaker per API)", r.Default)
			}
		}},
		{"left out", "carriers: {}\n", func(t *testing.T, r poller.Router) {
			if g, ok := r.Default.(*poller.GuardedSource); !ok || g.Name() != "default" {
				t.Errorf("default %v, want the guarded demo source", r.Default)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want(t, buildRouter(t, tt.yaml))
		})
	}
}

func TestSourcesBuildAppliesBreakerSettings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	r := buildRouter(t, fmt.Sprintf("carriers:\n  MAEU: {type: dcsa, base_url: '%s'}\nbreaker: {failures: 2, open_for: 1h}\n", srv.URL))
	src := r.ByCarrier["MAEU"].(*poller.GuardedSource)
	ref := references.Reference{ContainerID: "MSKU7261948", CarrierCode: "MAEU"}
	for range 2 {
		src.Fetch(t.Context(), ref)
	}
	if src.State() != gobreaker.StateOpen {
		t.Errorf("breaker %v after 2 failures, want open (breaker.failures: 2)", src.State())
	}
	_, err := src.Fetch(t.Context(), ref)
	var se *references.SourceError
	if !errors.As(err, &se) || se.RetryAfter != time.Hour {
		t.Errorf("err = %v: want the hour of breaker.open_for left, on the sources' clock", err)
	}
}

func TestNewRegistry_RefusesDriversItCannotTellApart(t *testing.T) {
	carrier := func(poller.Block) (poller.SourceConfig, error) { return nil, nil }
	tests := []struct {
		name    string
		drivers []poller.Driver
	}{
		{"no kind", []poller.Driver{{Carrier: carrier}}},
		{"no carrier function", []poller.Driver{{Kind: "x"}}},
		{"a kind twice", []poller.Driver{{Kind: "x", Carrier: carrier}, {Kind: "x", Carrier: carrier}}},
		{"a key of the file", []poller.Driver{{Kind: "breaker", Carrier: carrier}}},
		{"none", []poller.Driver{{Kind: "none", Carrier: carrier}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewRegistry did not panic")
				}
			}()
			poller.NewRegistry(tt.drivers...)
		})
	}
}

func TestInboundAuth_Allows(t *testing.T) {
	bearer := poller.InboundAuth{Header: "Authorization", Scheme: "Bearer", Secret: "token-0123456789abcdef"}
	header := poller.InboundAuth{Header: "X-Carrier-Key", Secret: "key-0123456789abcdef"}
	tests := []struct {
		name   string
		auth   poller.InboundAuth
		header http.Header
		want   bool
	}{
		{"bearer", bearer, http.Header{"Authorization": {"Bearer token-0123456789abcdef"}}, true},
		{"bearer, scheme in lower case", bearer, http.Header{"Authorization": {"bearer token-0123456789abcdef"}}, true},
		{"bearer, two spaces", bearer, http.Header{"Authorization": {"Bearer  token-0123456789abcdef"}}, true},
		{"bearer, wrong token", bearer, http.Header{"Authorization": {"Bearer token-0123456789abcdeX"}}, false},
		{"bearer, a prefix of the token", bearer, http.Header{"Authorization": {"Bearer token-0123456789abcde"}}, false},
		{"bearer, another scheme", bearer, http.Header{"Authorization": {"Basic token-0123456789abcdef"}}, false},
		{"bearer, the token alone", bearer, http.Header{"Authorization": {"token-0123456789abcdef"}}, false},
		{"bearer, none", bearer, http.Header{}, false},
		{"header", header, http.Header{"X-Carrier-Key": {"key-0123456789abcdef"}}, true},
		{"header, twice", header, http.Header{"X-Carrier-Key": {"key-0123456789abcdef", "key-0123456789abcdef"}}, false},
		{"header, wrong value", header, http.Header{"X-Carrier-Key": {"key-0123456789abcdeg"}}, false},
		{"header, with a scheme", header, http.Header{"X-Carrier-Key": {"Bearer key-0123456789abcdef"}}, false},
		{"header, in another header", header, http.Header{"Authorization": {"key-0123456789abcdef"}}, false},
		{"no secret configured allows nothing", poller.InboundAuth{Header: "X-Carrier-Key"}, http.Header{"X-Carrier-Key": {""}}, false},
	}
	for _, tt := range tests {
		if got := tt.auth.Allows(tt.header); got != tt.want {
			t.Errorf("%s: Allows = %v, want %v", tt.name, got, tt.want)
		}
	}
	if s := fmt.Sprint(bearer, poller.PushConfig{InboundAuth: &header}); strings.Contains(s, "0123456789") {
		t.Errorf("printing shows the secret: %s", s)
	}
}
