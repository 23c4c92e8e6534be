// Command trackhook tracks shipments by polling carrier sources and turns every change
// into a signed webhook or a pull feed.
//
//	trackhook serve                 run the service (embedded store, demo carrier)
//	trackhook listen                receive and verify webhooks locally, for development
//	trackhook status                counts of a stopped store
//	trackhook keys create|list|revoke  manage API keys on a stopped store
//	trackhook version               print the version
//
// Run "trackhook <command> -h" for a command's flags. Every flag can also be set with
// an environment variable: --db is TRACKHOOK_DB, --allow-insecure-callbacks is
// TRACKHOOK_ALLOW_INSECURE_CALLBACKS, and so on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `trackhook tracks shipments and turns every change into a signed webhook.

Usage:
  trackhook serve [flags]             run the service
  trackhook listen --secret whsec_... receive and verify webhooks on this machine
  trackhook status [--db FILE]        counts and oldest undelivered update of a stopped store
  trackhook keys create [flags]       create an API key (on a stopped store)
  trackhook keys list [flags]         list API keys
  trackhook keys revoke KEY_ID        revoke an API key
  trackhook version                   print the version

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
	if err := run(ctx, os.Args[1:], e); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "trackhook:", err)
		}
		os.Exit(2)
	}
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

// parseFlags parses args, then fills every flag not given on the command line from
// its environment variable (see envName).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envName(fs.Name(), f.Name)
		if v := getenv(name); v != "" {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, setErr)
			}
		}
	})
	return err
}

// envName is the environment variable of a command's flag: TRACKHOOK_ + the flag
// name upper-cased with _ for -. The service's commands (serve, keys, status) share
// them, so TRACKHOOK_DB names one store for all three; listen, which runs beside the
// service on the same machine, has its own (TRACKHOOK_LISTEN_ADDR, ...), so the
// service's TRACKHOOK_ADDR does not move it.
func envName(command, flagName string) string {
	prefix := "TRACKHOOK_"
	if command == "listen" {
		prefix = "TRACKHOOK_LISTEN_"
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set that reports errors instead of exiting and prints its
// usage with the environment variable of each flag.
func newFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "%s\n\nFlags (each also read from the environment variable shown):\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (%s)\n      %s", f.Name, envName(name, f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	return fs
}
