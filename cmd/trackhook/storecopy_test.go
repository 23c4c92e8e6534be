package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakeclock "github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/store/postgres"
)

// copySource writes a stopped store with an account, a key and a reference with two
// updates waiting for its callback; it returns the reference's id.
func copySource(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := fakeclock.NewFake(created)
	db, err := store.Open(path, store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.EnsureAccount(ctx, "acct", references.NewWebhookSecret(), created); err != nil {
		t.Fatal(err)
	}
	_, key := references.NewAPIKey("acct", []references.Scope{references.ScopeAdmin}, created)
	key.CreatedBy = references.ActorCLI
	if err := db.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	svc := references.NewService(db, references.ServiceOptions{Now: clk.Now})
	ref, _, err := svc.Create(ctx, "acct", references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MSCU", CallbackURL: "https://example.com/hooks"}, "")
	if err != nil {
		t.Fatal(err)
	}
	claim, err := db.ClaimPoll(ctx, "test", ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res := references.PollResult{PolledAt: created, NextPollAt: created.Add(time.Hour)}
	for range 2 {
		res.Updates = append(res.Updates, references.Update{Type: references.UpdateShipment, CreatedAt: created, Changes: []references.Change{}})
	}
	if _, err := db.RecordPoll(ctx, claim.Lease, res); err != nil {
		t.Fatal(err)
	}
	return ref.ID
}

func runCopy(from, to string) (stdout string, err error) {
	e, out, _ := newTestEnv(nil)
	err = run(context.Background(), []string{"store", "copy", "--from", from, "--to", to}, e)
	return out.String(), err
}

// wantCopied checks the report of a copy that succeeded.
func wantCopied(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"copied ", "references", "updates", "delivery_streams", "verified:", "the feed of each of the 1 reference with updates", "1 active"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// wantReference checks that the store at target holds the copied reference.
func wantReference(t *testing.T, b references.Backend, refID string) {
	t.Helper()
	ups, err := b.ListUpdates(context.Background(), "acct", refID, 0, 10)
	if err != nil || len(ups) != 2 {
		t.Fatalf("the copy's feed of %s: %d updates, %v; want 2", refID, len(ups), err)
	}
}

func TestStoreCopy_BoltToBolt(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	refID := copySource(t, from)
	out, err := runCopy(from, to)
	if err != nil {
		t.Fatalf("store copy: %v", err)
	}
	wantCopied(t, out)
	db, err := store.Open(to, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantReference(t, db, refID)
}

// TestStoreCopy_SaysWhenServeHoldsTheFile: a store another process has open (a
// running serve) is not copied, and the destination is not created.
func TestStoreCopy_SaysWhenServeHoldsTheFile(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	copySource(t, from)
	held, err := store.Open(from, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = runCopy(from, to)
	if err == nil || !strings.Contains(err.Error(), "source store") || !strings.Contains(err.Error(), "running trackhook serve") ||
		!strings.Contains(err.Error(), "stop the service before copying") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("store copy of a held store: %v; want one line saying a running serve holds the source", err)
	}
	if exitCode(err) == 0 {
		t.Error("exit status 0")
	}
	if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the destination was created: %v", err)
	}
}

// TestStoreCopy_RefusesANonEmptyDestination says so and leaves the destination as it
// was.
func TestStoreCopy_RefusesANonEmptyDestination(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	copySource(t, from)
	copySource(t, to)
	_, err := runCopy(from, to)
	if err == nil || !strings.Contains(err.Error(), "the destination is not empty (it holds accounts)") {
		t.Fatalf("store copy into a store with data: %v; want a refusal", err)
	}
	if _, err := os.Stat(to); err != nil {
		t.Errorf("the refused destination is gone: %v", err)
	}
}

func TestStoreCopy_MissingSourceIsNotCreated(t *testing.T) {
	dir := t.TempDir()
	from := filepath.Join(dir, "nope.db")
	if _, err := runCopy(from, filepath.Join(dir, "to.db")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("store copy of a missing file: %v", err)
	}
	if _, err := os.Stat(from); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing source was created: %v", err)
	}
}

// TestStoreCopy_ToPostgresAndBack copies a file into a database, that database into
// another, and that one into a new file; while a serve is connected to the database,
// the copy says so.
func TestStoreCopy_ToPostgresAndBack(t *testing.T) {
	dir := t.TempDir()
	from, back := filepath.Join(dir, "from.db"), filepath.Join(dir, "back.db")
	refID := copySource(t, from)
	url := pgtest.NewDatabase(t)

	serve, err := postgres.Open(context.Background(), url, postgres.Options{ApplicationName: "trackhook serve"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = runCopy(from, url)
	if err == nil || !strings.Contains(err.Error(), "connections of a running trackhook serve: stop every instance before copying") {
		t.Fatalf("store copy into a database a serve uses: %v; want a refusal", err)
	}
	serve.Close()

	out, err := runCopy(from, url)
	if err != nil {
		t.Fatalf("store copy to PostgreSQL: %v", err)
	}
	wantCopied(t, out)
	other := pgtest.NewDatabase(t)
	out, err = runCopy(url, other)
	if err != nil {
		t.Fatalf("store copy from PostgreSQL to PostgreSQL: %v", err)
	}
	wantCopied(t, out)
	out, err = runCopy(other, back)
	if err != nil {
		t.Fatalf("store copy from PostgreSQL: %v", err)
	}
	wantCopied(t, out)
	db, err := store.Open(back, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantReference(t, db, refID)
}
