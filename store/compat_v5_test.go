package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
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
	t.Helper()
	ctx := context.Background()
	c := v5Contents{Base: encodeV1(t, readFixture(t, db, v5)), AccountFeeds: map[string][]v5FeedEntry{}}
	for _, acct := range v5.accounts {
		page, err := db.ListAccountUpdates(ctx, acct, references.AccountUpdateQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, au := range page.Updates {
			c.AccountFeeds[acct] = append(c.AccountFeeds[acct], v5FeedEntry{AccountSequence: au.AccountSequence, UpdateID: au.Update.ID, Update: digest(t, newUpdateRecord(&au.Update))})
		}
	}
	msgs, err := db.ListMessages(ctx, "acct_v5", v5Endpoint, references.MessageQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs.Messages {
		_, body, err := db.GetMessage(ctx, "acct_v5", v5Endpoint, m.ID)
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
