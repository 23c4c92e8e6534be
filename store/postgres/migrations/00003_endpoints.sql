-- Account endpoints, their messages and the accounts' operational feeds. The delivery
-- state of each (endpoint, stream) is a row of delivery_streams (destination = the
-- endpoint's id), and requested resends are rows of redeliveries: 00002_deliveries.sql.
-- +goose Up
CREATE TABLE endpoints (
    id         text PRIMARY KEY,
    account_id text NOT NULL,
    created_at timestamptz NOT NULL,
    enabled    boolean NOT NULL,
    data       jsonb NOT NULL                   -- the references.Endpoint
);
-- Listing in creation order, the quota's count and the fan-out's read of an account's
-- endpoints.
CREATE INDEX endpoints_by_account ON endpoints (account_id, created_at, id);

-- One message per (endpoint, update or operational event). stream is the update's
-- reference id or 'account'; seq the update's sequence in its feed, or the event's in
-- the account's operational feed, so a stream's messages are in their order by seq.
CREATE TABLE messages (
    endpoint_id     text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    stream          text NOT NULL,
    seq             bigint NOT NULL,
    id              text NOT NULL,              -- the update's or event's id
    account_id      text NOT NULL,
    created_at      timestamptz NOT NULL,
    status          text NOT NULL,              -- references.MessageStatus
    queued          boolean NOT NULL,           -- still in its stream's order, to be sent
    last_attempt_at timestamptz,
    data            jsonb NOT NULL,             -- the references.Message
    PRIMARY KEY (endpoint_id, stream, seq)
);
CREATE UNIQUE INDEX messages_by_id ON messages (endpoint_id, id);
-- The message log, newest first, and its pages by status (a status filter over a large
-- log stays an index range).
CREATE INDEX messages_by_time ON messages (endpoint_id, created_at, stream, seq);
CREATE INDEX messages_by_status ON messages (endpoint_id, status, created_at, stream, seq);
-- Retention, oldest first across endpoints.
CREATE INDEX messages_by_age ON messages (created_at);
-- Each stream's head, and the streams of a reference that retention forgets. Only the
-- messages still to be sent are in it.
CREATE INDEX messages_queued ON messages (stream, endpoint_id, seq) WHERE queued;

-- Each account's operational feed, numbered 1, 2, 3 ... by its counter row, updated in
-- the transaction that appends the event (so concurrent instances leave no gap).
CREATE TABLE account_events (
    account_id text NOT NULL,
    seq        bigint NOT NULL,
    id         text NOT NULL,
    created_at timestamptz NOT NULL,
    data       jsonb NOT NULL,                  -- the references.AccountEvent
    PRIMARY KEY (account_id, seq)
);
CREATE TABLE account_event_counters (
    account_id text PRIMARY KEY,
    seq        bigint NOT NULL
);

-- +goose Down
DROP TABLE account_event_counters, account_events, messages, endpoints;
