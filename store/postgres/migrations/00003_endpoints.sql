-- Account endpoints, their messages and the accounts' operational feeds.
-- +goose Up
CREATE TABLE endpoints (
    id         text PRIMARY KEY,
    account_id text NOT NULL,
    created_at timestamptz NOT NULL,
    enabled    boolean NOT NULL,
    data       jsonb NOT NULL                   -- the references.Endpoint
);
CREATE INDEX endpoints_by_account ON endpoints (account_id, created_at, id);

-- One message per (endpoint, update or operational event); seq orders a stream.
CREATE TABLE messages (
    endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    stream      text NOT NULL,                  -- reference id or 'account'
    seq         bigint NOT NULL,
    id          text NOT NULL,                  -- the update's or event's id
    account_id  text NOT NULL,
    created_at  timestamptz NOT NULL,
    status      text NOT NULL,
    pending     boolean NOT NULL,               -- still in its stream's order
    data        jsonb NOT NULL,                 -- the references.Message
    PRIMARY KEY (endpoint_id, stream, seq)
);
CREATE UNIQUE INDEX messages_by_id ON messages (endpoint_id, id);
CREATE INDEX messages_by_time ON messages (endpoint_id, created_at);
CREATE INDEX messages_by_age ON messages (created_at);
CREATE INDEX messages_pending ON messages (endpoint_id, stream, seq) WHERE pending;

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
