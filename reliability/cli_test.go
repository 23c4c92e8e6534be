package reliability_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the real binary once with args and the given extra environment, and
// returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(trackhookBinary(t), args...)
	cmd.Env = append(environWithout("TRACKHOOK_"), append(env, "GORACE=atexit_sleep_ms=0")...)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("trackhook %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestCLI_HelpAndErrorsExitCodes: -h and --help of every command print the usage on
// stdout and exit 0; a wrong command line exits 2 with one line on stderr that says
// what to change.
func TestCLI_HelpAndErrorsExitCodes(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cli.db")
	tests := []struct {
		args    []string
		env     []string
		code    int
		stdout  string
		stderr  string
		noStore bool // the command must not create the store
	}{
		{args: []string{"serve", "-h"}, stdout: "TRACKHOOK_API_KEY", noStore: true},
		{args: []string{"serve", "--help"}, stdout: "--max-connections (TRACKHOOK_MAX_CONNECTIONS)", noStore: true},
		{args: []string{"keys", "create", "-h"}, stdout: "trackhook keys create [--account ID] [--scopes LIST] [--name NAME] [--expires-in 90d] [--operator] [--db FILE|URL]", noStore: true},
		{args: []string{"migrate", "up", "--db", db}, code: 2, noStore: true,
			stderr: "trackhook: migrate: " + db + " is a bbolt store file, which upgrades itself when trackhook opens it"},
		{args: []string{"status", "--help"}, stdout: "--db (TRACKHOOK_DB)", noStore: true},
		{args: []string{"serve", "--poll-interval", "1m", "--db", db}, code: 2, noStore: true,
			stderr: "trackhook: --poll-interval (1m0s) must be at least --min-poll-interval (5m0s)"},
		{args: []string{"serve", "--db", db}, env: []string{"TRACKHOOK_API_KEY=short"}, code: 2, noStore: true,
			stderr: "trackhook: TRACKHOOK_API_KEY must be at least 16 characters"},
		{args: []string{"keys", "revoke", "key_NOTTHERE", "--db", db}, code: 2, stderr: "key_NOTTHERE"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.env, tt.args...)
		name := strings.Join(tt.args, " ")
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("trackhook %s: exit %d, want %d\nstdout: %.300s\nstderr: %.300s", name, code, tt.code, stdout, stderr)
		}
		if tt.code == 0 && stderr != "" {
			t.Errorf("trackhook %s: stderr %q, want nothing", name, stderr)
		}
		if tt.code != 0 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("trackhook %s: stderr is not one line: %q", name, stderr)
		}
		if _, err := os.Stat(db); tt.noStore && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("trackhook %s created the store (%v)", name, err)
		}
	}
}

// TestCLI_SecondProcessOnAHeldStoreNamesTheFirst runs serve, status and keys on the
// store of a running serve, as the README's walkthrough does by mistake when serve is
// started twice: each exits 2 and says that another trackhook process holds the file.
func TestCLI_SecondProcessOnAHeldStoreNamesTheFirst(t *testing.T) {
	t.Parallel()
	svc := newService(t, "held-store-test-key-0123456789")
	svc.start()
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"status"},
		{"keys", "list"},
	} {
		code, _, stderr := runCLI(t, nil, append(args, "--db", svc.dbPath)...)
		want := "store " + svc.dbPath + " is in use by another trackhook process (most likely a running trackhook serve)"
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("trackhook %s on a held store: exit %d, stderr %q; want 2 and %q", args[0], code, stderr, want)
		}
	}
}
