package store

// Account endpoints as stored: the endpoint records, their messages with the indexes
// that list them, and the accounts' operational feeds. The delivery of messages
// (streams per endpoint and reference, in the outbox beside callbacks) is in
// endpoint_streams.go; the API's reads and writes in endpoints.go and messages.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Since schema 3: account endpoints.
var (
	bucketEndpoints       = []byte("endpoints")            // endpoint id -> endpointRecord
	bucketEndpointsByAcct = []byte("endpoints_by_account") // account \0 created_at(8) endpoint id -> nil
	// Messages: one per (endpoint, update or operational event). stream is a
	// reference id, or references.AccountStream for operational events.
	bucketMessages       = []byte("messages")         // endpoint \0 stream \0 seq(8) -> message (codec_messages.go)
	bucketMessagesByTime = []byte("messages_by_time") // endpoint \0 created_at(8) stream \0 seq(8) -> nil
	bucketMessageIDs     = []byte("message_ids")      // endpoint \0 message id -> stream \0 seq(8)
	// Delivery of messages (endpoint_streams.go): the state of each ordered stream, its
	// unfinished messages in order, and requested resends. Streams due are in the
	// outbox with the callbacks'.
	bucketEndpointStreams = []byte("endpoint_streams")  // endpoint \0 stream -> stream state
	bucketEndpointPending = []byte("endpoint_pending")  // endpoint \0 stream \0 seq(8) -> nil
	bucketEndpointResend  = []byte("endpoint_resend")   // endpoint \0 message id -> requested_at(8)
	bucketAccountEvents   = []byte("account_events")    // account \0 seq(8) -> accountEventRecord
	bucketAccountEventN   = []byte("account_event_seq") // account -> last sequence(8)
)

func messageKey(endpointID, stream string, seq uint64) []byte {
	return join(str(endpointID), str(stream), u64(seq))
}

func messageTimeKey(endpointID string, created time.Time, stream string, seq uint64) []byte {
	return join(str(endpointID), timeKey(created), str(stream), u64(seq))
}

// messageStream returns the stream of a message: its reference, or AccountStream.
func messageStream(m *references.Message) string {
	if m.ReferenceID == "" {
		return references.AccountStream
	}
	return m.ReferenceID
}

// endpointRecord is an endpoint as stored.
type endpointRecord struct {
	ID             string                    `json:"id"`
	AccountID      string                    `json:"account_id"`
	URL            string                    `json:"url"`
	Description    string                    `json:"description,omitempty"`
	EventTypes     []string                  `json:"event_types,omitempty"`
	MinETAChange   time.Duration             `json:"min_eta_change,omitempty"`
	CarrierCodes   []string                  `json:"carrier_codes,omitempty"`
	Metadata       map[string]string         `json:"metadata,omitempty"`
	Format         references.DeliveryFormat `json:"format"`
	BatchSize      int                       `json:"batch_size,omitempty"`
	Headers        references.HeaderStyle    `json:"headers"`
	MaxAttempts    int                       `json:"max_attempts,omitempty"`
	RetryWindow    time.Duration             `json:"retry_window,omitempty"`
	DisableAfter   time.Duration             `json:"disable_after"`
	Enabled        bool                      `json:"enabled"`
	DisabledReason references.DisabledReason `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time                `json:"disabled_at,omitempty"`
	FailingSince   *time.Time                `json:"failing_since,omitempty"`
	Secrets        []webhookSecretRecord     `json:"secrets"`
	CreatedAt      time.Time                 `json:"created_at"`
	UpdatedAt      time.Time                 `json:"updated_at"`
}

func newEndpointRecord(ep *references.Endpoint) *endpointRecord {
	r := &endpointRecord{
		ID: ep.ID, AccountID: ep.AccountID, URL: ep.URL, Description: ep.Description,
		EventTypes: ep.EventTypes, MinETAChange: ep.MinETAChange,
		CarrierCodes: ep.Filter.CarrierCodes, Metadata: ep.Filter.Metadata,
		Format: ep.Format, BatchSize: ep.BatchSize, Headers: ep.Headers,
		MaxAttempts: ep.MaxAttempts, RetryWindow: ep.RetryWindow, DisableAfter: ep.DisableAfter,
		Enabled: ep.Enabled, DisabledReason: ep.DisabledReason, DisabledAt: ep.DisabledAt,
		FailingSince: ep.FailingSince, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
	}
	for _, s := range ep.Secrets {
		r.Secrets = append(r.Secrets, webhookSecretRecord{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	return r
}

func (r *endpointRecord) endpoint() references.Endpoint {
	ep := references.Endpoint{
		ID: r.ID, AccountID: r.AccountID, URL: r.URL, Description: r.Description,
		EventTypes: r.EventTypes, MinETAChange: r.MinETAChange,
		Filter: references.EndpointFilter{CarrierCodes: r.CarrierCodes, Metadata: r.Metadata},
		Format: r.Format, BatchSize: r.BatchSize, Headers: r.Headers,
		MaxAttempts: r.MaxAttempts, RetryWindow: r.RetryWindow, DisableAfter: r.DisableAfter,
		Enabled: r.Enabled, DisabledReason: r.DisabledReason, DisabledAt: r.DisabledAt,
		FailingSince: r.FailingSince, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	for _, s := range r.Secrets {
		ep.Secrets = append(ep.Secrets, references.WebhookSecret{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	return ep
}

// getEndpoint reads the account's endpoint (accountID anyAccount: whoever's), or
// ErrNotFound.
func getEndpoint(tx *bolt.Tx, accountID, id string) (references.Endpoint, error) {
	data := tx.Bucket(bucketEndpoints).Get([]byte(id))
	if data == nil {
		return references.Endpoint{}, references.Errorf(references.CodeNotFound, "endpoint %s not found", id)
	}
	ep, err := decodeEndpoint(data)
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("decode endpoint %s: %w", id, err)
	}
	if accountID != anyAccount && ep.AccountID != accountID {
		return references.Endpoint{}, references.Errorf(references.CodeNotFound, "endpoint %s not found", id)
	}
	return ep, nil
}

// deliveringEndpoint reads an endpoint, whoever's, through the cache of decoded
// records: each delivery to it reads it twice (its next job, its attempt's record).
// The endpoint's slices and maps are the cache's: change them only by replacing them.
func (db *DB) deliveringEndpoint(tx *bolt.Tx, id string) (references.Endpoint, error) {
	data := tx.Bucket(bucketEndpoints).Get([]byte(id))
	if data == nil {
		return references.Endpoint{}, references.Errorf(references.CodeNotFound, "endpoint %s not found", id)
	}
	ep, err := db.endpoints.get(id, data)
	if err != nil {
		return references.Endpoint{}, fmt.Errorf("decode endpoint %s: %w", id, err)
	}
	return ep, nil
}

func decodeEndpoint(data []byte) (references.Endpoint, error) {
	var r endpointRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return references.Endpoint{}, err
	}
	return r.endpoint(), nil
}

// putEndpoint writes ep; a new one is added to its account's index.
func putEndpoint(tx *bolt.Tx, ep *references.Endpoint, isNew bool) error {
	data, err := json.Marshal(newEndpointRecord(ep))
	if err != nil {
		return fmt.Errorf("encode endpoint %s: %w", ep.ID, err)
	}
	if isNew {
		k := join(str(ep.AccountID), timeKey(ep.CreatedAt), []byte(ep.ID))
		if err := tx.Bucket(bucketEndpointsByAcct).Put(k, nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketEndpoints).Put([]byte(ep.ID), data)
}

// accountEndpoints returns the account's endpoints in creation order, through the
// cache: the fan-out of each update and operational event reads them all (an account
// has at most MaxEndpointsPerAccount, unless configured otherwise).
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
			return nil, fmt.Errorf("decode endpoint %s: %w", id, err)
		}
		out = append(out, ep)
	}
	return out, nil
}

// messageRecord is a message as stored before the binary form (codec_messages.go),
// which is still read.
type messageRecord struct {
	EndpointID    string                    `json:"endpoint_id"`
	AccountID     string                    `json:"account_id"`
	ID            string                    `json:"id"`
	ReferenceID   string                    `json:"reference_id,omitempty"`
	Sequence      uint64                    `json:"sequence"`
	EventType     string                    `json:"event_type"`
	Tags          []string                  `json:"tags,omitempty"`
	CreatedAt     time.Time                 `json:"created_at"`
	Status        references.MessageStatus  `json:"status"`
	FailReason    references.AttemptOutcome `json:"fail_reason,omitempty"`
	NextAttemptAt *time.Time                `json:"next_attempt_at,omitempty"`
	BatchID       string                    `json:"batch_id,omitempty"`
	Attempts      []attemptRecord           `json:"attempts,omitempty"`
}

func newMessageRecord(m *references.Message) *messageRecord {
	r := &messageRecord{
		EndpointID: m.EndpointID, AccountID: m.AccountID, ID: m.ID, ReferenceID: m.ReferenceID,
		Sequence: m.Sequence, EventType: m.EventType, Tags: m.Tags, CreatedAt: m.CreatedAt,
		Status: m.Status, FailReason: m.FailReason, NextAttemptAt: m.NextAttemptAt, BatchID: m.BatchID,
	}
	for i := range m.Attempts {
		r.Attempts = append(r.Attempts, *newAttemptRecord(&m.Attempts[i]))
	}
	return r
}

func (r *messageRecord) message() references.Message {
	m := references.Message{
		EndpointID: r.EndpointID, AccountID: r.AccountID, ID: r.ID, ReferenceID: r.ReferenceID,
		Sequence: r.Sequence, EventType: r.EventType, Tags: r.Tags, CreatedAt: r.CreatedAt,
		Status: r.Status, FailReason: r.FailReason, NextAttemptAt: r.NextAttemptAt, BatchID: r.BatchID,
	}
	for i := range r.Attempts {
		m.Attempts = append(m.Attempts, r.Attempts[i].attempt())
	}
	return m
}

// getMessage reads one message; found is false when there is none.
func getMessage(tx *bolt.Tx, endpointID, stream string, seq uint64) (m references.Message, found bool, err error) {
	data := tx.Bucket(bucketMessages).Get(messageKey(endpointID, stream, seq))
	if data == nil {
		return m, false, nil
	}
	if err := decodeMessage(data, &m); err != nil {
		return m, false, fmt.Errorf("decode message %s of %s: %w", stream, endpointID, err)
	}
	return m, true, nil
}

// putMessage writes m; a new one is added to the indexes by time and by id.
func putMessage(tx *bolt.Tx, m *references.Message, isNew bool) error {
	data := encodeMessage(m)
	stream := messageStream(m)
	if isNew {
		if err := tx.Bucket(bucketMessagesByTime).Put(messageTimeKey(m.EndpointID, m.CreatedAt, stream, m.Sequence), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMessageIDs).Put(join(str(m.EndpointID), []byte(m.ID)), join(str(stream), u64(m.Sequence))); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMessages).Put(messageKey(m.EndpointID, stream, m.Sequence), data)
}

// findMessage looks a message up by its id, or returns ErrNotFound.
func findMessage(tx *bolt.Tx, endpointID, id string) (references.Message, error) {
	loc := tx.Bucket(bucketMessageIDs).Get(join(str(endpointID), []byte(id)))
	i := bytes.IndexByte(loc, sep)
	if loc == nil || i < 0 || len(loc) != i+9 {
		return references.Message{}, references.Errorf(references.CodeNotFound, "message %s not found", id)
	}
	m, found, err := getMessage(tx, endpointID, string(loc[:i]), bytesU64(loc[i+1:]))
	if err == nil && !found {
		err = references.Errorf(references.CodeNotFound, "message %s not found", id)
	}
	return m, err
}

// deleteMessage removes m and its index entries.
func deleteMessage(tx *bolt.Tx, m *references.Message) error {
	stream := messageStream(m)
	if err := tx.Bucket(bucketMessagesByTime).Delete(messageTimeKey(m.EndpointID, m.CreatedAt, stream, m.Sequence)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketMessageIDs).Delete(join(str(m.EndpointID), []byte(m.ID))); err != nil {
		return err
	}
	return tx.Bucket(bucketMessages).Delete(messageKey(m.EndpointID, stream, m.Sequence))
}

// accountEventRecord is an operational event as stored.
type accountEventRecord struct {
	ID             string                    `json:"id"`
	AccountID      string                    `json:"account_id"`
	Sequence       uint64                    `json:"sequence"`
	Type           string                    `json:"type"`
	CreatedAt      time.Time                 `json:"created_at"`
	EndpointID     string                    `json:"endpoint_id,omitempty"`
	EndpointURL    string                    `json:"endpoint_url,omitempty"`
	DisabledReason references.DisabledReason `json:"disabled_reason,omitempty"`
	MessageID      string                    `json:"message_id,omitempty"`
	ReferenceID    string                    `json:"reference_id,omitempty"`
	Attempts       int                       `json:"attempts,omitempty"`
	LastStatusCode int                       `json:"last_status_code,omitempty"`
	LastError      string                    `json:"last_error,omitempty"`
}

func (r *accountEventRecord) event() references.AccountEvent {
	return references.AccountEvent(*r)
}

// appendAccountEvent gives e the account's next sequence and stores it. Fanning it out
// to the endpoints that subscribe is the caller's (see endpoint_streams.go).
func appendAccountEvent(tx *bolt.Tx, e *references.AccountEvent) error {
	n := tx.Bucket(bucketAccountEventN)
	var last uint64
	if v := n.Get([]byte(e.AccountID)); v != nil {
		last = bytesU64(v)
	}
	e.Sequence = last + 1
	if err := n.Put([]byte(e.AccountID), u64(e.Sequence)); err != nil {
		return err
	}
	r := accountEventRecord(*e)
	data, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("encode account event %s: %w", e.ID, err)
	}
	return tx.Bucket(bucketAccountEvents).Put(join(str(e.AccountID), u64(e.Sequence)), data)
}

// getAccountEvent reads one operational event; found is false when there is none.
func getAccountEvent(tx *bolt.Tx, accountID string, seq uint64) (e references.AccountEvent, found bool, err error) {
	data := tx.Bucket(bucketAccountEvents).Get(join(str(accountID), u64(seq)))
	if data == nil {
		return e, false, nil
	}
	var r accountEventRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return e, false, fmt.Errorf("decode account event %d of %s: %w", seq, accountID, err)
	}
	return r.event(), true, nil
}
