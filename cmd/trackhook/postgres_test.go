package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/store/postgres"
)

// testPassword is put in the URLs of the tests' databases, which trust every
// loopback connection and so ignore it: the commands must never print it.
const testPassword = "hunter2-never-printed"

// withPassword returns a database URL with user postgres and testPassword.
func withPassword(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), testPassword)
	return u.String()
}

// newPostgresDB is an empty database of the test server, its URL with testPassword.
func newPostgresDB(t *testing.T) string {
	t.Helper()
	return withPassword(t, pgtest.NewDatabase(t))
}

func TestMigrate_BboltPathSaysItUpgradesItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trackhook.db")
	for _, sub := range []string{"status", "up"} {
		e, out, _ := newTestEnv(map[string]string{"TRACKHOOK_DB": path})
		err := run(context.Background(), []string{"migrate", sub}, e)
		want := "migrate: " + path + " is a bbolt store file, which upgrades itself when trackhook opens it; migrate is for PostgreSQL (--db postgres://...)"
		if err == nil || err.Error() != want || strings.Contains(err.Error(), "\n") {
			t.Errorf("migrate %s on a file: %v\nwant the one line %q", sub, err, want)
		}
		if out.Len() != 0 {
			t.Errorf("migrate %s printed %q", sub, out)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("migrate created %s (%v)", path, err)
	}
	e, _, _ := newTestEnv(nil)
	if err := run(context.Background(), []string{"migrate", "sideways"}, e); err == nil || !strings.Contains(err.Error(), "give status or up") {
		t.Errorf("migrate sideways: %v", err)
	}
}

func TestMigrate_StatusAndUpOnPostgres(t *testing.T) {
	ctx := context.Background()
	db := newPostgresDB(t)
	redacted := redactURL(db)
	migrate := func(args ...string) string {
		t.Helper()
		e, out, errOut := newTestEnv(map[string]string{"TRACKHOOK_DB": db})
		if err := run(ctx, append([]string{"migrate"}, args...), e); err != nil {
			t.Fatalf("migrate %q: %v", args, err)
		}
		if strings.Contains(out.String()+errOut.String(), testPassword) {
			t.Fatalf("migrate %q printed the password:\n%s%s", args, out, errOut)
		}
		return out.String()
	}

	st, err := postgres.MigrationStatus(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	out := migrate("status")
	if !strings.Contains(out, redacted+": schema version 0 of ") || !strings.Contains(out, "00001_references.sql") || !strings.Contains(out, "pending") {
		t.Errorf("status of an empty database:\n%s", out)
	}
	out = migrate("up", "--db", db)
	if !strings.Contains(out, "applied migration 1\n") || !strings.Contains(out, "the schema is at version") {
		t.Errorf("up:\n%s", out)
	}
	out = migrate("status")
	if !strings.Contains(out, "up to date") || strings.Contains(out, "pending") || strings.Count(out, "\n") != len(st.Migrations)+2 {
		t.Errorf("status after up:\n%s", out)
	}
	if out := migrate("up"); !strings.Contains(out, "the schema is up to date, nothing to apply") {
		t.Errorf("up again:\n%s", out)
	}
}

// TestStatus_OnPostgres: status reads a database that serve may be using, never
// migrates it (that is the operator's call), and never prints the password.
func TestStatus_OnPostgres(t *testing.T) {
	ctx := context.Background()
	db := newPostgresDB(t)
	e, out, _ := newTestEnv(nil)
	err := run(ctx, []string{"status", "--db", db}, e)
	if err == nil || !strings.Contains(err.Error(), "has no trackhook schema yet: start trackhook serve on it, or run trackhook migrate up") {
		t.Fatalf("status of an empty database: %v", err)
	}
	if strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), redactURL(db)) {
		t.Errorf("the error must name the database without its password: %v", err)
	}
	if st, err := postgres.MigrationStatus(ctx, db); err != nil || st.Current != 0 {
		t.Fatalf("status migrated the database: version %d, %v", st.Current, err)
	}

	if _, err := postgres.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"status", "--db", db}, e); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "store           "+redactURL(db)) || !strings.Contains(text, "references      0 active, 0 unsubscribed") ||
		strings.Contains(text, testPassword) {
		t.Errorf("status:\n%s", text)
	}
	out.Reset()
	if err := run(ctx, []string{"status", "--json"}, env{stdout: e.stdout, stderr: e.stderr, getenv: func(k string) string {
		return map[string]string{"TRACKHOOK_DB": db}[k]
	}}); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st["active_references"] != float64(0) || st["oldest_undelivered"] != nil {
		t.Errorf("status --json: %s, %v", out, err)
	}
}

// TestRun_UnreachableDatabaseNeverShowsThePassword: every command that takes --db
// names the database it could not reach, without its password.
func TestRun_UnreachableDatabaseNeverShowsThePassword(t *testing.T) {
	db := "postgres://app:" + testPassword + "@127.0.0.1:1/trackhook?connect_timeout=5"
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"status"},
		{"keys", "list"},
		{"keys", "create", "--account", "acme"},
		{"migrate", "status"},
		{"migrate", "up"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e, out, errOut := newTestEnv(map[string]string{"TRACKHOOK_DB": db})
			err := run(context.Background(), args, e)
			if err == nil {
				t.Fatal("no error for a database nothing listens for")
			}
			all := err.Error() + out.String() + errOut.String()
			if strings.Contains(all, testPassword) {
				t.Errorf("the password shows:\n%s", all)
			}
			if !strings.Contains(err.Error(), "postgres://app:xxxxx@127.0.0.1:1/trackhook") {
				t.Errorf("the error does not name the database: %v", err)
			}
		})
	}
}

// TestBootstrapKeys_InstancesStartingTogether: instances started at once on one
// database with the same TRACKHOOK_API_KEY all start; the key is registered once.
func TestBootstrapKeys_InstancesStartingTogether(t *testing.T) {
	ctx := context.Background()
	const key = "shared-bootstrap-key-0123456789"
	dbURL := newPostgresDB(t)
	const instances = 4
	dbs := make([]backend, instances)
	for i := range dbs {
		db, err := openBackend(ctx, dbURL, openOptions{command: "serve"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	errs := make(chan error, instances)
	for _, db := range dbs {
		go func() {
			e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key})
			errs <- bootstrapKeys(ctx, db, e)
		}()
	}
	for range instances {
		if err := <-errs; err != nil {
			t.Errorf("an instance's bootstrap: %v", err)
		}
	}
	if n, err := dbs[0].CountAPIKeys(ctx); err != nil || n != 1 {
		t.Errorf("%d keys, %v; want the one of TRACKHOOK_API_KEY", n, err)
	}
}
