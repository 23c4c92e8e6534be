package postgres

// Endpoint messages: the rows of messages (the references.Message as JSON in data,
// beside the columns the log's pages, the streams and retention query), and the
// endpoints API's reads of them and requests of resends. Sending them is
// endpoint_streams.go's.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// maxStatsMessages is how many of the newest messages EndpointStats reads at most;
// when the period holds more, the stats cover the newest ones and say from when.
const maxStatsMessages = 100_000

// messageStream returns the stream of a message: its reference, or AccountStream.
func messageStream(m *references.Message) string {
	if m.ReferenceID == "" {
		return references.AccountStream
	}
	return m.ReferenceID
}

func decodeMessage(data []byte) (references.Message, error) {
	var m references.Message
	err := decodeJSON(data, &m, "message")
	return m, err
}

// decodeJSON decodes a data column into v, naming what in its error.
func decodeJSON(data []byte, v any, what string) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("postgres: decode %s: %w", what, err)
	}
	return nil
}

// insertMessages writes new messages, each queued at the end of its stream, whose
// rows the caller made sure of (openStreams). The endpoints are read with FOR KEY
// SHARE: a message of an endpoint deleted meanwhile is passed over rather than
// failing the transaction on the foreign key, and one disabled before this statement
// began is passed over too.
func insertMessages(ctx context.Context, tx pgx.Tx, msgs []references.Message) error {
	n := len(msgs)
	eps, streams, ids, accounts, statuses, data := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	seqs, created := make([]int64, n), make([]time.Time, n)
	for i := range msgs {
		m := &msgs[i]
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("postgres: encode message %s: %w", m.ID, err)
		}
		eps[i], streams[i], seqs[i], ids[i], accounts[i] = m.EndpointID, messageStream(m), int64(m.Sequence), m.ID, m.AccountID
		created[i], statuses[i], data[i] = m.CreatedAt, string(m.Status), string(b)
	}
	_, err := tx.Exec(ctx, `INSERT INTO messages (endpoint_id, stream, seq, id, account_id, created_at, status, queued, data)
		SELECT x.e, x.s, x.q, x.i, x.a, x.c, x.st, true, x.d::jsonb
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
			AS x(e, s, q, i, a, c, st, d)
		JOIN endpoints ep ON ep.id = x.e AND ep.enabled
		FOR KEY SHARE OF ep`, eps, streams, seqs, ids, accounts, created, statuses, data)
	if err != nil {
		return fmt.Errorf("postgres: queue %d messages: %w", n, err)
	}
	return nil
}

// messageWrite is a changed message to write; leave takes it out of its stream's
// order (it finished, or can no longer be sent).
type messageWrite struct {
	m     references.Message
	leave bool
}

// saveMessages writes changed messages over their rows, which the caller locked, in
// one statement. A message that does not leave keeps its place (queued or not).
func saveMessages(ctx context.Context, tx pgx.Tx, ws []messageWrite) error {
	if len(ws) == 0 {
		return nil
	}
	n := len(ws)
	eps, streams, statuses, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, leave, last := make([]int64, n), make([]bool, n), make([]*time.Time, n)
	for i := range ws {
		m := &ws[i].m
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("postgres: encode message %s: %w", m.ID, err)
		}
		eps[i], streams[i], seqs[i], statuses[i], data[i], leave[i] = m.EndpointID, messageStream(m), int64(m.Sequence),
			string(m.Status), string(b), ws[i].leave
		if a := m.LastAttempt(); a != nil {
			last[i] = &a.At
		}
	}
	_, err := tx.Exec(ctx, `UPDATE messages m SET status = x.st, queued = m.queued AND NOT x.l,
			last_attempt_at = x.la, data = x.d::jsonb
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bool[], $6::timestamptz[], $7::text[])
			AS x(e, s, q, st, l, la, d)
		WHERE m.endpoint_id = x.e AND m.stream = x.s AND m.seq = x.q`, eps, streams, seqs, statuses, leave, last, data)
	if err != nil {
		return fmt.Errorf("postgres: save %d messages: %w", n, err)
	}
	return nil
}

// lockMessages reads and locks the messages of one stream with the given sequences,
// in sequence order; one deleted meanwhile is left out.
func lockMessages(ctx context.Context, tx pgx.Tx, endpointID, stream string, seqs []int64) ([]references.Message, error) {
	rows, err := tx.Query(ctx, `SELECT data FROM messages WHERE endpoint_id = $1 AND stream = $2 AND seq = ANY($3)
		ORDER BY seq FOR UPDATE`, endpointID, stream, seqs)
	if err != nil {
		return nil, fmt.Errorf("postgres: read messages of stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (references.Message, error) {
		var data []byte
		if err := row.Scan(&data); err != nil {
			return references.Message{}, err
		}
		return decodeMessage(data)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: read messages of stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	return msgs, nil
}

// messageByID reads one message of the endpoint by its id (locked when lock is set),
// or an error with CodeNotFound.
func messageByID(ctx context.Context, q querier, endpointID, id string, lock bool) (references.Message, error) {
	sql := "SELECT data FROM messages WHERE endpoint_id = $1 AND id = $2"
	if lock {
		sql += " FOR UPDATE"
	}
	var data []byte
	err := q.QueryRow(ctx, sql, endpointID, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return references.Message{}, references.Errorf(references.CodeNotFound, "message %s not found", id)
	}
	if err != nil {
		return references.Message{}, fmt.Errorf("postgres: read message %s of endpoint %s: %w", id, endpointID, err)
	}
	return decodeMessage(data)
}

// readMessageBody reads what m carries; a part retention deleted is left nil.
func readMessageBody(ctx context.Context, q querier, m *references.Message) (references.MessageBody, error) {
	var body references.MessageBody
	sql, args, what := "SELECT data FROM updates WHERE ref_id = $1 AND seq = $2", []any{m.ReferenceID, int64(m.Sequence)}, "update"
	if m.ReferenceID == "" {
		sql, args, what = "SELECT data FROM account_events WHERE account_id = $1 AND seq = $2", []any{m.AccountID, int64(m.Sequence)}, "operational event"
	}
	var data []byte
	err := q.QueryRow(ctx, sql, args...).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return body, nil
	}
	if err != nil {
		return body, fmt.Errorf("postgres: read the %s of message %s: %w", what, m.ID, err)
	}
	if m.ReferenceID == "" {
		body.Event = new(references.AccountEvent)
		return body, decodeJSON(data, body.Event, what)
	}
	body.Update = new(references.Update)
	return body, decodeJSON(data, body.Update, what)
}

// ListMessages returns a page of the endpoint's messages, newest first, filtered by
// status and creation time (both bounds exclusive). The cursor names the last message
// returned by its place in that order (creation time, stream, sequence); a status
// filter reads its own index, so a page costs the same whatever the log's size.
func (db *DB) ListMessages(ctx context.Context, accountID, endpointID string, q references.MessageQuery) (references.MessagePage, error) {
	page := references.MessagePage{Messages: []references.Message{}}
	if q.Status != "" && !slices.Contains(references.MessageStatuses, q.Status) {
		return page, references.Invalidf("status", "must be one of %v", references.MessageStatuses)
	}
	limit := references.PageSize(q.Limit)
	if _, err := getEndpoint(ctx, db.pool, accountID, endpointID, noLock); err != nil {
		return page, fmt.Errorf("postgres: list messages of %s: %w", endpointID, err)
	}
	sql := "SELECT created_at, stream, seq, data FROM messages WHERE endpoint_id = $1"
	args := []any{endpointID}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.Status != "" {
		sql += " AND status = " + arg(string(q.Status))
	}
	if q.After != nil {
		sql += " AND created_at > " + arg(*q.After)
	}
	if q.Before != nil {
		sql += " AND created_at < " + arg(*q.Before)
	}
	if q.Cursor != "" {
		c, ok := decodeMessageCursor(q.Cursor)
		if !ok {
			return page, references.Invalidf("cursor", "is not a cursor this server returned")
		}
		sql += fmt.Sprintf(" AND (created_at, stream, seq) < (%s, %s, %s)", arg(c.at), arg(c.stream), arg(c.seq))
	}
	sql += " ORDER BY created_at DESC, stream DESC, seq DESC LIMIT " + arg(limit+1)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("postgres: list messages of %s: %w", endpointID, err)
	}
	defer rows.Close()
	var last messageCursor
	for rows.Next() {
		if len(page.Messages) == limit {
			page.NextCursor = last.encode() // there is at least one more
			break
		}
		var data []byte
		if err := rows.Scan(&last.at, &last.stream, &last.seq, &data); err != nil {
			return page, fmt.Errorf("postgres: list messages of %s: %w", endpointID, err)
		}
		m, err := decodeMessage(data)
		if err != nil {
			return page, err
		}
		page.Messages = append(page.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("postgres: list messages of %s: %w", endpointID, err)
	}
	return page, nil
}

// messageCursor is a message's place in its endpoint's log, newest first.
type messageCursor struct {
	at     time.Time
	stream string
	seq    int64
}

func (c messageCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d.%s", c.at.UnixMicro(), c.seq, c.stream))
}

func decodeMessageCursor(s string) (messageCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return messageCursor{}, false
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		return messageCursor{}, false
	}
	us, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return messageCursor{}, false
	}
	return messageCursor{at: time.UnixMicro(us).UTC(), stream: parts[2], seq: seq}, true
}

// GetMessage returns one message of the account's endpoint with every attempt, and
// what it carries: the update (nil when retention deleted it) or the operational event.
func (db *DB) GetMessage(ctx context.Context, accountID, endpointID, messageID string) (references.Message, references.MessageBody, error) {
	var m references.Message
	var body references.MessageBody
	err := func() error {
		if _, err := getEndpoint(ctx, db.pool, accountID, endpointID, noLock); err != nil {
			return err
		}
		var err error
		if m, err = messageByID(ctx, db.pool, endpointID, messageID, false); err != nil {
			return err
		}
		body, err = readMessageBody(ctx, db.pool, &m)
		return err
	}()
	if err != nil {
		return references.Message{}, references.MessageBody{}, fmt.Errorf("postgres: get message %s of %s: %w", messageID, endpointID, err)
	}
	return m, body, nil
}

// ResendMessage queues one message of the account's endpoint to be sent once more,
// whatever its status or the endpoint's, as asked for at at: a row of redeliveries
// (destination = the endpoint). A resend already queued is asked for again at at.
func (db *DB) ResendMessage(ctx context.Context, accountID, endpointID, messageID string, at time.Time) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getEndpoint(ctx, tx, accountID, endpointID, noLock); err != nil {
			return err
		}
		m, err := messageByID(ctx, tx, endpointID, messageID, false)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO redeliveries (destination, stream, message_id, account_id, requested_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (destination, stream, message_id) DO UPDATE SET requested_at = EXCLUDED.requested_at`,
			endpointID, messageStream(&m), m.ID, m.AccountID, at)
		if err != nil {
			return fmt.Errorf("postgres: queue the resend: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: resend message %s of %s: %w", messageID, endpointID, err)
	}
	return nil
}

// RecoverMessages queues a resend of every failed message of the account's endpoint
// created at or after since, and returns how many, in one statement.
func (db *DB) RecoverMessages(ctx context.Context, accountID, endpointID string, since, at time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getEndpoint(ctx, tx, accountID, endpointID, noLock); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO redeliveries (destination, stream, message_id, account_id, requested_at)
			SELECT endpoint_id, stream, id, account_id, $4 FROM messages
			WHERE endpoint_id = $1 AND status = $2 AND created_at >= $3
			ON CONFLICT (destination, stream, message_id) DO UPDATE SET requested_at = EXCLUDED.requested_at`,
			endpointID, string(references.MessageFailed), since, at)
		if err != nil {
			return fmt.Errorf("postgres: queue the resends: %w", err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: recover messages of %s: %w", endpointID, err)
	}
	return n, nil
}

// EndpointStats summarises the account's endpoint's messages created since since: by
// status, the success rate of the finished ones, and the latency of their attempts
// (those that sent something; expired and dropped ones did not), percentiles by the
// nearest rank. It reads at most maxStatsMessages, the newest: when the period holds
// more, Since is the creation time of the oldest one counted.
func (db *DB) EndpointStats(ctx context.Context, accountID, endpointID string, since time.Time) (references.EndpointStats, error) {
	st := references.EndpointStats{Since: since, Counts: map[references.MessageStatus]int{}}
	for _, s := range references.MessageStatuses {
		st.Counts[s] = 0
	}
	err := func() error {
		if _, err := getEndpoint(ctx, db.pool, accountID, endpointID, noLock); err != nil {
			return err
		}
		var counts map[string]int
		var oldest *time.Time
		var more bool
		var p50, p99 *int64
		err := db.pool.QueryRow(ctx, `WITH m AS (
				SELECT created_at, stream, seq, status, data FROM messages WHERE endpoint_id = $1 AND created_at >= $2
				ORDER BY created_at DESC, stream DESC, seq DESC LIMIT $3 + 1),
			counted AS (SELECT * FROM m ORDER BY created_at DESC, stream DESC, seq DESC LIMIT $3),
			lat AS (SELECT (a->>'LatencyMS')::bigint AS ms FROM counted,
				jsonb_array_elements(CASE jsonb_typeof(counted.data->'Attempts') WHEN 'array' THEN counted.data->'Attempts' ELSE '[]' END) a
				WHERE a->>'Outcome' NOT IN ($4, $5))
			SELECT COALESCE((SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*) AS n FROM counted GROUP BY status) c), '{}'),
				(SELECT min(created_at) FROM counted), (SELECT count(*) > $3 FROM m),
				(SELECT count(*) FROM lat),
				(SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM lat),
				(SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) FROM lat)`,
			endpointID, since, maxStatsMessages, string(references.OutcomeExpired), string(references.OutcomeDropped),
		).Scan(&counts, &oldest, &more, &st.Attempts, &p50, &p99)
		if err != nil {
			return fmt.Errorf("postgres: count messages: %w", err)
		}
		for s, n := range counts {
			st.Counts[references.MessageStatus(s)] = n
		}
		if more && oldest != nil {
			st.Since = *oldest // the period holds more than are read
		}
		if p50 != nil {
			st.LatencyP50MS = *p50
		}
		if p99 != nil {
			st.LatencyP99MS = *p99
		}
		return nil
	}()
	if err != nil {
		return references.EndpointStats{}, fmt.Errorf("postgres: stats of endpoint %s: %w", endpointID, err)
	}
	if done := st.Counts[references.MessageSucceeded] + st.Counts[references.MessageFailed]; done > 0 {
		st.SuccessRate = float64(st.Counts[references.MessageSucceeded]) / float64(done)
	}
	return st, nil
}
