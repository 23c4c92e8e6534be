-- +goose Up
-- A carrier's push names an identifier, not a reference nor an account: find the
-- active references of every account that track it (ActiveReferencesByIdentifier).
-- refs_active_identifier starts with account_id and cannot serve that.
CREATE INDEX refs_active_by_identifier ON refs (ident_value, carrier_code) WHERE status = 'active';

-- +goose Down
DROP INDEX refs_active_by_identifier;
