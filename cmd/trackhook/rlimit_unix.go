//go:build unix

package main

import "syscall"

// openFileLimit returns the process's limit on open file descriptors (the soft limit,
// which the Go runtime raised to the hard one at start), or 0 when it is unknown. An
// unlimited limit comes back as a huge number, which lowers nothing.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
