package poller

import (
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
)

// Driver is one kind of tracking source, as a sources file names it in a carrier's
// type (carriers.MAEU.type: dcsa). A source package returns its Driver from a
// function (demo.Driver, dcsa.Driver); cmd/trackhook passes the drivers it links in
// to NewRegistry.
type Driver struct {
	// Kind names the driver in a sources file: lower case, such as "demo" or "dcsa".
	Kind string
	// Carrier decodes and checks the block of a carrier of this kind (its keys
	// besides type) and returns the configuration of the carrier's source. Its errors
	// name the key at fault within the block ("base_url: is required"); the registry
	// puts "carriers.CODE." in front.
	Carrier func(b Block) (SourceConfig, error)
	// Settings, when set, decodes and checks the block named Kind at the top of the
	// file (demo: {speed: 3600}), which sets up every source of the kind, and returns
	// the driver with those settings. Its errors name the key within the block; the
	// registry puts "KIND." in front. Without Settings, a block of that name is an
	// unknown key.
	Settings func(b Block) (Driver, error)
	// Fallback, when set, is the configuration of a source that tracks any carrier:
	// the file's default key may then name the kind (default: demo).
	Fallback SourceConfig
}

// SourceConfig is a driver's checked configuration of one source.
type SourceConfig interface {
	// NewSource builds the source for the carrier called name (its code, or
	// "default"), with what env provides.
	NewSource(name string, env SourceEnv) (Source, error)
}

// SourceEnv is what the service gives every source it builds.
type SourceEnv struct {
	// Logger receives what the sources log, such as the events they skip as
	// unusable; nil discards it.
	Logger *slog.Logger
	// Clock is the time of the sources and of their guards; nil is the real clock.
	Clock clock.Clock
}

// Registry holds the drivers a service links in, and loads sources files with them:
// each driver decodes and checks its own blocks of the file.
type Registry struct {
	drivers map[string]Driver
	order   []string // kinds in the order given to NewRegistry
}

// reserved are the keys of a sources file that a kind cannot be called.
var reserved = []string{"default", "carriers", "breaker", defaultNone}

// defaultNone is the default key of a file whose unlisted carriers have no source.
const defaultNone = "none"

// NewRegistry returns a registry of drivers. When a file has no default key, the
// first driver with a Fallback serves the carriers it does not list. NewRegistry
// panics on a driver without Kind or Carrier and on a kind given twice or named like a
// key of the file: those are mistakes of the program, not of the file.
func NewRegistry(drivers ...Driver) *Registry {
	r := &Registry{drivers: map[string]Driver{}}
	for _, d := range drivers {
		switch _, dup := r.drivers[d.Kind]; {
		case d.Kind == "" || d.Carrier == nil:
			panic("poller.NewRegistry: a driver needs a Kind and a Carrier function")
		case dup || slices.Contains(reserved, d.Kind):
			panic(fmt.Sprintf("poller.NewRegistry: kind %q is taken", d.Kind))
		}
		r.drivers[d.Kind] = d
		r.order = append(r.order, d.Kind)
	}
	return r
}

// Load reads and checks the sources file at path, YAML or JSON (by the extension,
// else by its first character). ${NAME} in the values a driver allows (URLs,
// credentials) is replaced with the environment variable NAME, read with getenv.
// Errors are one line naming the file and the key at fault.
func (r *Registry) Load(path string, getenv func(string) string) (*Sources, error) {
	data, format, err := readSourcesFile(path)
	if err != nil {
		return nil, err
	}
	s, err := r.Parse(data, format, getenv)
	if err != nil {
		return nil, fmt.Errorf("sources file %s: %w", path, err)
	}
	return s, nil
}

var carrierCode = regexp.MustCompile(`^[A-Z]{2,4}$`)

// Parse is Load for the text of a file in format "json" or "yaml". Unknown keys are
// refused. Problems are reported in this order: the file's syntax; what decoding
// finds anywhere in the file (unknown keys, values of the wrong type); then the
// drivers' own blocks at the top, each carrier by code (its code, its type, its
// block), and the default key.
func (r *Registry) Parse(data []byte, format string, getenv func(string) string) (*Sources, error) {
	f := &sourcesFile{format: format, data: data, getenv: getenv}
	top, err := f.top(r.settingsKinds())
	if err != nil {
		return nil, err
	}
	s := &Sources{Default: top.Default, Carriers: map[string]SourceConfig{}}
	if top.Breaker != nil {
		var b breakerBlock
		top.Breaker.Decode(&b) // its problems are the file's, reported below
		s.Breaker = GuardOptions{Failures: b.Failures, OpenFor: time.Duration(b.OpenFor)}
	}

	// Every block is decoded before any problem is reported, so that the decoding
	// problems come first, all of them; the drivers' checks follow in order.
	var checks []error
	drivers := maps.Clone(r.drivers)
	for _, kind := range slices.Sorted(maps.Keys(top.Settings)) {
		d, err := r.drivers[kind].Settings(top.Settings[kind])
		if err != nil {
			checks = append(checks, fmt.Errorf("%s.%w", kind, err))
			continue
		}
		drivers[kind] = d
	}
	for _, code := range slices.Sorted(maps.Keys(top.Carriers)) {
		if !carrierCode.MatchString(code) {
			checks = append(checks, fmt.Errorf("carriers: %q is not a carrier code: 2 to 4 upper-case letters (a SCAC such as MAEU)", code))
		}
		checks = append(checks, r.carrier(s, code, top.Carriers[code], drivers))
	}
	if err := f.decodeError(); err != nil {
		return nil, err
	}
	if err := f.trailing(); err != nil {
		return nil, err
	}
	for _, err := range checks {
		if err != nil {
			return nil, err
		}
	}
	if err := r.resolveDefault(s, drivers); err != nil {
		return nil, err
	}
	return s, nil
}

// carrier decodes the block of the carrier code with the driver its type names and
// records the configuration in s. The error is the block's, named from carriers.
func (r *Registry) carrier(s *Sources, code string, b Block, drivers map[string]Driver) error {
	kind, ok := b.kind()
	d, known := drivers[kind]
	switch {
	case !ok:
		return nil // a decoding problem, reported as such
	case kind == "":
		return fmt.Errorf("carriers.%s.type: is required (%s)", code, r.kindList())
	case !known:
		return fmt.Errorf("carriers.%s.type: %q is not a source type (%s)", code, kind, r.kindList())
	}
	// The push keys are the registry's, the same for every driver; decoded first, so
	// that their decoding problems are noted whatever the driver finds.
	push, pushErr := b.decodePush()
	cfg, err := d.Carrier(b)
	if err != nil {
		return fmt.Errorf("carriers.%s.%w", code, err)
	}
	if pushErr != nil {
		return nil // a decoding problem, reported as such
	}
	pc, err := b.pushConfig(push, kind, cfg)
	if err != nil {
		return fmt.Errorf("carriers.%s.%w", code, err)
	}
	s.Carriers[code] = cfg
	if pc.Model != PushNone {
		if s.Push == nil {
			s.Push = map[string]PushConfig{}
		}
		s.Push[code] = pc
	}
	return nil
}

// resolveDefault checks the default key of s and, when it names a kind or is left
// out, sets the configuration of the default source from that kind's Fallback.
func (r *Registry) resolveDefault(s *Sources, drivers map[string]Driver) error {
	var fallbacks []string // kinds that can serve as the default, in the registry's order
	for _, kind := range r.order {
		if drivers[kind].Fallback != nil {
			fallbacks = append(fallbacks, kind)
		}
	}
	kind := s.Default
	if kind == "" && len(fallbacks) > 0 {
		kind = fallbacks[0]
	}
	_, listed := s.Carriers[s.Default]
	switch {
	case slices.Contains(fallbacks, kind):
		s.fallback = drivers[kind].Fallback
	case s.Default == "" || s.Default == defaultNone || listed:
	default:
		return fmt.Errorf("default: %q is neither %s nor a carrier listed under carriers",
			s.Default, strings.Join(append(fallbacks, defaultNone), ", "))
	}
	return nil
}

// settingsKinds returns the kinds whose drivers have a block at the top of the file.
func (r *Registry) settingsKinds() map[string]bool {
	kinds := map[string]bool{}
	for kind, d := range r.drivers {
		if d.Settings != nil {
			kinds[kind] = true
		}
	}
	return kinds
}

// kindList lists the kinds for an error text: "dcsa or demo".
func (r *Registry) kindList() string {
	return orList(slices.Sorted(maps.Keys(r.drivers)))
}

func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
