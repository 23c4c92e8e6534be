//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes the exclusive lock bbolt takes on its file (flock), without waiting:
// when another process has the file, bbolt's Open waits and reports it.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		return errFreelistLocked
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// unlockFile releases lockFile's lock; closing the file would too.
func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
