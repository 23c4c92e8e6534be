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
  trackhook keys list [--account ID] [--db FILE]
  trackhook keys revoke KEY_ID_OR_PREFIX [--db FILE]

Flags may come before or after KEY_ID_OR_PREFIX. Of the environment, only TRACKHOOK_DB
(the store serve uses) changes these commands.`

// keysFlags is what the keys subcommands read from their flags.
type keysFlags struct {
	dbPath, account string
	admin           bool
}

func keys(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, keysUsage)
		return errors.New("keys: give create, list or revoke")
	}
	sub := args[0]
	var c keysFlags
	fs := newFlagSet("keys "+sub, keysUsage, e.stdout)
	fs.StringVar(&c.dbPath, "db", "trackhook.db", "path of the store file")
	switch sub {
	case "create":
		fs.StringVar(&c.account, "account", references.DefaultAccount, "account the new key belongs to (created when missing)")
		fs.BoolVar(&c.admin, "admin", false, "the new key may also call /admin routes such as the backup")
	case "list":
		fs.StringVar(&c.account, "account", "", "list only this account's keys (default: every account's)")
	case "revoke":
	case "help", "-h", "--help":
		fmt.Fprintln(e.stdout, keysUsage)
		return nil
	default:
		fmt.Fprintln(e.stderr, keysUsage)
		return fmt.Errorf("keys: unknown subcommand %q: give create, list or revoke", sub)
	}
	if err := parseFlags(fs, args[1:], e.getenv); err != nil {
		return err
	}
	switch {
	case sub == "revoke" && fs.NArg() != 1:
		return fmt.Errorf("keys revoke takes one key id (key_...) or key prefix, got %q", fs.Args())
	case sub != "revoke" && fs.NArg() != 0:
		return fmt.Errorf("keys %s takes no arguments, got %q", sub, fs.Args())
	}
	// A running server holds the file lock: fail fast with a clear message.
	db, err := openStore(c.dbPath, store.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("keys: %w: stop it first, keys work on a stopped store", err)
	}
	defer db.Close()
	now := time.Now()

	switch sub {
	case "create":
		key, err := createKey(ctx, db, c.account, c.admin, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", key)
		fmt.Fprintf(e.stderr, "API key for account %q created; it is shown only this once.\n", c.account)
		return nil
	case "list":
		return listKeys(ctx, db, c.account, e)
	}
	k, err := db.RevokeAPIKey(ctx, fs.Arg(0), now)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked %s (%s…) of account %s\n", k.ID, k.Prefix, k.AccountID)
	return nil
}

// listKeys prints the keys of the store, or only those of account when it is not "".
func listKeys(ctx context.Context, db *store.DB, account string, e env) error {
	list, err := db.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tACCOUNT\tADMIN\tCREATED\tREVOKED")
	for _, k := range list {
		if account != "" && k.AccountID != account {
			continue
		}
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s…\t%s\t%v\t%s\t%s\n", k.ID, k.Prefix, k.AccountID, k.Admin, k.CreatedAt.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
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
