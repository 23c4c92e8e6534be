package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

// traceSkip is how far into a phase its execution trace starts: past the ramp-up of
// the phase's first second, where workers start and caches fill.
const traceSkip = time.Second

// profile starts a CPU profile of one measured phase, written to cpu-<name>.pprof in
// the profile directory when the returned function is called, and with a trace
// window an execution trace of that part of the phase (see traceWindow); with no
// profile directory it does nothing.
func (c config) profile(name string) (stop func() error, err error) {
	if c.profileDir == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(filepath.Join(c.profileDir, "cpu-"+name+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	stopTrace := func() error { return nil }
	if c.traceWindow > 0 {
		stopTrace = traceWindow(filepath.Join(c.profileDir, "trace-"+name+".out"), c.traceSkip, c.traceWindow)
	}
	return func() error {
		pprof.StopCPUProfile()
		return errors.Join(stopTrace(), f.Close())
	}, nil
}

// traceWindow writes an execution trace to path of the window that starts skip from
// now and lasts d, or ends sooner when the returned function is called (which waits
// for the trace to be written). A phase over before skip leaves no file. The CPU
// profile shows where the CPU went; the trace shows where the time went that was not
// CPU: go tool trace -pprof=sched (runnable, waiting for a core), sync (blocked on a
// channel or a mutex) and syscall on it.
func traceWindow(path string, skip, d time.Duration) (stop func() error) {
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() { result <- writeTrace(path, skip, d, done) }()
	return func() error {
		close(done)
		return <-result
	}
}

func writeTrace(path string, skip, d time.Duration, done <-chan struct{}) error {
	wait := time.NewTimer(skip)
	defer wait.Stop()
	select {
	case <-done:
		return nil
	case <-wait.C:
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return fmt.Errorf("trace %s: %w", path, err)
	}
	wait.Reset(d)
	select {
	case <-done:
	case <-wait.C:
	}
	trace.Stop()
	return f.Close()
}
