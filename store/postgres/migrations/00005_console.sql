-- The web console's: its sessions, the summary of each reference's latest snapshot
-- that the list of references shows and filters on without reading snapshots, and
-- each account's count of references by status.
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
-- nothing. 00006_summaries.sql fills them for the snapshots already stored.
ALTER TABLE refs
    ADD COLUMN summary   jsonb,
    ADD COLUMN first_eta timestamptz,
    ADD COLUMN arrived   boolean NOT NULL DEFAULT false;

-- How many references each account has in each status, for the console's counts:
-- counting an account's rows reads each one (10,000 references, 10,000 heap pages,
-- from 13 ms warm to over 100 ms cold). Kept by triggers, so that no way of writing
-- refs (the API's, the poller's, retention's, a copy's COPY) can leave them behind:
-- inserts and deletes per statement, from their transition tables, and status changes
-- per row, on the rare updates that change one (the WHEN clause is checked without
-- calling the function, so the poller's updates cost nothing more). Rows are changed
-- in (account_id, status) order, so two transactions never wait on each other's.
-- n may reach 0; the rows stay.
CREATE TABLE ref_status_counts (
    account_id text NOT NULL,
    status     text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (account_id, status)
);

-- +goose StatementBegin
CREATE FUNCTION ref_status_counts_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ref_status_counts (account_id, status, n)
    SELECT account_id, status, CASE WHEN TG_OP = 'DELETE' THEN -count(*) ELSE count(*) END
    FROM changed_refs GROUP BY account_id, status ORDER BY account_id, status
    ON CONFLICT (account_id, status) DO UPDATE SET n = ref_status_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION ref_status_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ref_status_counts (account_id, status, n)
    SELECT * FROM (VALUES (OLD.account_id, OLD.status, -1), (NEW.account_id, NEW.status, 1)) AS c (a, s, d)
    ORDER BY a, s
    ON CONFLICT (account_id, status) DO UPDATE SET n = ref_status_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER refs_inserted AFTER INSERT ON refs REFERENCING NEW TABLE AS changed_refs
    FOR EACH STATEMENT EXECUTE FUNCTION ref_status_counts_rows();
CREATE TRIGGER refs_deleted AFTER DELETE ON refs REFERENCING OLD TABLE AS changed_refs
    FOR EACH STATEMENT EXECUTE FUNCTION ref_status_counts_rows();
CREATE TRIGGER refs_status_changed AFTER UPDATE OF status ON refs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION ref_status_counts_change();

-- The counts of the references already there. CREATE TRIGGER locked refs against
-- writes until this migration commits, and this statement reads every write
-- committed before: none is counted twice or missed.
INSERT INTO ref_status_counts (account_id, status, n)
SELECT account_id, status, count(*) FROM refs GROUP BY account_id, status;

-- +goose Down
DROP TRIGGER refs_inserted ON refs;
DROP TRIGGER refs_deleted ON refs;
DROP TRIGGER refs_status_changed ON refs;
DROP FUNCTION ref_status_counts_rows(), ref_status_counts_change();
DROP TABLE ref_status_counts;
ALTER TABLE refs DROP COLUMN summary, DROP COLUMN first_eta, DROP COLUMN arrived;
DROP TABLE sessions;
