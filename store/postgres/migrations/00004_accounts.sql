-- Accounts, API keys, audit logs and the store's own counters.
-- +goose Up
CREATE TABLE accounts (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    data       jsonb NOT NULL                   -- the references.Account
);

-- API keys by their hash, the lookup every request makes. An account holds keys by
-- the dozen: listing and revoking read the account's through api_keys_by_account.
CREATE TABLE api_keys (
    hash         text PRIMARY KEY,              -- hex SHA-256 of the key's text
    id           text NOT NULL,                 -- key_...
    account_id   text NOT NULL,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,                   -- authoritative: data's copy is not kept
    data         jsonb NOT NULL                 -- the references.APIKey
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at, id);

CREATE TABLE audit (
    account_id text NOT NULL,
    seq        bigint NOT NULL,
    at         timestamptz NOT NULL,
    data       jsonb NOT NULL,                  -- the references.AuditEntry
    PRIMARY KEY (account_id, seq)
);
CREATE TABLE audit_counters (
    account_id text PRIMARY KEY,
    seq        bigint NOT NULL
);

-- What retention deleted since the store was created, and when it last ran.
CREATE TABLE store_stats (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    pruned        jsonb NOT NULL DEFAULT '{}',  -- the references.PruneCounts
    last_prune_at timestamptz
);
INSERT INTO store_stats DEFAULT VALUES;

-- +goose Down
DROP TABLE store_stats, audit_counters, audit, api_keys, accounts;
