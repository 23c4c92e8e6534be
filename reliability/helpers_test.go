package reliability_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Flags of this package: go test ./reliability/ -soak -seed 42.
var (
	soak     = flag.Bool("soak", false, "run the longer soak variants (more kills, more references, longer chaos)")
	seedFlag = flag.Uint64("seed", 0, "seed of the random choices (kill moments, delays); 0 picks one and logs it")
)

// newRand returns the test's random source, seeded with -seed or a fresh seed, which it
// logs so that a failing run can be replayed.
func newRand(t *testing.T) *lockedRand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random seed %d (replay with -seed %d)", seed, seed)
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
}

// lockedRand is a seeded random source safe for the goroutines of a test.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// duration returns a uniform duration in [lo, hi].
func (l *lockedRand) duration(lo, hi time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)+1))
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// syncBuffer collects output written from several goroutines or a child process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// containerID returns a valid ISO 6346 container number: owner (3 letters + U) and a
// six-digit serial, with its check digit.
func containerID(owner string, serial int) string {
	first10 := fmt.Sprintf("%s%06d", owner, serial%1_000_000)
	return fmt.Sprintf("%s%d", first10, references.ContainerCheckDigit(first10))
}

// eventually polls cond every 20 ms until it holds or timeout passes; then it fails the
// test with cond's last explanation. It waits for a state, never for a fixed time.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %s", what, timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of ds, by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// leakCheck notes how many goroutines and open file descriptors the process has, and
// registers a cleanup that, once the test and every cleanup registered after this call
// are done, waits up to 10 s for both counts to come back to at most that and fails
// the test otherwise, with the goroutines that are left. Call it first in a test that
// runs alone (not t.Parallel), so that no other test's goroutines are counted.
func leakCheck(t *testing.T) {
	t.Helper()
	goroutinesBefore, fdsBefore := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			g, fds := runtime.NumGoroutine(), countFDs(t)
			if g <= goroutinesBefore && fds <= fdsBefore {
				t.Logf("leak check: goroutines %d before, %d after; file descriptors %d before, %d after", goroutinesBefore, g, fdsBefore, fds)
				return
			}
			if time.Now().After(deadline) {
				var dump bytes.Buffer
				_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
				t.Errorf("leak: goroutines %d before, %d after; file descriptors %d before, %d after (%s)\n%s",
					goroutinesBefore, g, fdsBefore, fds, strings.Join(openFDs(t), ", "), dump.String())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// countFDs returns how many file descriptors the process has open (Linux /proc).
func countFDs(t *testing.T) int {
	return len(openFDs(t))
}

// openFDs lists what the process's file descriptors point at.
func openFDs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the descriptor ReadDir itself used, closed by now
		}
		out = append(out, e.Name()+"->"+target)
	}
	return out
}
