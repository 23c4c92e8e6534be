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
