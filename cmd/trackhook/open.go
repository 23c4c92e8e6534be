package main

import (
	"errors"
	"fmt"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/trackhook/trackhook/store"
)

// errStoreInUse is why a store file did not open when its lock stayed held.
var errStoreInUse = errors.New("in use by another trackhook process (most likely a running trackhook serve)")

// openStore opens the store file at path. One process at a time may open a bbolt
// file, so a lock still held after opts.Timeout means that another trackhook process
// has it: the error then wraps errStoreInUse and says so, where bbolt only says
// "timeout".
func openStore(path string, opts store.Options) (*store.DB, error) {
	db, err := store.Open(path, opts)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is %w", path, errStoreInUse)
	}
	return db, err
}
