package dcsa3

import (
	"errors"
	"log/slog"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
)

// Config configures a Client for one carrier's DCSA Container Tracking 3.0 API. It
// holds the same settings as a T&T 2.2 carrier's (dcsa.Config: base_url, auth,
// timeout and the limits, with the same defaults), except that "/events" is appended
// to BaseURL, and a page size.
type Config struct {
	dcsa.Config
	// PageSize is sent as the limit of each request; 0 sends none, and the carrier
	// pages at its own size. The standard lets a carrier without pagination refuse
	// limit with a 400, so it is left out unless the carrier's documentation asks.
	PageSize int
}

// MaxPageSize bounds PageSize: the spec's limit is an int32, and a page the size of
// max_events is as large as a page need be.
const MaxPageSize = 100000

// Validate checks c as New would; each error names the field at fault as a sources
// file writes it ("base_url: is required").
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		return errors.New("page_size: must be between 1 and 100000, or 0 to send no limit")
	}
	return nil
}

// LogValue keeps secrets out of logs, as dcsa.Config's does.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("dcsa", c.Config), slog.Int("page_size", c.PageSize))
}

// String is LogValue for fmt, so that printing a Config with %v shows no secret.
func (c Config) String() string { return c.LogValue().String() }

// PushModel says that a CT 3.0 carrier pushes by posting to trackhook's POST /events.
func (c Config) PushModel() poller.PushModel { return poller.PushReceiver }

// NewSource returns a Client for the carrier called name, on env's clock and logging
// to env's logger: a Config is the poller.SourceConfig of a CT 3.0 carrier.
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
