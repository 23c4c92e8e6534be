package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"text/tabwriter"
	"time"

	"github.com/trackhook/trackhook/store/postgres"
)

const migrateUsage = `trackhook migrate shows and applies the schema migrations of a PostgreSQL store.

  trackhook migrate status [--db postgres://...]   the migrations applied and pending
  trackhook migrate up [--db postgres://...]       apply the pending ones

serve applies them at start too, under a lock, so instances started together are
safe; migrate up lets an operator do it first, on purpose. A database migrated by a
newer trackhook is refused: upgrade this binary. A bbolt store file needs none of
this: it upgrades itself when it is opened.

Of the environment, only TRACKHOOK_DB (the store serve uses) changes this command.`

// migrate is `trackhook migrate status|up`.
func migrate(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, migrateUsage)
		return errors.New("migrate: give status or up")
	}
	sub := args[0]
	switch sub {
	case "status", "up":
	case "help", "-h", "--help":
		fmt.Fprintln(e.stdout, migrateUsage)
		return nil
	default:
		fmt.Fprintln(e.stderr, migrateUsage)
		return fmt.Errorf("migrate: unknown subcommand %q: give status or up", sub)
	}
	fs := newFlagSet("migrate "+sub, migrateUsage, e.stdout)
	target := fs.String("db", "trackhook.db", "the PostgreSQL URL of the store (postgres://user:password@host:5432/dbname)")
	if err := parseFlags(fs, args[1:], e.getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("migrate %s takes no arguments, got %q", sub, fs.Args())
	}
	if !postgres.IsURL(*target) {
		return fmt.Errorf("migrate: %s is a bbolt store file, which upgrades itself when trackhook opens it; migrate is for PostgreSQL (--db postgres://...)", *target)
	}
	name := redactURL(*target)
	if sub == "up" {
		applied, err := postgres.Migrate(ctx, *target)
		if err != nil {
			return fmt.Errorf("migrate up on %s: %w", name, scrubSecrets(err, *target))
		}
		if len(applied) == 0 {
			fmt.Fprintf(e.stdout, "%s: the schema is up to date, nothing to apply\n", name)
			return nil
		}
		for _, v := range applied {
			fmt.Fprintf(e.stdout, "applied migration %d\n", v)
		}
		fmt.Fprintf(e.stdout, "%s: the schema is at version %d\n", name, applied[len(applied)-1])
		return nil
	}
	st, err := postgres.MigrationStatus(ctx, *target)
	if err != nil {
		return fmt.Errorf("migrate status of %s: %w", name, scrubSecrets(err, *target))
	}
	return printMigrations(e, name, st)
}

// printMigrations writes the schema's state: its version against this binary's,
// then every migration with when it was applied.
func printMigrations(e env, name string, st postgres.SchemaStatus) error {
	switch {
	case st.Current > st.Latest:
		fmt.Fprintf(e.stdout, "%s: schema version %d, newer than this trackhook knows (%d): upgrade trackhook\n", name, st.Current, st.Latest)
	case st.Pending():
		fmt.Fprintf(e.stdout, "%s: schema version %d of %d: run trackhook migrate up (or start serve) to apply the rest\n", name, st.Current, st.Latest)
	default:
		fmt.Fprintf(e.stdout, "%s: schema version %d, up to date\n", name, st.Current)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED")
	for _, m := range st.Migrations {
		applied := "pending"
		if m.AppliedAt != nil {
			applied = m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, path.Base(m.Name), applied)
	}
	return tw.Flush()
}
