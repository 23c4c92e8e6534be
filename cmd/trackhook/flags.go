package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// envName returns the environment variable that sets a command's flag when the command
// line does not, or "" for a flag that only the command line sets.
//
// Only the service's settings come from the environment, so that a variable left in a
// shell or a container never changes what a one-off command does (TRACKHOOK_ADMIN=true
// making every new key an admin key, say):
//   - serve: every flag, TRACKHOOK_ + the flag name upper-cased with _ for -
//     (TRACKHOOK_ADDR, TRACKHOOK_POLL_INTERVAL, ...);
//   - keys, status and migrate, which work on the store: only --db, as TRACKHOOK_DB,
//     so that one variable names the store (a file or a PostgreSQL URL) for all;
//   - listen, which runs beside the service on the same machine: its own
//     TRACKHOOK_LISTEN_ADDR, TRACKHOOK_LISTEN_SECRET, ..., so that the service's
//     variables never move it.
//
// serve also reads TRACKHOOK_API_KEY, which is no flag (see bootstrapKeys).
func envName(command, flagName string) string {
	suffix := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	switch {
	case command == "listen":
		return "TRACKHOOK_LISTEN_" + suffix
	case command == "serve", flagName == "db":
		return "TRACKHOOK_" + suffix
	}
	return ""
}

// newFlagSet returns a flag set that reports errors instead of exiting. Its usage,
// printed to help for -h and --help, gives summary, then each flag with its
// environment variable (see envName).
func newFlagSet(name, summary string, help io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(help)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nFlags (a variable in parentheses sets the flag from the environment):\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s", f.Name)
			if v := envName(name, f.Name); v != "" {
				fmt.Fprintf(out, " (%s)", v)
			}
			fmt.Fprintf(out, "\n      %s", f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	return fs
}

// parseFlags parses args, flags before, between or after the positional arguments (as
// in "keys revoke KEY_ID --db FILE"; after "--" everything is positional), then fills
// every flag not given on the command line from its environment variable, if it has
// one (see envName). fs.Args() are then the positional arguments.
//
// -h and --help print the usage on the flag set's output and return flag.ErrHelp. A
// wrong flag is returned as an error that names the help, without the whole usage.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	help, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := parseInterspersed(fs, args)
	fs.SetOutput(help)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return fmt.Errorf("%w (\"trackhook %s -h\" lists the flags)", err, fs.Name())
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(fs.Name(), f.Name)
		if given[f.Name] || name == "" || err != nil {
			return
		}
		if v := getenv(name); v != "" {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, setErr)
			}
		}
	})
	return err
}

// parseInterspersed parses the flags of args wherever they are, and leaves the other
// arguments, in order, as fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parsing "--" alone sets no flag and leaves what follows it as fs.Args().
	return fs.Parse(append([]string{"--"}, positional...))
}
