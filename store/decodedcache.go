package store

import (
	"bytes"
	"sync"
)

// decodedCache keeps records decoded, with the stored bytes each was decoded from.
// Reading a record's bytes from the file is cheap, decoding its JSON is not, and some
// records are read for every delivery or update: an account for its live signing
// secrets, an account's endpoints for the fan-out of each update (decoding them was a
// fifth of the fan-out's CPU time with 10 endpoints, BenchmarkRecordPoll). An entry is
// used only while the stored bytes are the same, so a change (a rotated secret, a
// patched endpoint) is seen at once, with nothing to invalidate.
type decodedCache[T any] struct {
	decode  func(data []byte) (T, error)
	mu      sync.Mutex
	entries map[string]decoded[T]
}

type decoded[T any] struct {
	raw   []byte // a copy: bbolt's bytes live only as long as their transaction
	value T
}

func newDecodedCache[T any](decode func(data []byte) (T, error)) *decodedCache[T] {
	return &decodedCache[T]{decode: decode, entries: map[string]decoded[T]{}}
}

// get returns the record stored as data under id, decoding it only when it changed.
// The value's slices and maps are shared with the cache: callers do not change them.
func (c *decodedCache[T]) get(id string, data []byte) (T, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, data) {
		return e.value, nil
	}
	v, err := c.decode(data)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	c.entries[id] = decoded[T]{raw: bytes.Clone(data), value: v}
	c.mu.Unlock()
	return v, nil
}

// forget drops the entry of a deleted record.
func (c *decodedCache[T]) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
