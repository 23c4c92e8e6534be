package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const sep = 0

// u64 encodes v as 8 big-endian bytes, so byte order equals numeric order.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// bytesU64 decodes 8 big-endian bytes written by u64.
func bytesU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// timeKey encodes t as 8 big-endian bytes of Unix nanoseconds (times before 1970
// are clamped to 0: none are stored).
func timeKey(t time.Time) []byte {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return u64(uint64(n))
}

// keyTime decodes the first 8 bytes of k written by timeKey.
func keyTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC()
}

// join concatenates key parts as written; callers put sep where a part is variable.
func join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// str returns s's bytes followed by the separator, for a variable-length key part.
func str(s string) []byte { return append([]byte(s), sep) }

func dueKey(at time.Time, refID string) []byte { return join(timeKey(at), []byte(refID)) }

// outboxKey is the outbox's key of a delivery stream due at at: a destination
// (references.DestinationCallback or an endpoint id) and its stream (a reference id,
// or references.AccountStream).
func outboxKey(at time.Time, destination, stream string) []byte {
	return join(timeKey(at), str(destination), []byte(stream))
}

// parseOutboxKey splits a key written by outboxKey; ok is false for any other key.
func parseOutboxKey(k []byte) (destination, stream string, ok bool) {
	if len(k) < 8 {
		return "", "", false
	}
	i := bytes.IndexByte(k[8:], sep)
	if i < 0 {
		return "", "", false
	}
	return string(k[8 : 8+i]), string(k[8+i+1:]), true
}

func updateKey(refID string, seq uint64) []byte { return join(str(refID), u64(seq)) }

func identKey(accountID, kind, value, carrier string) []byte {
	return join(str(accountID), str(kind), str(value), []byte(carrier))
}

func acctRefKey(accountID string, created time.Time, refID string) []byte {
	return join(str(accountID), timeKey(created), []byte(refID))
}

// getJSON decodes the value at key into v; found is false when there is none.
func getJSON(b *bolt.Bucket, key []byte, v any) (found bool, err error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return b.Put(key, data)
}

func unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
