-- References, their snapshots and feeds, the account feed's numbering, idempotency.
-- +goose Up
-- Tokens of every lease granted (polls, delivery streams, redeliveries).
CREATE SEQUENCE lease_tokens;

CREATE TABLE refs (
    id              text PRIMARY KEY,
    account_id      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    status          text NOT NULL,              -- references.Status
    ident_kind      text NOT NULL,
    ident_value     text NOT NULL,
    carrier_code    text NOT NULL,
    eta             timestamptz,                -- the latest snapshot's ETA (search, sort=eta)
    next_poll_at    timestamptz,                -- due time while active
    unsubscribed_at timestamptz,
    -- Of the callback stream, for retention: Reference.Delivers, DeliveredSequence and
    -- LastSequence.
    delivers        boolean NOT NULL,
    delivered_seq   bigint NOT NULL,
    last_seq        bigint NOT NULL,
    data            jsonb NOT NULL,             -- the references.Reference
    poll_owner       text,
    poll_token       bigint,
    poll_lease_until timestamptz
);
-- One active (or paused) reference per identifier and carrier in an account.
CREATE UNIQUE INDEX refs_active_identifier ON refs (account_id, ident_kind, ident_value, carrier_code)
    WHERE status <> 'unsubscribed';
-- Lists in creation order, and the identifier search (exact or prefix, any status).
CREATE INDEX refs_by_account ON refs (account_id, created_at, id);
CREATE INDEX refs_by_identifier ON refs (account_id, ident_value text_pattern_ops);
-- Lists by ETA: the dated in ETA order, then the undated in creation order.
CREATE INDEX refs_by_eta ON refs (account_id, eta, created_at, id) WHERE eta IS NOT NULL;
CREATE INDEX refs_undated ON refs (account_id, created_at, id) WHERE eta IS NULL;
-- Claims: the due active references, most overdue first.
CREATE INDEX refs_due ON refs (next_poll_at) WHERE status = 'active';
CREATE INDEX refs_unsubscribed ON refs (unsubscribed_at) WHERE status = 'unsubscribed';

-- The last snapshot of each reference.
CREATE TABLE shipments (
    ref_id text PRIMARY KEY REFERENCES refs (id) ON DELETE CASCADE,
    data   jsonb NOT NULL                       -- the references.Shipment
);

-- The container numbers of each reference's latest snapshot, for the identifier
-- search (exact or prefix).
CREATE TABLE ref_numbers (
    account_id text NOT NULL,
    number     text NOT NULL,
    ref_id     text NOT NULL REFERENCES refs (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, number, ref_id)
);
CREATE INDEX ref_numbers_by_prefix ON ref_numbers (account_id, number text_pattern_ops);
CREATE INDEX ref_numbers_by_ref ON ref_numbers (ref_id);

-- Feeds: sequence 1..n per reference, and account_seq 1..n per account.
CREATE TABLE updates (
    ref_id      text NOT NULL REFERENCES refs (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    id          text NOT NULL,
    account_id  text NOT NULL,
    account_seq bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    data        jsonb NOT NULL,                 -- the references.Update
    PRIMARY KEY (ref_id, seq)
);
CREATE UNIQUE INDEX updates_by_id ON updates (ref_id, id);
CREATE UNIQUE INDEX updates_by_account ON updates (account_id, account_seq);
CREATE INDEX updates_by_time ON updates (created_at);

-- Per-account counters kept in the transactions that change them.
CREATE TABLE account_counters (
    account_id  text PRIMARY KEY,
    active_refs bigint NOT NULL DEFAULT 0,      -- active and paused references (the quota)
    update_seq  bigint NOT NULL DEFAULT 0       -- the account feed's last number
);

CREATE TABLE idempotency (
    account_id text NOT NULL,
    key        text NOT NULL,
    expires_at timestamptz NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

-- +goose Down
DROP TABLE idempotency, account_counters, updates, ref_numbers, shipments, refs;
DROP SEQUENCE lease_tokens;
