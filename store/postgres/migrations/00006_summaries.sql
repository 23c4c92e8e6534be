-- The summaries of the snapshots stored before 00005_console.sql, as Summarize makes
-- the first one's: the first ETA known is the snapshot's own (how it moved before is
-- not kept). Paused and unsubscribed references are not polled again: waiting for
-- their next snapshot would leave theirs empty for good.
--
-- Outside a transaction, a thousand references at a time, each batch committed: one
-- UPDATE of every row of refs holds the row locks of all of them until it ends, and
-- on a million references that stops every poll and API write on the table for
-- minutes (200,000 took 56 s on a loaded 2-core test machine). Instances of the
-- previous version may run meanwhile (`trackhook migrate up` before a rollout): a
-- summary another instance wrote first is kept (summary IS NULL is checked again on a
-- row updated meanwhile), and a snapshot stored without one is summarised by the
-- batch that reaches it. The JSON is ShipmentSummary's, whose fields are the
-- snapshot's of the same names and types.
-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    done text := '';   -- the last reference id of the batches committed
    upto text;
BEGIN
    LOOP
        SELECT max(id) INTO upto FROM (SELECT id FROM refs WHERE id > done ORDER BY id LIMIT 1000) b;
        EXIT WHEN upto IS NULL;
        UPDATE refs r SET
            summary = jsonb_build_object(
                'Status', s.data->'Status', 'Origin', s.data->'Origin', 'Destination', s.data->'Destination',
                'ETA', s.data->'ETA', 'FirstETA', s.data->'ETA'),
            first_eta = (s.data->>'ETA')::timestamptz,
            arrived = coalesce(s.data->>'Status' IN ('arrived', 'delivered', 'empty_returned'), false)
        FROM shipments s
        WHERE s.ref_id = r.id AND r.id > done AND r.id <= upto AND r.summary IS NULL;
        COMMIT;
        done := upto;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Nothing: 00005_console.sql's Down drops the columns.
