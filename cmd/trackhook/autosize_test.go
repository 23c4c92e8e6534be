package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/internal/autosize"
)

func TestParseServeFlags_WorkersFromTheMachineUnlessGiven(t *testing.T) {
	tests := []struct {
		name                  string
		args                  []string
		vars                  map[string]string
		wantPoll, wantDeliver int // 0: the machine's default
	}{
		{name: "defaults"},
		{name: "flags", args: []string{"--poll-workers", "7", "--delivery-workers", "9"}, wantPoll: 7, wantDeliver: 9},
		{name: "environment", vars: map[string]string{"TRACKHOOK_POLL_WORKERS": "5"}, wantPoll: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(tt.vars)
			c, err := parseServeFlags(tt.args, e)
			if err != nil {
				t.Fatal(err)
			}
			wantPoll, wantDeliver := tt.wantPoll, tt.wantDeliver
			if wantPoll == 0 {
				wantPoll = autosize.PollWorkers(c.machine)
			}
			if wantDeliver == 0 {
				wantDeliver = autosize.DeliveryWorkers(c.machine)
			}
			if c.pollWorkers != wantPoll || c.deliveryWorkers != wantDeliver {
				t.Errorf("workers %d poll, %d delivery; want %d, %d", c.pollWorkers, c.deliveryWorkers, wantPoll, wantDeliver)
			}
			if c.given["poll-workers"] != (tt.wantPoll != 0) {
				t.Errorf("given[poll-workers] = %v with %q %v", c.given["poll-workers"], tt.args, tt.vars)
			}
		})
	}
}

// gcNow returns the collector's setting, leaving it as it is.
func gcNow() autosize.GC {
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return autosize.GC{Percent: percent, MemoryLimit: debug.SetMemoryLimit(-1)}
}

// Not parallel: the collector's setting is the process's.
func TestSizeFromMachine_SetsTheCollectorUnlessTheEnvironmentDoes(t *testing.T) {
	c := serveConfig{machine: autosize.Machine{CPUs: 2, Memory: 1 << 30}, pollWorkers: 128, deliveryWorkers: 32, given: map[string]bool{}}
	before := gcNow()
	want := autosize.GCSetting(c.machine)

	e, _, _ := newTestEnv(nil)
	var logged bytes.Buffer
	restore := sizeFromMachine(context.Background(), c, e, slog.New(slog.NewTextHandler(&logged, nil)))
	during := gcNow()
	restore()
	// GOGC is autosize.Tune's to move with the live heap; the soft limit stays.
	if during.MemoryLimit != want.MemoryLimit || during.Percent < want.Percent {
		t.Errorf("collector while serving %+v, want the limit of %+v and GOGC at least its", during, want)
	}
	if after := gcNow(); after != before {
		t.Errorf("collector after serve %+v, want %+v as before", after, before)
	}
	if s := logged.String(); !strings.Contains(s, "poll_workers=128") || !strings.Contains(s, "gogc=100") || !strings.Contains(s, "gc_headroom_bytes=134217728") || !strings.Contains(s, "gomemlimit_bytes=536870912") {
		t.Errorf("log %q does not say what was chosen", s)
	}

	e, _, _ = newTestEnv(map[string]string{"GOGC": "400"})
	logged.Reset()
	restore = sizeFromMachine(context.Background(), c, e, slog.New(slog.NewTextHandler(&logged, nil)))
	during = gcNow()
	restore()
	if during != before {
		t.Errorf("collector with GOGC set %+v, want %+v as the runtime had it", during, before)
	}
	if s := logged.String(); !strings.Contains(s, "gogc=400") || !strings.Contains(s, "environment") {
		t.Errorf("log %q does not say the environment chose", s)
	}
}
