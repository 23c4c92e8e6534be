// Command trackhook tracks shipments by polling carrier sources and turns every change
// into a signed webhook or a pull feed.
//
//	trackhook serve                 run the service (embedded store or PostgreSQL, demo carrier)
//	trackhook listen                receive and verify webhooks locally, for development
//	trackhook status                counts of a stopped store, or of a PostgreSQL one
//	trackhook keys create|list|revoke  manage API keys on a stopped store, or a PostgreSQL one
//	trackhook migrate status|up     the schema migrations of a PostgreSQL store
//	trackhook store copy            move a stopped store to PostgreSQL (or back), verified
//	trackhook import FILE.csv --url URL  create references from a CSV file through the API
//	trackhook version               print the version
//
// Run "trackhook <command> -h" for a command's flags. Every flag of serve can also be
// set with an environment variable (--db is TRACKHOOK_DB, --allow-insecure-callbacks
// is TRACKHOOK_ALLOW_INSECURE_CALLBACKS, and so on); keys, status and migrate read
// only TRACKHOOK_DB, and listen its own TRACKHOOK_LISTEN_* (see envName).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `trackhook tracks shipments and turns every change into a signed webhook.

Usage:
  trackhook serve [flags]             run the service
  trackhook listen --secret whsec_... receive and verify webhooks on this machine
  trackhook status [--db FILE|URL]    counts and oldest undelivered update of a stopped store
  trackhook keys create [flags]       create an API key (on a stopped store)
  trackhook keys list [flags]         list API keys
  trackhook keys revoke KEY_ID        revoke an API key
  trackhook migrate status|up --db postgres://...  the schema migrations of a PostgreSQL store
  trackhook store copy --from A --to B  move a stopped store to PostgreSQL (or back), verified
  trackhook import FILE.csv --url URL create references from a CSV file (key in TRACKHOOK_API_KEY)
  trackhook version                   print the version

--db (TRACKHOOK_DB) is a store file (trackhook.db, created when missing) or a
PostgreSQL URL, postgres://user:password@host:5432/dbname, for several instances.

Run "trackhook <command> -h" for the flags of a command.
`

// env is the process environment, passed in so tests can set it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, os.Args[1:], e)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "trackhook:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process's exit status after run returned err: 0 for success and
// for help asked with -h or --help, 1 for an import some lines of which failed, 2 for
// any other error.
func exitCode(err error) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errLinesFailed):
		return 1
	}
	return 2
}

// run executes one command line; it returns when the command is done or ctx ends.
func run(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], e)
	case "listen":
		return listen(ctx, args[1:], e)
	case "status":
		return status(ctx, args[1:], e, time.Now)
	case "keys":
		return keys(ctx, args[1:], e)
	case "migrate":
		return migrate(ctx, args[1:], e)
	case "store":
		return storeCmd(ctx, args[1:], e)
	case "import":
		return importCSV(ctx, args[1:], e)
	case "version", "--version", "-version":
		fmt.Fprintln(e.stdout, "trackhook", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	fmt.Fprint(e.stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
