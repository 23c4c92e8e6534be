package store

// Stand-ins for the hooks of endpoint delivery (endpoint_streams.go), which is built
// beside this branch: enough for the endpoints API to compile and keep its promises
// on its own. endpoint_streams.go replaces this file.

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// endpointEnabled is called when a patch re-enables ep, before it is written. Without
// delivery streams there is nothing to make due.
func (db *DB) endpointEnabled(tx *bolt.Tx, ep *references.Endpoint, now time.Time) error {
	return nil
}

// endpointDeleted deletes the delivery state of a deleted endpoint: its streams, its
// pending messages' entries and its requested resends.
func (db *DB) endpointDeleted(tx *bolt.Tx, endpointID string) error {
	prefix := str(endpointID)
	for _, name := range [][]byte{bucketEndpointPending, bucketEndpointStreams, bucketEndpointResend} {
		c := tx.Bucket(name).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}
