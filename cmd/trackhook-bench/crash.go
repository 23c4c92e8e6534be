package main

// The crash phase: restart time after a SIGKILL, on a large store, in a child process
// running `trackhook serve` as in production (the demo carrier, polling flat out).
// A store left by a crash has no free page list written (the store runs bbolt with
// NoFreelistSync), so this times what store.Open does about that, end to end: from
// starting the process again to its first polls being recorded.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec" // the package has a test helper named exec
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// crashConfig is what the crash phase's flags choose.
type crashConfig struct {
	store      string
	binary     string
	runs       int
	killAfter  time.Duration
	timeout    time.Duration
	dropCaches bool
}

// flags registers the crash phase's flags on fs.
func (c *crashConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.store, "crash-store", "", "crash phase: SIGKILL a child `trackhook serve` on this bbolt store (e.g. main.db of a run with --keep, which it changes: it polls) while it polls, start it again and time the restart; --crash-runs times, the median reported")
	fs.StringVar(&c.binary, "trackhook-binary", "", "the trackhook binary the crash phase runs (default: trackhook next to this executable, else on PATH; build it with go build -o DIR/trackhook ./cmd/trackhook)")
	fs.IntVar(&c.runs, "crash-runs", 3, "restarts after a SIGKILL that the crash phase times")
	fs.DurationVar(&c.killAfter, "crash-kill-after", 3*time.Second, "how long the child polls before each SIGKILL")
	fs.DurationVar(&c.timeout, "crash-timeout", 5*time.Minute, "how long a restart may take before the phase fails")
	fs.BoolVar(&c.dropCaches, "crash-drop-caches", false, "empty the kernel's page cache before each restart (writes /proc/sys/vm/drop_caches: root only), to time a restart whose file is not in memory; a SIGKILL alone leaves it there")
}

// crashFigures are the crash phase's figures: medians of the runs, and each run.
type crashFigures struct {
	Store          string      `json:"store"`
	FileBytes      int64       `json:"file_bytes"`
	ColdCache      bool        `json:"cold_cache"`
	RestartSeconds float64     `json:"restart_seconds"` // start to the first poll recorded, median
	ReadySeconds   float64     `json:"ready_seconds"`   // start to /readyz answering 200, median
	RepairSeconds  float64     `json:"repair_seconds"`  // the free list's repair in store.Open, median (0: none logged)
	Runs           []crashTime `json:"runs"`
}

// crashTime is one restart after a SIGKILL.
type crashTime struct {
	RestartSeconds float64 `json:"restart_seconds"`
	ReadySeconds   float64 `json:"ready_seconds"`
	RepairSeconds  float64 `json:"repair_seconds"`
	FreePages      int64   `json:"free_pages"`
	Repaired       bool    `json:"repaired"` // store.Open logged the repair (else bbolt rebuilt the list itself)
}

// runCrash runs the crash phase.
func runCrash(ctx context.Context, cfg crashConfig, prog *progress) (crashFigures, error) {
	if cfg.runs < 1 || cfg.killAfter <= 0 || cfg.timeout <= 0 {
		return crashFigures{}, errors.New("--crash-runs, --crash-kill-after and --crash-timeout must be above 0")
	}
	bin, err := trackhookBinary(cfg.binary)
	if err != nil {
		return crashFigures{}, err
	}
	info, err := os.Stat(cfg.store)
	if err != nil {
		return crashFigures{}, err
	}
	fig := crashFigures{Store: cfg.store, FileBytes: info.Size(), ColdCache: cfg.dropCaches}
	// The first start is on the store as it is; each run kills the child polling on
	// it and times the start after.
	child, err := startServe(ctx, bin, cfg.store)
	if err != nil {
		return fig, err
	}
	defer func() { child.stop() }()
	if _, err := child.waitFirstPoll(ctx, cfg.timeout); err != nil {
		return fig, fmt.Errorf("first start: %w", err)
	}
	for i := range cfg.runs {
		prog.begin(fmt.Sprintf("crash: run %d of %d, polling before the SIGKILL", i+1, cfg.runs))
		select {
		case <-ctx.Done():
			return fig, ctx.Err()
		case <-time.After(cfg.killAfter):
		}
		if err := child.kill(); err != nil {
			return fig, err
		}
		if cfg.dropCaches {
			if err := dropCaches(); err != nil {
				return fig, err
			}
		}
		prog.begin(fmt.Sprintf("crash: run %d of %d, restart", i+1, cfg.runs))
		if child, err = startServe(ctx, bin, cfg.store); err != nil {
			return fig, err
		}
		run, err := child.waitFirstPoll(ctx, cfg.timeout)
		if err != nil {
			return fig, fmt.Errorf("restart %d: %w", i+1, err)
		}
		fig.Runs = append(fig.Runs, run)
	}
	// The store is left closed cleanly, its free list written.
	if err := child.stop(); err != nil {
		return fig, err
	}
	fig.RestartSeconds = medianOf(fig.Runs, func(r crashTime) float64 { return r.RestartSeconds })
	fig.ReadySeconds = medianOf(fig.Runs, func(r crashTime) float64 { return r.ReadySeconds })
	fig.RepairSeconds = medianOf(fig.Runs, func(r crashTime) float64 { return r.RepairSeconds })
	return fig, nil
}

func medianOf(runs []crashTime, f func(crashTime) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// trackhookBinary finds the trackhook binary: the flag's, else next to this
// executable, else on PATH.
func trackhookBinary(flagged string) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	if self, err := os.Executable(); err == nil {
		next := filepath.Join(filepath.Dir(self), "trackhook")
		if _, err := os.Stat(next); err == nil {
			return next, nil
		}
	}
	bin, err := osexec.LookPath("trackhook")
	if err != nil {
		return "", errors.New("crash phase: no trackhook binary next to this one nor on PATH: build one (go build -o DIR/trackhook ./cmd/trackhook) and give --trackhook-binary DIR/trackhook")
	}
	return bin, nil
}

// dropCaches writes the dirty pages out and empties the page cache.
func dropCaches() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("--crash-drop-caches: %w", err)
	}
	return nil
}

// serveChild is a running `trackhook serve`.
type serveChild struct {
	cmd     *osexec.Cmd
	started time.Time
	api     string // base URLs
	metrics string
	logs    chan map[string]any // its JSON log lines
	dead    chan struct{}       // closed once it has exited
	waitErr error               // how it exited, once dead is closed
}

// startServe starts `trackhook serve` on store with the demo carrier, its API and
// metrics on free loopback ports, logging JSON to a pipe.
func startServe(ctx context.Context, bin, store string) (*serveChild, error) {
	apiAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := osexec.CommandContext(ctx, bin, "serve", "--db", store, "--addr", apiAddr, "--metrics-addr", metricsAddr,
		"--log-format", "json", "--delivery-workers", "1")
	cmd.Env = append(os.Environ(), "TRACKHOOK_API_KEY=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &serveChild{cmd: cmd, api: "http://" + apiAddr, metrics: "http://" + metricsAddr,
		logs: make(chan map[string]any, 64), dead: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				select {
				case c.logs <- line:
				default: // nobody reads after the first poll: drop
				}
			}
		}
		c.waitErr = cmd.Wait()
		close(c.dead)
	}()
	return c, nil
}

// freePort returns a loopback address with a port free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitFirstPoll waits until the child answers /readyz and then until its metrics
// count a poll, reading its log meanwhile for the free list's repair.
func (c *serveChild) waitFirstPoll(ctx context.Context, timeout time.Duration) (crashTime, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var run crashTime
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return run, fmt.Errorf("trackhook serve did not poll within %v: %w", timeout, ctx.Err())
		case <-c.dead:
			return run, fmt.Errorf("trackhook serve exited: %v", c.waitErr)
		case line := <-c.logs:
			if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "rebuilt the free page list") {
				run.Repaired = true
				if ns, ok := line["took"].(float64); ok { // slog's JSON writes durations in ns
					run.RepairSeconds = ns / 1e9
				}
				if n, ok := line["free_pages"].(float64); ok {
					run.FreePages = int64(n)
				}
			}
		case <-tick.C:
			if run.ReadySeconds == 0 {
				if get(ctx, client, c.api+"/readyz") == nil {
					run.ReadySeconds = time.Since(c.started).Seconds()
				}
				continue
			}
			if n, err := pollsRecorded(ctx, client, c.metrics+"/metrics"); err == nil && n > 0 {
				run.RestartSeconds = time.Since(c.started).Seconds()
				return run, nil
			}
		}
	}
}

// get fetches url and fails unless it answers 200.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// pollsRecorded sums trackhook_polls_total in the child's metrics.
func pollsRecorded(ctx context.Context, client *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "trackhook_polls_total{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *serveChild) kill() error {
	if err := c.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("SIGKILL trackhook serve: %w", err)
	}
	<-c.dead
	return nil
}

// stop asks the child to shut down (SIGTERM: it closes the store cleanly) and waits;
// a second call does nothing.
func (c *serveChild) stop() error {
	select {
	case <-c.dead:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop trackhook serve: %w", err)
	}
	select {
	case <-c.dead:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-c.dead
		return errors.New("trackhook serve did not stop within a minute of SIGTERM")
	}
	return nil
}

// writeText writes the crash figures with line.
func (f *crashFigures) writeText(line func(name, format string, args ...any)) {
	cache := "in the page cache, as a SIGKILL leaves it"
	if f.ColdCache {
		cache = "page cache emptied before each start"
	}
	line("crash: store", "%s, %s (%s)", f.Store, bytesOf(f.FileBytes), cache)
	line("crash: restart", "%.2fs to the first poll recorded, ready %.2fs, free list repair %.2fs (medians of %d restarts after SIGKILL)",
		f.RestartSeconds, f.ReadySeconds, f.RepairSeconds, len(f.Runs))
}
