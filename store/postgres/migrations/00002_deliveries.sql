-- Delivery streams (callbacks' and endpoints'), redeliveries and the delivery log.
-- +goose Up
-- One row per (destination, stream) with something to deliver: destination is
-- 'callback' or an endpoint id, stream a reference id or 'account' (an endpoint's
-- operational events). The row holds the stream's retry state and its lease; it is
-- claimable while due, unleased and held by neither flag. Only its lease's holder
-- removes it, once drained; work is added to a stream before its row is put in
-- (INSERT ... ON CONFLICT DO UPDATE ... WHERE false, which waits for that holder).
CREATE TABLE delivery_streams (
    destination       text NOT NULL,
    stream            text NOT NULL,
    account_id        text NOT NULL,
    due_at            timestamptz NOT NULL,
    ref_paused        boolean NOT NULL DEFAULT false,
    endpoint_disabled boolean NOT NULL DEFAULT false,
    attempts          integer NOT NULL DEFAULT 0,
    first_attempt_at  timestamptz,
    batch_id          text,                     -- a batch fixed when first handed out
    batch_end         bigint,
    lease_owner       text,
    lease_token       bigint,
    lease_until       timestamptz,
    PRIMARY KEY (destination, stream)
);
CREATE INDEX delivery_streams_due ON delivery_streams (due_at)
    WHERE NOT ref_paused AND NOT endpoint_disabled;
CREATE INDEX delivery_streams_by_stream ON delivery_streams (stream);

-- Requested redeliveries (callback) and resends (endpoint messages): one attempt
-- each, outside their stream's order, claimable from when they were asked for unless
-- their reference is paused or their endpoint disabled.
CREATE TABLE redeliveries (
    destination  text NOT NULL,
    stream       text NOT NULL,
    message_id   text NOT NULL,                 -- update id or operational event id
    account_id   text NOT NULL,
    requested_at timestamptz NOT NULL,
    lease_owner  text,
    lease_token  bigint,
    lease_until  timestamptz,
    PRIMARY KEY (destination, stream, message_id)
);
CREATE INDEX redeliveries_due ON redeliveries (requested_at);

-- The delivery log of callbacks, newest first per reference (n orders the entries
-- and is a page's cursor); attempted_at is the attempt's time, for retention.
CREATE TABLE delivery_attempts (
    ref_id       text NOT NULL,
    n            bigserial,
    attempted_at timestamptz NOT NULL,
    data         jsonb NOT NULL,                -- the references.DeliveryAttempt
    PRIMARY KEY (ref_id, n)
);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (attempted_at);

-- +goose Down
DROP TABLE delivery_attempts, redeliveries, delivery_streams;
