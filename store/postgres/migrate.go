package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The schema's migrations, applied in the order of their numbers. A released
// migration is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNewerSchema is returned by Open and Migrate for a database whose schema was
// migrated by a newer trackhook: this binary would misread it.
var ErrNewerSchema = errors.New("the database schema is newer than this trackhook knows; upgrade trackhook")

// MigrationState is one migration as the database has it.
type MigrationState struct {
	Version   int64
	Name      string
	AppliedAt *time.Time // nil while pending
}

// SchemaStatus is where a database's schema stands against this binary's migrations.
type SchemaStatus struct {
	Current    int64 // the newest migration applied, 0 for an empty database
	Latest     int64 // the newest migration this binary has
	Migrations []MigrationState
}

// Pending reports whether this binary has migrations the database lacks.
func (s SchemaStatus) Pending() bool { return s.Current < s.Latest }

// MigrationStatus reads the schema's state of the database at url, changing nothing.
func MigrationStatus(ctx context.Context, url string) (SchemaStatus, error) {
	var st SchemaStatus
	err := withProvider(ctx, url, func(p *goose.Provider) error {
		var err error
		st, err = status(ctx, p)
		return err
	})
	return st, err
}

// Migrate applies the migrations the database at url lacks, as Open does, and returns
// the versions it applied.
func Migrate(ctx context.Context, url string) ([]int64, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", redactErr(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	defer pool.Close()
	return migrateUp(ctx, pool)
}

func withProvider(ctx context.Context, url string, fn func(*goose.Provider) error) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("postgres: parse url: %w", redactErr(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer pool.Close()
	p, sqlDB, err := newProvider(pool)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	return fn(p)
}

// migrateUp applies the pending migrations under PostgreSQL's session advisory lock
// (goose's), so instances starting together apply each migration once; the others
// wait for the lock and then find nothing to do.
func migrateUp(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	p, sqlDB, err := newProvider(pool)
	if err != nil {
		return nil, err
	}
	defer sqlDB.Close()
	st, err := status(ctx, p)
	if err != nil {
		return nil, err
	}
	if st.Current > st.Latest {
		return nil, fmt.Errorf("postgres: schema version %d, this binary knows up to %d: %w", st.Current, st.Latest, ErrNewerSchema)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

func newProvider(pool *pgxpool.Pool) (*goose.Provider, interface{ Close() error }, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, sqlDB, nil
}

// status reads the applied migrations. A version applied that this binary does not
// have makes Current larger than Latest.
func status(ctx context.Context, p *goose.Provider) (SchemaStatus, error) {
	var st SchemaStatus
	for _, s := range p.ListSources() {
		st.Latest = max(st.Latest, s.Version)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return st, fmt.Errorf("postgres: read schema version: %w", err)
	}
	st.Current = current
	list, err := p.Status(ctx)
	if err != nil {
		return st, fmt.Errorf("postgres: read migrations: %w", err)
	}
	for _, m := range list {
		ms := MigrationState{Version: m.Source.Version, Name: m.Source.Path}
		if m.State == goose.StateApplied {
			at := m.AppliedAt
			ms.AppliedAt = &at
		}
		st.Migrations = append(st.Migrations, ms)
	}
	return st, nil
}
