package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/store/postgres"
)

const statusUsage = `trackhook status prints a store's counts, its oldest undelivered update and what
retention removed.

It reads a store file directly, so the server must be stopped. For a running server,
ask it instead (admin key):
  curl -s localhost:8080/admin/status -H "Authorization: Bearer $ADMIN_KEY"
A PostgreSQL database (--db postgres://...) is read while the service runs; status
changes nothing in it, and asks for trackhook migrate up when its schema is behind.

  trackhook status [--db FILE|URL] [--json]

Of the environment, only TRACKHOOK_DB (the store serve uses) changes this command.`

// statusLockTimeout is how long status waits for the file lock before it concludes
// that a server holds the store.
const statusLockTimeout = 300 * time.Millisecond

// status is `trackhook status`. now is the clock the age of the oldest update is
// counted with.
func status(ctx context.Context, args []string, e env, now func() time.Time) error {
	fs := newFlagSet("status", statusUsage, e.stdout)
	dbPath := fs.String("db", "trackhook.db", "path of the store file, or a PostgreSQL URL (postgres://...)")
	asJSON := fs.Bool("json", false, "print JSON, the same as GET /admin/status answers")
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("status takes no arguments, got %q", fs.Args())
	}
	if err := statusCanOpen(ctx, *dbPath); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	db, err := openBackend(ctx, *dbPath, openOptions{command: "status", lockTimeout: statusLockTimeout})
	if errors.Is(err, errStoreInUse) {
		return fmt.Errorf("status: %w: stop it, or ask the server with GET /admin/status", err)
	}
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer db.Close()

	st, err := api.ReadStatus(ctx, db)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return printStatus(e, redactURL(*dbPath), st, now())
}

// statusCanOpen checks that opening target changes nothing, since status only
// reads: a store file must exist (opening a missing one would create it), and a
// database must have trackhook's schema up to date (opening it would migrate it under
// the running instances, which is the operator's decision: trackhook migrate up).
func statusCanOpen(ctx context.Context, target string) error {
	if !postgres.IsURL(target) {
		_, err := os.Stat(target)
		return err
	}
	st, err := postgres.MigrationStatus(ctx, target)
	if err != nil {
		return fmt.Errorf("database %s: %w", redactURL(target), scrubSecrets(err, target))
	}
	switch {
	case st.Current == 0:
		return fmt.Errorf("database %s has no trackhook schema yet: start trackhook serve on it, or run trackhook migrate up", redactURL(target))
	case st.Pending():
		return fmt.Errorf("database %s has schema version %d, this trackhook has %d: run trackhook migrate up (or start trackhook serve) first",
			redactURL(target), st.Current, st.Latest)
	}
	return nil
}

func printStatus(e env, path string, st api.StoreStatus, now time.Time) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "store\t%s, %s\n", path, humanBytes(st.FileBytes))
	fmt.Fprintf(tw, "references\t%d active, %d unsubscribed\n", st.ActiveReferences, st.UnsubscribedReferences)
	fmt.Fprintf(tw, "deliveries\t%d %s with updates waiting\n", st.PendingDeliveries, plural(st.PendingDeliveries, "stream", "streams"))
	if u := st.OldestUndelivered; u != nil {
		age := now.Sub(u.CreatedAt).Round(time.Second)
		fmt.Fprintf(tw, "oldest waiting\t%s (update %d of %s, %s), created %s, %s ago\n",
			u.ID, u.Sequence, u.ReferenceID, u.Type, u.CreatedAt.UTC().Format(time.RFC3339), age)
	} else {
		fmt.Fprintf(tw, "oldest waiting\tnone: every update was delivered or given up on\n")
	}
	p := st.Pruned
	fmt.Fprintf(tw, "retention\tremoved %d %s, %d %s, %d delivery %s, %d idempotency %s since the store was created\n",
		p.References, plural(p.References, "reference", "references"), p.Updates, plural(p.Updates, "update", "updates"),
		p.DeliveryAttempts, plural(p.DeliveryAttempts, "attempt", "attempts"), p.IdempotencyKeys, plural(p.IdempotencyKeys, "key", "keys"))
	if st.LastPrunedAt != nil {
		fmt.Fprintf(tw, "last prune\t%s, %s ago\n", st.LastPrunedAt.UTC().Format(time.RFC3339), now.Sub(*st.LastPrunedAt).Round(time.Second))
	} else {
		fmt.Fprintf(tw, "last prune\tnever\n")
	}
	return tw.Flush()
}

// humanBytes writes a size in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
