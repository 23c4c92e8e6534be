package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// machine describes where the figures were measured.
type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

func thisMachine() machine {
	return machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memory is the process's resident memory, split as Linux reports it: anonymous
// (the Go heap and stacks) and file-backed (mostly bbolt's memory-mapped file, pages
// the kernel can drop and read again), and the Go heap in use.
type memory struct {
	RSSBytes       int64 `json:"rss_bytes"`
	RSSAnonBytes   int64 `json:"rss_anon_bytes"`
	RSSFileBytes   int64 `json:"rss_file_bytes"`
	HeapInuseBytes int64 `json:"heap_inuse_bytes"`
}

// measureMemory collects garbage, returns freed memory to the OS and reads
// /proc/self/status (zero on systems without it).
func measureMemory() memory {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{HeapInuseBytes: int64(ms.HeapInuse)}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSSBytes = kb << 10
		case "RssAnon":
			m.RSSAnonBytes = kb << 10
		case "RssFile":
			m.RSSFileBytes = kb << 10
		}
	}
	return m
}

// minus returns m - o, field by field.
func (m memory) minus(o memory) memory {
	return memory{
		RSSBytes: m.RSSBytes - o.RSSBytes, RSSAnonBytes: m.RSSAnonBytes - o.RSSAnonBytes,
		RSSFileBytes: m.RSSFileBytes - o.RSSFileBytes, HeapInuseBytes: m.HeapInuseBytes - o.HeapInuseBytes,
	}
}

// per returns m scaled to per references out of n.
func (m memory) per(per, n int) memory {
	if n == 0 {
		return memory{}
	}
	f := func(v int64) int64 { return v * int64(per) / int64(n) }
	return memory{RSSBytes: f(m.RSSBytes), RSSAnonBytes: f(m.RSSAnonBytes), RSSFileBytes: f(m.RSSFileBytes), HeapInuseBytes: f(m.HeapInuseBytes)}
}
