package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
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

// runKeys runs "trackhook keys" with args and returns its output, failing the test on
// an error.
func runKeys(t *testing.T, args ...string) string {
	t.Helper()
	e, out, _ := newTestEnv(nil)
	if err := run(context.Background(), append([]string{"keys"}, args...), e); err != nil {
		t.Fatalf("keys %q: %v", args, err)
	}
	return out.String()
}

// openKeysStore opens the store the keys commands wrote, after they closed it.
func openKeysStore(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestKeys_CreateWithScopesNameAndExpiry(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	before := time.Now()
	key := strings.TrimSpace(runKeys(t, "create", "--account", "acme", "--scopes", "read", "--name", "team dashboard", "--expires-in", "90d", "--db", db))
	if !strings.HasPrefix(key, "thk_") {
		t.Fatalf("keys create printed %q, want the key", key)
	}
	rows := listKeyRows(t, "--db", db)
	if len(rows) != 1 {
		t.Fatalf("rows %q", rows)
	}
	row := rows[0]
	if row[2] != "acme" || row[3] != "read" || row[4] != "no" || row[7] != "-" || row[8] != "-" || strings.Join(row[9:], " ") != "team dashboard" {
		t.Errorf("row %q", row)
	}
	expires, err := time.Parse(time.RFC3339, row[6])
	if err != nil || expires.Before(before.Add(90*24*time.Hour).Add(-time.Second)) || expires.After(time.Now().Add(90*24*time.Hour)) {
		t.Errorf("expires %q, want 90 days from now (%v)", row[6], err)
	}
}

func TestKeys_OperatorKeys(t *testing.T) {
	for _, flag := range []string{"--operator", "--admin"} {
		t.Run(flag, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "keys.db")
			runKeys(t, "create", flag, "--db", db)
			if row := listKeyRows(t, "--db", db)[0]; row[3] != "admin" || row[4] != "yes" {
				t.Errorf("keys create %s made %q, want an operator key with the admin scope", flag, row)
			}
		})
	}
	db := filepath.Join(t.TempDir(), "keys.db")
	runKeys(t, "create", "--scopes", "admin", "--db", db)
	if row := listKeyRows(t, "--db", db)[0]; row[3] != "admin" || row[4] != "no" {
		t.Errorf("keys create --scopes admin made %q, want an account's admin key, not an operator's", row)
	}
}

func TestKeys_CreateRefusesBadFlagsBeforeTheStore(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--scopes", "root"}, `--scopes: "root" is not a scope`},
		{[]string{"--scopes", "read,"}, "--scopes:"},
		{[]string{"--scopes", ""}, ""}, // the default: allowed
		{[]string{"--expires-in", "forever"}, "--expires-in:"},
		{[]string{"--expires-in", "10s"}, "--expires-in: must be between"},
		{[]string{"--operator", "--scopes", "read"}, "--operator keys have the admin scope"},
		{[]string{"--name", "a\tb"}, "--name: must be printable"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "keys.db")
			e, _, _ := newTestEnv(nil)
			err := run(context.Background(), append([]string{"keys", "create", "--db", db}, tt.args...), e)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if _, statErr := os.Stat(db); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("a refused create left the store file behind (%v)", statErr)
			}
		})
	}
}

func TestKeys_CommandsAreAuditedAsCLI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	runKeys(t, "create", "--scopes", "admin", "--account", "acme", "--db", path)
	runKeys(t, "create", "--account", "acme", "--db", path)
	rows := listKeyRows(t, "--db", path)
	admin, plain := rows[0][0], rows[1][0]
	runKeys(t, "revoke", plain, "--db", path)

	// The only admin key of the account stays until another exists.
	e, _, _ := newTestEnv(nil)
	err := run(context.Background(), []string{"keys", "revoke", admin, "--db", path}, e)
	if err == nil || !strings.Contains(err.Error(), "create another admin key first") {
		t.Errorf("revoking the last admin key: %v", err)
	}

	db := openKeysStore(t, path)
	entries, err := db.ListAudit(context.Background(), "acme", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Actor+" "+string(en.Action)+" "+en.TargetID)
	}
	want := []string{"cli key.created " + admin, "cli key.created " + plain, "cli key.revoked " + plain}
	if !slices.Equal(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func TestBootstrapKeys_MakeOperatorKeysAuditedAsSystem(t *testing.T) {
	for _, envKey := range []string{"", "bootstrap-key-0123456789"} {
		t.Run("TRACKHOOK_API_KEY="+envKey, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "boot.db")
			db := openKeysStore(t, path)
			e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": envKey})
			if err := bootstrapKeys(context.Background(), db, e); err != nil {
				t.Fatal(err)
			}
			keys, err := db.ListAPIKeys(context.Background(), "")
			if err != nil || len(keys) != 1 {
				t.Fatalf("keys %+v, %v", keys, err)
			}
			k := keys[0]
			if !k.Operator || !slices.Equal(k.Scopes, []references.Scope{references.ScopeAdmin}) || k.CreatedBy != references.ActorSystem {
				t.Errorf("bootstrap key %+v, want an operator key with the admin scope made by system", k)
			}
			entries, err := db.ListAudit(context.Background(), references.DefaultAccount, 0, 10)
			if err != nil || len(entries) != 1 || entries[0].Actor != references.ActorSystem || entries[0].TargetID != k.ID {
				t.Errorf("audit %+v, %v", entries, err)
			}
		})
	}
}
