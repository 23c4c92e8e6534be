package main

import (
	"log/slog"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/demo"
)

// sourceRouter builds the tracking sources: from the --sources file when given, with
// the drivers linked in here, else the demo carrier for every carrier. The sources log
// to log.
func sourceRouter(c serveConfig, e env, log *slog.Logger) (poller.Router, error) {
	if c.sourcesPath == "" {
		return poller.Router{Default: demo.New(demo.Options{Speed: c.demoSpeed})}, nil
	}
	registry := poller.NewRegistry(demo.Driver(c.demoSpeed), dcsa.Driver())
	sources, err := registry.Load(c.sourcesPath, e.getenv)
	if err != nil {
		return poller.Router{}, err
	}
	return sources.Router(poller.SourceEnv{Logger: log})
}
