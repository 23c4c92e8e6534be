package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/store/postgres"
)

func TestBackup_AdminOnlyAndOpensAsStore(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})

	t.Run("non-admin key is forbidden", func(t *testing.T) {
		for _, key := range []string{b.keyA, b.keyB} {
			resp, body := b.do(t, http.MethodGet, "/admin/backup", key, nil)
			wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
		}
	})

	resp, body := b.do(t, http.MethodGet, "/admin/backup", b.adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %.200s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="trackhook-20260301T120000Z.db"` {
		t.Errorf("Content-Disposition %q", cd)
	}

	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	// It is a bbolt file in its own right ...
	raw, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("backup is not a bbolt file: %v", err)
	}
	err = raw.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Errorf("bbolt consistency check: %v", err)
	}
	raw.Close()
	// ... and the store opens it with the data and keys in it.
	db, err := store.Open(path, store.Options{NoSync: true, Clock: b.clock})
	if err != nil {
		t.Fatalf("open backup as store: %v", err)
	}
	defer db.Close()
	got, err := db.GetReference(context.Background(), accountA, ref.ID)
	if err != nil || got.ContainerID != "CSQU3054383" {
		t.Errorf("reference in backup: %+v, %v", got, err)
	}
	if _, err := db.LookupAPIKey(context.Background(), references.HashAPIKey(b.keyA)); err != nil {
		t.Errorf("key in backup: %v", err)
	}
}

func TestBackup_RouteAbsentWithoutBackuper(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.Backup = nil })
	resp, body := b.do(t, http.MethodGet, "/admin/backup", b.adminKey, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
}

// failingBackup writes n bytes and then fails, like a disk error midway.
type failingBackup struct{ n int }

func (f failingBackup) Backup(_ context.Context, w io.Writer) (int64, error) {
	if f.n > 0 {
		if _, err := w.Write([]byte(strings.Repeat("x", f.n))); err != nil {
			return 0, err
		}
	}
	return int64(f.n), errors.New("disk on fire")
}

func TestBackup_Failures(t *testing.T) {
	t.Run("before any byte: JSON 500", func(t *testing.T) {
		b := setup(t, func(c *setupConfig) { c.api.Backup = failingBackup{n: 0} })
		resp, body := b.do(t, http.MethodGet, "/admin/backup", b.adminKey, nil)
		wantError(t, resp, body, http.StatusInternalServerError, references.CodeInternal, "")
		if resp.Header.Get("Content-Disposition") != "" {
			t.Error("error response still offers a file download")
		}
		if strings.Contains(string(body), "disk on fire") {
			t.Error("internal error leaked to the client")
		}
	})
	t.Run("midway: the transfer is cut", func(t *testing.T) {
		b := setup(t, func(c *setupConfig) { c.api.Backup = failingBackup{n: 100 << 10} })
		req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/admin/backup", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+b.adminKey)
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("a failed backup was received as a complete file")
		}
		if !strings.Contains(b.logs.String(), "disk on fire") {
			t.Errorf("failure not logged:\n%s", b.logs.String())
		}
	})
}

// storeStatus reports a real store's counts; the store is set once setup opened it.
type storeStatus struct{ db *store.DB }

func (s *storeStatus) Stats(ctx context.Context) (references.Stats, error) {
	return s.db.Stats(ctx)
}

func (s *storeStatus) OldestUndelivered(ctx context.Context) (*references.Update, error) {
	return s.db.OldestUndelivered(ctx)
}

func TestStatus_AdminSeesStoreCounts(t *testing.T) {
	reporter := &storeStatus{} // the store exists once setup has run
	b := setup(t, func(c *setupConfig) { c.api.Status = reporter })
	reporter.db = b.db
	hooked := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	b.create(t, b.keyB, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	gone := b.create(t, b.keyA, map[string]any{"booking_number": "BK654321", "carrier_code": "MAEU"})
	b.do(t, http.MethodDelete, "/references/"+gone.ID, b.keyA, nil)

	t.Run("nothing waiting", func(t *testing.T) {
		resp, body := b.do(t, http.MethodGet, "/admin/status", b.adminKey, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if !strings.Contains(string(body), `"oldest_undelivered":null`) {
			t.Errorf("oldest_undelivered not null: %s", body)
		}
		st := decode[StoreStatus](t, body)
		if st.ActiveReferences != 2 || st.UnsubscribedReferences != 1 || st.PendingDeliveries != 0 || st.FileBytes <= 0 {
			t.Errorf("status %+v, want 2 active (both accounts), 1 unsubscribed, 0 pending", st)
		}
	})
	t.Run("an update waiting", func(t *testing.T) {
		ups := b.seedUpdates(t, hooked.ID, 2)
		resp, body := b.do(t, http.MethodGet, "/admin/status", b.adminKey, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		st := decode[StoreStatus](t, body)
		if st.PendingDeliveries != 1 || st.OldestUndelivered == nil || st.OldestUndelivered.ID != ups[0].ID ||
			st.OldestUndelivered.Sequence != 1 || st.OldestUndelivered.ReferenceID != hooked.ID {
			t.Errorf("status %s, want update 1 of %s waiting", body, hooked.ID)
		}
	})
	t.Run("non-admin key is forbidden", func(t *testing.T) {
		resp, body := b.do(t, http.MethodGet, "/admin/status", b.keyA, nil)
		wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
	})
	t.Run("no key", func(t *testing.T) {
		resp, body := b.do(t, http.MethodGet, "/admin/status", "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, "")
	})
}

func TestStatus_RouteAbsentWithoutReporter(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/admin/status", b.adminKey, nil)
	wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
}

func TestStatus_StoreFailureIsInternal(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.Status = failingStatus{} })
	resp, body := b.do(t, http.MethodGet, "/admin/status", b.adminKey, nil)
	wantError(t, resp, body, http.StatusInternalServerError, references.CodeInternal, "")
	if strings.Contains(string(body), "disk on fire") {
		t.Error("internal error leaked to the client")
	}
	if !strings.Contains(b.logs.String(), "disk on fire") {
		t.Errorf("failure not logged:\n%s", b.logs.String())
	}
}

func TestMetrics_NeedAnAdminKeyUnlessPublic(t *testing.T) {
	scrape := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "trackhook_up 1\n") })
	for _, public := range []bool{false, true} {
		b := setup(t, func(c *setupConfig) { c.api.Metrics, c.api.PublicMetrics = scrape, public })
		for _, r := range []struct {
			key           string
			want, wantPub int
		}{
			{"", http.StatusUnauthorized, http.StatusOK},
			{b.keyA, http.StatusForbidden, http.StatusOK},
			{b.adminKey, http.StatusOK, http.StatusOK},
		} {
			want := r.want
			if public {
				want = r.wantPub
			}
			resp, body := b.do(t, http.MethodGet, "/metrics", r.key, nil)
			if resp.StatusCode != want || (want == http.StatusOK && string(body) != "trackhook_up 1\n") {
				t.Errorf("public %t, key %.8q: %d %s; want %d", public, r.key, resp.StatusCode, body, want)
			}
		}
	}
	if resp, _ := setup(t).do(t, http.MethodGet, "/metrics", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without Options.Metrics: %d, want 404", resp.StatusCode)
	}
}

// A server on PostgreSQL has no backup to stream: pg_dump does it. The route answers
// 501 with a JSON error that says so, whatever the caller's rights allow.
func TestBackup_PostgreSQLAnswers501PointingToPgDump(t *testing.T) {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := setup(t, func(c *setupConfig) { c.api.Backup = db })
	resp, body := b.do(t, http.MethodGet, "/admin/backup", b.adminKey, nil)
	got := wantError(t, resp, body, http.StatusNotImplemented, codeNotImplemented, "")
	if !strings.Contains(got.Message, "use pg_dump") {
		t.Errorf("message %q does not point to pg_dump", got.Message)
	}
	if resp.Header.Get("Content-Disposition") != "" {
		t.Error("the 501 still offers a file download")
	}
	resp, body = b.do(t, http.MethodGet, "/admin/backup", b.keyA, nil)
	wantError(t, resp, body, http.StatusForbidden, codeForbidden, "")
}
