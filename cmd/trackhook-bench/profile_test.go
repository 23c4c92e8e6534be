package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProfile_WritesACPUProfileAndATraceOfTheWindow(t *testing.T) {
	dir := t.TempDir()
	c := config{profileDir: dir, traceWindow: 20 * time.Millisecond}
	stop, err := c.profile("phase")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // past the window: the trace ends on its own
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "cpu-phase.pprof")); err != nil || fi.Size() == 0 {
		t.Errorf("CPU profile: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "trace-phase.out"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("go 1.")) || !bytes.Contains(data[:min(len(data), 16)], []byte(" trace")) {
		t.Errorf("trace-phase.out does not start as an execution trace: %q", data[:min(len(data), 16)])
	}
}

func TestProfile_APhaseOverBeforeTheWindowLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	c := config{profileDir: dir, traceWindow: time.Second, traceSkip: time.Hour}
	stop, err := c.profile("short")
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "trace-short.out")); !os.IsNotExist(err) {
		t.Errorf("a trace was written for a phase that ended before its window: %v", err)
	}
	// A second phase can trace: the first one's trace is stopped.
	c.traceSkip = 0
	stop, err = c.profile("next")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "trace-next.out")); err != nil {
		t.Errorf("the next phase's trace: %v", err)
	}
}

func TestProfile_NoDirectoryDoesNothing(t *testing.T) {
	stop, err := config{}.profile("phase")
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
