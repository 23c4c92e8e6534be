package store

// The endpoints API's reads of message logs (list, get, stats) and its requests of
// resends. Sending the resends is endpoint_streams.go's.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Bounds on the keys one read of a message log walks, so that a request costs the
// same whatever the log's size. A page filtered by status reads each message it
// passes over: it stops after max(minMessageScan, messageScanPerItem×limit) keys and
// returns a cursor to go on from there, with a short (even empty) page.
const (
	minMessageScan     = 10_000
	messageScanPerItem = 20
	// maxStatsMessages is how many of the newest messages EndpointStats reads at most;
	// when the period holds more, the stats cover the newest ones and say from when.
	maxStatsMessages = 100_000
)

// ListMessages returns a page of the endpoint's messages, newest first, filtered by
// status and creation time (both bounds exclusive). The cursor is the index key of
// the last message read, which may be past the last one returned (see minMessageScan).
func (db *DB) ListMessages(ctx context.Context, accountID, endpointID string, q references.MessageQuery) (references.MessagePage, error) {
	if q.Status != "" && !slices.Contains(references.MessageStatuses, q.Status) {
		return references.MessagePage{}, references.Invalidf("status", "must be one of %v", references.MessageStatuses)
	}
	limit := references.PageSize(q.Limit)
	budget := max(minMessageScan, messageScanPerItem*limit)
	var page references.MessagePage
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if _, err := getEndpoint(tx, accountID, endpointID); err != nil {
			return err
		}
		var err error
		page, err = listMessages(tx, endpointID, q, limit, budget)
		return err
	})
	if err != nil {
		return references.MessagePage{}, fmt.Errorf("list messages of %s: %w", endpointID, err)
	}
	return page, nil
}

// listMessages walks the endpoint's messages_by_time entries backwards from below the
// cursor or q.Before, reading at most budget of them.
func listMessages(tx *bolt.Tx, endpointID string, q references.MessageQuery, limit, budget int) (references.MessagePage, error) {
	page := references.MessagePage{Messages: []references.Message{}}
	prefix := str(endpointID)
	// start is an exclusive upper bound: the end of the endpoint's keys, Before, or the
	// cursor, whichever is lowest.
	start := append([]byte(endpointID), sep+1)
	if q.Before != nil {
		start = minKey(start, join(prefix, timeKey(*q.Before)))
	}
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !validMessageTimeKey(raw) {
			return page, references.Invalidf("cursor", "is not a cursor this server returned")
		}
		start = minKey(start, join(prefix, raw))
	}
	c := tx.Bucket(bucketMessagesByTime).Cursor()
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	var lastRead, lastReturned []byte
	for read := 0; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		rest := k[len(prefix):]
		if q.After != nil && len(rest) >= 8 && !keyTime(rest).After(*q.After) {
			return page, nil // every older one is before After too
		}
		if read == budget {
			page.NextCursor = base64.RawURLEncoding.EncodeToString(lastRead)
			return page, nil
		}
		read++
		lastRead = bytes.Clone(rest)
		m, found, err := messageAt(tx, endpointID, rest)
		if err != nil {
			return page, err
		}
		if !found || q.Status != "" && m.Status != q.Status {
			continue
		}
		if len(page.Messages) == limit {
			// There is at least one more: go on after the last one returned.
			page.NextCursor = base64.RawURLEncoding.EncodeToString(lastReturned)
			return page, nil
		}
		page.Messages = append(page.Messages, m)
		lastReturned = lastRead
	}
	return page, nil
}

// validMessageTimeKey reports whether rest is a messages_by_time key after its
// endpoint: created_at(8) stream \0 seq(8), with a stream.
func validMessageTimeKey(rest []byte) bool {
	return len(rest) >= 8+1+1+8 && rest[len(rest)-9] == sep
}

func minKey(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// GetMessage returns one message of the account's endpoint with every attempt, and
// what it carries: the update (nil when retention deleted it) or the operational event.
func (db *DB) GetMessage(ctx context.Context, accountID, endpointID, messageID string) (references.Message, references.MessageBody, error) {
	var m references.Message
	var body references.MessageBody
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if _, err := getEndpoint(tx, accountID, endpointID); err != nil {
			return err
		}
		var err error
		if m, err = findMessage(tx, endpointID, messageID); err != nil {
			return err
		}
		body, err = messageBody(tx, &m)
		return err
	})
	if err != nil {
		return references.Message{}, references.MessageBody{}, fmt.Errorf("get message %s of %s: %w", messageID, endpointID, err)
	}
	return m, body, nil
}

// messageBody reads what m carries; a part retention deleted is left nil.
func messageBody(tx *bolt.Tx, m *references.Message) (references.MessageBody, error) {
	var body references.MessageBody
	if messageStream(m) == references.AccountStream {
		e, found, err := getAccountEvent(tx, m.AccountID, m.Sequence)
		if found {
			body.Event = &e
		}
		return body, err
	}
	var u references.Update
	found, err := getUpdate(tx, m.ReferenceID, m.Sequence, &u)
	if found && err == nil {
		body.Update = &u
	}
	return body, err
}

// ResendMessage queues one message of the account's endpoint to be sent once more,
// whatever its status or the endpoint's, as asked for at at.
func (db *DB) ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if _, err := getEndpoint(tx, accountID, endpointID); err != nil {
			return err
		}
		if _, err := findMessage(tx, endpointID, messageID); err != nil {
			return err
		}
		return queueResend(tx, endpointID, messageID, at)
	})
	if err != nil {
		return fmt.Errorf("resend message %s of %s: %w", messageID, endpointID, err)
	}
	return nil
}

// queueResend asks for one more attempt of a message; a resend already queued is
// asked for again at at.
func queueResend(tx *bolt.Tx, endpointID, messageID string, at time.Time) error {
	return tx.Bucket(bucketEndpointResend).Put(join(str(endpointID), []byte(messageID)), timeKey(at))
}

// RecoverMessages queues a resend of every failed message of the account's endpoint
// created at or after since, and returns how many. It reads every message of the
// period (the service allows references.MaxRecoverAge), in one transaction.
func (db *DB) RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		n = 0 // a retried transaction counts again
		if _, err := getEndpoint(tx, accountID, endpointID); err != nil {
			return err
		}
		prefix := str(endpointID)
		c := tx.Bucket(bucketMessagesByTime).Cursor()
		for k, _ := c.Seek(join(prefix, timeKey(since))); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			m, found, err := messageAt(tx, endpointID, k[len(prefix):])
			if err != nil {
				return err
			}
			if !found || m.Status != references.MessageFailed {
				continue
			}
			if err := queueResend(tx, endpointID, m.ID, at); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover messages of %s: %w", endpointID, err)
	}
	return n, nil
}

// messageAt reads the message a messages_by_time key (after its endpoint) points at.
func messageAt(tx *bolt.Tx, endpointID string, rest []byte) (references.Message, bool, error) {
	if !validMessageTimeKey(rest) {
		return references.Message{}, false, fmt.Errorf("malformed message index key %q", rest)
	}
	i := len(rest) - 9
	return getMessage(tx, endpointID, string(rest[8:i]), bytesU64(rest[i+1:]))
}

// EndpointStats summarises the account's endpoint's messages created since since: by
// status, the success rate of the finished ones, and the latency of their attempts
// (those that sent something; expired and dropped ones did not). It reads at most
// maxStatsMessages, the newest: when the period holds more, Since is the creation time
// of the oldest one counted.
func (db *DB) EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (references.EndpointStats, error) {
	var st references.EndpointStats
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if _, err := getEndpoint(tx, accountID, endpointID); err != nil {
			return err
		}
		var err error
		st, err = endpointStats(tx, endpointID, since, maxStatsMessages)
		return err
	})
	if err != nil {
		return references.EndpointStats{}, fmt.Errorf("stats of endpoint %s: %w", endpointID, err)
	}
	return st, nil
}

// endpointStats reads at most limit messages, newest first, down to since.
func endpointStats(tx *bolt.Tx, endpointID string, since time.Time, limit int) (references.EndpointStats, error) {
	st := references.EndpointStats{Since: since, Counts: map[references.MessageStatus]int{}}
	for _, s := range references.MessageStatuses {
		st.Counts[s] = 0
	}
	var latencies []int64
	var oldest time.Time // of the messages counted
	prefix := str(endpointID)
	c := tx.Bucket(bucketMessagesByTime).Cursor()
	k, _ := c.Seek(append([]byte(endpointID), sep+1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for read := 0; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		rest := k[len(prefix):]
		if len(rest) < 8 || keyTime(rest).Before(since) {
			break
		}
		if read == limit {
			st.Since = oldest // the period holds more than are read
			break
		}
		read++
		oldest = keyTime(rest)
		m, found, err := messageAt(tx, endpointID, rest)
		if err != nil {
			return st, err
		}
		if !found {
			continue
		}
		st.Counts[m.Status]++
		for _, a := range m.Attempts {
			if a.Outcome != references.OutcomeExpired && a.Outcome != references.OutcomeDropped {
				latencies = append(latencies, a.LatencyMS)
			}
		}
	}
	if done := st.Counts[references.MessageSucceeded] + st.Counts[references.MessageFailed]; done > 0 {
		st.SuccessRate = float64(st.Counts[references.MessageSucceeded]) / float64(done)
	}
	slices.Sort(latencies)
	st.Attempts = len(latencies)
	st.LatencyP50MS = nearestRank(latencies, 50)
	st.LatencyP99MS = nearestRank(latencies, 99)
	return st, nil
}

// nearestRank returns the p-th percentile of sorted by the nearest-rank method, or 0
// for none.
func nearestRank(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}
