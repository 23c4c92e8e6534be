package poller

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Sources is a loaded sources file: the configuration of every source it sets up.
// Router builds them.
type Sources struct {
	// Default is the file's default key as written: "" (left out), the kind of a
	// driver with a Fallback ("demo"), "none", or the code of a carrier in Carriers,
	// whose source then also serves the carriers not listed.
	Default string
	// Carriers holds the configuration of each listed carrier's source, by code.
	Carriers map[string]SourceConfig
	// Breaker sets Failures and OpenFor of the circuit breaker guarding every source.
	Breaker GuardOptions
	// Push holds the push settings of each carrier whose block says push: true, by
	// code; carriers that are only polled are not in it (nil when none push).
	Push map[string]PushConfig

	fallback SourceConfig // the default source's, when Default names a kind or is left out
}

// Router builds the source of every carrier, each behind its own circuit breaker
// named after the carrier code, and the default source: behind a breaker named
// "default", or the very source of the carrier the default key names (one API, one
// breaker), or none. The breakers opening and closing are logged to env's logger.
func (s *Sources) Router(env SourceEnv) (Router, error) {
	guard := s.Breaker
	guard.Clock = env.Clock
	if env.Logger != nil {
		guard.OnStateChange = logBreakerChange(env.Logger, cmp.Or(guard.OpenFor, DefaultGuardOpenFor))
	}
	r := Router{ByCarrier: make(map[string]Source, len(s.Carriers))}
	for _, code := range slices.Sorted(maps.Keys(s.Carriers)) {
		src, err := s.Carriers[code].NewSource(code, env)
		if err != nil {
			return Router{}, err
		}
		r.ByCarrier[code] = Guard(code, src, guard)
	}
	switch {
	case s.fallback != nil:
		src, err := s.fallback.NewSource("default", env)
		if err != nil {
			return Router{}, err
		}
		r.Default = Guard("default", src, guard)
	case s.Default != "" && s.Default != defaultNone:
		r.Default = r.ByCarrier[s.Default]
	}
	return r, nil
}

// logBreakerChange returns an OnStateChange that logs a breaker opening or closing at
// warn, so that an operator sees a source go down and come back, and its half-open
// probe at info.
func logBreakerChange(log *slog.Logger, openFor time.Duration) func(name string, from, to gobreaker.State) {
	return func(name string, from, to gobreaker.State) {
		switch to {
		case gobreaker.StateOpen:
			log.Warn("tracking source circuit breaker opened: its polls fail at once until a probe succeeds",
				"source", name, "from", from.String(), "probe_after", openFor)
		case gobreaker.StateClosed:
			log.Warn("tracking source circuit breaker closed: its polls go through again", "source", name)
		default:
			log.Info("tracking source circuit breaker half-open: one probe poll goes through", "source", name)
		}
	}
}

// PushModel is how a carrier's source has events pushed to trackhook, besides being
// polled. A SourceConfig that can take pushes says which model with PushModel (see
// Pusher); the sources file turns it on with push: true.
type PushModel string

// The push models of the DCSA standards.
const (
	// PushNone: the source is only polled.
	PushNone PushModel = ""
	// PushSubscription is DCSA Track & Trace 2.2's: trackhook subscribes at the
	// carrier for each reference (POST /v2/event-subscriptions) and the carrier calls
	// back with events signed by the subscription's secret.
	PushSubscription PushModel = "subscription"
	// PushReceiver is DCSA Container Tracking 3.0's: the carrier, registered with it
	// out of band, posts events to trackhook's POST /events. The standard leaves the
	// authentication to the parties: the sources file's inbound_auth says it.
	PushReceiver PushModel = "receiver"
)

// Pusher is a SourceConfig whose carrier can push events. A SourceConfig that is not
// one refuses push: true.
type Pusher interface {
	PushModel() PushModel
}

// DefaultPushPollInterval is how often a pushed reference is still polled when the
// sources file does not say (push_poll_interval): a safety net for pushes the carrier
// never sent or that never arrived, far apart enough to spare the carrier.
const DefaultPushPollInterval = 6 * time.Hour

// MinPushPollInterval is the shortest push_poll_interval taken: shorter, the safety
// net would be the polling that push replaces.
const MinPushPollInterval = time.Minute

// PushConfig is a carrier's push settings from the sources file (push: true and the
// keys that go with it).
type PushConfig struct {
	// Model is the source's PushModel; never PushNone in Sources.Push.
	Model PushModel
	// PollInterval is how often a pushed reference is still polled
	// (push_poll_interval; DefaultPushPollInterval when left out).
	PollInterval time.Duration
	// InboundAuth is how the carrier authenticates its pushes (inbound_auth): set for
	// PushReceiver, where it is required; nil for PushSubscription, whose callbacks
	// are signed with a secret per subscription instead.
	InboundAuth *InboundAuth
}

// LogValue shows the settings without the inbound secret.
func (p PushConfig) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("model", string(p.Model)), slog.Duration("poll_interval", p.PollInterval)}
	if p.InboundAuth != nil {
		attrs = append(attrs, slog.Any("inbound_auth", *p.InboundAuth))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue for fmt, so that printing a PushConfig shows no secret.
func (p PushConfig) String() string { return p.LogValue().String() }

// InboundAuth is the credential a carrier must send with each push: one header whose
// value is Secret, or, with Scheme set, "Scheme Secret" (Authorization: Bearer ...).
type InboundAuth struct {
	// Header is the header's canonical name ("Authorization" for a bearer token).
	Header string
	// Scheme is the authorization scheme before the secret ("Bearer"), matched
	// without regard to case as HTTP says; "" when the header holds the secret alone.
	Scheme string
	// Secret is the value the carrier must send.
	Secret string
}

// Allows reports whether h carries the credential: the header exactly once, with
// the secret. The secrets are compared in constant time, through their SHA-256 so
// that not even their length shows.
func (a InboundAuth) Allows(h http.Header) bool {
	values := h.Values(a.Header)
	if a.Header == "" || a.Secret == "" || len(values) != 1 {
		return false
	}
	got := values[0]
	if a.Scheme != "" {
		scheme, rest, ok := strings.Cut(got, " ")
		if !ok || !strings.EqualFold(scheme, a.Scheme) {
			return false
		}
		got = strings.TrimLeft(rest, " ")
	}
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.Secret))
	return subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) == 1
}

// LogValue shows the header and scheme, never the secret.
func (a InboundAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("header", a.Header), slog.String("scheme", a.Scheme), slog.String("secret", "(redacted)"))
}

// String is LogValue for fmt.
func (a InboundAuth) String() string { return a.LogValue().String() }
