package dcsa

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNew_ValidatesConfig(t *testing.T) {
	oauth := func(mod func(*OAuth2)) Auth {
		o := &OAuth2{TokenURL: "https://auth.example.test/token", ClientID: "id", ClientSecret: "secret"}
		mod(o)
		return Auth{OAuth2: o}
	}
	tests := []struct {
		name string
		cfg  Config
		want string // empty: valid
	}{
		{"minimal", Config{BaseURL: "https://api.example.test"}, ""},
		{"with prefix and everything", Config{BaseURL: "http://127.0.0.1:8080/tnt/", Timeout: time.Second, RequestsPerSecond: 0.5, MaxConcurrency: 3,
			Auth: Auth{Headers: map[string]string{"Consumer-Key": "k"}, OAuth2: &OAuth2{TokenURL: "https://a.test/t", ClientID: "i", ClientSecret: "s"}}}, ""},
		{"no base_url", Config{}, "dcsa MAEU: base_url: is required"},
		{"relative base_url", Config{BaseURL: "api.example.test/tnt"}, "dcsa MAEU: base_url: must be an absolute http:// or https:// URL"},
		{"ftp base_url", Config{BaseURL: "ftp://api.example.test"}, "dcsa MAEU: base_url: must be an absolute http:// or https:// URL"},
		{"credentials in base_url", Config{BaseURL: "https://user:pw@api.example.test"}, "dcsa MAEU: base_url: must not contain credentials: put them in auth"},
		{"query in base_url", Config{BaseURL: "https://api.example.test?key=1"}, "dcsa MAEU: base_url: must not have a query or a fragment"},
		{"negative timeout", Config{BaseURL: "https://a.test", Timeout: -time.Second}, "dcsa MAEU: timeout: must not be negative"},
		{"negative rate", Config{BaseURL: "https://a.test", RequestsPerSecond: -1}, "dcsa MAEU: requests_per_second: must be a positive number, or 0 for no limit"},
		{"negative concurrency", Config{BaseURL: "https://a.test", MaxConcurrency: -1}, "dcsa MAEU: max_concurrency: must not be negative"},
		{"negative max_pages", Config{BaseURL: "https://a.test", MaxPages: -1}, "dcsa MAEU: max_pages: must not be negative"},
		{"header with empty value", Config{BaseURL: "https://a.test", Auth: Auth{Headers: map[string]string{"X-Key": ""}}}, "dcsa MAEU: auth.headers: X-Key has an empty value"},
		{"header with a line break", Config{BaseURL: "https://a.test", Auth: Auth{Headers: map[string]string{"X-Key": "a\r\nX-Other: b"}}}, "dcsa MAEU: auth.headers: X-Key has a line break in its value"},
		{"bad header name", Config{BaseURL: "https://a.test", Auth: Auth{Headers: map[string]string{"X Key": "a"}}}, `dcsa MAEU: auth.headers: "X Key" is not a valid header name`},
		{"API-Version header", Config{BaseURL: "https://a.test", Auth: Auth{Headers: map[string]string{"api-version": "3"}}}, "dcsa MAEU: auth.headers: api-version is set by the client"},
		{"oauth2 without token_url", Config{BaseURL: "https://a.test", Auth: oauth(func(o *OAuth2) { o.TokenURL = "" })}, "dcsa MAEU: auth.oauth2.token_url: is required"},
		{"oauth2 without client_id", Config{BaseURL: "https://a.test", Auth: oauth(func(o *OAuth2) { o.ClientID = "" })}, "dcsa MAEU: auth.oauth2.client_id: is required"},
		{"oauth2 without client_secret", Config{BaseURL: "https://a.test", Auth: oauth(func(o *OAuth2) { o.ClientSecret = "" })}, "dcsa MAEU: auth.oauth2.client_secret: is required"},
		{"oauth2 and Authorization header", Config{BaseURL: "https://a.test", Auth: Auth{Headers: map[string]string{"Authorization": "Basic x"},
			OAuth2: &OAuth2{TokenURL: "https://a.test/t", ClientID: "i", ClientSecret: "s"}}}, "dcsa MAEU: auth: an Authorization header and oauth2 exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New("MAEU", tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c == nil {
					t.Fatal("New returned no client")
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNew_AppliesDefaults(t *testing.T) {
	c, err := New("MAEU", Config{BaseURL: "https://api.example.test/tnt"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Timeout != DefaultTimeout || c.cfg.MaxPages != DefaultMaxPages || c.cfg.MaxEvents != DefaultMaxEvents || c.cfg.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("config after defaults: %+v", c.cfg)
	}
	if c.http.Timeout != DefaultTimeout {
		t.Errorf("HTTP client timeout %v, want %v", c.http.Timeout, DefaultTimeout)
	}
	if got := c.events.String(); got != "https://api.example.test/tnt/v2/events" {
		t.Errorf("events URL %s", got)
	}
	if c.limiter != nil || c.slots != nil || c.tokens != nil {
		t.Error("limits or OAuth2 set up without being configured")
	}
}

func TestConfig_KeepsSecretsOutOfLogs(t *testing.T) {
	cfg := Config{
		BaseURL: "https://api.example.test",
		Auth: Auth{
			Headers: map[string]string{"Consumer-Key": "key-SECRET-1"},
			OAuth2:  &OAuth2{TokenURL: "https://auth.example.test/token", ClientID: "client-7", ClientSecret: "SECRET-2"},
		},
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("source", "config", cfg)
	outputs := []string{buf.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprint(cfg.Auth), fmt.Sprint(*cfg.Auth.OAuth2), fmt.Sprint(cfg.Auth.OAuth2)}
	for _, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("a secret is shown: %s", out)
		}
		if !strings.Contains(out, "client-7") {
			t.Errorf("the non-secret parts are missing: %s", out)
		}
	}
}
