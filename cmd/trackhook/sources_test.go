package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	iclock "github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// testEnv is a getenv with the variables the examples use.
func testEnv(name string) string {
	return map[string]string{
		"MAEU_KEY":       "maeu-key-1",
		"HLCU_CLIENT_ID": "trackhook",
		"HLCU_SECRET":    "hlcu-secret-2",
	}[name]
}

func TestSourcesLoadExampleYAML(t *testing.T) {
	cfg, err := loadSourcesConfig(filepath.Join("..", "..", "testdata", "sources", "example.yaml"), testEnv)
	if err != nil {
		t.Fatalf("loadSourcesConfig: %v", err)
	}
	want := sourcesConfig{
		Default: "demo",
		Demo:    demoSourceConfig{Speed: 3600},
		Carriers: map[string]carrierConfig{
			"MAEU": {
				Type: "dcsa", BaseURL: "https://api.example-carrier.test/track-and-trace",
				Auth:    authConfig{Headers: map[string]string{"Consumer-Key": "maeu-key-1"}},
				Timeout: configDuration(10 * time.Second), RequestsPerSecond: 5, MaxConcurrency: 4,
				MaxPages: 20, MaxEvents: 5000, MaxBodyBytes: 10 << 20,
			},
			"HLCU": {
				Type: "dcsa", BaseURL: "https://api.other-carrier.test/dcsa",
				Auth: authConfig{OAuth2: &oauth2Config{
					TokenURL: "https://login.other-carrier.test/oauth2/token", ClientID: "trackhook",
					ClientSecret: "hlcu-secret-2", Scopes: []string{"tnt.read"},
				}},
				RequestsPerSecond: 2,
			},
			"DEMO": {Type: "demo"},
		},
		Breaker: breakerConfig{Failures: 5, OpenFor: configDuration(time.Minute)},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestSourcesLoadExampleJSON(t *testing.T) {
	cfg, err := loadSourcesConfig(filepath.Join("..", "..", "testdata", "sources", "example.json"), testEnv)
	if err != nil {
		t.Fatalf("loadSourcesConfig: %v", err)
	}
	maeu := cfg.Carriers["MAEU"]
	if cfg.Default != "MAEU" || maeu.Auth.Headers["Consumer-Key"] != "maeu-key-1" || time.Duration(maeu.Timeout) != 5*time.Second ||
		cfg.Breaker != (breakerConfig{Failures: 3, OpenFor: configDuration(2 * time.Minute)}) || cfg.Carriers["DEMO"].Type != "demo" {
		t.Errorf("config %+v", cfg)
	}
}

func TestSourcesFormatBySniffing(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sources.conf":  `{"carriers": {"MAEU": {"type": "demo"}}}`,
		"sources":       "carriers:\n  MAEU: {type: demo}\n",
		"sources.yml":   "carriers:\n  MAEU: {type: demo}\n",
		"sources.JSON":  `{"carriers": {"MAEU": {"type": "demo"}}}`,
		"indented.conf": "\n\n  {\"carriers\": {\"MAEU\": {\"type\": \"demo\"}}}",
	}
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadSourcesConfig(path, testEnv)
			if err != nil {
				t.Fatalf("loadSourcesConfig: %v", err)
			}
			if cfg.Carriers["MAEU"].Type != "demo" {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

func TestSourcesRejectsBadConfigs(t *testing.T) {
	tests := []struct {
		name   string
		format string
		data   string
		want   string
	}{
		{"empty YAML", "yaml", "", "the file is empty"},
		{"empty JSON", "json", "  ", "the file is empty"},
		{"unknown top-level key", "yaml", "default: demo\nbreakers: {failures: 3}\n", `line 2: unknown key "breakers"`},
		{"unknown carrier key", "yaml", "carriers:\n  MAEU:\n    type: dcsa\n    base_ulr: https://a.test\n", `line 4: unknown key "base_ulr"`},
		{"two unknown keys", "yaml", "x: 1\ny: 2\n", `line 1: unknown key "x"; line 2: unknown key "y"`},
		{"unknown JSON key", "json", `{"carriers": {"MAEU": {"type": "dcsa", "baseurl": "x"}}}`, `unknown key "baseurl"`},
		{"JSON syntax", "json", "{\n  \"default\": \"demo\",\n}", "line 3: invalid character '}' looking for beginning of object key string"},
		{"JSON cut short", "json", `{"default": "demo"`, "the JSON ends too early"},
		{"JSON wrong type", "json", "{\n\"demo\": {\"speed\": \"fast\"}}", "line 2: demo.speed: a JSON string is not a valid number"},
		{"JSON trailing data", "json", `{} {}`, "data after the JSON object"},
		{"YAML syntax", "yaml", "carriers:\n  MAEU: [\n", "line 2: did not find expected node content"},
		{"unquoted variable in braces", "yaml", "carriers:\n  MAEU: {type: dcsa, auth: {headers: {K: ${KEY}}}}\n", `line 1: did not find expected ',' or '}' (inside { } write "${NAME}" in quotes)`},
		{"YAML wrong type", "yaml", "demo:\n  speed: fast\n", `line 2: "fast" is not a valid number`},
		{"YAML scalar for the whole file", "yaml", "0\n\n0", `line 1: "0\n0" is not a valid mapping`},
		{"YAML list for a mapping", "yaml", "carriers: [MAEU]\n", "line 1: a list is not a valid mapping"},
		{"negative failures", "yaml", "breaker: {failures: -1}\n", `line 1: "-1" is not a valid whole number, 0 or more`},
		{"two documents", "yaml", "default: demo\n---\ndefault: none\n", "more than one YAML document"},
		{"duplicate carrier", "yaml", "carriers:\n  MAEU: {type: demo}\n  MAEU: {type: demo}\n", `line 3: mapping key "MAEU" already defined at line 2`},
		{"bad duration", "yaml", "breaker: {open_for: 60}\n", `line 1: "60" is not a duration such as 10s or 1m30s`},
		{"negative duration", "yaml", "breaker: {open_for: -5s}\n", `line 1: "-5s": a duration must not be negative`},
		{"duration as a mapping", "yaml", "breaker:\n  open_for: {s: 5}\n", "line 2: a duration is a string such as 10s or 1m30s"},
		{"JSON duration as a number", "json", `{"breaker": {"open_for": 60}}`, `a duration is a string such as "10s" or "1m30s"`},
		{"lower-case code", "yaml", "carriers:\n  maeu: {type: demo}\n", `carriers: "maeu" is not a carrier code: 2 to 4 upper-case letters (a SCAC such as MAEU)`},
		{"code too long", "yaml", "carriers:\n  MAERSK: {type: demo}\n", `carriers: "MAERSK" is not a carrier code: 2 to 4 upper-case letters (a SCAC such as MAEU)`},
		{"code with a digit", "yaml", "carriers:\n  MA3U: {type: demo}\n", `carriers: "MA3U" is not a carrier code: 2 to 4 upper-case letters (a SCAC such as MAEU)`},
		{"no type", "yaml", "carriers:\n  MAEU: {base_url: https://a.test}\n", "carriers.MAEU.type: is required (dcsa or demo)"},
		{"unknown type", "yaml", "carriers:\n  MAEU: {type: p44}\n", `carriers.MAEU.type: "p44" is not a source type (dcsa or demo)`},
		{"demo with settings", "yaml", "carriers:\n  DEMO: {type: demo, timeout: 5s}\n", "carriers.DEMO.type: demo takes no other settings"},
		{"dcsa without base_url", "yaml", "carriers:\n  MAEU: {type: dcsa}\n", "carriers.MAEU.base_url: is required"},
		{"dcsa with a relative base_url", "yaml", "carriers:\n  MAEU: {type: dcsa, base_url: api.test/tnt}\n", "carriers.MAEU.base_url: must be an absolute http:// or https:// URL"},
		{"dcsa oauth2 without secret", "yaml", "carriers:\n  HLCU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      oauth2: {token_url: https://a.test/t, client_id: x}\n",
			"carriers.HLCU.auth.oauth2.client_secret: is required"},
		{"unset variable", "yaml", "carriers:\n  MAEU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      headers:\n        Consumer-Key: ${NO_SUCH_VAR}\n",
			"carriers.MAEU.auth.headers.Consumer-Key: environment variable NO_SUCH_VAR is not set"},
		{"unset variable in a secret", "yaml", "carriers:\n  HLCU:\n    type: dcsa\n    base_url: https://a.test\n    auth:\n      oauth2: {token_url: https://a.test/t, client_id: x, client_secret: \"${HLCU_SCRET}\"}\n",
			"carriers.HLCU.auth.oauth2.client_secret: environment variable HLCU_SCRET is not set"},
		{"bad default", "yaml", "default: MSCU\ncarriers:\n  MAEU: {type: demo}\n", `default: "MSCU" is neither demo, none nor a carrier listed under carriers`},
		{"negative demo speed", "yaml", "demo: {speed: -1}\n", "demo.speed: must be a positive number of simulated seconds per second"},
		{"infinite demo speed", "yaml", "demo: {speed: .inf}\n", "demo.speed: must be a positive number of simulated seconds per second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSourcesConfig([]byte(tt.data), tt.format, testEnv)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestSourcesFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxSourcesFile)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("carriers:\n  MAEU: {type: dcsa}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.yaml"), "sources file: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{big, fmt.Sprintf("sources file %s: larger than %d bytes", big, maxSourcesFile)},
		{bad, "sources file " + bad + ": carriers.MAEU.base_url: is required"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := loadSourcesConfig(tt.path, testEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSourcesExpandVars(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"plain", "plain", ""},
		{"${MAEU_KEY}", "maeu-key-1", ""},
		{"Bearer ${MAEU_KEY}/${HLCU_SECRET}!", "Bearer maeu-key-1/hlcu-secret-2!", ""},
		{"price $5 and $HOME stay", "price $5 and $HOME stay", ""},
		{"${MAEU_KEY", "", `"${" without a closing "}"`},
		{"${}", "", "${}: not an environment variable name"},
		{"${A-B}", "", "${A-B}: not an environment variable name"},
		{"${UNSET}", "", "environment variable UNSET is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expandVars(tt.in, testEnv)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expandVars(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// fixedNow is the time of the demo sources in these tests.
func fixedNow() time.Time { return time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC) }

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
	data := fmt.Sprintf("default: demo\ncarriers:\n  MAEU:\n    type: dcsa\n    base_url: %s/tnt\n    auth:\n      headers:\n        Consumer-Key: ${MAEU_KEY}\n  DEMO: {type: demo}\n", srv.URL)
	cfg, err := parseSourcesConfig([]byte(data), "yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	clk := iclock.NewFake(fixedNow())
	demoSrc := demo.New(demo.Options{Clock: clk})
	byCarrier, def, err := buildSources(cfg, demoSrc, clk)
	if err != nil {
		t.Fatalf("buildSources: %v", err)
	}
	if len(byCarrier) != 2 || def == nil {
		t.Fatalf("sources %v, default %v", byCarrier, def)
	}
	for code, src := range map[string]poller.Source{"MAEU": byCarrier["MAEU"], "DEMO": byCarrier["DEMO"], "default": def} {
		g, ok := src.(*poller.GuardedSource)
		if !ok || g.Name() != code {
			t.Errorf("%s: source %T, want a *poller.GuardedSource named %s", code, src, code)
		}
	}

	ctx := t.Context()
	ship, err := byCarrier["MAEU"].Fetch(ctx, references.Reference{ContainerID: "MSKU7261948", CarrierCode: "MAEU"})
	if err != nil || len(ship.Events) != 1 || ship.Events[0].Code != "GTOT" {
		t.Fatalf("MAEU fetch = %+v, %v: want the DCSA server's event", ship, err)
	}
	if gotKey != "maeu-key-1" {
		t.Errorf("Consumer-Key %q, want the value of MAEU_KEY", gotKey)
	}

	ref := references.Reference{ID: "ref_1", ContainerID: "MSCU1234566", CarrierCode: "DEMO", CreatedAt: fixedNow().Add(-72 * time.Hour)}
	want, wantErr := demoSrc.Fetch(ctx, ref)
	for _, name := range []string{"DEMO", "default"} {
		src := byCarrier[name]
		if name == "default" {
			src = def
		}
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
		want func(t *testing.T, byCarrier map[string]poller.Source, def poller.Source)
	}{
		{"none", "default: none\ncarriers:\n  DEMO: {type: demo}\n", func(t *testing.T, byCarrier map[string]poller.Source, def poller.Source) {
			if def != nil {
				t.Errorf("default %v, want none", def)
			}
		}},
		{"a carrier", "default: MAEU\ncarriers:\n  MAEU: {type: dcsa, base_url: 'https://a.test'}\n", func(t *testing.T, byCarrier map[string]poller.Source, def poller.Source) {
			if def != byCarrier["MAEU"] {
				t.Errorf("default %v, want MAEU's source itself (one breaker per API)", def)
			}
		}},
		{"left out", "carriers: {}\n", func(t *testing.T, byCarrier map[string]poller.Source, def poller.Source) {
			if g, ok := def.(*poller.GuardedSource); !ok || g.Name() != "default" {
				t.Errorf("default %v, want the guarded demo source", def)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseSourcesConfig([]byte(tt.yaml), "yaml", testEnv)
			if err != nil {
				t.Fatal(err)
			}
			clk := iclock.NewFake(fixedNow())
			byCarrier, def, err := buildSources(cfg, demo.New(demo.Options{Clock: clk}), clk)
			if err != nil {
				t.Fatal(err)
			}
			tt.want(t, byCarrier, def)
		})
	}
}

func TestSourcesBuildAppliesDemoSpeed(t *testing.T) {
	cfg, err := parseSourcesConfig([]byte("demo: {speed: 86400}\n"), "yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	// The demo source passed in runs at 1x; the file asks for a day per second.
	created := fixedNow()
	later := iclock.NewFake(created.Add(10 * time.Second))
	_, def, err := buildSources(cfg, demo.New(demo.Options{Clock: later}), later)
	if err != nil {
		t.Fatal(err)
	}
	ref := references.Reference{ID: "ref_1", ContainerID: "MSCU1234566", CarrierCode: "DEMO", CreatedAt: created}
	fast, err := def.Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want, err := demo.New(demo.Options{Speed: 86400, Clock: later}).Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Error("the default source does not run at the speed of the file")
	}
}

func TestSourcesBuildAppliesBreakerSettings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	data := fmt.Sprintf("carriers:\n  MAEU: {type: dcsa, base_url: '%s'}\nbreaker: {failures: 2, open_for: 1h}\n", srv.URL)
	cfg, err := parseSourcesConfig([]byte(data), "yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	clk := iclock.NewFake(fixedNow())
	byCarrier, _, err := buildSources(cfg, demo.New(demo.Options{Clock: clk}), clk)
	if err != nil {
		t.Fatal(err)
	}
	src := byCarrier["MAEU"].(*poller.GuardedSource)
	ref := references.Reference{ContainerID: "MSKU7261948", CarrierCode: "MAEU"}
	for range 2 {
		src.Fetch(context.Background(), ref)
	}
	if src.State() != gobreaker.StateOpen {
		t.Errorf("breaker %v after 2 failures, want open (breaker.failures: 2)", src.State())
	}
}

func FuzzLoadSourcesConfig(f *testing.F) {
	for _, name := range []string{"example.yaml", "example.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sources", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(name, ".json"))
	}
	f.Add([]byte("carriers:\n  MAEU: {type: dcsa, base_url: 'https://a.test', auth: {headers: {K: \"${MAEU_KEY}\"}}}\n"), false)
	f.Add([]byte(`{"default": "none", "breaker": {"open_for": "1h"}, "demo": {"speed": 1e308}}`), true)
	f.Add([]byte("&a [*a, *a]\n"), false)
	f.Add([]byte("0\n\n0"), false) // a multi-line scalar once made a multi-line error
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		format := "yaml"
		if isJSON {
			format = "json"
		}
		cfg, err := parseSourcesConfig(data, format, testEnv)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		// A configuration that loads must build.
		clk := iclock.NewFake(fixedNow())
		byCarrier, _, err := buildSources(cfg, demo.New(demo.Options{Clock: clk}), clk)
		if err != nil {
			t.Fatalf("loaded but does not build: %v", err)
		}
		for code := range byCarrier {
			if !carrierCode.MatchString(code) {
				t.Fatalf("carrier code %q accepted", code)
			}
		}
	})
}
