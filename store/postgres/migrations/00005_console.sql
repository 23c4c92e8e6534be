-- The web console's: its sessions, and the summary of each reference's latest
-- snapshot that the list of references shows and filters on without reading
-- snapshots.
-- +goose Up
-- A session by the hash of its cookie's token (the token itself is never stored).
CREATE TABLE sessions (
    token_hash   text PRIMARY KEY,              -- hex SHA-256 of the cookie's token
    account_id   text NOT NULL,
    key_id       text NOT NULL,
    key_hash     text NOT NULL,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    idle_ns      bigint NOT NULL,               -- Session.Idle, in nanoseconds
    expires_at   timestamptz NOT NULL
);
-- A sign-in deletes the account's expired sessions: an account has a handful.
CREATE INDEX sessions_by_account ON sessions (account_id);

-- The references.ShipmentSummary of the latest snapshot (NULL without one), and what
-- the late filter compares of it beside refs.eta: its first ETA, and whether the
-- shipment arrived. Nullable columns and a constant default: adding them rewrites
-- nothing.
ALTER TABLE refs
    ADD COLUMN summary   jsonb,
    ADD COLUMN first_eta timestamptz,
    ADD COLUMN arrived   boolean NOT NULL DEFAULT false;

-- The summaries of the snapshots stored before this migration, as Summarize makes
-- the first one's: the first ETA known is the snapshot's own (how it moved before
-- is not kept). Paused and unsubscribed references are not polled again, so waiting
-- for the next snapshot would leave theirs empty for good. The JSON is that of
-- ShipmentSummary, whose fields are the snapshot's of the same names and types.
UPDATE refs r SET
    summary = jsonb_build_object(
        'Status', s.data->'Status', 'Origin', s.data->'Origin', 'Destination', s.data->'Destination',
        'ETA', s.data->'ETA', 'FirstETA', s.data->'ETA'),
    first_eta = r.eta,
    arrived = coalesce(s.data->>'Status' IN ('arrived', 'delivered', 'empty_returned'), false)
FROM shipments s WHERE s.ref_id = r.id;

-- +goose Down
ALTER TABLE refs DROP COLUMN summary, DROP COLUMN first_eta, DROP COLUMN arrived;
DROP TABLE sessions;
