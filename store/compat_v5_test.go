package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
	bolt "go.etcd.io/bbolt"
)

// The v5 fixture is a store file of schema 5, written by trackhook before updates
// referred to a table of their reference's events (see testdata/store/README.md):
// every update there carries its whole snapshot.
var (
	v5Fixture = filepath.Join("..", "testdata", "store", "v5.db")
	v5Golden  = filepath.Join("..", "testdata", "store", "v5.golden.json")
)

// v5 is the fixture of schema 5, read an hour after its last write.
var v5 = storeFixture{
	now:      time.Date(2026, 5, 13, 11, 0, 0, 0, time.UTC),
	accounts: []string{"acct_v5", "acct_v5b"},
}

// v5Endpoint is the account endpoint of acct_v5 in the v5 fixture.
const v5Endpoint = "ep_v5"

// v5Contents is everything the public API reads back from the v5 fixture: what
// readFixture reads, the account feeds, the endpoint's messages with what they carry,
// and a dump of the whole store.
type v5Contents struct {
	Base         json.RawMessage          `json:"base"`
	AccountFeeds map[string][]v5FeedEntry `json:"account_feeds"`
	Messages     []v5Message              `json:"messages"`
	Dump         []v5DumpRecord           `json:"dump"`
}

// digest names an update or a snapshot in the golden file past its first full
// appearance (in base): the SHA-256 of its JSON form, which changes with any field.
func digest(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// v5FeedEntry is one entry of an account feed.
type v5FeedEntry struct {
	AccountSequence uint64 `json:"account_sequence"`
	UpdateID        string `json:"update_id"`
	Update          string `json:"update_sha256"`
}

// v5Message is one message of an endpoint with the update it carries.
type v5Message struct {
	Message references.Message `json:"message"`
	Update  string             `json:"update_sha256,omitempty"`
}

// v5DumpRecord is one record of a dump: updates and snapshots in the store's JSON
// form of them (see records_fallback.go), the others as encoding/json gives them.
type v5DumpRecord struct {
	Kind     storecopy.Kind  `json:"kind"`
	Update   string          `json:"update_sha256,omitempty"`
	Shipment string          `json:"shipment_sha256,omitempty"`
	Other    json.RawMessage `json:"other,omitempty"`
	Account  string          `json:"account,omitempty"`
	Seq      uint64          `json:"account_sequence,omitempty"`
}

// readV5 reads back everything the v5 fixture holds, encoded as its golden file is.
func readV5(t *testing.T, db *DB) []byte {
	return readContents(t, db, v5, "acct_v5", v5Endpoint)
}

// readContents reads back everything a fixture of schema 5 or later holds, encoded as
// the v5 golden file is (v5Contents): fx's references and accounts' feeds, the
// messages of account's endpoint, and the store's dump.
func readContents(t *testing.T, db *DB, fx storeFixture, account, endpoint string) []byte {
	t.Helper()
	ctx := context.Background()
	c := v5Contents{Base: encodeV1(t, readFixture(t, db, fx)), AccountFeeds: map[string][]v5FeedEntry{}}
	for _, acct := range fx.accounts {
		page, err := db.ListAccountUpdates(ctx, acct, references.AccountUpdateQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, au := range page.Updates {
			c.AccountFeeds[acct] = append(c.AccountFeeds[acct], v5FeedEntry{AccountSequence: au.AccountSequence, UpdateID: au.Update.ID, Update: digest(t, newUpdateRecord(&au.Update))})
		}
	}
	msgs, err := db.ListMessages(ctx, account, endpoint, references.MessageQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs.Messages {
		_, body, err := db.GetMessage(ctx, account, endpoint, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		vm := v5Message{Message: m}
		if body.Update != nil {
			vm.Update = digest(t, newUpdateRecord(body.Update))
		}
		c.Messages = append(c.Messages, vm)
	}
	err = db.Dump(ctx, func(r storecopy.Record) error {
		d := v5DumpRecord{Kind: r.Kind()}
		switch r := r.(type) {
		case storecopy.Update:
			d.Update, d.Account, d.Seq = digest(t, newUpdateRecord(&r.Update)), r.AccountID, r.AccountSequence
		case storecopy.Shipment:
			d.Shipment, d.Account = digest(t, newShipmentRecord(&r.Shipment)), r.ReferenceID
		default:
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			d.Other = b
		}
		c.Dump = append(c.Dump, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// v5Poller returns a poller of db with the demo carrier at normal speed on db's clock,
// as the fixture was written.
func v5Poller(t *testing.T, db *DB) *poller.Poller {
	t.Helper()
	p, err := poller.New(db, poller.Options{
		Router: poller.Router{Default: demo.New(demo.Options{Speed: 1, Clock: db.clock})},
		Clock:  db.clock, Rand: func() float64 { return 0.5 }, Owner: "v5",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpen_ReadsAV5StoreFile(t *testing.T) {
	want, err := os.ReadFile(v5Golden)
	if err != nil {
		t.Fatal(err)
	}
	got := readV5(t, openCopy(t, v5Fixture, v5.now))
	if !bytes.Equal(got, want) {
		path := filepath.Join(t.TempDir(), "v5.got.json")
		_ = os.WriteFile(path, got, 0o600)
		t.Fatalf("reading %s gives other contents than %s (see %s)", v5Fixture, v5Golden, path)
	}
}

// TestOpen_WritesToAV5StoreFile: on a copy of the v5 file, the references go on being
// polled (their new updates refer to event tables, while the old ones carry their
// snapshots), their deliveries and the endpoint's messages are made and read, and
// retention prunes them; what was there before reads as it did at every step.
func TestOpen_WritesToAV5StoreFile(t *testing.T) {
	ctx := context.Background()
	db := openCopy(t, v5Fixture, v5.now)
	clk := db.clock.(*clock.Fake)
	var version []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		version = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte("schema_version")))
		return nil
	})
	if !bytes.Equal(version, u64(SchemaVersion)) {
		t.Fatalf("schema version after opening the v5 file: %x, want %d", version, SchemaVersion)
	}
	before := map[string][]references.Update{}
	ids := []string{"ref_v5container", "ref_v5bol", "ref_v5done", "ref_v5paused"}
	accountOf := map[string]string{"ref_v5paused": "acct_v5b"}
	acct := func(id string) string {
		if a, ok := accountOf[id]; ok {
			return a
		}
		return "acct_v5"
	}
	for _, id := range ids {
		ups, err := db.ListUpdates(ctx, acct(id), id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = ups
	}
	if _, err := db.ResumeReference(ctx, "acct_v5b", "ref_v5paused", v5.now); err != nil {
		t.Fatal(err)
	}

	// Three more polls of each active reference, two days apart.
	p := v5Poller(t, db)
	for i := range 3 {
		clk.Set(v5.now.Add(time.Duration(i+1) * 48 * time.Hour))
		for _, id := range ids {
			ref, err := db.ReferenceByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Active() {
				if err := p.PollOne(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	newer := 0
	for _, id := range ids {
		ups, err := db.ListUpdates(ctx, acct(id), id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		old := before[id]
		if len(ups) < len(old) {
			t.Fatalf("%s: %d updates after polling, %d before", id, len(ups), len(old))
		}
		if a, b := mustJSON(t, records(ups[:len(old)], newUpdateRecord)), mustJSON(t, records(old, newUpdateRecord)); !bytes.Equal(a, b) {
			t.Errorf("%s: the updates of schema 5 read otherwise after new ones", id)
		}
		newer += len(ups) - len(old)
		s, err := db.Shipment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var last *references.Shipment
		for _, u := range ups {
			if u.Shipment != nil {
				last = u.Shipment
			}
		}
		if !bytes.Equal(asJSON(t, s), asJSON(t, last)) {
			t.Errorf("%s: the current snapshot is not that of its last update", id)
		}
	}
	if newer == 0 {
		t.Fatal("no new update: the test polls nothing")
	}
	checkFormats(t, db)

	// The account feed, the endpoint's messages and a dump read every update of either
	// form, and the deliveries due are made, old updates and new.
	got := readV5(t, db)
	if !bytes.Contains(got, []byte("ref_v5container")) {
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

	// Retention: the updates older than three days go, the events only they used
	// too; what is kept reads as before.
	kept := map[string][]references.Update{}
	cutoff := clk.Now().Add(-72 * time.Hour)
	for _, id := range ids {
		ups, err := db.ListUpdates(ctx, acct(id), id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			if !u.CreatedAt.Before(cutoff) { // the queued redelivery was made above
				kept[id] = append(kept[id], u)
			}
		}
	}
	if pruned, err := db.Prune(ctx, references.PruneRequest{Updates: cutoff, Max: 10_000}); err != nil || pruned.Updates == 0 {
		t.Fatalf("prune: %+v, %v", pruned, err)
	}
	for _, id := range ids {
		ups, err := db.ListUpdates(ctx, acct(id), id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := mustJSON(t, records(ups, newUpdateRecord)), mustJSON(t, records(kept[id], newUpdateRecord)); !bytes.Equal(a, b) {
			t.Errorf("%s: after the prune, %d updates read otherwise than the %d kept", id, len(ups), len(kept[id]))
		}
	}
	checkIndexes(t, db)
	checkFormats(t, db)
}

// checkFormats checks that every stored update of format 3, and every reference's
// table (format 3 or 4), reads with its reference's events.
func checkFormats(t *testing.T, db *DB) {
	t.Helper()
	tables := 0
	err := db.view(context.Background(), func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketShipments).ForEach(func(k, v []byte) error {
			if !isTable(v) {
				return nil
			}
			tables++
			var s references.Shipment
			if err := decodeShipment(v, &s); err != nil && !errors.Is(err, errNoSnapshot) {
				return fmt.Errorf("table of %s: %w", k, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
			var u references.Update
			if err := decodeStoredUpdate(tx, k, v, &u); err != nil {
				return fmt.Errorf("update %q: %w", k, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Fatal("no event table: nothing was written in format 3 or 4")
	}
}
