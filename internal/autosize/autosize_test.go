package autosize

import (
	"context"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

const gib = 1 << 30

func TestPollWorkers(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want int
	}{
		{"one CPU", Machine{CPUs: 1, Memory: 8 * gib}, 128},
		{"two CPUs", Machine{CPUs: 2, Memory: 24 * gib}, 256},
		{"memory unknown", Machine{CPUs: 2}, 256},
		{"four CPUs", Machine{CPUs: 4, Memory: 32 * gib}, 512},
		{"eight CPUs stop at the most", Machine{CPUs: 8, Memory: 32 * gib}, 1024},
		{"many CPUs stop at the most", Machine{CPUs: 64, Memory: 256 * gib}, 1024},
		{"a small container holds fewer", Machine{CPUs: 4, Memory: 512 << 20}, 64},
		{"a tiny container keeps the old default", Machine{CPUs: 2, Memory: 64 << 20}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PollWorkers(tt.m); got != tt.want {
				t.Errorf("PollWorkers(%+v) = %d, want %d", tt.m, got, tt.want)
			}
		})
	}
}

func TestDeliveryWorkers(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want int
	}{
		{"small machines keep the old default", Machine{CPUs: 2}, 32},
		{"eight CPUs", Machine{CPUs: 8}, 128},
		{"many CPUs stop at the most", Machine{CPUs: 128}, 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DeliveryWorkers(tt.m); got != tt.want {
				t.Errorf("DeliveryWorkers(%+v) = %d, want %d", tt.m, got, tt.want)
			}
		})
	}
}

func TestGCSetting(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want GC
	}{
		{"64 MiB headroom per CPU, half the memory the soft limit", Machine{CPUs: 2, Memory: 24 * gib}, GC{Percent: 100, Headroom: 128 << 20, MemoryLimit: 12 * gib}},
		{"a container's limit bounds both", Machine{CPUs: 4, Memory: 512 << 20}, GC{Percent: 100, Headroom: 64 << 20, MemoryLimit: 256 << 20}},
		{"no limit when the memory is unknown", Machine{CPUs: 2}, GC{Percent: 100, Headroom: 128 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GCSetting(tt.m); got != tt.want {
				t.Errorf("GCSetting(%+v) = %+v, want %+v", tt.m, got, tt.want)
			}
		})
	}
}

// files is a fake file system for memory: name -> content.
type files map[string]string

func (f files) read(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, &fsError{name}
}

type fsError struct{ name string }

func (e *fsError) Error() string { return e.name + ": no such file" }

func TestMemory(t *testing.T) {
	const meminfo = "MemTotal:       24683620 kB\nMemFree:         1000000 kB\n"
	tests := []struct {
		name  string
		files files
		want  int64
	}{
		{"machine memory", files{procMeminfo: meminfo}, 24683620 << 10},
		{"cgroup v2 limit of the container", files{procMeminfo: meminfo, procCgroup: "0::/\n", cgroupRoot + "/memory.max": "536870912\n"}, 512 << 20},
		{"cgroup v2 limit of the process's own cgroup", files{
			procMeminfo: meminfo, procCgroup: "0::/system.slice/trackhook.service\n",
			cgroupRoot + "/memory.max":                                "max\n",
			cgroupRoot + "/system.slice/trackhook.service/memory.max": "1073741824\n",
		}, gib},
		{"cgroup v2 without a limit", files{procMeminfo: meminfo, cgroupRoot + "/memory.max": "max\n"}, 24683620 << 10},
		{"cgroup v1 limit", files{procMeminfo: meminfo, cgroupV1Max: "2147483648\n"}, 2 * gib},
		{"cgroup v1 without a limit", files{procMeminfo: meminfo, cgroupV1Max: "9223372036854771712\n"}, 24683620 << 10},
		{"a limit above the machine's memory", files{procMeminfo: meminfo, cgroupRoot + "/memory.max": "107374182400\n"}, 24683620 << 10},
		{"nothing readable", files{}, 0},
		{"damaged files", files{procMeminfo: "MemTotal: lots\n", cgroupRoot + "/memory.max": "-1\n"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memory(tt.files.read); got != tt.want {
				t.Errorf("memory = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestApply_SetsAndRestores runs alone (not parallel): the collector's setting is
// the process's.
func TestApply_SetsAndRestores(t *testing.T) {
	percent, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(percent)
	restore := Apply(GC{Percent: percent + 123, MemoryLimit: 3 * gib})
	gotPercent, gotLimit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gotPercent)
	restore()
	if gotPercent != percent+123 || gotLimit != 3*gib {
		t.Errorf("after Apply: GOGC %d, limit %d; want %d, %d", gotPercent, gotLimit, percent+123, 3*gib)
	}
	if p, l := debug.SetGCPercent(percent), debug.SetMemoryLimit(-1); p != percent || l != limit {
		t.Errorf("after restore: GOGC %d, limit %d; want %d, %d", p, l, percent, limit)
	}
}

func TestPercentFor(t *testing.T) {
	gc := GC{Percent: 100, Headroom: 128 << 20}
	tests := []struct {
		name string
		gc   GC
		live int64
		want int
	}{
		{"a small heap grows by the headroom", gc, 32 << 20, 400},
		{"a large heap grows by GOGC", gc, 512 << 20, 100},
		{"at the headroom GOGC stays", gc, 128 << 20, 100},
		{"a nearly empty heap stops at the most", gc, 1 << 10, 800},
		{"nothing measured yet", gc, 0, 800},
		{"no headroom", GC{Percent: 150}, 1 << 20, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PercentFor(tt.gc, tt.live); got != tt.want {
				t.Errorf("PercentFor(%+v, %d) = %d, want %d", tt.gc, tt.live, got, tt.want)
			}
		})
	}
}

func TestTune_SetsGOGCForTheLiveHeapAndLeavesItAsFound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one round: tune reads, sets, sees ctx done and sets back
	var calls []int
	set := func(p int) int { calls = append(calls, p); return 100 }
	read := func() (int64, bool) { return 32 << 20, true }
	tune(ctx, GC{Percent: 100, Headroom: 128 << 20}, time.Hour, read, set)
	if want := []int{400, 100}; !slices.Equal(calls, want) {
		t.Errorf("GOGC set to %v, want %v", calls, want)
	}

	calls = nil
	tune(ctx, GC{Percent: 100}, time.Hour, read, set)
	if len(calls) != 0 {
		t.Errorf("without headroom GOGC set to %v, want untouched", calls)
	}
}
