package main

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used so far, user and system, or 0 where
// the system does not say. On a machine shared with other work, CPU time per
// operation is steadier than operations per second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPer returns the CPU time used since start per one of n operations, in
// microseconds.
func cpuPer(start time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpuTime()-start) / float64(n) / float64(time.Microsecond)
}

// cpuMark is where the CPU clocks stood when a measurement started: the process's
// and, with PostgreSQL on this machine, the server's.
type cpuMark struct {
	st       storage
	proc     time.Duration
	server   serverTimes
	serverOK bool
}

// markCPU reads the CPU clocks at the start of a measurement.
func markCPU(st storage) cpuMark {
	m := cpuMark{st: st}
	m.server, m.serverOK = st.serverCPU()
	m.proc = cpuTime() // last: reading the server's costs the process a query
	return m
}

// fill sets r's CPU time per operation from the mark to now.
func (m cpuMark) fill(r *rate) {
	r.CPUMicro = cpuPer(m.proc, r.Count)
	if !m.serverOK || r.Count <= 0 {
		return
	}
	now, ok := m.st.serverCPU()
	if !ok {
		return
	}
	per := func(d time.Duration) *float64 {
		v := float64(d) / float64(r.Count) / float64(time.Microsecond)
		return &v
	}
	r.ServerCPUMicro = per(now.DB - m.server.DB)
	r.ServerBackgroundCPUMicro = per(now.Background - m.server.Background)
}

// totalCPUMicro is the CPU time per operation of the process and the server.
func (r rate) totalCPUMicro() float64 {
	c := r.CPUMicro
	for _, s := range []*float64{r.ServerCPUMicro, r.ServerBackgroundCPUMicro} {
		if s != nil {
			c += *s
		}
	}
	return c
}
