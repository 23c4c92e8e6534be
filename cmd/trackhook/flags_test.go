package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEnvName(t *testing.T) {
	tests := []struct{ command, flag, want string }{
		{"serve", "db", "TRACKHOOK_DB"},
		{"serve", "allow-insecure-callbacks", "TRACKHOOK_ALLOW_INSECURE_CALLBACKS"},
		{"keys create", "db", "TRACKHOOK_DB"},
		{"keys create", "admin", ""},
		{"keys create", "account", ""},
		{"keys list", "account", ""},
		{"status", "db", "TRACKHOOK_DB"},
		{"status", "json", ""},
		{"migrate status", "db", "TRACKHOOK_DB"},
		{"migrate up", "db", "TRACKHOOK_DB"},
		{"serve", "lease", "TRACKHOOK_LEASE"},
		{"listen", "addr", "TRACKHOOK_LISTEN_ADDR"},
		{"listen", "json", "TRACKHOOK_LISTEN_JSON"},
	}
	for _, tt := range tests {
		if got := envName(tt.command, tt.flag); got != tt.want {
			t.Errorf("envName(%q, %q) = %q, want %q", tt.command, tt.flag, got, tt.want)
		}
	}
}

// TestRun_HelpPrintsUsageOnStdoutAndExitsZero: -h and --help of every command print its
// usage on stdout, nothing on stderr, and exit 0.
func TestRun_HelpPrintsUsageOnStdoutAndExitsZero(t *testing.T) {
	tests := []struct {
		args []string
		want []string // in the usage
	}{
		{[]string{"serve", "-h"}, []string{"trackhook serve runs", "TRACKHOOK_API_KEY", "--max-connections (TRACKHOOK_MAX_CONNECTIONS)", "(default 4096)", "--idle-timeout (TRACKHOOK_IDLE_TIMEOUT)"}},
		{[]string{"serve", "--help"}, []string{"trackhook serve runs"}},
		{[]string{"status", "-h"}, []string{"trackhook status prints", "--db (TRACKHOOK_DB)", "--json\n"}},
		{[]string{"listen", "--help"}, []string{"trackhook listen receives", "--secret (TRACKHOOK_LISTEN_SECRET)"}},
		{[]string{"keys", "create", "-h"}, []string{"trackhook keys manages", "--admin\n", "--account\n"}},
		{[]string{"keys", "revoke", "--help"}, []string{"trackhook keys manages"}},
		{[]string{"keys", "-h"}, []string{"trackhook keys revoke KEY_ID_OR_PREFIX [--db FILE|URL]"}},
		{[]string{"migrate", "status", "-h"}, []string{"trackhook migrate shows", "--db (TRACKHOOK_DB)"}},
		{[]string{"migrate", "--help"}, []string{"trackhook migrate up [--db postgres://...]"}},
		{[]string{"serve", "-h"}, []string{"--lease (TRACKHOOK_LEASE)", "(default 30s)", "postgres://"}},
		{[]string{"--help"}, []string{"Usage:"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			e, out, errOut := newTestEnv(map[string]string{"TRACKHOOK_DB": filepath.Join(dir, "help.db")})
			err := run(context.Background(), tt.args, e)
			if code := exitCode(err); code != 0 || (err != nil && err != flag.ErrHelp) {
				t.Fatalf("run = %v, exit code %d; want help and 0", err, code)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut)
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) != 0 {
				t.Errorf("help created %v", matches)
			}
		})
	}
	if exitCode(flag.ErrHelp) != 0 || exitCode(context.Canceled) != 2 {
		t.Error("exitCode: help must exit 0, an error 2")
	}
}

func TestParseFlags_FlagsAfterPositionalArguments(t *testing.T) {
	tests := []struct {
		args     []string
		wantDB   string
		wantArgs []string
	}{
		{[]string{"key_X", "--db", "f.db"}, "f.db", []string{"key_X"}},
		{[]string{"--db", "f.db", "key_X"}, "f.db", []string{"key_X"}},
		{[]string{"a", "--db=f.db", "b"}, "f.db", []string{"a", "b"}},
		{[]string{"a", "--", "--db", "f.db"}, "default.db", []string{"a", "--db", "f.db"}},
		{[]string{"--", "-x"}, "default.db", []string{"-x"}},
	}
	for _, tt := range tests {
		fs := newFlagSet("keys revoke", "usage", &strings.Builder{})
		db := fs.String("db", "default.db", "")
		if err := parseFlags(fs, tt.args, func(string) string { return "" }); err != nil {
			t.Fatalf("parseFlags(%q): %v", tt.args, err)
		}
		if *db != tt.wantDB || strings.Join(fs.Args(), " ") != strings.Join(tt.wantArgs, " ") {
			t.Errorf("parseFlags(%q): --db %q, args %q; want %q, %q", tt.args, *db, fs.Args(), tt.wantDB, tt.wantArgs)
		}
	}
}

// TestREADME_ListsEveryEnvironmentVariable: every variable a command reads, as its -h
// shows them, is in README.md, as is TRACKHOOK_API_KEY.
func TestREADME_ListsEveryEnvironmentVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	variable := regexp.MustCompile(`\((TRACKHOOK_[A-Z_]+)\)`)
	seen := 0
	for _, args := range [][]string{{"serve", "-h"}, {"listen", "-h"}, {"keys", "create", "-h"}, {"keys", "list", "-h"}, {"status", "-h"}, {"migrate", "up", "-h"}} {
		e, out, _ := newTestEnv(nil)
		_ = run(context.Background(), args, e)
		for _, m := range variable.FindAllStringSubmatch(out.String(), -1) {
			seen++
			if !strings.Contains(string(readme), "`"+m[1]+"`") {
				t.Errorf("%s reads %s, which README.md does not list", strings.Join(args, " "), m[1])
			}
		}
	}
	if seen < 25 || !strings.Contains(string(readme), "`TRACKHOOK_API_KEY`") {
		t.Errorf("%d variables found in the usages; README lists TRACKHOOK_API_KEY: %v", seen, strings.Contains(string(readme), "`TRACKHOOK_API_KEY`"))
	}
}
