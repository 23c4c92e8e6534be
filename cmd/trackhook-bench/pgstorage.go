package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/store/postgres"
)

// pgSchemaPrefix starts the name of every schema the tool makes, one per phase
// (trackhook_bench_main, trackhook_bench_latency, ...); pgSchemaMark is the comment it
// puts on them, by which it knows them again.
const (
	pgSchemaPrefix = "trackhook_bench_"
	pgSchemaMark   = "made by trackhook-bench; dropped at the end of its run"
)

var _ benchStore = (*postgres.DB)(nil)

// pgStorage keeps each phase's store in a schema of its own in the database of the
// --db URL: the store opens with the schema first on its search_path, so the
// migrations make their tables there, and the schema is dropped with everything in it
// when the phase ends. The tool only works in a database that holds nothing but what
// it made itself (see claimDatabase): it never touches anyone's data, unless
// --db-reset says that everything in the database may be deleted.
type pgStorage struct {
	url        string
	keep       bool
	admin      *pgx.Conn // the tool's own connection: schemas and sizes
	version    string
	sampler    *serverSampler // nil when the server's CPU cannot be read
	samplerWhy string         // why not
	made       map[string]bool
}

// openPGStorage connects to the database at rawURL and makes sure it may use it.
func openPGStorage(ctx context.Context, rawURL string, reset, keep bool, log io.Writer) (_ *pgStorage, err error) {
	admin, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	s := &pgStorage{url: rawURL, keep: keep, admin: admin, made: map[string]bool{}}
	defer func() {
		if err != nil {
			admin.Close(context.WithoutCancel(ctx))
		}
	}()
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&s.version); err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	if err := s.claimDatabase(ctx, reset, log); err != nil {
		return nil, err
	}
	if s.sampler, err = startServerSampler(ctx, rawURL); err != nil {
		s.samplerWhy = err.Error()
		fmt.Fprintf(log, "trackhook-bench: the server's CPU time is not measured: %v\n", err)
	}
	return s, nil
}

// dbObjects is what one schema of the database holds.
type dbObjects struct {
	schema    string
	mark      string // the schema's comment
	relations int64  // tables, indexes, sequences, views
	routines  int64
	types     int64 // made by users, not those of tables
}

// claimDatabase checks that the database holds nothing the tool did not make. Schemas
// left by an earlier run (interrupted, or with --keep) are the tool's: it drops them.
// Anything else is refused, unless reset, which drops every schema with all it holds
// and makes public again empty, as it was.
func (s *pgStorage) claimDatabase(ctx context.Context, reset bool, log io.Writer) error {
	objs, err := s.objects(ctx)
	if err != nil {
		return err
	}
	var theirs []string
	for _, o := range objs {
		switch {
		case strings.HasPrefix(o.schema, pgSchemaPrefix) && o.mark == pgSchemaMark:
			if err := s.dropSchema(ctx, o.schema); err != nil {
				return err
			}
			fmt.Fprintf(log, "trackhook-bench: dropped schema %s, left by an earlier run\n", o.schema)
		case o.schema == "public" && o.relations+o.routines+o.types == 0:
		default:
			theirs = append(theirs, fmt.Sprintf("schema %s (%d relations, %d routines, %d types)", o.schema, o.relations, o.routines, o.types))
		}
	}
	if len(theirs) == 0 {
		return nil
	}
	var name string
	if err := s.admin.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		return err
	}
	if !reset {
		return fmt.Errorf("--db: database %q holds data the tool did not make: %s; "+
			"give it a database of its own (CREATE DATABASE trackhook_bench), or --db-reset to delete everything in it",
			name, strings.Join(theirs, ", "))
	}
	fmt.Fprintf(log, "trackhook-bench: --db-reset: deleting everything in database %q: %s\n", name, strings.Join(theirs, ", "))
	return s.resetDatabase(ctx, objs)
}

// objects lists the database's schemas but the system's, with what each holds.
func (s *pgStorage) objects(ctx context.Context) ([]dbObjects, error) {
	rows, err := s.admin.Query(ctx, `
SELECT n.nspname, coalesce(obj_description(n.oid, 'pg_namespace'), ''),
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid),
       (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid),
       (SELECT count(*) FROM pg_type t WHERE t.typnamespace = n.oid AND t.typrelid = 0 AND t.typelem = 0)
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY n.nspname`)
	if err != nil {
		return nil, fmt.Errorf("--db: list schemas: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbObjects, error) {
		var o dbObjects
		err := r.Scan(&o.schema, &o.mark, &o.relations, &o.routines, &o.types)
		return o, err
	})
}

// resetDatabase drops every schema of objs with everything in it, and makes public
// again with its owner and privileges as they were.
func (s *pgStorage) resetDatabase(ctx context.Context, objs []dbObjects) error {
	return pgx.BeginFunc(ctx, s.admin, func(tx pgx.Tx) error {
		var owner string
		var grants []string
		hasPublic := false
		for _, o := range objs {
			if o.schema == "public" {
				hasPublic = true
			}
		}
		if hasPublic {
			if err := tx.QueryRow(ctx, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'").Scan(&owner); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
SELECT format('GRANT %s ON SCHEMA public TO %s%s', a.privilege_type,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
FROM pg_namespace n, aclexplode(n.nspacl) a
WHERE n.nspname = 'public' AND a.grantee <> n.nspowner`)
			if err != nil {
				return err
			}
			if grants, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
		}
		for _, o := range objs {
			if _, err := tx.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{o.schema}.Sanitize()+" CASCADE"); err != nil {
				return fmt.Errorf("--db-reset: %w", err)
			}
		}
		if !hasPublic {
			return nil
		}
		stmts := append([]string{
			"CREATE SCHEMA public AUTHORIZATION " + pgx.Identifier{owner}.Sanitize(),
			"COMMENT ON SCHEMA public IS 'standard public schema'",
		}, grants...)
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("--db-reset: %s: %w", q, err)
			}
		}
		return nil
	})
}

// schema is the name of a phase's schema.
func schemaOf(name string) string {
	return pgSchemaPrefix + strings.ReplaceAll(name, "-", "_")
}

// open makes the phase's schema the first time, then opens a store on it: its own
// connection pool, as one instance of trackhook has.
func (s *pgStorage) open(ctx context.Context, name string, seeding bool) (benchStore, error) {
	schema := schemaOf(name)
	if !s.made[name] {
		id := pgx.Identifier{schema}.Sanitize()
		for _, q := range []string{"CREATE SCHEMA " + id, "COMMENT ON SCHEMA " + id + " IS '" + pgSchemaMark + "'"} {
			if _, err := s.admin.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("schema for %s: %w", name, err)
			}
		}
		s.made[name] = true
	}
	u, err := url.Parse(s.url)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if seeding {
		q.Set("synchronous_commit", "off")
	}
	u.RawQuery = q.Encode()
	return postgres.Open(ctx, u.String(), postgres.Options{ApplicationName: "trackhook-bench"})
}

// size adds up the tables of the phase's schema with their indexes and TOAST.
func (s *pgStorage) size(ctx context.Context, name string, _ benchStore) (int64, error) {
	var n int64
	err := s.admin.QueryRow(ctx, `
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm', 'S')`, schemaOf(name)).Scan(&n)
	return n, err
}

func (s *pgStorage) commits(ctx context.Context, db benchStore) (int64, error) {
	st, err := db.Stats(ctx)
	return st.Commits, err
}

// remove drops the phase's schema, unless the run keeps its stores.
func (s *pgStorage) remove(ctx context.Context, name string) error {
	if s.keep || !s.made[name] {
		return nil
	}
	delete(s.made, name)
	return s.dropSchema(ctx, schemaOf(name))
}

func (s *pgStorage) dropSchema(ctx context.Context, schema string) error {
	if _, err := s.admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

func (s *pgStorage) serverCPU() (serverTimes, bool) {
	if s.sampler == nil {
		return serverTimes{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := s.sampler.times(ctx)
	return t, err == nil
}

// drainEvery is longer than bbolt's: Stats is a query of a few milliseconds on
// PostgreSQL (2-4 ms on the machine of BENCHMARKS.md), which the server's CPU
// figures would count.
func (s *pgStorage) drainEvery() time.Duration { return 200 * time.Millisecond }

func (s *pgStorage) describe() string {
	d := "PostgreSQL " + s.version
	if s.sampler == nil {
		d += " (server CPU not measured: " + s.samplerWhy + ")"
	}
	return d
}

// close drops what the run made and was not dropped yet (a failed phase), unless
// kept, and closes the connections.
func (s *pgStorage) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	for name := range s.made {
		err = errors.Join(err, s.remove(ctx, name))
	}
	if s.sampler != nil {
		err = errors.Join(err, s.sampler.close(ctx))
	}
	return errors.Join(err, s.admin.Close(ctx))
}
