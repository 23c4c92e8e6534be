package poller

import (
	"cmp"
	"log/slog"
	"maps"
	"slices"
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
