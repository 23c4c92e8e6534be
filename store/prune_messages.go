package store

// Retention of endpoint messages: "retention wins", on enabled and disabled endpoints
// alike. A message still to be sent when its time is up is dropped, and its log says
// so; a finished one goes once its log is old too.

import (
	"bytes"
	"time"

	"github.com/trackhook/trackhook/references"
)

// messages expires and deletes endpoint messages created before cutoff (see
// references.PruneRequest), endpoint by endpoint, oldest first within each through
// its messages_by_time index: a pending or sending one fails as expired at now and
// leaves its stream; a finished one whose last attempt was before cutoff as well is
// deleted. (An expired one thus stays, showing why it was never sent, for a
// retention period after it expired.)
func (p *pruning) messages(cutoff, now time.Time) error {
	var ids []string
	c := p.tx.Bucket(bucketEndpoints).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	end := timeKey(cutoff)
	for _, id := range ids {
		if p.left == 0 {
			return nil
		}
		ep, err := getEndpoint(p.tx, anyAccount, id)
		if err != nil {
			return err
		}
		// Read first, then write: bbolt's cursors do not survive changes to their bucket.
		var due []references.Message
		prefix := str(id)
		c := p.tx.Bucket(bucketMessagesByTime).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && int64(len(due)) < p.left; k, _ = c.Next() {
			rest := k[len(prefix):]
			if len(rest) < 8+1+8 || bytes.Compare(rest[:8], end) >= 0 {
				break
			}
			m, found, err := getMessage(p.tx, id, string(rest[8:len(rest)-9]), bytesU64(rest[len(rest)-8:]))
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			if finished(&m) {
				if last := m.LastAttempt(); last != nil && !last.At.Before(cutoff) {
					continue // its log is recent: kept
				}
			}
			due = append(due, m)
		}
		for i := range due {
			m := &due[i]
			if !finished(m) {
				if err := expireMessage(p.tx, &ep, m, now, whyRetention); err != nil {
					return err
				}
				p.took(&p.got.ExpiredMessages, 1)
				continue
			}
			if err := deleteMessage(p.tx, m); err != nil {
				return err
			}
			if err := p.tx.Bucket(bucketEndpointResend).Delete(join(str(id), []byte(m.ID))); err != nil {
				return err
			}
			p.took(&p.got.Messages, 1)
		}
	}
	return nil
}

// finished reports whether a message is done with: delivered or failed.
func finished(m *references.Message) bool {
	return m.Status == references.MessageSucceeded || m.Status == references.MessageFailed
}
