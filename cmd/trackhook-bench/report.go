package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// result is everything one run measured; sections of phases that did not run are nil.
type result struct {
	Machine    machine          `json:"machine"`
	Config     configSummary    `json:"config"`
	Seed       rate             `json:"create_references"`
	Polls      *pollFigures     `json:"polls,omitempty"`
	Store      *storeFigures    `json:"store,omitempty"`
	Deliveries *deliveryFigures `json:"deliveries,omitempty"`
	Latency    *latencyFigures  `json:"latency,omitempty"`
	Fanout     *fanoutFigures   `json:"fanout,omitempty"`
	Push       *pushFigures     `json:"push,omitempty"`
	Startup    *startupFigures  `json:"startup,omitempty"`
	Spread     *spreadFigures   `json:"spread_deliveries,omitempty"`
	Voyage     *voyageFigures   `json:"voyage,omitempty"`
	Crash      *crashFigures    `json:"crash,omitempty"`
	// Targets gathers the figures of issue 17's targets from the sections above,
	// under names that stay the same from run to run (targets.go).
	Targets targets `json:"targets"`
}

// configSummary is the configuration as the result records it.
type configSummary struct {
	Store           string   `json:"store"` // bbolt, or PostgreSQL and its version
	Instances       int      `json:"instances"`
	Accounts        int      `json:"accounts"`
	References      int      `json:"references"`
	PollWorkers     int      `json:"poll_workers"`
	GC              string   `json:"gc"` // the garbage collector's setting: serve's default, or the environment's
	DeliveryWorkers int      `json:"delivery_workers"`
	PollInterval    string   `json:"poll_interval"`
	Step            string   `json:"step"`
	PollDuration    string   `json:"poll_duration"`
	DeliverDuration string   `json:"delivery_duration"`
	LatencyRate     float64  `json:"latency_rate"`
	LatencyRefs     int      `json:"latency_references"`
	LatencyDuration string   `json:"latency_duration"`
	StartupRefs     int      `json:"startup_references"`
	Deliveries      bool     `json:"deliveries"`
	DeliveryTimeout string   `json:"delivery_timeout"`
	FanoutEndpoints int      `json:"fanout_endpoints"`
	FanoutRefs      int      `json:"fanout_references"`
	FanoutRounds    int      `json:"fanout_rounds"`
	FanoutDuration  string   `json:"fanout_duration"`
	FanoutRate      float64  `json:"fanout_rate"`
	FanoutDown      []string `json:"fanout_down"`
	PushRate        float64  `json:"push_rate"`
	PushRefs        int      `json:"push_references"`
	PushCount       int      `json:"push_count"`
	PushRuns        int      `json:"push_runs"`
	Receivers       int      `json:"receivers"`
	SpreadRefs      int      `json:"spread_references"`
	SpreadRounds    int      `json:"spread_rounds"`
	VoyageRefs      int      `json:"voyage_references"`
	VoyageRetention string   `json:"voyage_retention"`
}

func (c config) summary() configSummary {
	return configSummary{
		Instances: c.instances, Accounts: c.accounts, References: c.refs, PollWorkers: c.pollWorkers, DeliveryWorkers: c.deliveryWorkers,
		PollInterval: c.pollInterval.String(), Step: c.step.String(),
		PollDuration: c.pollDuration.String(), DeliverDuration: c.deliverDuration.String(),
		LatencyRate: c.latencyRate, LatencyRefs: c.latencyRefs, LatencyDuration: c.latencyDuration.String(),
		StartupRefs: c.startupRefs, Deliveries: c.deliveries, DeliveryTimeout: c.deliveryTimeout.String(),
		FanoutEndpoints: c.fanoutEndpoints, FanoutRefs: c.fanoutRefs, FanoutRounds: c.fanoutRounds,
		FanoutDuration: c.fanoutDuration.String(), FanoutRate: c.fanoutRate, FanoutDown: c.fanoutDown,
		PushRate: c.pushRate, PushRefs: c.pushRefs, PushCount: c.pushCount, PushRuns: c.pushRuns,
		Receivers: c.receivers, SpreadRefs: c.spreadRefs, SpreadRounds: c.spreadRounds,
		VoyageRefs: c.voyageRefs, VoyageRetention: c.voyageRetention.String(),
	}
}

// storeFigures are the store's size and the process's memory after the poll phases.
type storeFigures struct {
	References       int    `json:"references"`
	Updates          int64  `json:"updates"`
	FileBytes        int64  `json:"file_bytes"`
	FileBytesPer100k int64  `json:"file_bytes_per_100k_references"`
	Memory           memory `json:"memory"`
	MemoryPer100k    memory `json:"memory_per_100k_references"`
	// ToolBytes is the tool's own list of the references' ids, which Memory holds
	// (the carrier's step counters were dropped before reading it);
	// AnonBytesPerRef is anonymous RSS less ToolBytes, per reference.
	ToolBytes       int64 `json:"tool_bytes"`
	AnonBytesPerRef int64 `json:"anon_bytes_per_reference"`
}

// writeText writes the result as a table for people.
func (r result) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	m := r.Machine
	line("machine", "%d CPUs (GOMAXPROCS %d), %s, %s %s/%s", m.CPUs, m.GOMAXPROCS, m.CPUModel, m.GoVersion, m.OS, m.Arch)
	line("store", "%s, %d instance(s), references in %d account(s)", r.Config.Store, r.Config.Instances, r.Config.Accounts)
	if r.Polls != nil {
		line("references", "%d, %d poll workers, %d delivery workers", r.Config.References, r.Config.PollWorkers, r.Config.DeliveryWorkers)
		line("create", "%s", r.Seed)
		p := r.Polls
		line("polls: first", "%s", p.First)
		line("polls: changed", "%s (%.0f/s found a change)", p.Changed, p.ChangedOnly.PerSec)
		sv := p.Service
		line("polls: changed, service", "%.0f µs CPU each without the tool's %.0f µs (the demo carrier's simulation, replayed); ceiling %.0f/s on %d cores, reached %.0f%%; CPU %.0f%% busy",
			sv.ServiceCPUMicro, sv.ToolCPUMicro, sv.CeilingPerSec, sv.Cores, 100*sv.Ratio, 100*sv.Utilization)
		line("polls: unchanged", "%s, %d %s meanwhile", p.Unchanged, p.UnchangedCommits, r.commits())
		line("updates appended", "%d (%d voyages ended)", p.Updates, p.Unsubscribed)
	}
	if s := r.Store; s != nil {
		name := "store file"
		if r.Config.Store != "bbolt" {
			name = "store tables" // with their indexes
		}
		line(name, "%s (%s per 100,000 references)", bytesOf(s.FileBytes), bytesOf(s.FileBytesPer100k))
		line("memory", "%s per 100,000 references (%s)", s.MemoryPer100k, s.Memory)
		line("memory per reference", "%d B anonymous, the tool's list of ids (%s) taken out", s.AnonBytesPerRef, bytesOf(s.ToolBytes))
	}
	if d := r.Deliveries; d != nil {
		line("deliveries: baseline", "%s (raw net/http POST, %d-byte payloads)", d.Baseline, d.PayloadBytes)
		line("deliveries: trackhook", "%s = %.0f%% of the baseline (%.0f%% by CPU time), %.1f attempts per commit", d.Trackhook, 100*d.Ratio, 100*d.CPURatio, d.AttemptsPerCommit)
		if r.Config.Store != "bbolt" {
			line("", "(commits: %s)", r.commits())
		}
		line("deliveries: drain", "%s; missing %d, duplicates %d, out of order %d, failed attempts %d", d.Drain, d.Missing, d.Duplicates, d.OutOfOrder, d.Failed)
	}
	if s := r.Spread; s != nil {
		name := fmt.Sprintf("deliveries to %d: ", s.Receivers)
		line(name+"baseline", "%s (raw net/http POST to the same %d receivers, %d-byte payloads)", s.Baseline, s.Receivers, s.PayloadBytes)
		line(name+"trackhook", "%s = %.0f%% of the baseline (%.0f%% by CPU time), %.1f attempts per commit; %d updates of %d references",
			s.Trackhook, 100*s.Ratio, 100*s.CPURatio, s.AttemptsPerCommit, s.Updates, s.References)
		line(name+"checks", "missing %d, duplicates %d, out of order %d, failed attempts %d", s.Missing, s.Duplicates, s.OutOfOrder, s.Failed)
	}
	if l := r.Latency; l != nil {
		held := "held"
		if !l.RateOffered {
			held = "NOT held"
		}
		line("latency: offered", "%.0f polls/s, %.0f updates/s on %d references (%d polls late): %.0f/s asked, %s (%.0f%%)",
			l.Offered.PerSec, l.Updates.PerSec, l.References, l.Late, l.Rate, held, 100*l.OfferedFraction)
		line("latency: detect->2xx", "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%d webhooks, %d missing)", l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.Delivered, l.Missing)
	}
	if f := r.Fanout; f != nil {
		f.writeText(line)
	}
	if p := r.Push; p != nil {
		line("push: offered", "%.0f pushes/s, %d per run on %d references, median of %d runs", p.Rate, p.Pushes, p.References, len(p.Runs))
		line("push: carrier->2xx", "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (from the carrier's push to the receiver's webhook; polling every %v: %.0f s on average before the change is even seen)",
			p.P50Ms, p.P90Ms, p.P99Ms, p.MaxMs, defaultPollInterval, p.PollingAverageMs/1000)
		line("push: answered", "p50 %.1f ms, p99 %.1f ms (the carrier's push to trackhook's 2xx, once recorded)", p.AnswerP50, p.AnswerP99)
		for i, run := range p.Runs {
			line(fmt.Sprintf("push: run %d", i+1), "p50 %.1f ms, p99 %.1f ms; %s in %d carrier steps (%d waited for a step), %d accepted, %d webhooks, %d missing",
				run.P50Ms, run.P99Ms, run.Offered, run.Steps, run.Batched, run.Accepted, run.Delivered, run.Missing)
		}
	}
	if v := r.Voyage; v != nil {
		line("voyage: polls", "%s over %d rounds of %s (%d simulated days), %.0f s; %d voyages ended, %d not", v.Polls, v.Rounds, v.Step, v.Days, v.Seconds, v.Ended, v.NotEnded)
		line("voyage: retention", "%s: %d of %d updates and %d of %d references deleted", v.Retention, v.UpdatesPruned, v.Updates, v.ReferencesPruned, v.References)
		line("voyage: store", "file %s, in use %s, unused %s: per reference kept %.0f B of file, %.0f B in use; %.0f B in use per update kept",
			bytesOf(v.FileBytes), bytesOf(v.InuseBytes), bytesOf(v.UnusedBytes), v.FileBytesPerRef, v.InuseBytesPerRef, v.InuseBytesPerUpd)
		for _, b := range v.Buckets[:min(len(v.Buckets), 6)] {
			line("voyage: bucket "+b.Name, "%s in use, %d keys", bytesOf(b.InuseBytes), b.Keys)
		}
	}
	if s := r.Startup; s != nil {
		line("start-up: store", "%d references, %s, created at %.0f/s", s.References, bytesOf(s.FileBytes), s.Create.PerSec)
		line("start-up: time", "%.2fs (open %.2fs, first scans %.3fs)", s.StartupSeconds, s.OpenSeconds, s.FirstScanSeconds)
		line("start-up: memory", "%s per reference (%s in all)", s.PerReference.bytesPlain(), s.Memory)
	}
	if r.Crash != nil {
		r.Crash.writeText(line)
	}
	return tw.Flush()
}

// commits says what the store's commits count (Stats.Commits): on PostgreSQL, the
// transaction ids the server handed out, to every database's writes.
func (r result) commits() string {
	if r.Config.Store == "bbolt" {
		return "store commits"
	}
	return "write transactions of the whole server"
}

// writeText writes the fan-out figures with line.
func (f *fanoutFigures) writeText(line func(name, format string, args ...any)) {
	line("fan-out to 0: polls", "%s, no message to write", f.NoEndpointPolls)
	for _, run := range []fanoutRun{f.One, f.Many} {
		name := fmt.Sprintf("fan-out to %d: ", run.Endpoints)
		line(name+"polls", "%s, %d updates on %d references; the messages cost %.0f µs CPU per poll", run.Polls, run.Updates, f.References, run.WriteCPUMicro)
		line(name+"baseline", "%s (raw net/http POST to the same %d receiver(s), %d-byte payloads)", run.Baseline, run.Endpoints, run.PayloadBytes)
		line(name+"deliveries", "%s = %.0f%% of the baseline (%.0f%% by CPU time), %.1f attempts per commit", run.Deliveries, 100*run.Ratio, 100*run.CPURatio, run.AttemptsPerCommit)
		line(name+"checks", "missing %d, duplicates %d, out of order %d, failed attempts %d; %d signatures checked, %d bad", run.Missing, run.Duplicates, run.OutOfOrder, run.Failed, run.SignaturesChecked, run.SignaturesBad)
	}
	line("fan-out: CPU per delivery", "%.0f µs with 1 endpoint, %.0f µs with %d (x%.2f)",
		f.One.Deliveries.CPUMicro, f.Many.Deliveries.CPUMicro, f.Endpoints, f.DeliveryCPURatio)
	line("fan-out: CPU per update", "%.0f µs to 1 endpoint, %.0f µs to %d, messages written and delivered = %.2f x (%d x one)",
		f.One.UpdateCPUMicro, f.Many.UpdateCPUMicro, f.Endpoints, f.UpdateCPURatio, f.Endpoints)
	for _, l := range f.Latency {
		line("fan-out latency, "+downName(l.Down), "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms at %d healthy endpoints (%d webhooks; %.0f updates/s, %d polls late; duplicates %d, out of order %d; %d requests refused by the down one)",
			l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.Endpoints, l.Delivered, l.Updates.PerSec, l.Late, l.Duplicates, l.OutOfOrder, l.DownRequests)
	}
}

func (r rate) String() string {
	s := fmt.Sprintf("%.0f/s (%d in %.1fs", r.PerSec, r.Count, r.Seconds)
	if r.CPUMicro > 0 {
		s += fmt.Sprintf(", %.0f µs CPU each", r.CPUMicro)
	}
	if r.ServerCPUMicro != nil {
		s += fmt.Sprintf(" + %.0f µs in PostgreSQL", *r.ServerCPUMicro)
	}
	if r.ServerBackgroundCPUMicro != nil {
		s += fmt.Sprintf(" + %.0f µs in its background processes", *r.ServerBackgroundCPUMicro)
	}
	return s + ")"
}

func (m memory) String() string {
	return fmt.Sprintf("RSS %s: anonymous %s, file %s; Go heap %s",
		bytesOf(m.RSSBytes), bytesOf(m.RSSAnonBytes), bytesOf(m.RSSFileBytes), bytesOf(m.HeapInuseBytes))
}

// bytesPlain is String for small figures, in bytes.
func (m memory) bytesPlain() string {
	return fmt.Sprintf("RSS %d B: anonymous %d B, file %d B; Go heap %d B", m.RSSBytes, m.RSSAnonBytes, m.RSSFileBytes, m.HeapInuseBytes)
}

// bytesOf writes n in binary units.
func bytesOf(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for ; (f >= unit || f <= -unit) && i < 4; i++ {
		f /= unit
	}
	return strings.TrimSpace(fmt.Sprintf("%.1f %ciB", f, "KMGT"[i-1]))
}
