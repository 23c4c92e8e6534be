package main

import (
	"fmt"
	"testing"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
)

func TestSourceLabel_OneValuePerConfiguredSource(t *testing.T) {
	demoSrc := demo.New(demo.Options{})
	maeu := poller.Guard("MAEU", demoSrc, poller.GuardOptions{})
	guardedDefault := poller.Guard("default", demoSrc, poller.GuardOptions{})
	tests := []struct {
		name    string
		router  poller.Router
		carrier string
		want    string
	}{
		{"built-in demo for every carrier", poller.Router{Default: demoSrc}, "ZZZZ", "default"},
		{"configured carrier", poller.Router{ByCarrier: map[string]poller.Source{"MAEU": maeu}, Default: guardedDefault}, "MAEU", "MAEU"},
		{"other carrier to the guarded default", poller.Router{ByCarrier: map[string]poller.Source{"MAEU": maeu}, Default: guardedDefault}, "HLCU", "default"},
		{"default shared with a carrier", poller.Router{ByCarrier: map[string]poller.Source{"MAEU": maeu}, Default: maeu}, "HLCU", "MAEU"},
		{"no source", poller.Router{ByCarrier: map[string]poller.Source{"MAEU": maeu}}, "HLCU", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sourceLabel(tt.router)(tt.carrier); got != tt.want {
				t.Errorf("label of %s = %q, want %q", tt.carrier, got, tt.want)
			}
		})
	}
}

func TestGuardedSources_OnlyThoseWithABreakerInNameOrder(t *testing.T) {
	demoSrc := demo.New(demo.Options{})
	r := poller.Router{ByCarrier: map[string]poller.Source{
		"ZIMU": poller.Guard("ZIMU", demoSrc, poller.GuardOptions{}),
		"MAEU": poller.Guard("MAEU", demoSrc, poller.GuardOptions{}),
		"HLCU": demoSrc,
	}, Default: poller.Guard("default", demoSrc, poller.GuardOptions{})}
	var names []string
	for _, s := range guardedSources(r) {
		names = append(names, s.Name())
	}
	if got := fmt.Sprint(names); got != "[MAEU ZIMU default]" {
		t.Errorf("guarded sources %s", got)
	}
	if got := guardedSources(poller.Router{Default: demoSrc}); len(got) != 0 {
		t.Errorf("the built-in demo has no breaker, got %d sources", len(got))
	}
}
