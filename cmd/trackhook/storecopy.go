package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/trackhook/trackhook/store/postgres"
	"github.com/trackhook/trackhook/store/storecopy"
)

const storeUsage = `trackhook store copy moves a whole store to another backend: a bbolt file to
PostgreSQL, PostgreSQL to a bbolt file, or a file to another file.

  trackhook store copy --from trackhook.db --to postgres://user:password@host:5432/dbname
  trackhook store copy --from postgres://... --to trackhook.db

Everything is copied: accounts and their secrets, API keys, audit logs, references
with their state, snapshots and feeds, idempotency keys, the delivery state of every
stream (retries, fixed batches), queued redeliveries and resends, the delivery log,
endpoints, their messages and attempts, operational events, counters and retention's
figures. Then the destination is read back and compared with the source: the count
and checksum of every kind of record, the SHA-256 of every reference's feed, and the
store's counts. Any difference fails the command (exit status 2).

Stop the service first, every instance: the copy refuses a bbolt file that a running
trackhook holds, and a database with connections of a running trackhook serve. The
destination must be empty: a new file, or a database without trackhook data (its
schema is created). Times PostgreSQL keeps in columns of their own (due times, a
key's last use) are kept to the microsecond.

No flag is read from the environment.`

// storeCopyLockTimeout is how long store copy waits for a bbolt file's lock before it
// concludes that a running trackhook holds the store.
const storeCopyLockTimeout = 300 * time.Millisecond

// serveConnections is the application_name of the PostgreSQL connections of
// `trackhook serve` (see openBackend).
const serveConnections = "trackhook serve"

// storeCmd is `trackhook store copy`.
func storeCmd(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(e.stdout, storeUsage)
			return nil
		}
		fmt.Fprintln(e.stderr, storeUsage)
		return errors.New("store: give copy")
	}
	fs := newFlagSet("store copy", storeUsage, e.stdout)
	from := fs.String("from", "", "the store to copy: a bbolt file or a PostgreSQL URL")
	to := fs.String("to", "", "the empty store to copy into: a bbolt file (created) or a PostgreSQL URL")
	if err := parseFlags(fs, args[1:], e.getenv); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return fmt.Errorf("store copy takes no arguments, got %q", fs.Args())
	case *from == "" || *to == "":
		return errors.New("store copy: give both --from and --to")
	case *from == *to:
		return errors.New("store copy: --from and --to name the same store")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := os.Stat(*from); err != nil && !postgres.IsURL(*from) {
		return fmt.Errorf("store copy: %w", err) // opening it would create an empty store
	}
	src, err := openCopyEnd(ctx, *from, "source", log)
	if err != nil {
		return err
	}
	defer src.Close()
	_, statErr := os.Stat(*to)
	created := !postgres.IsURL(*to) && errors.Is(statErr, os.ErrNotExist)
	dst, err := openCopyEnd(ctx, *to, "destination", log)
	if err != nil {
		return err
	}
	rep, err := storecopy.Copy(ctx, src, dst)
	cerr := dst.Close()
	if err == nil && cerr != nil {
		err = fmt.Errorf("close the destination: %w", cerr)
	}
	if err != nil {
		var ne *storecopy.NotEmptyError
		switch {
		case created:
			_ = os.Remove(*to) // a file this copy made, and could not complete
		case !errors.As(err, &ne):
			err = fmt.Errorf("%w (%s)", err, leftBehind(*to))
		}
		return fmt.Errorf("store copy from %s to %s: %w", redactURL(*from), redactURL(*to), scrubSecrets(scrubSecrets(err, *from), *to))
	}
	return printCopy(e, redactURL(*from), redactURL(*to), rep)
}

// leftBehind says what a failed copy may have left in a destination that existed
// before it: PostgreSQL loads in one transaction, which a failed load rolls back, but
// a copy that failed its verification was committed; a bbolt file is loaded in
// several commits.
func leftBehind(to string) string {
	if postgres.IsURL(to) {
		return "if the copy was written before it failed, empty the database (drop and create it) before copying again"
	}
	return to + " may hold part of the copy: delete it before copying again"
}

// copyEnd is a store a copy reads or writes.
type copyEnd interface {
	storecopy.Backend
	Close() error
}

// openCopyEnd opens one end of a copy, refusing a store a running service uses: a
// bbolt file whose lock another process holds, a database with connections of
// `trackhook serve`.
func openCopyEnd(ctx context.Context, target, role string, log *slog.Logger) (copyEnd, error) {
	db, err := openBackend(ctx, target, openOptions{command: "store copy", lockTimeout: storeCopyLockTimeout, logger: log})
	if errors.Is(err, errStoreInUse) {
		return nil, fmt.Errorf("store copy: the %s %w: stop the service before copying", role, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store copy: the %s: %w", role, err)
	}
	end, ok := db.(copyEnd)
	if !ok {
		_ = db.Close()
		return nil, fmt.Errorf("store copy: the %s cannot be copied", role)
	}
	if pg, ok := db.(*postgres.DB); ok {
		n, err := pg.Connections(ctx, serveConnections)
		if err == nil && n > 0 {
			err = fmt.Errorf("database %s has %d connections of a running trackhook serve: stop every instance before copying", redactURL(target), n)
		}
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("store copy: the %s: %w", role, scrubSecrets(err, target))
		}
	}
	return end, nil
}

// printCopy prints what was copied and how it was verified.
func printCopy(e env, from, to string, rep storecopy.Report) error {
	fmt.Fprintf(e.stdout, "copied %s to %s in %s:\n", from, to, rep.Took.Round(time.Millisecond))
	for _, c := range rep.Counts {
		fmt.Fprintf(e.stdout, "  %-18s %10d\n", c.Kind, c.Count)
	}
	s := rep.Stats
	_, err := fmt.Fprintf(e.stdout, "verified: the destination, read back, gives the same count and checksum of every kind, "+
		"the same SHA-256 of the feed of each of the %d %s with updates, and the same counts "+
		"(%d active and %d unsubscribed references, %d pending delivery %s)\n",
		rep.Feeds, plural(int64(rep.Feeds), "reference", "references"), s.ActiveReferences, s.UnsubscribedReferences,
		s.PendingDeliveries, plural(s.PendingDeliveries, "stream", "streams"))
	return err
}
