package poller_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/poller/demo"
)

// testEnv is a getenv with the variables the examples use.
func testEnv(name string) string {
	return map[string]string{
		"MAEU_KEY":        "maeu-key-1",
		"HLCU_CLIENT_ID":  "trackhook",
		"HLCU_SECRET":     "hlcu-secret-2",
		"CMDU_KEY":        "cmdu-key-3",
		"CMDU_PUSH_TOKEN": "cmdu-push-token-0123456789",
		"SHORT":           "short",
	}[name]
}

// testRegistry has the drivers cmd/trackhook registers, the demo at its default speed.
func testRegistry() *poller.Registry {
	return poller.NewRegistry(demo.Driver(1), dcsa.Driver(), dcsa3.Driver())
}

func TestSourcesLoadExampleYAML(t *testing.T) {
	s, err := testRegistry().Load(filepath.Join("..", "testdata", "sources", "example.yaml"), testEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]poller.SourceConfig{
		"MAEU": dcsa.Config{
			BaseURL: "https://api.example-carrier.test/track-and-trace",
			Auth:    dcsa.Auth{Headers: map[string]string{"Consumer-Key": "maeu-key-1"}},
			Timeout: 10 * time.Second, RequestsPerSecond: 5, MaxConcurrency: 4,
			MaxPages: 20, MaxEvents: 5000, MaxBodyBytes: 10 << 20,
		},
		"HLCU": dcsa.Config{
			BaseURL: "https://api.other-carrier.test/dcsa",
			Auth: dcsa.Auth{OAuth2: &dcsa.OAuth2{
				TokenURL: "https://login.other-carrier.test/oauth2/token", ClientID: "trackhook",
				ClientSecret: "hlcu-secret-2", Scopes: []string{"tnt.read"},
			}},
			RequestsPerSecond: 2,
		},
		"CMDU": dcsa3.Config{Config: dcsa.Config{
			BaseURL:           "https://api.third-carrier.test/ct",
			Auth:              dcsa.Auth{Headers: map[string]string{"X-API-Key": "cmdu-key-3"}},
			RequestsPerSecond: 5,
		}, PageSize: 500},
		"DEMO": demo.Options{Speed: 3600}, // the file's demo.speed
	}
	if !reflect.DeepEqual(s.Carriers, want) {
		t.Errorf("carriers:\n got %+v\nwant %+v", s.Carriers, want)
	}
	wantPush := map[string]poller.PushConfig{
		"MAEU": {Model: poller.PushSubscription, PollInterval: 6 * time.Hour},
		"CMDU": {Model: poller.PushReceiver, PollInterval: 12 * time.Hour,
			InboundAuth: &poller.InboundAuth{Header: "Authorization", Scheme: "Bearer", Secret: "cmdu-push-token-0123456789"}},
	}
	if !reflect.DeepEqual(s.Push, wantPush) {
		t.Errorf("push:\n got %v\nwant %v", s.Push, wantPush)
	}
	if s.Default != "demo" || s.Breaker.Failures != 5 || s.Breaker.OpenFor != time.Minute {
		t.Errorf("default %q, breaker %+v; want demo, 5 failures, open for 1m", s.Default, s.Breaker)
	}
}

func TestSourcesLoadExampleJSON(t *testing.T) {
	s, err := testRegistry().Load(filepath.Join("..", "testdata", "sources", "example.json"), testEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	maeu, _ := s.Carriers["MAEU"].(dcsa.Config)
	if s.Default != "MAEU" || maeu.Auth.Headers["Consumer-Key"] != "maeu-key-1" || maeu.Timeout != 5*time.Second ||
		s.Breaker.Failures != 3 || s.Breaker.OpenFor != 2*time.Minute || !reflect.DeepEqual(s.Carriers["DEMO"], demo.Options{Speed: 1}) {
		t.Errorf("sources %+v", s)
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
			s, err := testRegistry().Load(path, testEnv)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if _, ok := s.Carriers["MAEU"].(demo.Options); !ok {
				t.Errorf("sources %+v", s)
			}
		})
	}
}

// TestSourcesRejectsBadConfigs holds the errors of the file as a whole; those of a
// driver's block are in its package.
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
		{"no type", "yaml", "carriers:\n  MAEU: {base_url: https://a.test}\n", "carriers.MAEU.type: is required (dcsa, dcsa-ct or demo)"},
		{"unknown type", "yaml", "carriers:\n  MAEU: {type: p44}\n", `carriers.MAEU.type: "p44" is not a source type (dcsa, dcsa-ct or demo)`},
		{"bad default", "yaml", "default: MSCU\ncarriers:\n  MAEU: {type: demo}\n", `default: "MSCU" is neither demo, none nor a carrier listed under carriers`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testRegistry().Parse([]byte(tt.data), tt.format, testEnv)
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
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", poller.MaxSourcesFile)+"\n"), 0o600); err != nil {
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
		{big, fmt.Sprintf("sources file %s: larger than %d bytes", big, poller.MaxSourcesFile)},
		{bad, "sources file " + bad + ": carriers.MAEU.base_url: is required"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := testRegistry().Load(tt.path, testEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

var carrierCode = regexp.MustCompile(`^[A-Z]{2,4}$`)

func FuzzLoadSourcesConfig(f *testing.F) {
	for _, name := range []string{"example.yaml", "example.json"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "sources", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(name, ".json"))
	}
	f.Add([]byte("carriers:\n  MAEU: {type: dcsa, base_url: 'https://a.test', auth: {headers: {K: \"${MAEU_KEY}\"}}}\n"), false)
	f.Add([]byte(`{"default": "none", "breaker": {"open_for": "1h"}, "demo": {"speed": 1e308}}`), true)
	f.Add([]byte("carriers:\n  CMDU: {type: dcsa-ct, base_url: 'https://a.test', page_size: 5, push: true, inbound_auth: {bearer: \"${CMDU_PUSH_TOKEN}\"}}\n"), false)
	f.Add([]byte(`{"carriers": {"MAEU": {"type": "dcsa", "base_url": "https://a.test", "push": true, "push_poll_interval": "2h"},
		"CMDU": {"type": "dcsa-ct", "base_url": "https://a.test", "push": true, "inbound_auth": {"header": {"name": "K", "value": "${CMDU_PUSH_TOKEN}"}}}}}`), true)
	f.Add([]byte("&a [*a, *a]\n"), false)
	f.Add([]byte("0\n\n0"), false) // a multi-line scalar once made a multi-line error
	f.Add([]byte("carriers:\n  MAEU: &m {type: dcsa, base_url: 'https://a.test'}\n  HLCU: {<<: *m, bogus: 1}\n"), false)
	f.Add([]byte(`{"carriers": {"MAEU": {"TYPE": "dcsa", "Base_URL": "https://a.test", "auth": {"oauth2": {"scopes": [1]}}}}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		format := "yaml"
		if isJSON {
			format = "json"
		}
		s, err := testRegistry().Parse(data, format, testEnv)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		// A configuration that loads must build.
		r, err := s.Router(poller.SourceEnv{})
		if err != nil {
			t.Fatalf("loaded but does not build: %v", err)
		}
		for code := range r.ByCarrier {
			if !carrierCode.MatchString(code) {
				t.Fatalf("carrier code %q accepted", code)
			}
		}
	})
}

// TestSourcesRefusesAMergeBomb loads a small file whose merge keys make a tree of 2^30
// mappings: the keys of a block are checked within a bound, and yaml.v3 refuses it.
func TestSourcesRefusesAMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &m0 {speed: 1}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "x%d: &m%d {<<: [*m%d, *m%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("demo: {<<: *m30}\n")
	_, err := testRegistry().Parse([]byte(b.String()), "yaml", testEnv)
	if err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Errorf("err = %v, want the file refused", err)
	}
}

func TestSourcesPushSettings(t *testing.T) {
	const ct = "type: dcsa-ct, base_url: 'https://ct.test'"
	const tnt = "type: dcsa, base_url: 'https://tnt.test'"
	bearer := &poller.InboundAuth{Header: "Authorization", Scheme: "Bearer", Secret: "cmdu-push-token-0123456789"}
	tests := []struct {
		name   string
		format string
		data   string
		want   map[string]poller.PushConfig
	}{
		{"polled only", "yaml", "carriers:\n  MAEU: {" + tnt + "}\n  CMDU: {" + ct + ", push: false}\n", nil},
		{"T&T 2.2 subscriptions, default interval", "yaml", "carriers:\n  MAEU: {" + tnt + ", push: true}\n",
			map[string]poller.PushConfig{"MAEU": {Model: poller.PushSubscription, PollInterval: poller.DefaultPushPollInterval}}},
		{"T&T 2.2 with an interval", "yaml", "carriers:\n  MAEU: {" + tnt + ", push: true, push_poll_interval: 90m}\n",
			map[string]poller.PushConfig{"MAEU": {Model: poller.PushSubscription, PollInterval: 90 * time.Minute}}},
		{"CT 3.0 with a bearer token", "yaml", "carriers:\n  CMDU:\n    " + strings.ReplaceAll(ct, ", ", "\n    ") + "\n    push: true\n    inbound_auth:\n      bearer: ${CMDU_PUSH_TOKEN}\n",
			map[string]poller.PushConfig{"CMDU": {Model: poller.PushReceiver, PollInterval: 6 * time.Hour, InboundAuth: bearer}}},
		{"CT 3.0 with a header, a literal secret", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {header: {name: x-push-key, value: literal-secret-123456}}}\n",
			map[string]poller.PushConfig{"CMDU": {Model: poller.PushReceiver, PollInterval: 6 * time.Hour,
				InboundAuth: &poller.InboundAuth{Header: "X-Push-Key", Secret: "literal-secret-123456"}}}},
		{"push keys through a merge key", "yaml", "x: &push {push: true, inbound_auth: {bearer: \"${CMDU_PUSH_TOKEN}\"}}\ncarriers:\n  CMDU: {<<: *push, " + ct + "}\n",
			map[string]poller.PushConfig{"CMDU": {Model: poller.PushReceiver, PollInterval: 6 * time.Hour, InboundAuth: bearer}}},
		{"JSON", "json", `{"carriers": {"CMDU": {"type": "dcsa-ct", "base_url": "https://ct.test", "push": true, "push_poll_interval": "1h",
			"inbound_auth": {"bearer": "${CMDU_PUSH_TOKEN}"}}, "MAEU": {"type": "dcsa", "base_url": "https://tnt.test", "Push": true}}}`,
			map[string]poller.PushConfig{
				"CMDU": {Model: poller.PushReceiver, PollInterval: time.Hour, InboundAuth: bearer},
				"MAEU": {Model: poller.PushSubscription, PollInterval: 6 * time.Hour}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pushRegistry().Parse([]byte(tt.data), tt.format, testEnv)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(s.Push, tt.want) {
				t.Errorf("push:\n got %v\nwant %v", s.Push, tt.want)
			}
		})
	}
}

// pushRegistry is testRegistry with a top-level x key allowed, for YAML anchors.
func pushRegistry() *poller.Registry {
	return poller.NewRegistry(demo.Driver(1), dcsa.Driver(), dcsa3.Driver(), poller.Driver{
		Kind:     "x",
		Carrier:  func(poller.Block) (poller.SourceConfig, error) { return nil, fmt.Errorf("not a source") },
		Settings: func(b poller.Block) (poller.Driver, error) { return poller.Driver{}, nil },
	})
}

func TestSourcesRejectsBadPushSettings(t *testing.T) {
	const ct = "type: dcsa-ct, base_url: 'https://ct.test'"
	const tnt = "type: dcsa, base_url: 'https://tnt.test'"
	tests := []struct {
		name   string
		format string
		data   string
		want   string
	}{
		{"push on the demo", "yaml", "carriers:\n  DEMO: {type: demo, push: true}\n", "carriers.DEMO.push: a source of type demo is only polled"},
		{"interval without push", "yaml", "carriers:\n  MAEU: {" + tnt + ", push_poll_interval: 1h}\n", "carriers.MAEU.push_poll_interval: goes with push: true"},
		{"inbound_auth without push", "yaml", "carriers:\n  CMDU: {" + ct + ", inbound_auth: {bearer: x}}\n", "carriers.CMDU.inbound_auth: goes with push: true"},
		{"interval too short", "yaml", "carriers:\n  MAEU: {" + tnt + ", push: true, push_poll_interval: 30s}\n",
			"carriers.MAEU.push_poll_interval: must be at least 1m0s: it is the safety-net poll of pushed references"},
		{"interval not a duration", "yaml", "carriers:\n  MAEU: {" + tnt + ", push: true, push_poll_interval: 6}\n", `line 2: "6" is not a duration such as 10s or 1m30s`},
		{"push not a boolean", "yaml", "carriers:\n  MAEU:\n    type: dcsa\n    base_url: https://tnt.test\n    push: maybe\n", `line 5: "maybe" is not a valid bool`},
		{"inbound_auth on T&T 2.2", "yaml", "carriers:\n  MAEU: {" + tnt + ", push: true, inbound_auth: {bearer: x}}\n",
			"carriers.MAEU.inbound_auth: a source of type dcsa signs its callbacks with a secret per subscription, and takes no inbound_auth"},
		{"CT 3.0 without inbound_auth", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true}\n",
			"carriers.CMDU.inbound_auth: is required with push: true for type dcsa-ct: the carrier's pushes must carry a secret, as a header or a bearer token"},
		{"inbound_auth empty", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {}}\n", "carriers.CMDU.inbound_auth.header: or bearer: is required"},
		{"both header and bearer", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {bearer: a, header: {name: K, value: v}}}\n",
			"carriers.CMDU.inbound_auth.header: and bearer exclude each other"},
		{"unknown key in inbound_auth", "yaml", "carriers:\n  CMDU:\n    type: dcsa-ct\n    base_url: https://ct.test\n    push: true\n    inbound_auth:\n      berer: x\n",
			`line 7: unknown key "berer"`},
		{"unknown key in the header", "json", `{"carriers": {"CMDU": {"type": "dcsa-ct", "base_url": "https://ct.test", "push": true, "inbound_auth": {"header": {"nmae": "K"}}}}}`,
			`unknown key "nmae"`},
		{"a header name that is not one", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {header: {name: 'X Key', value: '0123456789abcdef'}}}\n",
			`carriers.CMDU.inbound_auth.header.name: "X Key" is not a header name`},
		{"a header that carries something else", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {header: {name: content-type, value: '0123456789abcdef'}}}\n",
			"carriers.CMDU.inbound_auth.header.name: content-type carries something else than a credential"},
		{"no header name", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {header: {value: '0123456789abcdef'}}}\n",
			"carriers.CMDU.inbound_auth.header.name: is required"},
		{"no header value", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {header: {name: K}}}\n",
			"carriers.CMDU.inbound_auth.header.value: is required"},
		{"a short secret", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {bearer: \"${SHORT}\"}}\n",
			"carriers.CMDU.inbound_auth.bearer: is 5 characters, use at least 16 (a random one, such as from openssl rand -hex 32)"},
		{"an unset variable", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {bearer: \"${CMDU_PUSH_TOKN}\"}}\n",
			"carriers.CMDU.inbound_auth.bearer: environment variable CMDU_PUSH_TOKN is not set"},
		{"a bearer token with a space", "yaml", "carriers:\n  CMDU: {" + ct + ", push: true, inbound_auth: {bearer: 'Bearer 0123456789abcdef'}}\n",
			"carriers.CMDU.inbound_auth.bearer: a bearer token has no spaces"},
		{"a line break in a header value", "json", `{"carriers": {"CMDU": {"type": "dcsa-ct", "base_url": "https://ct.test", "push": true,
			"inbound_auth": {"header": {"name": "K", "value": "0123456789abcdef\r\nX: y"}}}}}`,
			"carriers.CMDU.inbound_auth.header.value: has a control character or a line break"},
		{"JSON wrong type", "json", `{"carriers": {"CMDU": {"type": "dcsa-ct", "base_url": "https://ct.test", "push": "true"}}}`,
			"line 1: carriers.push: a JSON string is not a valid bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testRegistry().Parse([]byte(tt.data), tt.format, testEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %q", err, tt.want)
			}
		})
	}
}
