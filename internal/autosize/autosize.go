// Package autosize chooses the defaults that depend on the machine trackhook runs on:
// how many polls and webhook deliveries run at once, and how the Go garbage collector
// trades memory for CPU time. Each choice is a plain function of a Machine, so the
// rules can be read and tested without the machine; Read gathers the facts of the
// real one, Apply sets the collector and Tune keeps GOGC fitted to the live heap.
package autosize

import "runtime/debug"

// Machine is what the defaults are sized from.
type Machine struct {
	// CPUs is how many goroutines run at once (runtime.GOMAXPROCS, which follows
	// the cgroup's CPU quota since Go 1.25).
	CPUs int
	// Memory is the memory this process may use, in bytes: the cgroup v2 limit
	// when there is one, else the machine's memory; 0 when unknown.
	Memory int64
}

// Poll workers: a changed poll spends most of its time waiting for the group commit
// it shares with the polls that queue meanwhile, and a poll of a real carrier waits
// tens to hundreds of milliseconds for the answer, so many more polls than CPUs run
// at once. The more wait at a commit, the more share its fsync and page writes: on 2
// CPUs, 256 workers polled changed references 18 % faster than 128 and three times as
// fast as 16; 512 no faster (BENCHMARKS.md, issue 17, round 4).
const (
	pollWorkersPerCPU = 128
	maxPollWorkers    = 1024
	// pollWorkerMemory is what one poll under way may hold at worst (the
	// carrier's answer, the snapshots before and after, the encoded update):
	// the workers are also bounded by the memory.
	pollWorkerMemory = 1 << 20
)

// PollWorkers returns the default number of polls running at once (trackhook serve
// --poll-workers): pollWorkersPerCPU per CPU, at most maxPollWorkers, and no more
// than the memory holds at pollWorkerMemory each (but never below 16, the old
// default).
func PollWorkers(m Machine) int {
	n := min(max(m.CPUs, 1)*pollWorkersPerCPU, maxPollWorkers)
	if m.Memory > 0 {
		n = min(n, max(int(m.Memory/8/pollWorkerMemory), 16))
	}
	return n
}

// Delivery workers: an attempt is mostly waiting for the receiver, and the notifier
// caps the attempts to one host and shares the workers fairly between accounts, so
// they scale with the CPUs from the old default of 32, which stays on small machines.
const (
	deliveryWorkersPerCPU = 16
	minDeliveryWorkers    = 32
	maxDeliveryWorkers    = 512
)

// DeliveryWorkers returns the default number of webhook deliveries running at once
// (trackhook serve --delivery-workers): deliveryWorkersPerCPU per CPU, between
// minDeliveryWorkers and maxDeliveryWorkers.
func DeliveryWorkers(m Machine) int {
	return min(max(m.CPUs*deliveryWorkersPerCPU, minDeliveryWorkers), maxDeliveryWorkers)
}

// GC is a setting of the garbage collector (see runtime/debug).
type GC struct {
	// Percent is GOGC: the heap may grow this many percent over the live heap
	// before the next collection.
	Percent int
	// Headroom is the least the heap may grow between collections, in bytes,
	// however small the live heap: Tune raises GOGC above Percent until the
	// growth it allows is Headroom. 0: none.
	Headroom int64
	// MemoryLimit is GOMEMLIMIT, a soft limit on the memory of the Go runtime in
	// bytes: near it the collector runs more often whatever GOGC says. 0 leaves
	// the runtime's (none).
	MemoryLimit int64
}

// The collector's cost is its number of cycles (bytes allocated / growth allowed)
// times the work of one (the live heap). Polls and deliveries allocate a few hundred
// kB per second per worker that die young, while the live heap (the poll schedule,
// caches) is a few hundred bytes per reference. At Go's GOGC of 100 and 100,000
// references the heap grows only some 40 MB between collections, and collection
// took a fifth of the CPU time of changed polls. A fixed headroom makes small heaps
// collect rarely; a large heap keeps GOGC 100, so the process's memory stays about
// twice the live heap (under 1 KiB per reference at a million) rather than growing
// with a larger GOGC.
const (
	gcPercent = 100
	// headroomPerCPU is the headroom per CPU: the allocation rate grows with the
	// CPUs that run polls and deliveries.
	headroomPerCPU = 64 << 20
	// maxTunedPercent bounds GOGC as Tune raises it, for a heap that is nearly
	// empty (at start-up).
	maxTunedPercent = 800
)

// memoryLimitShare is the part of the machine's memory the Go heap may fill before
// the collector works harder than GOGC asks (the soft limit): the rest is for the
// store's pages, which bbolt maps into the process and the kernel caches.
const memoryLimitShare = 0.5

// GCSetting returns the default setting of the collector for m: Go's GOGC, a
// headroom of headroomPerCPU per CPU (at most an eighth of the memory), and a soft
// limit of memoryLimitShare of the memory when it is known, so that in a small
// container the collector gives way before memory runs out.
func GCSetting(m Machine) GC {
	gc := GC{Percent: gcPercent, Headroom: int64(max(m.CPUs, 1)) * headroomPerCPU}
	if m.Memory > 0 {
		gc.Headroom = min(gc.Headroom, m.Memory/8)
		gc.MemoryLimit = int64(float64(m.Memory) * memoryLimitShare)
	}
	return gc
}

// PercentFor returns the GOGC that gives a live heap of live bytes the growth gc
// asks for: gc.Percent, or more when that is less than gc.Headroom (up to
// maxTunedPercent).
func PercentFor(gc GC, live int64) int {
	if gc.Headroom <= 0 {
		return gc.Percent
	}
	if live <= 0 {
		return max(gc.Percent, maxTunedPercent)
	}
	return max(gc.Percent, int(min(gc.Headroom*100/live, maxTunedPercent)))
}

// Apply sets the collector to gc and returns a function that sets back what was
// there before (for a caller that does not own the whole process, such as a test).
// A zero Percent or MemoryLimit leaves that part as it is.
func Apply(gc GC) (restore func()) {
	var restores []func()
	if gc.Percent > 0 {
		old := debug.SetGCPercent(gc.Percent)
		restores = append(restores, func() { debug.SetGCPercent(old) })
	}
	if gc.MemoryLimit > 0 {
		old := debug.SetMemoryLimit(gc.MemoryLimit)
		restores = append(restores, func() { debug.SetMemoryLimit(old) })
	}
	return func() {
		for _, r := range restores {
			r()
		}
	}
}
