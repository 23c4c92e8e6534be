// Package postgres is the PostgreSQL backend of the storage contract
// (references.Backend), for several trackhook instances on one database. It keeps the
// same promises as the bbolt store (store/storetest proves it), with the differences
// a shared database brings:
//
//   - Work is handed out with claims (FOR UPDATE SKIP LOCKED) and leases whose ends
//     the database's clock decides, so instances whose clocks differ agree (lease.go).
//   - Every logical change is one transaction; the counters that must stay gapless
//     across instances (an account's update sequence, its audit and operational
//     feeds) are rows updated in that transaction.
//   - The schema is versioned migrations embedded in the binary (migrate.go), applied
//     at Open under an advisory lock.
//
// The domain values are stored as JSON in a data column beside the columns that
// queries filter, sort and lock on; the columns are written from the value in the
// same statement, so the two never disagree.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trackhook/trackhook/internal/clock"
)

// Options configures Open.
type Options struct {
	// Clock, when set, decides due-ness and lease ends instead of the database's
	// now(). Only for tests, where one fake clock drives the whole suite: instances in
	// production must share the database's clock.
	Clock clock.Clock
	// MaxConns bounds the connection pool. Default: the URL's pool_max_conns when it
	// has one, else pgxpool's default (the number of CPUs, at least 4) raised to 8, so
	// that the poller, the notifier and the API do not queue for connections on a
	// small machine.
	MaxConns int32
	// ApplicationName names the connections in pg_stat_activity: `trackhook serve`
	// names its own, so that `store copy` can tell that a service is running.
	ApplicationName string
	Logger          *slog.Logger
}

// DB is trackhook's store on PostgreSQL.
type DB struct {
	pool  *pgxpool.Pool
	clock clock.Clock // nil: the database's clock
	log   *slog.Logger
}

// Open connects to the database at url (postgres://...), applies the migrations this
// binary has that the database lacks (see Migrate), and returns the store. A database
// whose schema is newer than this binary's is refused with ErrNewerSchema.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", redactErr(err))
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns="):
		cfg.MaxConns = max(cfg.MaxConns, 8)
	}
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if _, err := migrateUp(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &DB{pool: pool, clock: opts.Clock, log: log}, nil
}

// IsURL reports whether s names a PostgreSQL database rather than a bbolt file.
func IsURL(s string) bool {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// redactErr keeps a parse error from echoing the URL, which may hold a password.
func redactErr(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// querier is what a statement runs on: a transaction or the pool.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// now is the time due-ness and leases are decided by: the database's, read in q (the
// start of its transaction, so every statement of one transaction agrees), or the
// injected test clock's. Times are truncated to microseconds, what PostgreSQL keeps.
func (db *DB) now(ctx context.Context, q querier) (time.Time, error) {
	if db.clock != nil {
		return db.clock.Now().UTC().Truncate(time.Microsecond), nil
	}
	var t time.Time
	if err := q.QueryRow(ctx, "SELECT now()").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("postgres: read clock: %w", err)
	}
	return t.UTC(), nil
}
