// Command trackhook-bench measures trackhook on this machine: it runs the real store,
// poller and notifier in one process against loopback webhook receivers and reports
// polls per second (with and without changes, and the CPU ceiling of changed polls
// with the tool's own share taken out), deliveries per second against a raw net/http
// baseline to one receiver and to many, detect -> 2xx latency at a fixed rate,
// fan-out to account endpoints (with one of them down), the store's size after full
// voyages with retention, memory and start-up time. See BENCHMARKS.md for the figures
// and how to reproduce them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trackhook/trackhook/internal/autosize"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/postgres"
)

const usage = `trackhook-bench runs trackhook's store, poller and notifier in one process against a
webhook receiver on loopback, with the demo carrier stepping through voyages as fast as
it is polled, and prints what it measured.

Phases: create the references; poll them all once (first polls), then with a change on
every poll, then with nothing changed; deliver the backlog of webhooks, after a raw
net/http POST loop to the same receiver as the baseline, and check that every update
arrived in order; the same with the callbacks of --spread-refs references spread over
--receivers receivers, each on a loopback port of its own (a host of its own to the
notifier's per-host caps and breakers), the whole backlog delivered against the raw
loop to the same receivers; detect -> 2xx latency at a fixed rate of updates on a
fresh store, and whether the rate was held; fan-out: references of an account with --fanout-endpoints endpoints, each on a receiver
(a loopback port) of its own, their updates delivered to one endpoint and then to all,
against the raw loop, and the healthy endpoints' latency with all up and with one
answering 503 or hanging; carrier push: a DCSA T&T 2.2 carrier (the fake carrier of
internal/fakecarrier) pushing new events at --push-rate to the inbound route, each
measured from the carrier sending it to the receiver having its webhook, the medians
of --push-runs runs; the voyage phase: --voyage-refs references tracked through
their whole demo voyage in rounds of --step of simulated time, polled at each change,
with retention pruning after each round through the call trackhook serve makes
(--voyage-retention for the feed, the delivery log and unsubscribed references), until
the last voyage ended; then the store file's size and bbolt's statistics of its
buckets, per reference kept and per update kept (bbolt only; the references have no
callback, so every update may be pruned once old enough); and, with --startup-refs,
start-up time and memory on a store of that many references.

The tool's own share of a changed poll: the demo carrier runs in this process and
steps each voyage on until something changed, which is the carrier's work, not the
service's. While the changed polls are measured, the tool keeps a uniform sample of
the carrier's fetches; after the poll phases it makes those fetches again on one
goroutine with nothing else running and times them with the process's CPU clock
(garbage collection included). That time per fetch, times the fetches per poll, is
the tool's share; the CPU time per poll less it is the service's, and the CPU ceiling
is GOMAXPROCS / the service's CPU time per poll (replayed alone, the fetches find
warmer caches: if anything, the tool's share is counted short, the ceiling low). No
receiver or notifier works during the poll phases. Anonymous memory per reference is
read after dropping the carrier's step counters, less the size of the tool's list of
ids.

The JSON output ends with "targets": the figures of issue 17's targets under names
that stay the same from run to run (null where their phase did not run).

Stores: bbolt files in --dir, one per phase; or, with --db postgres://..., a schema per
phase in that database, dropped when the phase ends. The database must hold nothing
but what the tool made (give it one of its own: CREATE DATABASE trackhook_bench), or
--db-reset deletes everything in it first. With --instances N, N instances of the
service run on the database, each with a store (connection pool), a poller and a
notifier of its own, sharing the load; CPU time per operation then also counts the
server's processes, read from /proc when the server runs on this machine.

Examples:
  trackhook-bench                                   # 100,000 references, about 3 minutes
  trackhook-bench --refs 0 --latency-rate 0 --fanout-endpoints 0 --push-rate 0 --receivers 0 --voyage-refs 100000   # store size after full voyages
  trackhook-bench --refs 0 --fanout-endpoints 0 --push-rate 0 --receivers 0 --voyage-refs 0 --latency-rate 5000 --latency-refs 50000   # p99 at 5,000 updates/s
  trackhook-bench --refs 10000 --poll-duration 5s --json
  trackhook-bench --refs 0 --startup-refs 1000000   # start-up and memory at a million
  trackhook-bench --refs 0 --latency-rate 0 --fanout-refs 2000 --push-rate 0 --receivers 0 --voyage-refs 0   # the fan-out phase alone
  trackhook-bench --refs 0 --latency-rate 0 --fanout-endpoints 0 --receivers 0 --voyage-refs 0 --json         # the push phase alone
  trackhook-bench --db postgres://localhost/trackhook_bench --instances 3 --refs 20000

Flags:
`

// config is what the flags choose.
type config struct {
	refs            int
	dir             string
	keep            bool
	db              string
	dbReset         bool
	instances       int
	accounts        int
	pollWorkers     int
	deliveryWorkers int
	pollInterval    time.Duration
	step            time.Duration
	pollDuration    time.Duration
	deliverDuration time.Duration
	drainTimeout    time.Duration
	latencyRate     float64
	latencyRefs     int
	latencyDuration time.Duration
	startupRefs     int
	startupStore    string
	deliveries      bool
	deliveryTimeout time.Duration
	fanoutEndpoints int
	fanoutRefs      int
	fanoutRounds    int
	fanoutDuration  time.Duration
	fanoutRate      float64
	fanoutDown      []string
	pushRate        float64
	pushRefs        int
	pushCount       int
	pushRuns        int
	receivers       int
	spreadRefs      int
	spreadRounds    int
	voyageRefs      int
	voyageRetention time.Duration
	json            bool
	progressEvery   time.Duration
	profileDir      string
	// traceWindow, when above 0, also writes an execution trace of that long of
	// each measured phase, from traceSkip into it (profile.go).
	traceWindow time.Duration
	traceSkip   time.Duration
	crash       crashConfig // crash.go
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("trackhook-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&c.refs, "refs", 100_000, "references tracked in the main run (0 skips polls and deliveries)")
	fs.StringVar(&c.dir, "dir", "", "directory for the store files (default: a new temporary directory, removed at the end)")
	fs.BoolVar(&c.keep, "keep", false, "keep the store files (with --db, the phases' schemas)")
	fs.StringVar(&c.db, "db", "", "run on PostgreSQL: a postgres:// URL of a database that holds nothing but what the tool made (default: bbolt files in --dir)")
	fs.BoolVar(&c.dbReset, "db-reset", false, "with --db, delete everything in the database first (every schema and all it holds)")
	fs.IntVar(&c.instances, "instances", 1, "instances of the service on the store, each with its own connection pool, poller and notifier (above 1: --db only)")
	fs.IntVar(&c.accounts, "accounts", 1, "accounts the references of the main run and the latency phase are spread over (the fan-out's are in one account, with its endpoints)")
	fs.IntVar(&c.pollWorkers, "poll-workers", autosize.PollWorkers(autosize.Read()), "polls running at once (trackhook serve --poll-workers; the default is its default on this machine)")
	fs.IntVar(&c.deliveryWorkers, "delivery-workers", 32, "deliveries running at once (trackhook serve --delivery-workers)")
	fs.DurationVar(&c.pollInterval, "poll-interval", time.Millisecond, "poll interval of the references: the default keeps every reference due, so the poller runs flat out")
	fs.DurationVar(&c.step, "step", 24*time.Hour, "simulated time the demo carrier moves on per step; a poll takes as many steps as it needs to see a change")
	fs.DurationVar(&c.pollDuration, "poll-duration", 10*time.Second, "how long polls with changes, then unchanged polls, are measured")
	fs.DurationVar(&c.deliverDuration, "delivery-duration", 10*time.Second, "how long deliveries, then the raw baseline, are measured")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Minute, "how long the rest of the backlog may take to deliver before the run fails")
	fs.Float64Var(&c.latencyRate, "latency-rate", 1000, "updates per second offered in the latency phase (0 skips it)")
	fs.IntVar(&c.latencyRefs, "latency-refs", 20_000, "references of the latency phase (each is polled every latency-refs/latency-rate seconds)")
	fs.DurationVar(&c.latencyDuration, "latency-duration", 10*time.Second, "how long updates are offered in the latency phase")
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 10*time.Second, "timeout of one webhook attempt (trackhook serve --delivery-timeout): how long a hanging receiver holds one")
	fs.IntVar(&c.fanoutEndpoints, "fanout-endpoints", 10, "endpoints every update of the fan-out phase goes to, each on a receiver of its own (0 skips the phase)")
	fs.IntVar(&c.fanoutRefs, "fanout-refs", 1000, "references of the fan-out phase")
	fs.IntVar(&c.fanoutRounds, "fanout-rounds", 3, "polls of each fan-out reference, each appending an update, before the backlog is delivered to one endpoint, then to --fanout-endpoints")
	fs.DurationVar(&c.fanoutDuration, "fanout-duration", 3*time.Second, "how long the fan-out's raw POST loop runs, and how long updates are offered in each of its latency runs")
	fs.Float64Var(&c.fanoutRate, "fanout-rate", 50, "updates per second offered in the fan-out's latency runs, each going to every endpoint (0 skips them)")
	fs.Float64Var(&c.pushRate, "push-rate", 50, "carrier pushes per second offered in the push phase (0 skips it)")
	fs.IntVar(&c.pushRefs, "push-refs", 100, "references of the push phase, each with a subscription at the fake carrier; the pushes go to each in turn")
	fs.IntVar(&c.pushCount, "push-count", 500, "pushes of each run of the push phase, each a new event of its reference")
	fs.IntVar(&c.pushRuns, "push-runs", 3, "runs of the push phase, each on a fresh store; the figures are their medians")
	fs.IntVar(&c.receivers, "receivers", 100, "receivers the callbacks of the spread deliveries phase are spread over, each on a loopback port of its own: a host of its own to the notifier's caps and breakers (0 skips the phase)")
	fs.IntVar(&c.spreadRefs, "spread-refs", 20_000, "references of the spread deliveries phase, the i-th one's callback on receiver i mod --receivers")
	fs.IntVar(&c.spreadRounds, "spread-rounds", 2, "polls of each reference of the spread deliveries phase, each appending an update: the backlog delivered")
	fs.IntVar(&c.voyageRefs, "voyage-refs", 2000, "references of the voyage phase, tracked through their whole demo voyage with retention, then the store's size is read (0 skips it; bbolt only)")
	fs.DurationVar(&c.voyageRetention, "voyage-retention", 30*24*time.Hour, "retention of the voyage phase: of delivered updates, of the delivery log and of unsubscribed references (trackhook serve's defaults)")
	down := fs.String("fanout-down", "503,hang", "how one endpoint is down in the fan-out's latency runs after the one with all healthy: 503 (answers 503 at once), hang (holds each request until --delivery-timeout); comma-separated, empty for none")
	fs.StringVar(&c.startupStore, "startup-store", "", "measure start-up and memory on this existing store (e.g. main.db of a run with --keep) instead of one made with --startup-refs")
	fs.BoolVar(&c.deliveries, "deliveries", true, "measure deliveries after the polls (off: store size and memory only, for very large runs)")
	fs.IntVar(&c.startupRefs, "startup-refs", 0, "references in a store made to measure start-up time and memory, e.g. 1000000 (0 skips it)")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.DurationVar(&c.progressEvery, "progress-every", 500*time.Millisecond, "how often the progress line is redrawn")
	fs.StringVar(&c.profileDir, "profile-dir", "", "write a CPU profile of each measured phase to this directory (cpu-<phase>.pprof)")
	fs.DurationVar(&c.traceWindow, "trace-window", 0, "with --profile-dir, also write an execution trace of this long of each measured phase, from a second into it (trace-<phase>.out; e.g. 2s: go tool trace -pprof=sched, sync or syscall on it says what the goroutines waited for)")
	c.traceSkip = traceSkip
	c.crash.flags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.fanoutDown, err = parseDownModes(*down); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() != 0:
		return c, fmt.Errorf("trackhook-bench takes no arguments, got %q", fs.Args())
	case c.refs < 0 || c.startupRefs < 0 || c.latencyRefs < 0:
		return c, errors.New("--refs, --latency-refs and --startup-refs cannot be negative")
	case c.pollWorkers <= 0 || c.deliveryWorkers <= 0:
		return c, errors.New("--poll-workers and --delivery-workers must be above 0")
	case c.pollInterval <= 0 || c.step <= 0 || c.progressEvery <= 0:
		return c, errors.New("--poll-interval, --step and --progress-every must be above 0")
	case c.pollDuration <= 0 || c.deliverDuration <= 0 || c.latencyDuration <= 0 || c.drainTimeout <= 0 ||
		c.deliveryTimeout <= 0 || c.fanoutDuration <= 0:
		return c, errors.New("durations must be above 0")
	case c.latencyRate < 0 || c.fanoutRate < 0 || c.pushRate < 0:
		return c, errors.New("--latency-rate, --fanout-rate and --push-rate cannot be negative")
	case c.pushRate > 0 && (c.pushRefs <= 0 || c.pushCount <= 0 || c.pushRuns <= 0):
		return c, errors.New("--push-refs, --push-count and --push-runs must be above 0 when --push-rate is")
	case c.fanoutEndpoints < 0 || c.fanoutEndpoints == 1 || c.fanoutEndpoints > references.MaxEndpointsPerAccount:
		return c, fmt.Errorf("--fanout-endpoints must be 0 (no fan-out phase) or 2 to %d", references.MaxEndpointsPerAccount)
	case c.fanoutEndpoints > 0 && (c.fanoutRefs <= 0 || c.fanoutRounds <= 0):
		return c, errors.New("--fanout-refs and --fanout-rounds must be above 0 with --fanout-endpoints")
	case c.latencyRate > 0 && c.latencyRefs == 0:
		return c, errors.New("--latency-refs must be above 0 when --latency-rate is")
	case c.startupStore != "" && c.startupRefs > 0:
		return c, errors.New("give --startup-refs or --startup-store, not both")
	case c.db != "" && !postgres.IsURL(c.db):
		return c, errors.New("--db takes a postgres:// URL; bbolt stores go in --dir")
	case c.db != "" && c.startupStore != "":
		return c, errors.New("--startup-store is a bbolt file: not with --db")
	case c.dbReset && c.db == "":
		return c, errors.New("--db-reset goes with --db")
	case c.receivers < 0 || c.voyageRefs < 0:
		return c, errors.New("--receivers and --voyage-refs cannot be negative")
	case c.receivers > 0 && (c.spreadRefs < c.receivers || c.spreadRounds <= 0):
		return c, errors.New("--spread-refs must be at least --receivers, and --spread-rounds above 0, when --receivers is above 0")
	case c.traceWindow < 0:
		return c, errors.New("--trace-window cannot be negative")
	case c.traceWindow > 0 && c.profileDir == "":
		return c, errors.New("--trace-window goes with --profile-dir, where the traces are written")
	case c.voyageRefs > 0 && c.voyageRetention <= 0:
		return c, errors.New("--voyage-retention must be above 0")
	case c.instances < 1 || c.accounts < 1:
		return c, errors.New("--instances and --accounts must be 1 or more")
	case c.instances > 1 && c.db == "":
		return c, errors.New("--instances above 1 needs --db: a bbolt file is one process's")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trackhook-bench:", err)
		os.Exit(1)
	}
}

// run parses args, runs the phases and writes the result to stdout, the progress
// line to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "trackhook-bench-"); err != nil {
			return err
		}
		if !cfg.keep {
			defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o700); err != nil {
			return err
		}
	}
	var st storage = bboltStorage{dir: dir}
	if cfg.db != "" {
		pg, err := openPGStorage(ctx, cfg.db, cfg.dbReset, cfg.keep, stderr)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, pg.close()) }()
		st = pg
	}

	rcv, err := startReceiver(time.Now, 0)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	defer func() { err = errors.Join(err, rcv.close(context.WithoutCancel(ctx))) }()

	prog := startProgress(stderr, cfg.progressEvery, isTerminal(stderr))
	res := result{Machine: thisMachine(), Config: cfg.summary()}
	res.Config.Store = st.describe()
	var stopGC func()
	res.Config.GC, stopGC = sizeCollector(ctx)
	defer stopGC()
	err = runPhases(ctx, cfg, st, rcv, prog, &res)
	prog.close()
	if err != nil {
		return err
	}
	res.gather()
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.writeText(stdout)
}

// runPhases runs the phases the configuration asks for, filling res.
func runPhases(ctx context.Context, cfg config, st storage, rcv *receiver, prog *progress, res *result) error {
	if cfg.refs > 0 {
		if err := mainRun(ctx, cfg, st, rcv, prog, res); err != nil {
			return err
		}
	}
	if cfg.receivers > 0 {
		spread, err := runSpread(ctx, cfg, st, prog)
		if err != nil {
			return fmt.Errorf("deliveries to %d receivers: %w", cfg.receivers, err)
		}
		res.Spread = &spread
	}
	if cfg.latencyRate > 0 {
		lat, err := runLatency(ctx, cfg, st, rcv, prog)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		res.Latency = &lat
	}
	if cfg.fanoutEndpoints > 0 {
		fan, err := runFanout(ctx, cfg, st, prog)
		if err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
		res.Fanout = &fan
	}
	if cfg.pushRate > 0 {
		push, err := runPush(ctx, cfg, st, prog)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		res.Push = &push
	}
	if cfg.voyageRefs > 0 && cfg.db == "" {
		voy, err := runVoyage(ctx, cfg, st, prog)
		if err != nil {
			return fmt.Errorf("voyage: %w", err)
		}
		res.Voyage = &voy
	}
	if cfg.startupRefs > 0 || cfg.startupStore != "" {
		su, err := runStartup(ctx, cfg, st, prog)
		if err != nil {
			return fmt.Errorf("start-up: %w", err)
		}
		res.Startup = &su
	}
	if cfg.crash.store != "" {
		crash, err := runCrash(ctx, cfg.crash, prog)
		if err != nil {
			return fmt.Errorf("crash: %w", err)
		}
		res.Crash = &crash
	}
	return nil
}
