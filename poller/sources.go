package poller

import (
	"maps"
	"slices"
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
// breaker), or none.
func (s *Sources) Router(env SourceEnv) (Router, error) {
	guard := s.Breaker
	guard.Clock = env.Clock
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
