package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// TestExplainHotQueries prints the plans PostgreSQL chooses for the backend's hot
// queries on a large database: the figures behind its indexes. It is a tool, skipped
// unless TRACKHOOK_EXPLAIN=1:
//
//	TRACKHOOK_EXPLAIN=1 TRACKHOOK_TEST_POSTGRES=postgres://... \
//	  go test ./store/postgres -run TestExplainHotQueries -v -timeout 2h
//
// TRACKHOOK_EXPLAIN_REFS sets the number of references (default 1,000,000).
// TRACKHOOK_EXPLAIN_DB, a postgres:// URL, fills (once: a database holding references
// is used as it is) and keeps that database instead of a throwaway one, so that the
// plans can be read again without filling it again.
//
// The database is filled in bulk: a few template references (delivered, with a
// delivery pending, unsubscribed) are made through the contract's own methods, then
// cloned N times by INSERT ... SELECT over generate_series, with their feeds, snapshots,
// delivery logs, endpoint messages, streams and idempotency keys. A clone is a
// template's row with its keys and times rewritten and its other columns copied,
// whatever they are (read from information_schema), so the fill follows the schema
// as its owners change it.
//
// The queries are not copied here: the test calls the backend's methods (claims,
// lists, searches, feeds, retention, Stats) on a pool whose tracer records every
// statement they run with its arguments, and then runs EXPLAIN (ANALYZE, BUFFERS) of
// each in a transaction that is rolled back. A claim's EXPLAIN runs after the claim
// itself, so it passes over the rows the claim leased, as the next claim would.
func TestExplainHotQueries(t *testing.T) {
	if os.Getenv("TRACKHOOK_EXPLAIN") != "1" {
		t.Skip("a tool: set TRACKHOOK_EXPLAIN=1 to fill a large database and print the plans of the hot queries")
	}
	n := 1_000_000
	if s := os.Getenv("TRACKHOOK_EXPLAIN_REFS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1000 {
			t.Fatalf("TRACKHOOK_EXPLAIN_REFS=%q: want a number of references, 1000 or more", s)
		}
	}
	url := os.Getenv("TRACKHOOK_EXPLAIN_DB")
	if url == "" {
		url = pgtest.NewDatabase(t)
	}
	ctx := context.Background()
	db, err := Open(ctx, url, Options{MaxConns: 4}) // the database's clock, as in production
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var refs int64
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM refs").Scan(&refs); err != nil {
		t.Fatal(err)
	}
	if refs == 0 {
		start := time.Now()
		fillExplainDB(t, ctx, db, n)
		t.Logf("filled with %d references in %s", n, time.Since(start).Round(time.Second))
	} else {
		t.Logf("using the %d references already in the database", refs)
	}
	logSizes(t, ctx, db)

	// Swap the pool for one that records statements.
	rec := &statementRecorder{}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = rec
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain := db.pool
	db.pool = traced
	defer traced.Close()

	ex := &explainer{t: t, ctx: ctx, pool: plain, rec: rec}
	acct := explainAccount(1)
	var sampleRef references.Reference
	ex.run("due-poll claim (ClaimDuePolls, 100)", func() error {
		claims, err := db.ClaimDuePolls(ctx, "explain", 100, 30*time.Second)
		if err == nil && len(claims) == 0 {
			err = errors.New("no poll was due")
		}
		if err == nil {
			sampleRef = claims[0].Reference
			rec.stop()
			for _, c := range claims[1:] {
				_ = db.ReleaseLease(ctx, c.Lease)
			}
			rec.start()
			now := time.Now()
			_, err = db.RecordPoll(ctx, claims[0].Lease, references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute)})
		}
		return err
	})
	ex.run("delivery claim (ClaimDueDeliveries, 100) and a delivered attempt", func() error {
		claims, err := db.ClaimDueDeliveries(ctx, "explain", 100, 30*time.Second)
		if err == nil && len(claims) == 0 {
			err = errors.New("no delivery was due")
		}
		if err == nil {
			rec.stop()
			for _, c := range claims[1:] {
				_ = db.ReleaseLease(ctx, c.Lease)
			}
			rec.start()
			c := claims[0]
			_, err = db.RecordAttempt(ctx, c.Lease, c.Job, deliveredAttempt(c.Job, time.Now()), "")
			if err == nil {
				_, err = db.NextDelivery(ctx, c.Lease)
				if errors.Is(err, references.ErrNothingToDeliver) {
					err = nil
				}
			}
		}
		return err
	})
	ex.run("list by account, first page and the next, in creation order", func() error {
		page, err := db.ListReferences(ctx, acct, references.ListQuery{Limit: 50})
		if err == nil && page.NextCursor != "" {
			_, err = db.ListReferences(ctx, acct, references.ListQuery{Limit: 50, Cursor: page.NextCursor})
		}
		return err
	})
	ex.run("list by account, active only, by ETA", func() error {
		_, err := db.ListReferences(ctx, acct, references.ListQuery{Limit: 50, Status: references.StatusActive, Sort: references.SortETA})
		return err
	})
	late := time.Now()
	ex.run("list with the console's filters (has callback, failing, late), in creation order and by ETA", func() error {
		yes := true
		q := references.ListQuery{Limit: 50, HasCallback: &yes, LateAt: &late}
		_, err := db.ListReferences(ctx, acct, q)
		if err == nil {
			q.Sort = references.SortETA
			_, err = db.ListReferences(ctx, acct, q)
		}
		if err == nil {
			_, err = db.ListReferences(ctx, acct, references.ListQuery{Limit: 50, Failing: true})
		}
		return err
	})
	ex.run("counts by status (CountReferences)", func() error {
		_, err := db.CountReferences(ctx, acct)
		return err
	})
	ex.run("console session: sign-in, read, touch, sign-out", func() error {
		now := time.Now().UTC()
		s := references.Session{TokenHash: references.NewID("explain_"), AccountID: acct, KeyID: "key", KeyHash: "khash",
			CSRFToken: "csrf", CreatedAt: now, LastSeenAt: now, Idle: 30 * time.Minute, ExpiresAt: now.Add(12 * time.Hour)}
		err := db.CreateSession(ctx, s)
		if err == nil {
			_, err = db.GetSession(ctx, s.TokenHash)
		}
		if err == nil {
			err = db.TouchSession(ctx, s.TokenHash, now.Add(time.Minute))
		}
		if err == nil {
			err = db.DeleteSession(ctx, s.TokenHash)
		}
		return err
	})
	ex.run("search by identifier, exact and prefix", func() error {
		g := n/2 + 1
		ident := explainContainer(g)
		_, err := db.ListReferences(ctx, explainAccount(g), references.ListQuery{Limit: 50, Identifier: ident})
		if err == nil {
			_, err = db.ListReferences(ctx, explainAccount(g), references.ListQuery{Limit: 50, Identifier: ident[:8] + "*"})
		}
		return err
	})
	ex.run("account feed page (ListAccountUpdates after the middle)", func() error {
		var last uint64
		if err := plain.QueryRow(ctx, "SELECT update_seq FROM account_counters WHERE account_id = $1", acct).Scan(&last); err != nil {
			return err
		}
		_, err := db.ListAccountUpdates(ctx, acct, references.AccountUpdateQuery{After: last / 2, Limit: 100})
		return err
	})
	ex.run("a reference's feed, snapshot and delivery log", func() error {
		if sampleRef.ID == "" {
			return errors.New("no reference claimed to read")
		}
		_, err := db.ListUpdates(ctx, sampleRef.AccountID, sampleRef.ID, 0, 100)
		if err == nil {
			_, err = db.Shipment(ctx, sampleRef.ID)
		}
		if err == nil {
			_, err = db.ListDeliveries(ctx, sampleRef.AccountID, sampleRef.ID, references.DeliveryQuery{Limit: 50})
		}
		return err
	})
	ex.run("API key lookup", func() error {
		keys, err := db.ListAPIKeys(ctx, acct)
		if err == nil && len(keys) > 0 {
			_, err = db.LookupAPIKey(ctx, keys[0].Hash)
		}
		return err
	})
	// Retention: one prune per kind, so that each kind's scan is explained (one prune
	// of all kinds stops at Max in the first kind that has that much to delete).
	week := time.Now().Add(-7 * 24 * time.Hour)
	for _, p := range []struct {
		kind string
		req  references.PruneRequest
	}{
		{"idempotency keys expired", references.PruneRequest{IdempotencyKeys: time.Now()}},
		{"references unsubscribed over 7 days ago", references.PruneRequest{Unsubscribed: week}},
		{"updates older than 7 days", references.PruneRequest{Updates: week}},
		{"delivery log older than 7 days", references.PruneRequest{Attempts: week}},
		{"endpoint messages older than 7 days", references.PruneRequest{Messages: week}},
	} {
		ex.run("retention: "+p.kind+" (Prune, max 1000)", func() error {
			p.req.Max = 1000
			got, err := db.Prune(ctx, p.req)
			t.Logf("the prune of %s deleted %+v", p.kind, got)
			return err
		})
	}
	ex.run("Stats", func() error {
		_, err := db.Stats(ctx)
		return err
	})
}

// statementRecorder is a pgx tracer that keeps every statement that succeeded, with
// its arguments, while it is started.
type statementRecorder struct {
	mu    sync.Mutex
	off   bool
	stmts []recordedStatement
}

type recordedStatement struct {
	sql  string
	args []any
}

type traceKey struct{}

func (r *statementRecorder) start() { r.mu.Lock(); r.off = false; r.mu.Unlock() }
func (r *statementRecorder) stop()  { r.mu.Lock(); r.off = true; r.mu.Unlock() }

// take returns the statements recorded since the last take.
func (r *statementRecorder) take() []recordedStatement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

func (r *statementRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, recordedStatement{sql: data.SQL, args: data.Args})
}

func (r *statementRecorder) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	s, ok := ctx.Value(traceKey{}).(recordedStatement)
	if !ok || data.Err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off {
		r.stmts = append(r.stmts, s)
	}
}

// explainer runs a step of the backend and explains the statements it ran.
type explainer struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool // untraced
	rec  *statementRecorder
}

func (e *explainer) run(name string, step func() error) {
	e.rec.take()
	start := time.Now()
	err := step()
	took := time.Since(start)
	stmts := e.rec.take()
	if err != nil {
		e.t.Errorf("%s: %v", name, err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== %s: %d statements, %s in all\n", name, len(stmts), took.Round(time.Microsecond))
	// Each statement once, in the order first run, with how often the step ran it.
	var order []recordedStatement
	times := map[string]int{}
	for _, s := range stmts {
		if trivialStatement(s.sql) {
			continue
		}
		if times[s.sql] == 0 {
			order = append(order, s)
		}
		times[s.sql]++
	}
	for _, s := range order {
		fmt.Fprintf(&b, "\n-- (run %d times) %s\n", times[s.sql], oneLine(s.sql))
		plan, err := e.explain(s)
		if err != nil {
			fmt.Fprintf(&b, "   (EXPLAIN failed: %v)\n", err)
			continue
		}
		b.WriteString(plan)
	}
	e.t.Log(b.String())
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of s in a transaction it rolls back, so
// that explaining a write changes nothing.
func (e *explainer) explain(s recordedStatement) (string, error) {
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(e.ctx)
	rows, err := tx.Query(e.ctx, "EXPLAIN (ANALYZE, BUFFERS) "+s.sql, s.args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("   " + l + "\n")
	}
	return b.String(), nil
}

// trivialStatement reports statements without a plan worth reading: transaction
// control and reading the clock.
func trivialStatement(sql string) bool {
	switch strings.ToLower(strings.TrimSpace(sql)) {
	case "begin", "commit", "rollback", "select now()", "select 1":
		return true
	}
	return false
}

func oneLine(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// logSizes prints each table's row estimate and size with its indexes.
func logSizes(t *testing.T, ctx context.Context, db *DB) {
	rows, err := db.pool.Query(ctx, `SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY pg_total_relation_size(c.oid) DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("tables (rows estimated, size with indexes and TOAST):\n")
	for rows.Next() {
		var name, size string
		var n int64
		if err := rows.Scan(&name, &n, &size); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  %-24s %12d  %s\n", name, n, size)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var dbSize string
	if err := db.pool.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&dbSize); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "  database: %s", dbSize)
	t.Log(b.String())
}

// The filled database's shape.
const (
	explainAccounts = 20         // clone g is in account g % explainAccounts
	explainTemplate = "acct_tpl" // the templates' account
	explainSpread   = 30 * 24 * 3600
)

func explainAccount(g int) string    { return fmt.Sprintf("acct_%02d", g%explainAccounts) }
func explainContainer(g int) string  { return fmt.Sprintf("MSCU%07d", g) }
func explainDay(d int) time.Duration { return time.Duration(d) * 24 * time.Hour }

// fillExplainDB makes the templates through the backend and clones them into n
// references: 90% delivered, 1% with deliveries pending (due now), 10% unsubscribed;
// 1% of the active ones due for a poll, the others over the next 6 hours; created over
// the last 30 days in 20 accounts, a quarter of which have an endpoint that receives
// every update.
func fillExplainDB(t *testing.T, ctx context.Context, db *DB, n int) {
	now := time.Now().UTC()
	for a := range explainAccounts {
		id := explainAccount(a)
		if _, err := db.EnsureAccount(ctx, id, "whsec_"+references.NewID(""), now); err != nil {
			t.Fatal(err)
		}
		_, k := references.NewAPIKey(id, []references.Scope{references.ScopeAdmin}, now)
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.EnsureAccount(ctx, explainTemplate, "whsec_"+references.NewID(""), now); err != nil {
		t.Fatal(err)
	}
	ep := references.Endpoint{
		ID: references.NewID("ep_"), AccountID: explainTemplate, URL: "https://receiver.example/hooks",
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Enabled: true, Secrets: []references.WebhookSecret{{Secret: "whsec_" + references.NewID(""), CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if _, err := db.CreateEndpoint(ctx, ep, 0); err != nil {
		t.Fatal(err)
	}
	delivered := explainTemplateRef(t, ctx, db, 1, true)
	unsub := explainTemplateRef(t, ctx, db, 2, false)
	explainDeliverAll(t, ctx, db)
	if _, err := db.UnsubscribeReference(ctx, explainTemplate, unsub, references.ReasonUser, time.Now()); err != nil {
		t.Fatal(err)
	}
	explainDeliverAll(t, ctx, db) // what the unsubscribe queued, if anything
	pending := explainTemplateRef(t, ctx, db, 3, false)

	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	exec := func(what, sql string, args ...any) {
		start := time.Now()
		tag, err := conn.Exec(ctx, sql, args...)
		if err != nil {
			t.Fatalf("fill %s: %v", what, err)
		}
		t.Logf("fill %s: %d rows in %s", what, tag.RowsAffected(), time.Since(start).Round(time.Millisecond))
	}
	exec("templates", `CREATE TEMP TABLE tpl AS SELECT * FROM (VALUES ('delivered', $1::text), ('unsub', $2), ('pending', $3)) v(kind, ref_id)`,
		delivered, unsub, pending)
	// g's clone of its template: its id, account, identifier and how far its times
	// move back from the template's (up to 30 days, in creation order). Kinds and due
	// times are chosen by g's rank in its account (nth), so that every account has
	// each kind.
	exec("the clones' map", `CREATE TEMP TABLE clone_map AS
		SELECT g, tpl.ref_id AS src, 'ref_x' || lpad(g::text, 9, '0') AS dst,
			'acct_' || lpad((g % $2)::text, 2, '0') AS account,
			(g % $2) % 4 = 0 AS has_endpoint,
			g / $2 AS nth,
			'MSCU' || lpad(g::text, 7, '0') AS container,
			make_interval(secs => -($1 - g) * ($3::float8 / $1)) AS shift
		FROM generate_series(1, $1::int) g
		JOIN tpl ON tpl.kind = CASE WHEN (g / $2) % 10 = 0 THEN 'unsub' WHEN (g / $2) % 100 = 1 THEN 'pending' ELSE 'delivered' END`,
		n, explainAccounts, explainSpread)
	exec("analyze the map", "ANALYZE clone_map")

	// clone copies the rows of table that from selects (as t, with the map's m),
	// replacing the columns that set names; the other columns, whatever they are, are
	// copied as they are (a large jsonb as its stored, compressed, value).
	clone := func(table string, set map[string]string, from string, args ...any) {
		rows, err := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = "t." + c
			if e, ok := set[c]; ok {
				exprs[i] = e
			}
		}
		exec(table, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s",
			table, strings.Join(cols, ", "), strings.Join(exprs, ", "), from), args...)
	}
	clone("refs", map[string]string{
		"id": "m.dst", "account_id": "m.account", "ident_value": "m.container",
		"created_at": "t.created_at + m.shift", "updated_at": "t.updated_at + m.shift",
		"unsubscribed_at": "t.unsubscribed_at + m.shift",
		"next_poll_at": `CASE WHEN t.next_poll_at IS NULL THEN NULL
			WHEN m.nth % 100 = 3 THEN now() - (m.g % 60) * interval '1 second'
			ELSE now() + ((m.g::bigint * 7919) % 21600 + 60) * interval '1 second' END`,
		"eta": "t.eta + (m.g % 90) * interval '1 day'",
		// The summary moves with the ETA; the first ETA by a little less, so that
		// about a third of the references are late (their ETA moved over a day).
		"first_eta": "t.first_eta + (m.g % 90 - m.g % 3) * interval '1 day'",
		"summary": `t.summary || jsonb_build_object('ETA', t.eta + (m.g % 90) * interval '1 day',
			'FirstETA', t.first_eta + (m.g % 90 - m.g % 3) * interval '1 day')`,
		// What retention reads from the reference's JSON moves with its columns.
		"data": `t.data || jsonb_build_object('ID', m.dst, 'AccountID', m.account, 'ContainerID', m.container,
			'CreatedAt', t.created_at + m.shift, 'UpdatedAt', t.updated_at + m.shift)
			|| CASE WHEN t.unsubscribed_at IS NULL THEN '{}'
				ELSE jsonb_build_object('UnsubscribedAt', t.unsubscribed_at + m.shift) END`,
	}, "refs t JOIN clone_map m ON m.src = t.id")
	clone("shipments", map[string]string{"ref_id": "m.dst"}, "shipments t JOIN clone_map m ON m.src = t.ref_id")
	clone("ref_numbers", map[string]string{"ref_id": "m.dst", "account_id": "m.account", "number": "m.container"},
		"ref_numbers t JOIN clone_map m ON m.src = t.ref_id")
	// The account sequence of a clone's update: the template's, after those of the
	// account's earlier clones. The update's JSON keeps the template's ids: no query
	// reads them.
	var tplSeq int64
	if err := conn.QueryRow(ctx, "SELECT max(account_seq) FROM updates WHERE account_id = $1", explainTemplate).Scan(&tplSeq); err != nil {
		t.Fatal(err)
	}
	clone("updates", map[string]string{
		"ref_id": "m.dst", "account_id": "m.account", "id": "t.id || '_' || m.g",
		"account_seq": "m.nth * $1 + t.account_seq", "created_at": "t.created_at + m.shift",
	}, "updates t JOIN clone_map m ON m.src = t.ref_id", tplSeq)
	clone("delivery_attempts", map[string]string{"ref_id": "m.dst", "attempted_at": "t.attempted_at + m.shift"},
		"delivery_attempts t JOIN clone_map m ON m.src = t.ref_id")
	clone("endpoints", map[string]string{
		"id": "t.id || '_' || a.account", "account_id": "a.account",
		"data": "t.data || jsonb_build_object('ID', t.id || '_' || a.account, 'AccountID', a.account)",
	}, "endpoints t JOIN (SELECT DISTINCT account FROM clone_map WHERE has_endpoint) a ON t.account_id = $1", explainTemplate)
	clone("messages", map[string]string{
		"endpoint_id": "t.endpoint_id || '_' || m.account", "stream": "m.dst", "id": "t.id || '_' || m.g",
		"account_id": "m.account", "created_at": "t.created_at + m.shift", "last_attempt_at": "t.last_attempt_at + m.shift",
	}, "messages t JOIN clone_map m ON m.src = t.stream AND m.has_endpoint")
	clone("delivery_streams", map[string]string{
		"destination": "CASE WHEN t.destination = $1 THEN t.destination ELSE t.destination || '_' || m.account END",
		"stream":      "m.dst", "account_id": "m.account", "due_at": "now() - (m.g % 600) * interval '1 second'",
	}, "delivery_streams t JOIN clone_map m ON m.src = t.stream AND (t.destination = $1 OR m.has_endpoint)",
		references.DestinationCallback)
	clone("idempotency", map[string]string{
		"account_id": "m.account", "key": "t.key || '_' || m.g", "expires_at": "t.expires_at + m.shift",
	}, "idempotency t JOIN tpl ON tpl.kind = 'delivered' JOIN clone_map m ON m.src = tpl.ref_id AND m.g % 5 = 2 AND t.account_id = $1",
		explainTemplate)
	exec("account_counters", `INSERT INTO account_counters (account_id, active_refs, update_seq)
		SELECT r.account_id, count(*) FILTER (WHERE r.status <> 'unsubscribed'),
			(SELECT max(account_seq) FROM updates u WHERE u.account_id = r.account_id)
		FROM refs r WHERE r.account_id <> $1 GROUP BY r.account_id
		ON CONFLICT (account_id) DO UPDATE SET active_refs = EXCLUDED.active_refs, update_seq = EXCLUDED.update_seq`,
		explainTemplate)
	exec("vacuum", "VACUUM ANALYZE")
}

// explainTemplateRef makes a template reference with a callback, polled once with a
// snapshot and three updates, and returns its id; idem creates it under an
// Idempotency-Key.
func explainTemplateRef(t *testing.T, ctx context.Context, db *DB, i int, idem bool) string {
	now := time.Now().UTC()
	next := now
	eta := now.Add(explainDay(12))
	ref := references.Reference{
		ID: references.NewID("ref_"), AccountID: explainTemplate, ContainerID: explainContainer(i),
		CarrierCode: "MSCU", Metadata: map[string]string{"po": fmt.Sprint(4500000 + i), "customer": "ACME"},
		CallbackURL: "https://receiver.example/callback", PollInterval: references.Duration(15 * time.Minute),
		Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &next,
	}
	var opts references.CreateOptions
	if idem {
		opts.Idempotency = &references.IdempotencyKey{Key: "idem-" + references.NewID(""), RequestHash: strings.Repeat("ab", 32), ExpiresAt: now.Add(explainDay(1))}
	}
	stored, _, err := db.CreateReference(ctx, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	claim, err := db.ClaimPoll(ctx, "fill", stored.ID, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ship := explainShipment(ref.ContainerID, now, eta)
	var ups []references.Update
	for _, typ := range []references.UpdateType{references.UpdateShipment, references.UpdateShipment, references.UpdateShipment} {
		ups = append(ups, references.Update{
			ID: references.NewID("upd_"), Type: typ, CreatedAt: now, Shipment: ship,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: "status changed to in_transit"}},
		})
	}
	if _, err := db.RecordPoll(ctx, claim.Lease, references.PollResult{
		PolledAt: now, NextPollAt: now.Add(15 * time.Minute), Shipment: ship, Updates: ups,
	}); err != nil {
		t.Fatal(err)
	}
	return stored.ID
}

// explainShipment is a snapshot of the size carriers give: one container, six events.
func explainShipment(container string, now, eta time.Time) *references.Shipment {
	origin := &references.Location{UNLocode: "CNSHA", Name: "Shanghai"}
	dest := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
	vessel := &references.TransportCall{VesselName: "MSC GULSUN", VesselIMO: "9839430", Voyage: "FE123W", ModeOfTransport: "VESSEL"}
	var events []references.Event
	for i, code := range []string{"GTIN", "LOAD", "DEPA", "ARRI", "DISC", "GTOT"} {
		events = append(events, references.Event{
			ID: fmt.Sprintf("evt-%s-%d", container, i), Type: references.EventType("EQUIPMENT"), Classifier: references.Classifier("ACT"),
			Code: code, Time: now.Add(time.Duration(i-6) * 24 * time.Hour), Location: origin, TransportCall: vessel,
			EquipmentReference: container, ISOEquipmentCode: "45G1", EmptyIndicator: "LADEN",
		})
	}
	return &references.Shipment{
		Events: events, Status: references.ShipmentInTransit, Origin: origin, Destination: dest,
		CurrentLocation: origin, CurrentVessel: vessel, ETA: &eta,
		Containers: []references.Container{{Number: container, ISOEquipmentCode: "45G1"}},
	}
}

// explainDeliverAll delivers whatever is due, as a notifier would.
func explainDeliverAll(t *testing.T, ctx context.Context, db *DB) {
	for range 100 {
		claims, err := db.ClaimDueDeliveries(ctx, "fill", 100, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) == 0 {
			return
		}
		for _, c := range claims {
			job := c.Job
			for {
				if _, err := db.RecordAttempt(ctx, c.Lease, job, deliveredAttempt(job, time.Now()), ""); err != nil {
					t.Fatal(err)
				}
				next, err := db.NextDelivery(ctx, c.Lease)
				if errors.Is(err, references.ErrNothingToDeliver) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				job = next
			}
			if err := db.ReleaseLease(ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("deliveries kept coming")
}

// deliveredAttempt is the record of a job delivered at at.
func deliveredAttempt(job references.DeliveryJob, at time.Time) references.DeliveryAttempt {
	return references.DeliveryAttempt{
		Destination: job.Destination, ReferenceID: job.Reference.ID, UpdateID: job.Update.ID,
		Sequence: job.Update.Sequence, Attempt: job.Attempt, URL: job.URL(), At: at, LatencyMS: 40,
		Outcome: references.OutcomeDelivered, StatusCode: 204, Redelivery: job.Redelivery,
	}
}
