package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/internal/pgtest"
)

// TestRun_PostgresInstancesDeliverEveryUpdateOnceInOrder runs every phase on
// PostgreSQL with two instances at tiny sizes: every update reached the receivers
// once and in order whichever instance polled or delivered it, the server's CPU was
// measured (the test server runs on this machine), and the database is left as
// empty as it was found.
func TestRun_PostgresInstancesDeliverEveryUpdateOnceInOrder(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{
		"--db", url, "--instances", "2",
		"--refs", "30", "--poll-duration", "300ms", "--delivery-duration", "300ms",
		"--latency-rate", "50", "--latency-refs", "20", "--latency-duration", "400ms",
		"--fanout-endpoints", "2", "--fanout-refs", "6", "--fanout-rounds", "1", "--fanout-duration", "200ms",
		"--fanout-rate", "20", "--fanout-down", "503", "--startup-refs", "50",
		"--poll-workers", "4", "--delivery-workers", "4", "--drain-timeout", "60s", "--json", "--push-rate", "0",
		"--receivers", "3", "--spread-refs", "6", "--spread-rounds", "1",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if !strings.HasPrefix(res.Config.Store, "PostgreSQL") || res.Config.Instances != 2 {
		t.Errorf("config: store %q, %d instances", res.Config.Store, res.Config.Instances)
	}
	p, d := res.Polls, res.Deliveries
	if p == nil || p.First.Count < 30 || p.Changed.Count == 0 || p.Unchanged.Count == 0 || d == nil {
		t.Fatalf("polls: %+v, deliveries: %+v", p, d)
	}
	if d.Missing != 0 || d.Duplicates != 0 || d.OutOfOrder != 0 || d.Failed != 0 {
		t.Errorf("deliveries: missing %d, duplicates %d, out of order %d, failed %d", d.Missing, d.Duplicates, d.OutOfOrder, d.Failed)
	}
	if p.Updates != d.Trackhook.Count+d.Drain.Count {
		t.Errorf("%d updates appended, %d delivered", p.Updates, d.Trackhook.Count+d.Drain.Count)
	}
	if strings.Contains(res.Config.Store, "not measured") {
		t.Errorf("the server's CPU was not measured: %s", res.Config.Store)
	} else if p.Changed.ServerCPUMicro == nil || *p.Changed.ServerCPUMicro <= 0 || d.Trackhook.Count > 0 && d.Trackhook.ServerCPUMicro == nil {
		t.Errorf("no server CPU per operation: polls %+v, deliveries %+v", p.Changed, d.Trackhook)
	}
	if l := res.Latency; l == nil || l.Updates.Count == 0 || int64(l.Delivered) != l.Updates.Count || l.Missing != 0 {
		t.Errorf("latency: %+v", l)
	}
	f := res.Fanout
	if f == nil || len(f.Latency) != 2 {
		t.Fatalf("fanout: %+v", f)
	}
	for _, r := range []fanoutRun{f.One, f.Many} {
		if r.Updates == 0 || r.Deliveries.Count != r.Updates*int64(r.Endpoints) || r.Missing+r.Duplicates+r.OutOfOrder+r.Failed != 0 || r.SignaturesBad != 0 {
			t.Errorf("fan-out to %d: %+v", r.Endpoints, r)
		}
	}
	if s := res.Startup; s == nil || s.References != 50 || s.FileBytes == 0 {
		t.Errorf("start-up: %+v", s)
	}
	if left := schemas(t, url); len(left) != 0 {
		t.Errorf("schemas left behind: %q", left)
	}
}

// TestRun_PostgresRefusesADatabaseWithData checks that the tool touches no data it did
// not make: a database with a table of someone else's is refused and left as it was;
// --db-reset empties it; a schema left by an interrupted run is the tool's to drop.
func TestRun_PostgresRefusesADatabaseWithData(t *testing.T) {
	url := pgtest.NewDatabase(t)
	exec(t, url, "CREATE TABLE precious (id int)", "INSERT INTO precious VALUES (1)")
	tiny := []string{"--db", url, "--refs", "5", "--poll-duration", "100ms", "--delivery-duration", "100ms",
		"--latency-rate", "0", "--fanout-endpoints", "0", "--poll-workers", "2", "--delivery-workers", "2",
		"--push-rate", "0", "--receivers", "0"} // what is tested is the database's refusal, not the phases

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), tiny, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "holds data the tool did not make") || !strings.Contains(err.Error(), "--db-reset") {
		t.Fatalf("a database with data: %v", err)
	}
	if n := count(t, url, "SELECT count(*) FROM precious"); n != 1 {
		t.Fatalf("the table was touched: %d rows", n)
	}

	// A schema left by a run that was killed is recognised by its mark and dropped.
	exec(t, url, "DROP TABLE precious", "CREATE SCHEMA trackhook_bench_main",
		"COMMENT ON SCHEMA trackhook_bench_main IS '"+pgSchemaMark+"'", "CREATE TABLE trackhook_bench_main.refs (id int)")
	if err := run(context.Background(), tiny, &stdout, &stderr); err != nil {
		t.Fatalf("a schema left by an earlier run: %v\n%s", err, stderr.String())
	}
	if left := schemas(t, url); len(left) != 0 {
		t.Errorf("schemas left behind: %q", left)
	}

	// --db-reset deletes everything, and public is made again as it was.
	exec(t, url, "CREATE TABLE precious (id int)", "CREATE SCHEMA other", "CREATE TABLE other.t (id int)",
		"GRANT CREATE ON SCHEMA public TO PUBLIC")
	acl := func() string {
		var s string
		queryRow(t, url, "SELECT nspowner::regrole::text || ' ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public'", &s)
		return s
	}
	before := acl()
	if err := run(context.Background(), append(tiny, "--db-reset"), &stdout, &stderr); err != nil {
		t.Fatalf("--db-reset: %v\n%s", err, stderr.String())
	}
	if n := count(t, url, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'other')"); n != 0 {
		t.Errorf("%d relations left after --db-reset", n)
	}
	if n := count(t, url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'other'"); n != 0 {
		t.Error("schema other left after --db-reset")
	}
	if after := acl(); after != before {
		t.Errorf("public after --db-reset: %q, before: %q", after, before)
	}
}

func exec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	withConn(t, url, func(ctx context.Context, c *pgx.Conn) {
		for _, q := range stmts {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}

func queryRow(t *testing.T, url, q string, dst ...any) {
	t.Helper()
	withConn(t, url, func(ctx context.Context, c *pgx.Conn) {
		if err := c.QueryRow(ctx, q).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	})
}

func count(t *testing.T, url, q string) int64 {
	t.Helper()
	var n int64
	queryRow(t, url, q, &n)
	return n
}

// schemas lists the schemas the tool made that are still there.
func schemas(t *testing.T, url string) []string {
	t.Helper()
	var names []string
	withConn(t, url, func(ctx context.Context, c *pgx.Conn) {
		rows, err := c.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'trackhook\\_bench\\_%'")
		if err != nil {
			t.Fatal(err)
		}
		if names, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	})
	return names
}

func withConn(t *testing.T, url string, fn func(context.Context, *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	fn(ctx, c)
}
