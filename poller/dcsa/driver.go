package dcsa

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/trackhook/trackhook/poller"
)

// Kind names this driver in a sources file: carriers.CODE.type: dcsa.
const Kind = "dcsa"

// Driver returns the DCSA driver for a poller.Registry. A carrier's block holds its
// Config in the words of the sources file (testdata/sources/example.yaml shows every
// key); ${NAME} is expanded in base_url, the header values, token_url, client_id and
// client_secret. The clients log skipped events to the registry's logger.
func Driver() poller.Driver {
	return poller.Driver{Kind: Kind, Carrier: decodeCarrier}
}

// carrierBlock is a carrier's block in a sources file.
type carrierBlock struct {
	BaseURL           string                `yaml:"base_url" json:"base_url"`
	Auth              authBlock             `yaml:"auth" json:"auth"`
	Timeout           poller.ConfigDuration `yaml:"timeout" json:"timeout"`
	RequestsPerSecond float64               `yaml:"requests_per_second" json:"requests_per_second"`
	MaxConcurrency    int                   `yaml:"max_concurrency" json:"max_concurrency"`
	MaxPages          int                   `yaml:"max_pages" json:"max_pages"`
	MaxEvents         int                   `yaml:"max_events" json:"max_events"`
	MaxBodyBytes      int64                 `yaml:"max_body_bytes" json:"max_body_bytes"`
}

type authBlock struct {
	Headers map[string]string `yaml:"headers" json:"headers"`
	OAuth2  *oauth2Block      `yaml:"oauth2" json:"oauth2"`
}

type oauth2Block struct {
	TokenURL     string   `yaml:"token_url" json:"token_url"`
	ClientID     string   `yaml:"client_id" json:"client_id"`
	ClientSecret string   `yaml:"client_secret" json:"client_secret"`
	Scopes       []string `yaml:"scopes" json:"scopes"`
}

// decodeCarrier decodes a carrier's block, expands its variables and checks it as New
// would.
func decodeCarrier(b poller.Block) (poller.SourceConfig, error) {
	var cb carrierBlock
	if err := b.Decode(&cb); err != nil {
		return nil, err
	}
	cfg := Config{
		BaseURL:           cb.BaseURL,
		Auth:              Auth{Headers: cb.Auth.Headers},
		Timeout:           time.Duration(cb.Timeout),
		RequestsPerSecond: cb.RequestsPerSecond,
		MaxConcurrency:    cb.MaxConcurrency,
		MaxPages:          cb.MaxPages,
		MaxEvents:         cb.MaxEvents,
		MaxBodyBytes:      cb.MaxBodyBytes,
	}
	if o := cb.Auth.OAuth2; o != nil {
		cfg.Auth.OAuth2 = &OAuth2{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes}
	}
	if err := expandEnv(&cfg, b); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// expandEnv replaces ${NAME} in the values of cfg that hold secrets or
// deployment-specific values.
func expandEnv(cfg *Config, b poller.Block) error {
	field := func(name string, s *string) error {
		v, err := b.Expand(*s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*s = v
		return nil
	}
	if err := field("base_url", &cfg.BaseURL); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Auth.Headers)) {
		value := cfg.Auth.Headers[name]
		if err := field("auth.headers."+name, &value); err != nil {
			return err
		}
		cfg.Auth.Headers[name] = value
	}
	if o := cfg.Auth.OAuth2; o != nil {
		for _, f := range []struct {
			name string
			s    *string
		}{{"token_url", &o.TokenURL}, {"client_id", &o.ClientID}, {"client_secret", &o.ClientSecret}} {
			if err := field("auth.oauth2."+f.name, f.s); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewSource returns a Client for the carrier called name, on env's clock and logging
// to env's logger: a Config is the poller.SourceConfig of a DCSA carrier.
func (c Config) NewSource(name string, env poller.SourceEnv) (poller.Source, error) {
	opts := []Option{WithClock(env.Clock)}
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	client, err := New(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return client, nil
}
