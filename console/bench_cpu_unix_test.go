//go:build unix

package console

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used (user and system), which a
// benchmark on a shared machine reports beside the wall time: other processes on the
// same cores stretch the latter, not the former.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
