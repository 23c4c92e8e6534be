package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestRun_SmokeEveryPhaseCompletesAndEveryUpdateArrives runs the whole tool at tiny
// sizes. It checks what the run did, not how fast: every update appended reached the
// receiver, in order and once, and unchanged polls wrote nothing.
func TestRun_SmokeEveryPhaseCompletesAndEveryUpdateArrives(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"--refs", "40", "--dir", dir,
		"--poll-duration", "200ms", "--delivery-duration", "200ms",
		"--latency-rate", "100", "--latency-refs", "20", "--latency-duration", "300ms",
		"--startup-refs", "200", "--poll-workers", "4", "--delivery-workers", "4",
		"--drain-timeout", "30s", "--json",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}

	p := res.Polls
	if p == nil || p.First.Count < 40 || p.Changed.Count == 0 || p.Unchanged.Count == 0 {
		t.Fatalf("polls: %+v", p)
	}
	if p.UnchangedCommits != 0 {
		t.Errorf("%d store commits while nothing changed", p.UnchangedCommits)
	}
	d := res.Deliveries
	if d == nil || d.Baseline.Count == 0 || d.Trackhook.Count+d.Drain.Count == 0 {
		t.Fatalf("deliveries: %+v", d)
	}
	if d.Missing != 0 || d.Duplicates != 0 || d.OutOfOrder != 0 || d.Failed != 0 {
		t.Errorf("deliveries: missing %d, duplicates %d, out of order %d, failed %d", d.Missing, d.Duplicates, d.OutOfOrder, d.Failed)
	}
	if int64(p.Updates) != d.Trackhook.Count+d.Drain.Count {
		t.Errorf("%d updates appended, %d delivered", p.Updates, d.Trackhook.Count+d.Drain.Count)
	}
	l := res.Latency
	if l == nil || l.Updates.Count == 0 || int64(l.Delivered) != l.Updates.Count || l.Missing != 0 || l.P99Ms <= 0 {
		t.Fatalf("latency: %+v", l)
	}
	s := res.Startup
	if s == nil || s.References != 200 || s.StartupSeconds <= 0 || s.FileBytes == 0 {
		t.Fatalf("start-up: %+v", s)
	}
	if res.Machine.CPUs == 0 || res.Machine.GoVersion == "" {
		t.Errorf("machine: %+v", res.Machine)
	}
	// The progress went to stderr, one line per phase as it is not a terminal.
	for _, phase := range []string{"polls: changed", "deliveries: drain", "latency: offered", "start-up: open"} {
		if !strings.Contains(stderr.String(), phase) {
			t.Errorf("no progress line for %q in:\n%s", phase, stderr.String())
		}
	}
	// --dir keeps the files where asked.
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		t.Error("no store file in --dir")
	}
}

func TestRun_TextOutputAndTemporaryFilesRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"--refs", "10", "--poll-duration", "100ms", "--delivery-duration", "100ms",
		"--latency-rate", "0", "--poll-workers", "2", "--delivery-workers", "2",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"machine", "polls: unchanged", "deliveries: trackhook", "of the baseline", "per 100,000 references"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout.String())
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestParseFlags_Rejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"an argument", []string{"extra"}},
		{"negative references", []string{"--refs", "-1"}},
		{"no workers", []string{"--poll-workers", "0"}},
		{"zero duration", []string{"--poll-duration", "0s"}},
		{"latency without references", []string{"--latency-refs", "0"}},
		{"an unknown flag", []string{"--nope"}},
		{"two start-up stores", []string{"--startup-refs", "10", "--startup-store", "x.db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if _, err := parseFlags(tt.args, &stderr); err == nil {
				t.Fatalf("parseFlags(%q) accepted it", tt.args)
			}
		})
	}
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "Examples:") {
		t.Fatalf("--help: %v\n%s", err, stderr.String())
	}
}
