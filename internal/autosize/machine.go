package autosize

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Read returns the facts of the machine this process runs on: runtime.GOMAXPROCS, and
// the least of the cgroup's memory limit (v2 memory.max of the process's cgroup, or
// v1 memory.limit_in_bytes) and the machine's memory (/proc/meminfo). Memory is 0
// where none of them can be read (not Linux).
func Read() Machine {
	return Machine{CPUs: runtime.GOMAXPROCS(0), Memory: memory(os.ReadFile)}
}

// Where Linux tells the memory a process may use.
const (
	procCgroup  = "/proc/self/cgroup"
	cgroupRoot  = "/sys/fs/cgroup"
	cgroupV1Max = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	procMeminfo = "/proc/meminfo"
)

// memory returns the least of the limits that read finds (see Read), 0 for none.
func memory(read func(name string) ([]byte, error)) int64 {
	var limits []int64
	if data, err := read(procMeminfo); err == nil {
		if n, ok := parseMemTotal(data); ok {
			limits = append(limits, n)
		}
	}
	for _, name := range cgroupFiles(read) {
		if data, err := read(name); err == nil {
			if n, ok := parseLimit(data); ok {
				limits = append(limits, n)
			}
		}
	}
	if len(limits) == 0 {
		return 0
	}
	return slices.Min(limits)
}

// cgroupFiles returns the files that may hold this process's memory limit: the v2
// memory.max of its own cgroup (from /proc/self/cgroup's "0::" line) and of the
// root (what a container sees as its own), and the v1 limit.
func cgroupFiles(read func(name string) ([]byte, error)) []string {
	files := []string{cgroupRoot + "/memory.max", cgroupV1Max}
	data, err := read(procCgroup)
	if err != nil {
		return files
	}
	for line := range strings.Lines(string(data)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok && path != "/" && !strings.Contains(path, "..") {
			files = append(files, cgroupRoot+path+"/memory.max")
		}
	}
	return files
}

// parseLimit reads a cgroup memory limit: a number of bytes, or "max" (none). v1
// writes a page-rounded near-maximal number for none: anything from 2^60 up counts as
// none too.
func parseLimit(data []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0, false
	}
	return n, true
}

// parseMemTotal reads the MemTotal line of /proc/meminfo ("MemTotal: 24683620 kB").
func parseMemTotal(data []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[0] != "MemTotal:" || fields[2] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || n <= 0 || n > 1<<50 {
			return 0, false
		}
		return n << 10, true
	}
	return 0, false
}
