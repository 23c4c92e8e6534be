package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	iclock "github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/demo"
)

// sourcesConfig is the file given with --sources: which tracking source serves which
// carrier. testdata/sources/example.yaml shows every field with comments.
type sourcesConfig struct {
	// Default serves the carriers not listed: "demo" (the default), "none" (such
	// references cannot be polled), or the code of a carrier listed below.
	Default  string                   `yaml:"default" json:"default"`
	Demo     demoSourceConfig         `yaml:"demo" json:"demo"`
	Carriers map[string]carrierConfig `yaml:"carriers" json:"carriers"`
	Breaker  breakerConfig            `yaml:"breaker" json:"breaker"`
}

type demoSourceConfig struct {
	// Speed is simulated seconds per real second; 0 keeps the demo source passed to
	// buildSources (the --demo-speed flag).
	Speed float64 `yaml:"speed" json:"speed"`
}

// carrierConfig is one carrier's source. Type is "dcsa" or "demo"; the other fields
// are for dcsa only.
type carrierConfig struct {
	Type              string         `yaml:"type" json:"type"`
	BaseURL           string         `yaml:"base_url" json:"base_url"`
	Auth              authConfig     `yaml:"auth" json:"auth"`
	Timeout           configDuration `yaml:"timeout" json:"timeout"`
	RequestsPerSecond float64        `yaml:"requests_per_second" json:"requests_per_second"`
	MaxConcurrency    int            `yaml:"max_concurrency" json:"max_concurrency"`
	MaxPages          int            `yaml:"max_pages" json:"max_pages"`
	MaxEvents         int            `yaml:"max_events" json:"max_events"`
	MaxBodyBytes      int64          `yaml:"max_body_bytes" json:"max_body_bytes"`
}

type authConfig struct {
	Headers map[string]string `yaml:"headers" json:"headers"`
	OAuth2  *oauth2Config     `yaml:"oauth2" json:"oauth2"`
}

type oauth2Config struct {
	TokenURL     string   `yaml:"token_url" json:"token_url"`
	ClientID     string   `yaml:"client_id" json:"client_id"`
	ClientSecret string   `yaml:"client_secret" json:"client_secret"`
	Scopes       []string `yaml:"scopes" json:"scopes"`
}

// breakerConfig sets the circuit breaker every source is guarded with.
type breakerConfig struct {
	Failures uint32         `yaml:"failures" json:"failures"`
	OpenFor  configDuration `yaml:"open_for" json:"open_for"`
}

// Source types and special defaults of a sources file.
const (
	sourceTypeDCSA = "dcsa"
	sourceTypeDemo = "demo"
	defaultNone    = "none"
)

// maxSourcesFile bounds the file read: a real one is a few kilobytes.
const maxSourcesFile = 1 << 20

// loadSourcesConfig reads and checks a sources file, YAML or JSON (by the extension,
// else by its first character). ${NAME} in base_url, token_url, client_id,
// client_secret and header values is replaced with the environment variable NAME, so
// secrets stay out of the file. Errors are one line naming the file and the field.
func loadSourcesConfig(path string, getenv func(string) string) (sourcesConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return sourcesConfig{}, fmt.Errorf("sources file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSourcesFile+1))
	if err != nil {
		return sourcesConfig{}, fmt.Errorf("sources file: %w", err)
	}
	if len(data) > maxSourcesFile {
		return sourcesConfig{}, fmt.Errorf("sources file %s: larger than %d bytes", path, maxSourcesFile)
	}
	cfg, err := parseSourcesConfig(data, sourcesFormat(path, data), getenv)
	if err != nil {
		return sourcesConfig{}, fmt.Errorf("sources file %s: %w", path, err)
	}
	return cfg, nil
}

// sourcesFormat returns "json" or "yaml".
func sourcesFormat(path string, data []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return "json"
	}
	return "yaml"
}

// parseSourcesConfig decodes data in format ("json" or "yaml"), refusing unknown keys,
// expands ${NAME} references with getenv and validates the result.
func parseSourcesConfig(data []byte, format string, getenv func(string) string) (sourcesConfig, error) {
	var cfg sourcesConfig
	var err error
	if format == "json" {
		err = decodeSourcesJSON(data, &cfg)
	} else {
		err = decodeSourcesYAML(data, &cfg)
	}
	if err != nil {
		// The file's own text can end up in the message: keep it one line.
		return sourcesConfig{}, errors.New(strings.Join(strings.Fields(err.Error()), " "))
	}
	if err := cfg.expandEnv(getenv); err != nil {
		return sourcesConfig{}, err
	}
	if err := cfg.validate(); err != nil {
		return sourcesConfig{}, err
	}
	return cfg, nil
}

func decodeSourcesJSON(data []byte, cfg *sourcesConfig) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return jsonErrorText(err, data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// jsonErrorText rewrites encoding/json's errors for a person editing the file.
func jsonErrorText(err error, data []byte) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("the file is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON ends too early")
	case errors.As(err, &syntax):
		return fmt.Errorf("line %d: %s", lineAt(data, syntax.Offset), strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typeErr):
		return fmt.Errorf("line %d: %s: a JSON %s is not a valid %s", lineAt(data, typeErr.Offset), typeErr.Field, typeErr.Value, friendlyType(typeErr.Type.String()))
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s", field)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func decodeSourcesYAML(data []byte, cfg *sourcesConfig) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return yamlErrorText(err, data)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return errors.New("more than one YAML document")
	}
	return nil
}

var (
	yamlUnknownField = regexp.MustCompile(`field (.+) not found in type \S+`)
	yamlWrongType    = regexp.MustCompile("(?s)cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)")
)

// yamlErrorText rewrites yaml.v3's errors, which can span lines and name Go types,
// into one line about keys and values.
func yamlErrorText(err error, data []byte) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty")
	}
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if bytes.Contains(data, []byte("${")) && strings.Contains(msg, "did not find expected") {
			msg += ` (inside { } write "${NAME}" in quotes)`
		}
		return errors.New(msg)
	}
	parts := make([]string, 0, len(typeErr.Errors))
	for _, e := range typeErr.Errors {
		e = yamlUnknownField.ReplaceAllString(e, `unknown key "$1"`)
		if m := yamlWrongType.FindStringSubmatch(e); m != nil {
			value := m[2]
			if value == "" {
				value = map[string]string{"seq": "a list", "map": "a mapping"}[m[1]]
			} else {
				value = fmt.Sprintf("%q", value)
			}
			e = strings.Replace(e, m[0], fmt.Sprintf("%s is not a valid %s", value, friendlyType(m[3])), 1)
		}
		parts = append(parts, e)
	}
	return errors.New(strings.Join(parts, "; "))
}

// friendlyType names a Go type the way the sources file thinks of it.
func friendlyType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "uint"):
		return "whole number, 0 or more"
	case strings.HasPrefix(goType, "int"):
		return "whole number"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "main."):
		return "mapping"
	case strings.HasPrefix(goType, "[]"):
		return "list"
	default:
		return goType
	}
}

// configDuration is a duration written as "10s" or "1m30s", in YAML and in JSON.
type configDuration time.Duration

func (d *configDuration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration is a string such as 10s or 1m30s", node.Line)
	}
	v, err := parseConfigDuration(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*d = v
	return nil
}

func (d *configDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string such as "10s" or "1m30s"`)
	}
	v, err := parseConfigDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseConfigDuration(s string) (configDuration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 10s or 1m30s", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: a duration must not be negative", s)
	}
	return configDuration(v), nil
}

// expandEnv replaces ${NAME} in the fields that hold secrets or deployment-specific
// values. Expansion runs after parsing, so a value cannot inject YAML or JSON.
func (c *sourcesConfig) expandEnv(getenv func(string) string) error {
	for _, code := range slices.Sorted(maps.Keys(c.Carriers)) {
		cc := c.Carriers[code]
		field := func(name string, s *string) error {
			v, err := expandVars(*s, getenv)
			if err != nil {
				return fmt.Errorf("carriers.%s.%s: %w", code, name, err)
			}
			*s = v
			return nil
		}
		if err := field("base_url", &cc.BaseURL); err != nil {
			return err
		}
		if len(cc.Auth.Headers) > 0 {
			headers := make(map[string]string, len(cc.Auth.Headers))
			for name, value := range cc.Auth.Headers {
				if err := field("auth.headers."+name, &value); err != nil {
					return err
				}
				headers[name] = value
			}
			cc.Auth.Headers = headers
		}
		if o := cc.Auth.OAuth2; o != nil {
			expanded := *o
			for name, s := range map[string]*string{
				"token_url": &expanded.TokenURL, "client_id": &expanded.ClientID, "client_secret": &expanded.ClientSecret,
			} {
				if err := field("auth.oauth2."+name, s); err != nil {
					return err
				}
			}
			cc.Auth.OAuth2 = &expanded
		}
		c.Carriers[code] = cc
	}
	return nil
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandVars replaces each ${NAME} in s with getenv(NAME). An unset or empty variable
// is an error: a source polled with an empty API key only collects 401s. A "$" not
// followed by "{" is kept as it is.
func expandVars(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return "", errors.New(`"${" without a closing "}"`)
		}
		name := s[start+2 : start+end]
		if !envVarName.MatchString(name) {
			return "", fmt.Errorf("${%s}: not an environment variable name", name)
		}
		value := getenv(name)
		if value == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(s[:start])
		b.WriteString(value)
		s = s[start+end+1:]
	}
}

var carrierCode = regexp.MustCompile(`^[A-Z]{2,4}$`)

// validate checks what decoding cannot: carrier codes, types, the default, and each
// DCSA source's settings (as dcsa.New would).
func (c *sourcesConfig) validate() error {
	if s := c.Demo.Speed; s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return errors.New("demo.speed: must be a positive number of simulated seconds per second")
	}
	for _, code := range slices.Sorted(maps.Keys(c.Carriers)) {
		if !carrierCode.MatchString(code) {
			return fmt.Errorf("carriers: %q is not a carrier code: 2 to 4 upper-case letters (a SCAC such as MAEU)", code)
		}
		if err := c.Carriers[code].validate(); err != nil {
			return fmt.Errorf("carriers.%s.%w", code, err)
		}
	}
	switch c.Default {
	case "", sourceTypeDemo, defaultNone:
	default:
		if _, ok := c.Carriers[c.Default]; !ok {
			return fmt.Errorf("default: %q is neither demo, none nor a carrier listed under carriers", c.Default)
		}
	}
	return nil
}

func (cc carrierConfig) validate() error {
	switch cc.Type {
	case sourceTypeDCSA:
		return cc.dcsaConfig().Validate()
	case sourceTypeDemo:
		if !cc.onlyType() {
			return errors.New("type: demo takes no other settings")
		}
		return nil
	case "":
		return errors.New("type: is required (dcsa or demo)")
	default:
		return fmt.Errorf("type: %q is not a source type (dcsa or demo)", cc.Type)
	}
}

// onlyType reports whether nothing but the type is set.
func (cc carrierConfig) onlyType() bool {
	return cc.BaseURL == "" && len(cc.Auth.Headers) == 0 && cc.Auth.OAuth2 == nil && cc.Timeout == 0 &&
		cc.RequestsPerSecond == 0 && cc.MaxConcurrency == 0 && cc.MaxPages == 0 && cc.MaxEvents == 0 && cc.MaxBodyBytes == 0
}

func (cc carrierConfig) dcsaConfig() dcsa.Config {
	cfg := dcsa.Config{
		BaseURL:           cc.BaseURL,
		Auth:              dcsa.Auth{Headers: cc.Auth.Headers},
		Timeout:           time.Duration(cc.Timeout),
		RequestsPerSecond: cc.RequestsPerSecond,
		MaxConcurrency:    cc.MaxConcurrency,
		MaxPages:          cc.MaxPages,
		MaxEvents:         cc.MaxEvents,
		MaxBodyBytes:      cc.MaxBodyBytes,
	}
	if o := cc.Auth.OAuth2; o != nil {
		cfg.Auth.OAuth2 = &dcsa.OAuth2{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes}
	}
	return cfg
}

// buildSources returns the source of each carrier of cfg, each behind its own
// circuit breaker, and the default source for the others (nil with default: none).
// demoSrc is the demo source to use unless cfg sets demo.speed; clk is the clock of
// the sources built here.
func buildSources(cfg sourcesConfig, demoSrc poller.Source, clk iclock.Clock) (map[string]poller.Source, poller.Source, error) {
	if cfg.Demo.Speed > 0 {
		demoSrc = demo.New(demo.Options{Speed: cfg.Demo.Speed, Clock: clk})
	}
	guard := poller.GuardOptions{Failures: cfg.Breaker.Failures, OpenFor: time.Duration(cfg.Breaker.OpenFor), Clock: clk}
	byCarrier := make(map[string]poller.Source, len(cfg.Carriers))
	for _, code := range slices.Sorted(maps.Keys(cfg.Carriers)) {
		cc := cfg.Carriers[code]
		var src poller.Source
		switch cc.Type {
		case sourceTypeDCSA:
			client, err := dcsa.New(code, cc.dcsaConfig(), dcsa.WithClock(clk))
			if err != nil {
				return nil, nil, err
			}
			src = client
		case sourceTypeDemo:
			src = demoSrc
		default:
			return nil, nil, fmt.Errorf("carriers.%s.type: %q is not a source type (dcsa or demo)", code, cc.Type)
		}
		byCarrier[code] = poller.Guard(code, src, guard)
	}
	switch cfg.Default {
	case "", sourceTypeDemo:
		return byCarrier, poller.Guard("default", demoSrc, guard), nil
	case defaultNone:
		return byCarrier, nil, nil
	default:
		def, ok := byCarrier[cfg.Default]
		if !ok {
			return nil, nil, fmt.Errorf("default: %q is neither demo, none nor a carrier listed under carriers", cfg.Default)
		}
		return byCarrier, def, nil // shared with that carrier: one API, one breaker
	}
}
