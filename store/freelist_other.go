//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "os"

// lockFile is not implemented here: bbolt rebuilds the free list itself.
func lockFile(*os.File) error { return errFreelistUnsupported }

func unlockFile(*os.File) {}
