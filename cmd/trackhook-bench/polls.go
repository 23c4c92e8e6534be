package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// rate is a count over a duration, and the CPU time the whole process spent per
// counted operation meanwhile (when measured); with PostgreSQL on this machine, also
// the server's (see serverTimes): its processes serving the tool's database, and its
// background processes, which serve the whole server.
type rate struct {
	Count                    int64    `json:"count"`
	Seconds                  float64  `json:"seconds"`
	PerSec                   float64  `json:"per_second"`
	CPUMicro                 float64  `json:"cpu_us_per_op,omitempty"`
	ServerCPUMicro           *float64 `json:"server_cpu_us_per_op,omitempty"`
	ServerBackgroundCPUMicro *float64 `json:"server_background_cpu_us_per_op,omitempty"`
}

func newRate(n int64, d time.Duration) rate {
	r := rate{Count: n, Seconds: d.Seconds()}
	if d > 0 {
		r.PerSec = float64(n) / d.Seconds()
	}
	return r
}

// pollFigures are the poll phases' results.
type pollFigures struct {
	// First is the first poll of every reference: no snapshot yet, every event new.
	First rate `json:"first"`
	// Changed is polls while the carrier reports something new at every poll;
	// ChangedOnly counts those of them that did find a change.
	Changed     rate `json:"changed"`
	ChangedOnly rate `json:"changed_only"`
	// Unchanged is polls while the carrier reports the same as at the last poll;
	// UnchangedCommits is how many store transactions were committed meanwhile.
	Unchanged        rate  `json:"unchanged"`
	UnchangedCommits int64 `json:"unchanged_commits"`
	Unsubscribed     int64 `json:"unsubscribed"` // voyages that ended during the run
	Updates          int64 `json:"updates"`      // appended to the feeds in all
	// Service is the changed polls' CPU time with the tool's own share taken out,
	// and the ceiling it sets on this machine (see ceilingOf).
	Service serviceCPU `json:"changed_service"`
}

// serviceCPU splits the CPU time per poll of a poll phase between the tool (the demo
// carrier's simulation, measured by replaying a sample of its fetches: toolshare.go)
// and the service (the rest), and says what rate the service's share allows.
type serviceCPU struct {
	// FetchesPerPoll is how many fetches the carrier answered per poll (1 but for
	// retries of a poll that lost its claim).
	FetchesPerPoll float64 `json:"fetches_per_poll"`
	// ToolCPUMicro is the carrier's CPU time per fetch, replayed, times
	// FetchesPerPoll; ServiceCPUMicro is the CPU time per poll less it (with
	// PostgreSQL on this machine, the server's counted in).
	ToolCPUMicro    float64 `json:"tool_cpu_us_per_poll"`
	ServiceCPUMicro float64 `json:"service_cpu_us_per_poll"`
	// Cores is what the ceiling counts: GOMAXPROCS, the cores the process may use.
	Cores int `json:"cores"`
	// CeilingPerSec is Cores / ServiceCPUMicro: the polls a second the service could
	// make with every core to itself. Ratio is the measured rate over it.
	CeilingPerSec float64 `json:"cpu_ceiling_per_second"`
	Ratio         float64 `json:"ceiling_ratio"`
	// Utilization is the CPU time the process (and the server) used over the
	// phase's wall time times Cores: near 1, the cores were busy, the tool's
	// share included, and the ratio cannot reach 1.
	Utilization float64 `json:"cpu_utilization"`
}

// ceilingOf splits r's CPU time per poll given the tool's CPU time per fetch and the
// fetches made over r.
func ceilingOf(r rate, toolPerFetch time.Duration, fetches int64, cores int) serviceCPU {
	s := serviceCPU{Cores: cores}
	if r.Count <= 0 || r.Seconds <= 0 {
		return s
	}
	s.FetchesPerPoll = float64(fetches) / float64(r.Count)
	s.ToolCPUMicro = s.FetchesPerPoll * float64(toolPerFetch) / float64(time.Microsecond)
	total := r.totalCPUMicro()
	s.ServiceCPUMicro = total - s.ToolCPUMicro
	if s.ServiceCPUMicro > 0 {
		s.CeilingPerSec = float64(cores) * 1e6 / s.ServiceCPUMicro
		s.Ratio = r.PerSec / s.CeilingPerSec
	}
	s.Utilization = total * r.PerSec / 1e6 / float64(cores)
	return s
}

// mainRun creates the references, runs the poll phases, measures the store and the
// memory, and delivers the backlog.
func mainRun(ctx context.Context, cfg config, st storage, rcv *receiver, prog *progress, res *result) (err error) {
	prog.begin("create references")
	var ids []string
	err = prepare(ctx, st, "main", func(db benchStore) error {
		start := time.Now()
		var err error
		ids, err = seed(ctx, db, cfg.refs, cfg.accounts, rcv.url+"/hooks", prog)
		res.Seed = newRate(int64(len(ids)), time.Since(start))
		return err
	})
	if err != nil {
		return err
	}
	r, err := openRig(ctx, st, "main", rcv, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.close(ctx)) }()

	polls, err := runPolls(ctx, r, len(ids), prog)
	if err != nil {
		return fmt.Errorf("polls: %w", err)
	}
	res.Polls = &polls

	size, err := st.size(ctx, "main", r.db)
	if err != nil {
		return err
	}
	// The carrier's step counters are the tool's, not the service's: gone before the
	// memory is read. The list of ids stays (the deliveries check every reference):
	// its size is taken out of the figure per reference.
	r.source.forget()
	mem := measureMemory()
	tool := idsBytes(ids)
	res.Store = &storeFigures{
		References: len(ids), FileBytes: size, Updates: polls.Updates,
		FileBytesPer100k: size * 100_000 / int64(len(ids)),
		Memory:           mem, MemoryPer100k: mem.per(100_000, len(ids)),
		ToolBytes:       tool,
		AnonBytesPerRef: (mem.RSSAnonBytes - tool) / int64(len(ids)),
	}

	if !cfg.deliveries {
		return nil
	}
	deliveries, err := runDeliveries(ctx, r, ids, prog)
	if err != nil {
		return fmt.Errorf("deliveries: %w", err)
	}
	res.Deliveries = &deliveries
	return nil
}

// idsBytes is about what a list of ids takes on the heap: a string header each, and
// its bytes rounded up to the allocator's 16-byte classes.
func idsBytes(ids []string) int64 {
	n := int64(cap(ids)) * 16
	for _, id := range ids {
		n += int64(len(id)+15) / 16 * 16
	}
	return n
}

// runPolls runs the poller flat out on every reference: first polls until each has
// been polled once, then polls with a change each, then polls that change nothing.
func runPolls(ctx context.Context, r *rig, n int, prog *progress) (pollFigures, error) {
	var f pollFigures
	ps, err := r.newPollers()
	if err != nil {
		return f, err
	}
	stop := startPollers(ctx, ps)
	defer stop()
	c := &r.polls
	rateOf := func(since int64, t time.Time) string {
		n := c.total.Load() - since
		return fmt.Sprintf("%d polls, %.0f/s", n, float64(n)/time.Since(t).Seconds())
	}

	prog.begin("polls: first")
	start := time.Now()
	prog.show(func() string { return rateOf(0, start) })
	if err := waitUntil(ctx, func() bool { return c.total.Load() >= int64(n) }); err != nil {
		return f, err
	}
	f.First = newRate(c.total.Load(), time.Since(start))

	prog.begin("polls: changed")
	r.source.startSample()
	total0, changed0, start, cpu0 := c.total.Load(), c.changed.Load(), time.Now(), r.markCPU()
	prog.show(func() string { return rateOf(total0, start) })
	if err := measure(ctx, r.cfg, "polls-changed", r.cfg.pollDuration, round(c, total0, n)); err != nil {
		return f, err
	}
	d := time.Since(start)
	f.Changed = newRate(c.total.Load()-total0, d)
	cpu0.fill(&f.Changed)
	f.ChangedOnly = newRate(c.changed.Load()-changed0, d)
	fetches := r.source.stopSample()

	// Polls that started before the switch may still find a change: let them end.
	r.source.advance.Store(false)
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return f, err
	}
	prog.begin("polls: unchanged")
	commits0, err := r.st.commits(ctx, r.db)
	if err != nil {
		return f, err
	}
	total0, start, cpu0 = c.total.Load(), time.Now(), r.markCPU()
	prog.show(func() string { return rateOf(total0, start) })
	if err := measure(ctx, r.cfg, "polls-unchanged", r.cfg.pollDuration, round(c, total0, n)); err != nil {
		return f, err
	}
	f.Unchanged = newRate(c.total.Load()-total0, time.Since(start))
	cpu0.fill(&f.Unchanged)
	commits1, err := r.st.commits(ctx, r.db)
	if err != nil {
		return f, err
	}
	f.UnchangedCommits = commits1 - commits0
	stop() // the polls under way finish: count their updates too
	f.Unsubscribed, f.Updates = c.unsubscribed.Load(), c.updates.Load()

	prog.begin("polls: tool's share")
	perFetch, err := r.source.replayCPU(ctx, fetches)
	if err != nil {
		return f, fmt.Errorf("replaying the carrier's fetches: %w", err)
	}
	f.Service = ceilingOf(f.Changed, perFetch, fetches.seen, runtime.GOMAXPROCS(0))
	return f, nil
}

// round reports, once the poll counter has gone n-unsubscribed past since, that
// every reference still tracked has been polled about once.
func round(c *pollCounts, since int64, n int) func() bool {
	return func() bool { return c.total.Load()-since >= int64(n)-c.unsubscribed.Load() }
}

// measure waits for d, and then for done when it is given, while a phase runs,
// profiling it when asked to. A phase of polls lasts a round at least: with few
// references the poller polls them all, then waits for its next tick.
func measure(ctx context.Context, cfg config, name string, d time.Duration, done func() bool) error {
	stop, err := cfg.profile(name)
	if err != nil {
		return err
	}
	err = sleep(ctx, d)
	if err == nil && done != nil {
		err = waitUntil(ctx, done)
	}
	return errors.Join(err, stop())
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitUntil checks cond every few milliseconds until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	return waitEvery(ctx, 5*time.Millisecond, cond)
}

// waitEvery checks cond every interval until it holds or ctx ends.
func waitEvery(ctx context.Context, interval time.Duration, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
