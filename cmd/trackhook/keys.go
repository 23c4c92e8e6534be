package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

const keysUsage = `trackhook keys manages API keys. The store must not be in use by a running server.

  trackhook keys create [--account ID] [--admin] [--db FILE]
  trackhook keys list [--db FILE]
  trackhook keys revoke [--db FILE] KEY_ID_OR_PREFIX`

func keys(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, keysUsage)
		return errors.New("keys: give create, list or revoke")
	}
	fs := newFlagSet("keys "+args[0], keysUsage, e.stderr)
	dbPath := fs.String("db", "trackhook.db", "path of the store file")
	account := fs.String("account", references.DefaultAccount, "account the new key belongs to (create)")
	admin := fs.Bool("admin", false, "the new key may also call /admin routes such as the backup (create)")
	if err := parseFlags(fs, args[1:], e.getenv); err != nil {
		return err
	}
	// A running server holds the file lock: fail fast with a clear message.
	db, err := store.Open(*dbPath, store.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("keys: %w (is trackhook serve still running on it?)", err)
	}
	defer db.Close()
	now := time.Now()

	switch args[0] {
	case "create":
		if fs.NArg() != 0 {
			return fmt.Errorf("keys create takes no arguments, got %q", fs.Args())
		}
		key, err := createKey(ctx, db, *account, *admin, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", key)
		fmt.Fprintf(e.stderr, "API key for account %q created; it is shown only this once.\n", *account)
		return nil
	case "list":
		list, err := db.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tACCOUNT\tADMIN\tCREATED\tREVOKED")
		for _, k := range list {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%v\t%s\t%s\n", k.ID, k.Prefix, k.AccountID, k.Admin, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("keys revoke takes one key id (key_...) or key prefix")
		}
		k, err := db.RevokeAPIKey(ctx, fs.Arg(0), now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked %s (%s…) of account %s\n", k.ID, k.Prefix, k.AccountID)
		return nil
	}
	fmt.Fprintln(e.stderr, keysUsage)
	return fmt.Errorf("keys: unknown subcommand %q", args[0])
}

// createKey makes a new API key for the account, creating the account (and its first
// webhook secret) when needed, and returns the key in clear.
func createKey(ctx context.Context, db *store.DB, account string, admin bool, now time.Time) (string, error) {
	if account == "" || len(account) > 64 {
		return "", errors.New("account must be 1 to 64 characters")
	}
	if _, err := db.EnsureAccount(ctx, account, references.NewWebhookSecret(), now); err != nil {
		return "", err
	}
	key, stored := references.NewAPIKey(account, admin, now)
	if err := db.CreateAPIKey(ctx, stored); err != nil {
		return "", err
	}
	return key, nil
}
