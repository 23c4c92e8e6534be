package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trackhook/trackhook/references"
)

const keysUsage = `trackhook keys manages API keys on the store, for bootstrap and recovery; a
running service manages its accounts' keys through the API (POST /account/keys with an
admin key). A store file must not be in use by a running server; a PostgreSQL
database (--db postgres://...) may be, and its schema is created or upgraded first.

  trackhook keys create [--account ID] [--scopes LIST] [--name NAME] [--expires-in 90d] [--operator] [--db FILE|URL]
  trackhook keys list [--account ID] [--db FILE|URL]
  trackhook keys revoke KEY_ID_OR_PREFIX [--db FILE|URL]

Scopes nest: admin (manage the account's keys, read its audit log) implies write
(create, change, delete, read signing secrets), which implies read (GET routes). An
--operator key also reaches /admin/backup, /admin/status and /metrics, which show
every account's data: give it only to whoever runs the service.

Example: a read-only key for a dashboard, valid 90 days:
  trackhook keys create --account acme --scopes read --name dashboard --expires-in 90d

What these commands do is written in the account's audit log as actor "cli". Flags may
come before or after KEY_ID_OR_PREFIX. Of the environment, only TRACKHOOK_DB (the store
serve uses) changes these commands.`

// keysFlags is what the keys subcommands read from their flags.
type keysFlags struct {
	dbPath, account string
	newKey          newKeyOptions
	scopes          string
	expiresIn       string
}

// newKeyOptions is a key the keys command or serve makes on the store.
type newKeyOptions struct {
	account  string
	scopes   []references.Scope
	name     string
	lifetime time.Duration // 0: never expires
	operator bool
	actor    string // references.ActorCLI or references.ActorSystem
}

func keys(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, keysUsage)
		return errors.New("keys: give create, list or revoke")
	}
	sub := args[0]
	var c keysFlags
	fs := newFlagSet("keys "+sub, keysUsage, e.stdout)
	fs.StringVar(&c.dbPath, "db", "trackhook.db", "path of the store file, or a PostgreSQL URL (postgres://...)")
	switch sub {
	case "create":
		fs.StringVar(&c.account, "account", references.DefaultAccount, "account the new key belongs to (created when missing)")
		fs.StringVar(&c.scopes, "scopes", "", "comma-separated scopes of the new key: read, write, admin (default write; admin with --operator)")
		fs.StringVar(&c.newKey.name, "name", "", "a name to recognise the key by, such as \"CI\" (at most 64 characters)")
		fs.StringVar(&c.expiresIn, "expires-in", "", "the key stops working after this long: whole days (\"90d\") or a duration (\"12h\"); default never")
		fs.BoolVar(&c.newKey.operator, "operator", false, "an operator's key: the admin scope, and /admin routes and /metrics, which show every account's data")
		fs.BoolVar(&c.newKey.operator, "admin", false, "the former name of --operator")
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
	if sub == "create" {
		// Checked before the store is opened: a refused flag leaves no file behind.
		if err := c.readNewKey(); err != nil {
			return err
		}
	}
	// A running server holds a store file's lock: fail fast with a clear message.
	db, err := openBackend(ctx, c.dbPath, openOptions{command: "keys", lockTimeout: 2 * time.Second})
	if errors.Is(err, errStoreInUse) {
		return fmt.Errorf("keys: %w: stop it first, keys work on a stopped store", err)
	}
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer db.Close()
	now := time.Now()

	switch sub {
	case "create":
		key, err := createKey(ctx, db, c.newKey, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", key)
		fmt.Fprintf(e.stderr, "API key for account %q created; it is shown only this once.\n", c.newKey.account)
		return nil
	case "list":
		return listKeys(ctx, db, c.account, e)
	}
	k, err := db.RevokeAPIKey(ctx, references.KeyRevocation{Key: fs.Arg(0), Actor: references.ActorCLI, At: now})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked %s (%s…) of account %s\n", k.ID, k.Prefix, k.AccountID)
	return nil
}

// readNewKey checks the flags of keys create and fills c.newKey.
func (c *keysFlags) readNewKey() error {
	o := &c.newKey
	o.account, o.actor = c.account, references.ActorCLI
	scopes := c.scopes
	switch {
	case scopes == "" && o.operator:
		scopes = string(references.ScopeAdmin)
	case scopes == "":
		scopes = string(references.ScopeWrite)
	}
	var err error
	if o.scopes, err = references.ParseScopeList(scopes); err != nil {
		return flagError("--scopes", err)
	}
	if o.operator && !slices.Contains(o.scopes, references.ScopeAdmin) {
		return errors.New("--operator keys have the admin scope: leave out --scopes or include admin")
	}
	if err := references.ValidateKeyName(o.name); err != nil {
		return flagError("--name", err)
	}
	if c.expiresIn != "" {
		if o.lifetime, err = references.ParseKeyLifetime(c.expiresIn); err != nil {
			return flagError("--expires-in", err)
		}
	}
	return nil
}

// flagError words a validation error of the domain for the flag that gave the value:
// its message without the code and the API's field name.
func flagError(flag string, err error) error {
	var e *references.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%s: %s", flag, e.Message)
	}
	return fmt.Errorf("%s: %w", flag, err)
}

// listKeys prints the keys of the store, or only those of account when it is not "".
func listKeys(ctx context.Context, db backend, account string, e env) error {
	list, err := db.ListAPIKeys(ctx, account)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tACCOUNT\tSCOPES\tOPERATOR\tCREATED\tEXPIRES\tLAST USED\tREVOKED\tNAME")
	for _, k := range list {
		operator := "no"
		if k.Operator {
			operator = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.AccountID,
			strings.Join(references.ScopeNames(k.Scopes), ","), operator, k.CreatedAt.Format(time.RFC3339),
			timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt), cmp.Or(k.Name, "-"))
	}
	return tw.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// createKey makes a new API key, creating its account (and the account's first
// webhook secret) when needed, and returns the key in clear.
func createKey(ctx context.Context, db backend, o newKeyOptions, now time.Time) (string, error) {
	if o.account == "" || len(o.account) > 64 {
		return "", errors.New("account must be 1 to 64 characters")
	}
	if _, err := db.EnsureAccount(ctx, o.account, references.NewWebhookSecret(), now); err != nil {
		return "", err
	}
	key, stored := references.NewAPIKey(o.account, o.scopes, now)
	stored.Name, stored.Operator, stored.CreatedBy = o.name, o.operator, o.actor
	if o.lifetime > 0 {
		at := stored.CreatedAt.Add(o.lifetime)
		stored.ExpiresAt = &at
	}
	if err := db.CreateAPIKey(ctx, stored); err != nil {
		return "", err
	}
	return key, nil
}
