package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// endpointCache keeps endpoints decoded, with the stored bytes each was decoded from,
// as accountCache does for accounts: every update appended reads its account's
// endpoints to fan it out, and decoding their JSON was a fifth of the fan-out's CPU
// time with 10 endpoints (BenchmarkRecordPoll). An entry is used only while the
// stored bytes are the same, so a change is seen at once, with nothing to invalidate.
type endpointCache struct {
	mu      sync.Mutex
	entries map[string]cachedEndpoint
}

type cachedEndpoint struct {
	raw []byte // a copy: bbolt's bytes live only as long as their transaction
	ep  references.Endpoint
}

// get returns the endpoint stored as data, decoding it only when it changed. The
// endpoint's slices and maps are shared with the cache: callers do not change them.
func (c *endpointCache) get(id string, data []byte) (references.Endpoint, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, data) {
		return e.ep, nil
	}
	var r endpointRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return references.Endpoint{}, fmt.Errorf("decode endpoint %s: %w", id, err)
	}
	ep := r.endpoint()
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]cachedEndpoint{}
	}
	c.entries[id] = cachedEndpoint{raw: bytes.Clone(data), ep: ep}
	c.mu.Unlock()
	return ep, nil
}

// forget drops an endpoint that was deleted.
func (c *endpointCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// accountEndpoints is the package's accountEndpoints through the cache: the account's
// endpoints in creation order, for the fan-out of an update or event.
func (db *DB) accountEndpoints(tx *bolt.Tx, accountID string) ([]references.Endpoint, error) {
	var out []references.Endpoint
	prefix := str(accountID)
	records := tx.Bucket(bucketEndpoints)
	c := tx.Bucket(bucketEndpointsByAcct).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := k[len(prefix)+8:]
		data := records.Get(id)
		if data == nil {
			return nil, fmt.Errorf("endpoint %s is indexed for account %s and missing", id, accountID)
		}
		ep, err := db.endpoints.get(string(id), data)
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, nil
}
