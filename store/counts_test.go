package store

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// checkStatusCounts fails the test unless every account's counts by status are what
// its references' statuses say, and no count is kept for an account without
// references.
func checkStatusCounts(t testing.TB, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		kept := map[string]map[references.Status]int{}
		err := tx.Bucket(bucketStatusCount).ForEach(func(k, v []byte) error {
			i := bytes.IndexByte(k, sep)
			acct := string(k[:i])
			if kept[acct] == nil {
				kept[acct] = map[references.Status]int{}
			}
			kept[acct][references.Status(k[i+1:])] = int(bytesU64(v))
			return nil
		})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		c := tx.Bucket(bucketRefsByAcct).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Seek(join(k[:bytes.IndexByte(k, sep)], []byte{sep + 1})) {
			acct := string(k[:bytes.IndexByte(k, sep)])
			seen[acct] = true
			scanned, err := scanStatuses(tx, acct)
			if err != nil {
				return err
			}
			want := map[references.Status]int{}
			for st, n := range scanned {
				want[st] = int(n)
			}
			if !maps.Equal(kept[acct], want) {
				t.Errorf("the counts by status of %s are %v; its references are %v", acct, kept[acct], want)
			}
		}
		for acct, counts := range kept {
			if !seen[acct] {
				t.Errorf("counts by status %v are kept for %s, which has no reference", counts, acct)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("check the counts by status: %v", err)
	}
}

// TestReferenceStatus_ReadsTheStatusOfEveryForm: the status read alone is the one a
// whole decode gives, in the binary form with or without its optional trailing
// fields, and in the JSON form of older files.
func TestReferenceStatus_ReadsTheStatusOfEveryForm(t *testing.T) {
	_, clk := mustOpen(t)
	base := newRef("a", "MSCU1234566", clk.Now())
	base.EventTypes = []string{"shipment.updated", "reference.unsubscribed"}
	base.Metadata = map[string]string{"po": "1", "team": "x"}
	now := clk.Now()
	for _, st := range []references.Status{references.StatusActive, references.StatusPaused, references.StatusUnsubscribed, "some_future_status"} {
		for _, mod := range []func(*references.Reference){
			func(*references.Reference) {},
			func(r *references.Reference) { r.CarrierDetected = true },
			func(r *references.Reference) { r.PausedAt, r.LastRefreshAt = &now, &now },
			func(r *references.Reference) { r.EventTypes, r.Metadata = nil, nil },
		} {
			r := base
			r.Status = st
			mod(&r)
			for form, data := range map[string][]byte{"binary": encodeReference(&r), "JSON": mustJSON(t, newReferenceRecord(&r))} {
				got, err := referenceStatus(data)
				if err != nil || got != st {
					t.Errorf("%s form of a %s reference: status %q, %v", form, st, got, err)
				}
			}
		}
	}
	for _, bad := range [][]byte{{formatBinary1}, {formatBinary1, 200}, encodeReference(&base)[:10]} {
		if st, err := referenceStatus(bad); err == nil {
			t.Errorf("referenceStatus(%x) = %q, want an error", bad, st)
		}
	}
}

// TestUpgrade_CountsTheStatusesOfAnOlderFile: a file of schema 4 has no counts by
// status; Open counts them, and the counts are then kept.
func TestUpgrade_CountsTheStatusesOfAnOlderFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	db := openAt(t, path, clk)
	if _, err := db.EnsureAccount(ctx, "a", "whsec_one", clk.Now()); err != nil {
		t.Fatal(err)
	}
	refs := []references.Reference{fullRef(t, db, 1, 1), fullRef(t, db, 2, 1), fullRef(t, db, 3, 1)}
	mustCreate(t, db, newRef("b", "CSQU3054383", clk.Now()))
	if _, err := db.UnsubscribeReference(ctx, "a", refs[0].ID, references.ReasonUser, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PauseReference(ctx, "a", refs[1].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	toSchema4(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, clk)
	for acct, want := range map[string]map[references.Status]int{
		"a": {references.StatusActive: 1, references.StatusPaused: 1, references.StatusUnsubscribed: 1},
		"b": {references.StatusActive: 1},
	} {
		got, err := db.CountReferences(ctx, acct)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("CountReferences(%s) after the upgrade = %v, %v; want %v", acct, got, err, want)
		}
	}
	if _, err := db.ResumeReference(ctx, "a", refs[1].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	checkStatusCounts(t, db)
}
