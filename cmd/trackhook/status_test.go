package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	fakeclock "github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/store/postgres"
)

// statusStore writes a stopped store with two active references (one with two updates
// waiting for its callback) and one unsubscribed, all created at created.
func statusStore(t *testing.T, created time.Time) (path string, waiting references.Update) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "status.db")
	clk := fakeclock.NewFake(created)
	db, err := store.Open(path, store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return path, fillStatusStore(t, db, clk)
}

// statusDatabase is statusStore on a PostgreSQL database: its URL, with testPassword.
func statusDatabase(t *testing.T, created time.Time) (dbURL string, waiting references.Update) {
	t.Helper()
	dbURL = newPostgresDB(t)
	clk := fakeclock.NewFake(created)
	db, err := postgres.Open(context.Background(), dbURL, postgres.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return dbURL, fillStatusStore(t, db, clk)
}

// fillStatusStore writes what statusStore describes to db.
func fillStatusStore(t *testing.T, db backend, clk *fakeclock.Fake) (waiting references.Update) {
	t.Helper()
	ctx := context.Background()
	created := clk.Now()
	if _, err := db.EnsureAccount(ctx, "acct", references.NewWebhookSecret(), created); err != nil {
		t.Fatal(err)
	}
	svc := references.NewService(db, references.ServiceOptions{Now: clk.Now})
	create := func(req references.CreateRequest) references.Reference {
		ref, _, err := svc.Create(ctx, "acct", req, "")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	hooked := create(references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MSCU", CallbackURL: "https://example.com/hooks"})
	create(references.CreateRequest{BookingNumber: "BK123456", CarrierCode: "HLCU"})
	gone := create(references.CreateRequest{BookingNumber: "BK654321", CarrierCode: "HLCU"})
	if _, err := svc.Unsubscribe(ctx, "acct", gone.ID); err != nil {
		t.Fatal(err)
	}
	res := references.PollResult{PolledAt: created, NextPollAt: created.Add(time.Hour)}
	for i := range 2 {
		res.Updates = append(res.Updates, references.Update{
			ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: created.Add(time.Duration(i) * time.Minute), Changes: []references.Change{},
		})
	}
	claim, err := db.ClaimPoll(ctx, "test", hooked.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordPoll(ctx, claim.Lease, res); err != nil {
		t.Fatal(err)
	}
	ups, err := db.ListUpdates(ctx, "acct", hooked.ID, 0, 10)
	if err != nil || len(ups) != 2 {
		t.Fatalf("updates %v, %v", ups, err)
	}
	return ups[0]
}

func TestStatus_PrintsCountsAndOldestUndelivered(t *testing.T) {
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return created.Add(2*time.Hour + 13*time.Minute) }
	for _, backend := range []string{"bbolt", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var target string
			var waiting references.Update
			if backend == "bbolt" {
				target, waiting = statusStore(t, created)
			} else {
				target, waiting = statusDatabase(t, created)
			}
			t.Run("text", func(t *testing.T) {
				e, out, _ := newTestEnv(nil)
				if err := status(context.Background(), []string{"--db", target}, e, now); err != nil {
					t.Fatal(err)
				}
				text := out.String()
				for _, want := range []string{
					"store           " + redactURL(target) + ", ",
					"references      2 active, 1 unsubscribed\n",
					"deliveries      1 stream with updates waiting\n",
					"oldest waiting  " + waiting.ID + " (update 1 of " + waiting.ReferenceID + ", shipment.updated), created 2026-03-01T10:00:00Z, 2h13m0s ago\n",
				} {
					if !strings.Contains(text, want) {
						t.Errorf("output lacks %q:\n%s", want, text)
					}
				}
				if strings.Contains(text, testPassword) {
					t.Errorf("the password shows:\n%s", text)
				}
			})
			t.Run("json", func(t *testing.T) {
				e, out, _ := newTestEnv(map[string]string{"TRACKHOOK_DB": target})
				if err := status(context.Background(), []string{"--json"}, e, now); err != nil {
					t.Fatal(err)
				}
				var st api.StoreStatus
				if err := json.Unmarshal(out.Bytes(), &st); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				if st.ActiveReferences != 2 || st.UnsubscribedReferences != 1 || st.PendingDeliveries != 1 || st.FileBytes <= 0 ||
					st.OldestUndelivered == nil || st.OldestUndelivered.ID != waiting.ID || !st.OldestUndelivered.CreatedAt.Equal(created) {
					t.Errorf("status %s", out)
				}
			})
		})
	}
}

func TestStatus_NothingWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	e, out, _ := newTestEnv(nil)
	if err := status(context.Background(), []string{"--db", path}, e, time.Now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "references      0 active, 0 unsubscribed") || !strings.Contains(out.String(), "oldest waiting  none") ||
		!strings.Contains(out.String(), "last prune      never\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestStatus_PrintsWhatRetentionRemoved(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "pruned.db")
	clk := fakeclock.NewFake(created)
	db, err := store.Open(path, store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureAccount(ctx, "acct", references.NewWebhookSecret(), created); err != nil {
		t.Fatal(err)
	}
	svc := references.NewService(db, references.ServiceOptions{Now: clk.Now})
	for _, booking := range []string{"BK123456", "BK654321"} {
		ref, _, err := svc.Create(ctx, "acct", references.CreateRequest{BookingNumber: booking, CarrierCode: "HLCU", RequestHash: booking}, "key-"+booking)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Unsubscribe(ctx, "acct", ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(48 * time.Hour)
	got, err := db.Prune(ctx, references.PruneRequest{Unsubscribed: clk.Now(), IdempotencyKeys: clk.Now(), Max: 100})
	if err != nil || got.References != 2 || got.IdempotencyKeys != 2 {
		t.Fatalf("prune: %+v, %v", got, err)
	}
	db.Close()

	e, out, _ := newTestEnv(nil)
	now := func() time.Time { return clk.Now().Add(5 * time.Minute) }
	if err := status(ctx, []string{"--db", path}, e, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"references      0 active, 0 unsubscribed\n",
		fmt.Sprintf("retention       removed 2 references, %d %s, 0 delivery attempts, 2 idempotency keys since the store was created\n",
			got.Updates, plural(got.Updates, "update", "updates")),
		"last prune      2026-03-03T10:00:00Z, 5m0s ago\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	e, out, _ = newTestEnv(nil)
	if err := status(ctx, []string{"--db", path, "--json"}, e, now); err != nil {
		t.Fatal(err)
	}
	var st api.StoreStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if st.Pruned != (api.PruneCounts{References: 2, Updates: got.Updates, IdempotencyKeys: 2}) || st.LastPrunedAt == nil || !st.LastPrunedAt.Equal(clk.Now()) {
		t.Errorf("status --json: %s", out)
	}
}

func TestStatus_MissingFileIsNotCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	e, _, _ := newTestEnv(nil)
	err := run(context.Background(), []string{"status", "--db", path}, e)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("status of a missing file = %v, want not exist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("status created %s", path)
	}
}

func TestStatus_SaysWhenAServerHoldsTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // held open, as a running server does
	e, _, _ := newTestEnv(nil)
	err = run(context.Background(), []string{"status", "--db", path}, e)
	if err == nil || !strings.Contains(err.Error(), "is in use by another trackhook process (most likely a running trackhook serve)") || !strings.Contains(err.Error(), "GET /admin/status") {
		t.Fatalf("status of a held store = %v", err)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {32 << 20, "32.0 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"}}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
