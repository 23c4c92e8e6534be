package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/notifier"
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
		"--fanout-endpoints", "0", "--drain-timeout", "30s", "--json",
		"--push-rate", "100", "--push-refs", "5", "--push-count", "30", "--push-runs", "3",
		"--receivers", "3", "--spread-refs", "12", "--spread-rounds", "2", "--voyage-refs", "20",
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
	ps := res.Push
	if ps == nil || len(ps.Runs) != 3 || ps.References != 5 || ps.Pushes != 30 {
		t.Fatalf("push: %+v", ps)
	}
	var p50s []float64
	for i, run := range ps.Runs {
		// Every push was accepted, and each made a webhook naming its event.
		if run.Accepted != 30 || run.Delivered != 30 || run.Missing != 0 || run.Offered.Count != 30 || run.P99Ms <= 0 || run.P50Ms > run.P99Ms {
			t.Errorf("push run %d: %+v", i+1, run)
		}
		p50s = append(p50s, run.P50Ms)
	}
	slices.Sort(p50s)
	if ps.P50Ms != p50s[1] || ps.PollingAverageMs != 450_000 {
		t.Errorf("push: p50 %v is not the median of the runs' %v, or polling's average %v is not 7.5 min", ps.P50Ms, p50s, ps.PollingAverageMs)
	}
	if sv := p.Service; sv.Cores == 0 || sv.FetchesPerPoll <= 0 || sv.ToolCPUMicro <= 0 || sv.ServiceCPUMicro <= 0 || sv.CeilingPerSec <= 0 {
		t.Errorf("the changed polls' service share: %+v", sv)
	}
	if st := res.Store; st == nil || st.ToolBytes == 0 || st.AnonBytesPerRef <= 0 {
		t.Errorf("store and memory: %+v", st)
	}
	sp := res.Spread
	if sp == nil || sp.Receivers != 3 || sp.Baseline.Count == 0 || sp.Updates != 24 || sp.Trackhook.Count != sp.Updates || sp.Trackhook.CPUMicro <= 0 {
		t.Fatalf("deliveries to 3 receivers: %+v", sp)
	}
	if sp.Missing != 0 || sp.Duplicates != 0 || sp.OutOfOrder != 0 || sp.Failed != 0 {
		t.Errorf("deliveries to 3 receivers: missing %d, duplicates %d, out of order %d, failed %d", sp.Missing, sp.Duplicates, sp.OutOfOrder, sp.Failed)
	}
	if l.Rate != 100 || l.OfferedFraction <= 0 {
		t.Errorf("latency: rate %v, offered fraction %v", l.Rate, l.OfferedFraction)
	}
	// Every voyage ended (the simulated month was passed); retention deleted updates
	// older than 30 days; the store's counts of references kept and deleted add up.
	v := res.Voyage
	if v == nil || v.Ended != 20 || v.NotEnded != 0 || v.Polls.Count < 20 || v.Days < 30 {
		t.Fatalf("voyage: %+v", v)
	}
	if v.UpdatesPruned == 0 || v.UpdatesKept <= 0 || v.ReferencesKept+v.ReferencesPruned != 20 {
		t.Errorf("voyage retention: %+v", v)
	}
	if v.InuseBytes <= 0 || v.InuseBytes > v.AllocBytes || v.AllocBytes > v.FileBytes || v.InuseBytesPerRef <= 0 || v.InuseBytesPerUpd <= 0 || len(v.Buckets) == 0 {
		t.Errorf("voyage store: %+v", v)
	}
	tg := res.Targets
	if tg.ChangedPollsPerSec == nil || tg.CeilingRatio == nil || tg.StoreInuseBytesPerRef == nil || tg.DeliveryRatioOne == nil ||
		tg.DeliveryRatioMany == nil || tg.P99DetectTo2xxMs == nil || tg.AnonBytesPerRef == nil || tg.StartupAnonBytesPerRef == nil {
		t.Errorf("targets: a figure of a phase that ran is missing: %+v", tg)
	}
	if tg.RestartSecondsAfterCrash != nil {
		t.Errorf("targets: a restart time without the crash phase: %v", *tg.RestartSecondsAfterCrash)
	}
	s := res.Startup
	if s == nil || s.References != 200 || s.StartupSeconds <= 0 || s.FileBytes == 0 {
		t.Fatalf("start-up: %+v", s)
	}
	if res.Machine.CPUs == 0 || res.Machine.GoVersion == "" {
		t.Errorf("machine: %+v", res.Machine)
	}
	// The progress went to stderr, one line per phase as it is not a terminal.
	for _, phase := range []string{"polls: changed", "polls: tool's share", "deliveries: drain", "deliveries to 3: trackhook", "latency: offered", "push 3/3: offered", "voyage: polls", "start-up: open"} {
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
		"--fanout-endpoints", "2", "--fanout-refs", "5", "--fanout-rounds", "1", "--fanout-duration", "100ms",
		"--fanout-rate", "20", "--fanout-down", "503",
		"--push-rate", "100", "--push-refs", "3", "--push-count", "10", "--push-runs", "1",
		"--receivers", "2", "--spread-refs", "4", "--spread-rounds", "1", "--voyage-refs", "5",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"machine", "polls: unchanged", "deliveries: trackhook", "of the baseline", "per 100,000 references",
		"fan-out to 1: deliveries", "fan-out to 2: checks", "fan-out: CPU per update", "fan-out latency, all healthy", "fan-out latency, one answering 503",
		"push: carrier->2xx", "push: run 1", "polls: changed, service", "memory per reference",
		"deliveries to 2: trackhook", "voyage: store",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout.String())
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestRun_FanoutDeliversEveryUpdateToEveryEndpointWhileOneIsDown runs the fan-out
// phase alone at tiny sizes, with a short delivery timeout so that the hanging
// endpoint's attempts also end by timing out. It checks what the run did: every
// update reached every endpoint once and in order, with valid signatures, and every
// healthy endpoint got every update while one was down; no timing is asserted.
func TestRun_FanoutDeliversEveryUpdateToEveryEndpointWhileOneIsDown(t *testing.T) {
	const endpoints, refs, rounds = 3, 12, 2
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"--refs", "0", "--latency-rate", "0", "--dir", t.TempDir(),
		"--fanout-endpoints", fmt.Sprint(endpoints), "--fanout-refs", fmt.Sprint(refs), "--fanout-rounds", fmt.Sprint(rounds),
		"--fanout-duration", "300ms", "--fanout-rate", "40", "--delivery-timeout", "1s",
		"--poll-workers", "4", "--delivery-workers", "4", "--drain-timeout", "30s", "--json", "--push-rate", "0",
		"--receivers", "0", "--voyage-refs", "0",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	f := res.Fanout
	if f == nil || f.Endpoints != endpoints || f.References != refs {
		t.Fatalf("fanout: %+v", f)
	}
	if res.Polls != nil || res.Deliveries != nil || res.Latency != nil || res.Push != nil {
		t.Errorf("phases that were not asked for ran: %+v", res)
	}
	for _, r := range []fanoutRun{f.One, f.Many} {
		if r.Updates == 0 || r.Polls.Count != refs*rounds || r.Deliveries.Count != r.Updates*int64(r.Endpoints) {
			t.Errorf("%d endpoint(s): %d polls, %d updates, %d delivered", r.Endpoints, r.Polls.Count, r.Updates, r.Deliveries.Count)
		}
		if r.Missing != 0 || r.Duplicates != 0 || r.OutOfOrder != 0 || r.Failed != 0 {
			t.Errorf("%d endpoint(s): missing %d, duplicates %d, out of order %d, failed %d", r.Endpoints, r.Missing, r.Duplicates, r.OutOfOrder, r.Failed)
		}
		if r.SignaturesChecked < r.Endpoints || r.SignaturesBad != 0 {
			t.Errorf("%d endpoint(s): %d signatures checked, %d bad", r.Endpoints, r.SignaturesChecked, r.SignaturesBad)
		}
		if r.Baseline.Count == 0 || r.Deliveries.CPUMicro <= 0 || r.Polls.CPUMicro <= 0 || r.UpdateCPUMicro <= 0 || r.Ratio <= 0 {
			t.Errorf("%d endpoint(s): figures missing: %+v", r.Endpoints, r)
		}
	}
	if f.NoEndpointPolls.Count != refs*rounds || f.NoEndpointPolls.CPUMicro <= 0 {
		t.Errorf("polls without endpoints: %+v", f.NoEndpointPolls)
	}
	if f.One.Endpoints != 1 || f.Many.Endpoints != endpoints {
		t.Errorf("runs of %d and %d endpoints, want 1 and %d", f.One.Endpoints, f.Many.Endpoints, endpoints)
	}
	if f.DeliveryCPURatio <= 0 || f.UpdateCPURatio == 0 {
		t.Errorf("CPU ratios: per delivery %v, per update %v", f.DeliveryCPURatio, f.UpdateCPURatio)
	}

	if len(f.Latency) != 3 {
		t.Fatalf("%d latency runs, want all healthy, 503 and hang: %+v", len(f.Latency), f.Latency)
	}
	for i, down := range []string{"", "503", "hang"} {
		l := f.Latency[i]
		if l.Down != down || l.Endpoints != endpoints-1 {
			t.Errorf("latency run %d: down %q at %d endpoints, want %q at %d", i, l.Down, l.Endpoints, down, endpoints-1)
		}
		if l.Updates.Count == 0 || int64(l.Delivered) != l.Updates.Count*(endpoints-1) || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.MaxMs < l.P99Ms {
			t.Errorf("latency, %s: %d updates, %d delivered to the healthy endpoints, p50 %v p99 %v max %v", downName(down), l.Updates.Count, l.Delivered, l.P50Ms, l.P99Ms, l.MaxMs)
		}
		if l.Duplicates != 0 || l.OutOfOrder != 0 {
			t.Errorf("latency, %s: duplicates %d, out of order %d", downName(down), l.Duplicates, l.OutOfOrder)
		}
		if (down == "") != (l.DownRequests == 0) {
			t.Errorf("latency, %s: the down endpoint refused %d requests", downName(down), l.DownRequests)
		}
	}
	for _, phase := range []string{"fan-out to 0: polls", "fan-out to 1: deliveries", "fan-out to 3: polls", "fan-out latency, one hanging: drain"} {
		if !strings.Contains(stderr.String(), phase) {
			t.Errorf("no progress line for %q in:\n%s", phase, stderr.String())
		}
	}
}

func TestParseFlags_Defaults(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.fanoutEndpoints != 10 || !slices.Equal(c.fanoutDown, []string{"503", "hang"}) || c.fanoutRate <= 0 || c.deliveryTimeout != notifier.DefaultSendTimeout {
		t.Errorf("fan-out defaults: %d endpoints, down %q, rate %v, delivery timeout %s", c.fanoutEndpoints, c.fanoutDown, c.fanoutRate, c.deliveryTimeout)
	}
}

func TestParseFlags_FanoutDown(t *testing.T) {
	tests := []struct {
		arg  string
		want []string
	}{
		{"", nil},
		{"hang", []string{"hang"}},
		{" 503 , hang ", []string{"503", "hang"}},
		{"hang,503", []string{"hang", "503"}},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseFlags([]string{"--fanout-down", tt.arg}, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.fanoutDown, tt.want) {
				t.Errorf("--fanout-down %q gave %q, want %q", tt.arg, c.fanoutDown, tt.want)
			}
		})
	}
	// The phase off, its other settings do not matter.
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"--fanout-endpoints", "0", "--fanout-refs", "0", "--fanout-rounds", "0"}, &stderr); err != nil {
		t.Errorf("no fan-out phase: %v", err)
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
		{"fan-out to one endpoint", []string{"--fanout-endpoints", "1"}},
		{"fan-out to negative endpoints", []string{"--fanout-endpoints", "-1"}},
		{"fan-out past the account's limit", []string{"--fanout-endpoints", "51"}},
		{"fan-out without references", []string{"--fanout-refs", "0"}},
		{"fan-out without rounds", []string{"--fanout-rounds", "0"}},
		{"fan-out duration zero", []string{"--fanout-duration", "0s"}},
		{"negative fan-out rate", []string{"--fanout-rate", "-1"}},
		{"an unknown way down", []string{"--fanout-down", "404"}},
		{"a way down twice", []string{"--fanout-down", "hang,hang"}},
		{"delivery timeout zero", []string{"--delivery-timeout", "0s"}},
		{"negative push rate", []string{"--push-rate", "-1"}},
		{"push without references", []string{"--push-refs", "0"}},
		{"push without pushes", []string{"--push-count", "0"}},
		{"push without runs", []string{"--push-runs", "0"}},
		{"negative receivers", []string{"--receivers", "-1"}},
		{"fewer spread references than receivers", []string{"--receivers", "10", "--spread-refs", "9"}},
		{"spread without rounds", []string{"--spread-rounds", "0"}},
		{"negative voyage references", []string{"--voyage-refs", "-1"}},
		{"voyage without retention", []string{"--voyage-retention", "0s"}},
		{"negative trace window", []string{"--profile-dir", "p", "--trace-window", "-1s"}},
		{"trace window without a profile directory", []string{"--trace-window", "2s"}},
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
