package main

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/poller/demo"
)

// loadSources reads the --sources file with the drivers linked in here; nil without
// one.
func loadSources(c serveConfig, e env) (*poller.Sources, error) {
	if c.sourcesPath == "" {
		return nil, nil
	}
	registry := poller.NewRegistry(demo.Driver(c.demoSpeed), dcsa.Driver(), dcsa3.Driver())
	return registry.Load(c.sourcesPath, e.getenv)
}

// sourceRouter builds the tracking sources: from the --sources file when given (read
// already when c.sources is set), else the demo carrier for every carrier. The
// sources log to log.
func sourceRouter(c serveConfig, e env, log *slog.Logger) (poller.Router, error) {
	sources := c.sources
	if sources == nil && c.sourcesPath != "" {
		var err error
		if sources, err = loadSources(c, e); err != nil {
			return poller.Router{}, err
		}
	}
	if sources == nil {
		return poller.Router{Default: demo.New(demo.Options{Speed: c.demoSpeed})}, nil
	}
	return sources.Router(poller.SourceEnv{Logger: log})
}

// pushCarriers returns the carriers of sources whose block says push: true, in
// order.
func pushCarriers(sources *poller.Sources) []string {
	if sources == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(sources.Push))
}

// checkPush refuses push settings serve cannot honour: a carrier that pushes must be
// told where (--public-url).
func checkPush(c serveConfig) error {
	carriers := pushCarriers(c.sources)
	if len(carriers) > 0 && c.publicURL == nil {
		return fmt.Errorf("--sources has carriers with push: true (%s): give --public-url, the URL carriers reach this server at (e.g. https://trackhook.example.com), which their pushes are sent to",
			strings.Join(carriers, ", "))
	}
	return nil
}

// inboundSources returns the settings of the inbound routes for each carrier of
// sources that pushes. A T&T 2.2 carrier's notifications are read by a client of its
// own configuration, as its polls are (a container reference keeps its container's
// events); it is only used to parse, never to call the carrier. A CT 3.0 carrier's
// pushes are matched to the references of its carrier code: when it is also the
// default source, the references of carriers not listed are polled by it but not
// matched to its pushes (their codes are not known in advance), and the safety-net
// poll brings them their events.
func inboundSources(sources *poller.Sources, log *slog.Logger) (map[string]inbound.Source, error) {
	out := map[string]inbound.Source{}
	for _, code := range pushCarriers(sources) {
		pc := sources.Push[code]
		switch pc.Model {
		case poller.PushSubscription:
			cfg, ok := sources.Carriers[code].(dcsa.Config)
			if !ok {
				return nil, fmt.Errorf("carrier %s: push model %s with a source of type %T", code, pc.Model, sources.Carriers[code])
			}
			client, err := dcsa.New(code, cfg, dcsa.WithLogger(log))
			if err != nil {
				return nil, err
			}
			out[code] = inbound.Source{Model: pc.Model, Notifications: client}
		case poller.PushReceiver:
			out[code] = inbound.Source{Model: pc.Model, Auth: pc.InboundAuth, CarrierCodes: []string{code}}
		default:
			return nil, fmt.Errorf("carrier %s: push model %q is not one trackhook receives", code, pc.Model)
		}
	}
	return out, nil
}
