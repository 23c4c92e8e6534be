package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// The v6 fixture is a store file of schema 6, written by trackhook before event tables
// kept a dictionary of their strings (format 4, see formatDict): its references'
// tables are of format 3, some with slots that retention emptied (see
// testdata/store/README.md).
var (
	v6Fixture = filepath.Join("..", "testdata", "store", "v6.db")
	v6Golden  = filepath.Join("..", "testdata", "store", "v6.golden.json")
)

// v6 is the fixture of schema 6, read an hour after its last write.
var v6 = storeFixture{
	now:      time.Date(2026, 6, 13, 11, 0, 0, 0, time.UTC),
	accounts: []string{"acct_v6", "acct_v6b"},
}

// v6Endpoint is the account endpoint of acct_v6 in the v6 fixture.
const v6Endpoint = "ep_v6"

// v6Refs are the references of the v6 fixture, with their accounts.
var v6Refs = []struct{ id, account string }{
	{"ref_v6container", "acct_v6"}, {"ref_v6bol", "acct_v6"}, {"ref_v6done", "acct_v6"}, {"ref_v6paused", "acct_v6b"},
}

// readV6 reads back everything the v6 fixture holds, in the form of the v5 golden file
// (see v5Contents).
func readV6(t *testing.T, db *DB) []byte {
	return readContents(t, db, v6, "acct_v6", v6Endpoint)
}

func TestOpen_ReadsAV6StoreFile(t *testing.T) {
	want, err := os.ReadFile(v6Golden)
	if err != nil {
		t.Fatal(err)
	}
	got := readV6(t, openCopy(t, v6Fixture, v6.now))
	if !bytes.Equal(got, want) {
		path := filepath.Join(t.TempDir(), "v6.got.json")
		_ = os.WriteFile(path, got, 0o600)
		t.Fatalf("reading %s gives other contents than %s (see %s)", v6Fixture, v6Golden, path)
	}
}

// tableFormats counts the references' values of the shipments bucket by format byte.
func tableFormats(t *testing.T, db *DB) map[byte]int {
	t.Helper()
	n := map[byte]int{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketShipments).ForEach(func(_, v []byte) error {
			if len(v) > 0 {
				n[v[0]]++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOpen_WritesToAV6StoreFile: on a copy of the v6 file, whose event tables are of
// format 3, the references go on being polled (their tables take format 4 with the
// same events in the same slots), deliveries and the endpoint's messages are made and
// read, and retention prunes; what was there before reads as it did at every step.
func TestOpen_WritesToAV6StoreFile(t *testing.T) {
	ctx := context.Background()
	db := openCopy(t, v6Fixture, v6.now)
	clk := db.clock.(*clock.Fake)
	var version []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		version = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte("schema_version")))
		return nil
	})
	if !bytes.Equal(version, u64(SchemaVersion)) {
		t.Fatalf("schema version after opening the v6 file: %x, want %d", version, SchemaVersion)
	}
	if f := tableFormats(t, db); f[formatTable] == 0 || f[formatDict] != 0 {
		t.Fatalf("tables by format on opening: %v, want format 3 only: nothing is rewritten at Open", f)
	}
	before := map[string][]references.Update{}
	for _, r := range v6Refs {
		ups, err := db.ListUpdates(ctx, r.account, r.id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		before[r.id] = ups
	}
	if _, err := db.ResumeReference(ctx, "acct_v6b", "ref_v6paused", v6.now); err != nil {
		t.Fatal(err)
	}

	// Three more polls of each active reference, two days apart.
	p := v5Poller(t, db)
	for i := range 3 {
		clk.Set(v6.now.Add(time.Duration(i+1) * 48 * time.Hour))
		for _, r := range v6Refs {
			ref, err := db.ReferenceByID(ctx, r.id)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Active() {
				if err := p.PollOne(ctx, r.id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	newer := 0
	for _, r := range v6Refs {
		ups, err := db.ListUpdates(ctx, r.account, r.id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		old := before[r.id]
		if len(ups) < len(old) {
			t.Fatalf("%s: %d updates after polling, %d before", r.id, len(ups), len(old))
		}
		// (ref_v6paused has none left: retention took them before the file was closed.)
		if a, b := mustJSON(t, records(ups[:len(old)], newUpdateRecord)), mustJSON(t, records(old, newUpdateRecord)); len(old) > 0 && !bytes.Equal(a, b) {
			t.Errorf("%s: the updates of schema 6 read otherwise after new ones", r.id)
		}
		newer += len(ups) - len(old)
		s, err := db.Shipment(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		var last *references.Shipment
		for _, u := range ups {
			if u.Shipment != nil {
				last = u.Shipment
			}
		}
		if last != nil && !bytes.Equal(asJSON(t, s), asJSON(t, last)) {
			t.Errorf("%s: the current snapshot is not that of its last update", r.id)
		}
	}
	if newer == 0 {
		t.Fatal("no new update: the test polls nothing")
	}
	if f := tableFormats(t, db); f[formatDict] == 0 {
		t.Fatalf("tables by format after polling: %v, want some of format 4", f)
	}
	checkFormats(t, db)

	// The account feed, the endpoint's messages and a dump read every update, and
	// the deliveries due are made.
	if got := readV6(t, db); !bytes.Contains(got, []byte("ref_v6container")) {
		t.Fatal("nothing read back")
	}
	delivered := 0
	for {
		claims, err := db.ClaimDueDeliveries(ctx, "compat", 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) == 0 {
			break
		}
		for _, c := range claims {
			if c.Job.Update.ID == "" || (c.Job.Update.Type == references.UpdateShipment && c.Job.Update.Shipment == nil) {
				t.Fatalf("a delivery job without its update: %+v", c.Job)
			}
			a := attempt(c.Job, references.OutcomeDelivered, clk.Now())
			a.Destination, a.StatusCode = c.Job.Destination, 204
			if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, a, ""); err != nil {
				t.Fatal(err)
			}
			delivered++
			if err := db.ReleaseLease(ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
		}
	}
	if delivered == 0 {
		t.Fatal("nothing delivered")
	}

	// Retention: the updates older than three days go, the events only they used too
	// (a table of format 4 drops their strings from its dictionary); what is kept
	// reads as before.
	kept := map[string][]references.Update{}
	cutoff := clk.Now().Add(-72 * time.Hour)
	for _, r := range v6Refs {
		ups, err := db.ListUpdates(ctx, r.account, r.id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			if !u.CreatedAt.Before(cutoff) {
				kept[r.id] = append(kept[r.id], u)
			}
		}
	}
	if pruned, err := db.Prune(ctx, references.PruneRequest{Updates: cutoff, Max: 10_000}); err != nil || pruned.Updates == 0 {
		t.Fatalf("prune: %+v, %v", pruned, err)
	}
	for _, r := range v6Refs {
		ups, err := db.ListUpdates(ctx, r.account, r.id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := mustJSON(t, records(ups, newUpdateRecord)), mustJSON(t, records(kept[r.id], newUpdateRecord)); !bytes.Equal(a, b) {
			t.Errorf("%s: after the prune, %d updates read otherwise than the %d kept", r.id, len(ups), len(kept[r.id]))
		}
	}
	checkIndexes(t, db)
	checkFormats(t, db)
}
