package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listKeyRows runs "trackhook keys list" with args and returns its rows, header left
// out, each split into ID, PREFIX, ACCOUNT, SCOPES, OPERATOR, CREATED, EXPIRES,
// LAST USED, REVOKED, NAME (names with spaces are split too).
func listKeyRows(t *testing.T, args ...string) [][]string {
	t.Helper()
	e, out, _ := newTestEnv(nil)
	if err := run(context.Background(), append([]string{"keys", "list"}, args...), e); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

func TestKeys_ListFiltersByAccount(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	for _, account := range []string{"acme", "globex", "acme"} {
		e, _, _ := newTestEnv(nil)
		if err := run(context.Background(), []string{"keys", "create", "--account", account, "--db", db}, e); err != nil {
			t.Fatal(err)
		}
	}
	if rows := listKeyRows(t, "--db", db); len(rows) != 3 {
		t.Fatalf("keys list: %d keys, want 3: %q", len(rows), rows)
	}
	rows := listKeyRows(t, "--db", db, "--account", "acme")
	if len(rows) != 2 || rows[0][2] != "acme" || rows[1][2] != "acme" {
		t.Errorf("keys list --account acme: %q", rows)
	}
	if rows := listKeyRows(t, "--account", "nobody", "--db", db); len(rows) != 0 {
		t.Errorf("keys list --account nobody: %q", rows)
	}
}

func TestKeys_RevokeTakesFlagsAfterTheKeyID(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	e, _, _ := newTestEnv(nil)
	if err := run(context.Background(), []string{"keys", "create", "--db", db}, e); err != nil {
		t.Fatal(err)
	}
	id := listKeyRows(t, "--db", db)[0][0]
	e, out, _ := newTestEnv(nil)
	if err := run(context.Background(), []string{"keys", "revoke", id, "--db", db}, e); err != nil {
		t.Fatalf("keys revoke %s --db FILE: %v", id, err)
	}
	if !strings.HasPrefix(out.String(), "revoked "+id) {
		t.Errorf("output: %s", out)
	}
	if row := listKeyRows(t, "--db", db)[0]; row[8] == "-" {
		t.Errorf("key not revoked: %q", row)
	}
}

// TestRun_GenericEnvironmentChangesNothing: variables named after flags that are not
// the service's settings (TRACKHOOK_ADMIN, TRACKHOOK_ACCOUNT, TRACKHOOK_JSON) change
// nothing; TRACKHOOK_DB still names the store.
func TestRun_GenericEnvironmentChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "env.db")
	e, _, _ := newTestEnv(map[string]string{
		"TRACKHOOK_DB": db, "TRACKHOOK_ADMIN": "true", "TRACKHOOK_ACCOUNT": "intruder", "TRACKHOOK_JSON": "true",
	})
	if err := run(ctx, []string{"keys", "create"}, e); err != nil {
		t.Fatal(err)
	}
	rows := listKeyRows(t, "--db", db)
	if len(rows) != 1 || rows[0][2] != "default" || rows[0][3] != "write" || rows[0][4] != "no" {
		t.Fatalf("keys create with TRACKHOOK_ADMIN=true TRACKHOOK_ACCOUNT=intruder made %q, want a plain key of account default", rows)
	}

	e, out, _ := newTestEnv(map[string]string{"TRACKHOOK_DB": db, "TRACKHOOK_ACCOUNT": "intruder"})
	if err := run(ctx, []string{"keys", "list"}, e); err != nil || !strings.Contains(out.String(), " default ") {
		t.Errorf("keys list with TRACKHOOK_ACCOUNT=intruder: %v\n%s", err, out)
	}

	e, out, _ = newTestEnv(map[string]string{"TRACKHOOK_DB": db, "TRACKHOOK_JSON": "true"})
	if err := status(ctx, nil, e, time.Now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "store           "+db) {
		t.Errorf("status with TRACKHOOK_JSON=true printed, want text:\n%s", out)
	}
}
