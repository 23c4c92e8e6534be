package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// The v1 fixtures are store files written by an earlier trackhook (see
// testdata/store/README.md): v1.db as it wrote them, v1-json.db the same with the
// values of the binary codec in the JSON form older versions wrote. The golden file is
// what that trackhook read back from them; this version must read back the same, byte
// for byte once encoded.
var (
	v1Fixture     = filepath.Join("..", "testdata", "store", "v1.db")
	v1JSONFixture = filepath.Join("..", "testdata", "store", "v1-json.db")
	v1Golden      = filepath.Join("..", "testdata", "store", "v1.golden.json")
	v1Fixtures    = []string{v1Fixture, v1JSONFixture}
)

// storeFixture says how to read back a store file of an earlier version: the clock to
// read it with, and what to ask for (the API lists neither accounts nor idempotency
// records).
type storeFixture struct {
	// now is after everything in the file was written, while its rotated secrets are
	// still in their grace period and its idempotency keys live.
	now      time.Time
	accounts []string
	// idempotencyKeys are the Idempotency-Keys the file's creates were made with, by
	// account.
	idempotencyKeys map[string][]string
}

// v1 is the fixture of schema 1.
var v1 = storeFixture{
	now:             time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
	accounts:        []string{"acct_alpha", "acct_beta"},
	idempotencyKeys: map[string][]string{"acct_alpha": {"order-4471"}},
}

// v2 is the fixture of schema 2 (testdata/store/v2.db), read at 08:00 the day after
// it was written.
var v2 = storeFixture{
	now:             time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC),
	accounts:        []string{"acct_gamma", "acct_delta"},
	idempotencyKeys: map[string][]string{"acct_gamma": {"order-5500"}},
}

var (
	v2Fixture = filepath.Join("..", "testdata", "store", "v2.db")
	v2Golden  = filepath.Join("..", "testdata", "store", "v2.golden.json")
)

// v1Now, v1Accounts and v1IdempotencyKeys are v1's, by the names its tests use.
var (
	v1Now             = v1.now
	v1Accounts        = v1.accounts
	v1IdempotencyKeys = v1.idempotencyKeys
)

// v1Contents is everything the public API reads back from a fixture (of any schema:
// the name is the first one's).
type v1Contents struct {
	Accounts     []references.Account
	APIKeys      []references.APIKey
	References   []references.Reference
	Shipments    map[string]*references.Shipment
	Updates      map[string][]references.Update
	Deliveries   map[string][]references.DeliveryAttempt
	Pending      []v1Job
	Redeliveries []v1Job
	Idempotency  []v1Idempotency
	Counts       v1Counts
}

// v1Job is a delivery waiting in the outbox or the redelivery queue.
type v1Job struct {
	ReferenceID    string    `json:"reference_id"`
	UpdateID       string    `json:"update_id"`
	Attempt        int       `json:"attempt"`
	FirstAttemptAt time.Time `json:"first_attempt_at"`
	Secrets        []string  `json:"secrets"`
	Redelivery     bool      `json:"redelivery"`
}

// v1Idempotency is a remembered Idempotency-Key.
type v1Idempotency struct {
	AccountID   string    `json:"account_id"`
	Key         string    `json:"key"`
	ReferenceID string    `json:"reference_id"`
	RequestHash string    `json:"request_hash"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// v1Counts are the store's counters.
type v1Counts struct {
	Active       int64 `json:"active"`
	Unsubscribed int64 `json:"unsubscribed"`
	Pending      int64 `json:"pending_deliveries"`
}

// openV1Copy copies a v1 fixture into a temporary directory and opens the copy.
func openV1Copy(t *testing.T, fixture string) *DB {
	t.Helper()
	return openCopy(t, fixture, v1.now)
}

// openCopy copies a store file into a temporary directory and opens the copy on a
// clock that reads now.
func openCopy(t *testing.T, fixture string, now time.Time) *DB {
	t.Helper()
	src, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), filepath.Base(fixture))
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{NoSync: true, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatalf("open a copy of %s: %v", fixture, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// readV1 reads back everything the v1 fixture holds (see readFixture).
func readV1(t *testing.T, db *DB) v1Contents {
	t.Helper()
	return readFixture(t, db, v1)
}

// readFixture reads back everything a fixture holds, through the store's public API
// (and, for idempotency records, which nothing lists, their lookup).
func readFixture(t *testing.T, db *DB, fx storeFixture) v1Contents {
	t.Helper()
	ctx := context.Background()
	c := v1Contents{
		Shipments:  map[string]*references.Shipment{},
		Updates:    map[string][]references.Update{},
		Deliveries: map[string][]references.DeliveryAttempt{},
	}
	for _, acct := range fx.accounts {
		a, err := db.GetAccount(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		c.Accounts = append(c.Accounts, a)
		page, err := db.ListReferences(ctx, acct, references.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range page.References {
			c.References = append(c.References, ref)
			s, err := db.Shipment(ctx, ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			c.Shipments[ref.ID] = s
			ups, err := db.ListUpdates(ctx, acct, ref.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			c.Updates[ref.ID] = ups
			log, err := db.ListDeliveries(ctx, acct, ref.ID, references.DeliveryQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			c.Deliveries[ref.ID] = log.Deliveries
		}
		for _, key := range fx.idempotencyKeys[acct] {
			err := db.view(ctx, func(tx *bolt.Tx) error {
				rec, found, err := getIdempotency(tx, acct, key, fx.now)
				if err != nil || !found {
					return errors.Join(err, errors.New("idempotency key "+key+" not found"))
				}
				c.Idempotency = append(c.Idempotency, v1Idempotency{
					AccountID: acct, Key: key, ReferenceID: rec.ReferenceID, RequestHash: rec.RequestHash, ExpiresAt: rec.ExpiresAt,
				})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	keys, err := db.ListAPIKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// The trackhook that wrote the golden file listed keys in the order of their hashes.
	slices.SortFunc(keys, func(a, b references.APIKey) int { return strings.Compare(a.Hash, b.Hash) })
	c.APIKeys = keys
	claims, err := db.ClaimDueDeliveries(ctx, "compat", 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range claims {
		if cl.Job.Redelivery {
			c.Redeliveries = append(c.Redeliveries, jobOf(cl.Job))
		} else {
			c.Pending = append(c.Pending, jobOf(cl.Job))
		}
		if err := db.ReleaseLease(ctx, cl.Lease); err != nil {
			t.Fatal(err)
		}
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Counts = v1Counts{Active: st.ActiveReferences, Unsubscribed: st.UnsubscribedReferences, Pending: st.PendingDeliveries}
	return c
}

func jobOf(job references.DeliveryJob) v1Job {
	return v1Job{
		ReferenceID: job.Reference.ID, UpdateID: job.Update.ID, Attempt: job.Attempt,
		FirstAttemptAt: job.FirstAttemptAt, Secrets: job.Secrets, Redelivery: job.Redelivery,
	}
}

// v1JSON is v1Contents in the JSON the golden file has: each entity in the JSON form
// the store gives it (records.go, records_fallback.go), which the trackhook that
// wrote the golden file gave its domain types.
type v1JSON struct {
	Accounts     []*accountRecord            `json:"accounts"`
	APIKeys      []*apiKeyRecord             `json:"api_keys"`
	References   []*referenceRecord          `json:"references"`
	Shipments    map[string]*shipmentRecord  `json:"shipments"`
	Updates      map[string][]*updateRecord  `json:"updates"`
	Deliveries   map[string][]*attemptRecord `json:"deliveries"`
	Pending      []v1Job                     `json:"pending"`
	Redeliveries []v1Job                     `json:"redeliveries"`
	Idempotency  []v1Idempotency             `json:"idempotency"`
	Counts       v1Counts                    `json:"counts"`
}

// records converts each element of a slice, keeping a nil slice nil.
func records[T, R any](in []T, convert func(*T) R) []R {
	if in == nil {
		return nil
	}
	out := make([]R, len(in))
	for i := range in {
		out[i] = convert(&in[i])
	}
	return out
}

// encodeV1 writes the contents as the golden file has them.
func encodeV1(t *testing.T, c v1Contents) []byte {
	t.Helper()
	j := v1JSON{
		Accounts:   records(c.Accounts, newAccountRecord),
		APIKeys:    records(c.APIKeys, newAPIKeyRecord),
		References: records(c.References, newReferenceRecord),
		Shipments:  map[string]*shipmentRecord{},
		Updates:    map[string][]*updateRecord{},
		Deliveries: map[string][]*attemptRecord{},
		Pending:    c.Pending, Redeliveries: c.Redeliveries, Idempotency: c.Idempotency, Counts: c.Counts,
	}
	for id, s := range c.Shipments {
		j.Shipments[id] = newShipmentRecord(s)
	}
	for id, ups := range c.Updates {
		j.Updates[id] = records(ups, newUpdateRecord)
	}
	for id, log := range c.Deliveries {
		j.Deliveries[id] = records(log, newAttemptRecord)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestOpen_ReadsAV1StoreFile(t *testing.T) {
	want, err := os.ReadFile(v1Golden)
	if err != nil {
		t.Fatal(err)
	}
	for _, fixture := range v1Fixtures {
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			got := encodeV1(t, readV1(t, openV1Copy(t, fixture)))
			if !bytes.Equal(got, want) {
				t.Fatalf("reading %s gives other contents than %s:\n%s", fixture, v1Golden, got)
			}
		})
	}
}

func TestOpen_WritesToAV1StoreFile(t *testing.T) {
	for _, fixture := range v1Fixtures {
		t.Run(filepath.Base(fixture), func(t *testing.T) { writeToV1(t, fixture) })
	}
}

// TestCodec_ReencodesAV1StoreFileByteForByte decodes every value of v1.db that is in
// the binary form and encodes it again: the bytes must be the ones on file. (The
// fixture's maps have one key at most: the codec writes maps in Go's map order.)
func TestCodec_ReencodesAV1StoreFileByteForByte(t *testing.T) {
	db := openV1Copy(t, v1Fixture)
	reencode := map[string]func([]byte) ([]byte, error){
		string(bucketRefs): func(v []byte) ([]byte, error) {
			var r references.Reference
			err := decodeReference(v, &r)
			return encodeReference(&r), err
		},
		string(bucketShipments): func(v []byte) ([]byte, error) {
			var s references.Shipment
			err := decodeShipment(v, &s)
			return encodeShipment(&s), err
		},
		string(bucketUpdates): func(v []byte) ([]byte, error) {
			var u references.Update
			err := decodeUpdate(v, &u)
			return encodeUpdate(&u), err
		},
		string(bucketDelivery): func(v []byte) ([]byte, error) {
			var st deliveryState
			err := decodeDeliveryState(v, &st)
			return encodeDeliveryState(&st), err
		},
	}
	err := db.view(context.Background(), func(tx *bolt.Tx) error {
		for name, fn := range reencode {
			n := 0
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				n++
				if isJSON(v) {
					t.Errorf("%s %q is not in the binary form", name, k)
					return nil
				}
				again, err := fn(v)
				if err != nil {
					return err
				}
				if !bytes.Equal(again, v) {
					t.Errorf("%s %q encodes to other bytes:\n got %x\nwant %x", name, k, again, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n == 0 {
				t.Errorf("no values in %s", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeToV1 checks that new writes work on a copy of fixture.
func writeToV1(t *testing.T, fixture string) {
	ctx := context.Background()
	db := openV1Copy(t, fixture)
	before := readV1(t, db)

	// An idempotent create made before is replayed, and a reused key with another
	// request is refused.
	idem := before.Idempotency[0]
	ref := references.Reference{ID: "ref_new", AccountID: idem.AccountID, BookingNumber: "BK99999999", CarrierCode: "HLCU"}
	got, replayed, err := db.CreateReference(ctx, ref, references.CreateOptions{Idempotency: &references.IdempotencyKey{Key: idem.Key, RequestHash: idem.RequestHash, ExpiresAt: v1Now.Add(time.Hour)}})
	if err != nil || !replayed || got.ID != idem.ReferenceID {
		t.Fatalf("replay of %s: %s, replayed=%v, %v", idem.Key, got.ID, replayed, err)
	}
	_, _, err = db.CreateReference(ctx, ref, references.CreateOptions{Idempotency: &references.IdempotencyKey{Key: idem.Key, RequestHash: "other", ExpiresAt: v1Now.Add(time.Hour)}})
	if references.ErrorCode(err) != references.CodeIdempotencyMismatch {
		t.Fatalf("reused key with another request: %v", err)
	}

	// A new reference, polled, with its update delivered.
	next := v1Now
	ref = references.Reference{
		ID: "ref_new", AccountID: "acct_beta", BookingNumber: "BK99999999", CarrierCode: "HLCU",
		CallbackURL: "https://hooks.beta.example/new", Status: references.StatusActive,
		CreatedAt: v1Now, UpdatedAt: v1Now, NextPollAt: &next, PollInterval: references.Duration(time.Hour),
	}
	if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	old := findRef(t, before.References, "ref_v1container")
	snap := before.Shipments[old.ID]
	pc, err := db.ClaimPoll(ctx, "compat", ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	polled, err := db.RecordPoll(ctx, pc.Lease, references.PollResult{
		PolledAt: v1Now, NextPollAt: v1Now.Add(time.Hour), Shipment: snap,
		Updates: []references.Update{{ID: "upd_new", Type: references.UpdateShipment, CreatedAt: v1Now, Changes: []references.Change{}, Shipment: snap}},
	})
	if err != nil || polled.LastSequence != 1 {
		t.Fatalf("record poll: %+v, %v", polled, err)
	}
	dc, err := db.ClaimDelivery(ctx, "compat", ref.ID, time.Minute)
	job := dc.Job
	if err != nil || job.Update.ID != "upd_new" || len(job.Secrets) != 1 {
		t.Fatalf("next delivery: %+v, %v", job, err)
	}
	a := references.DeliveryAttempt{
		ReferenceID: ref.ID, UpdateID: job.Update.ID, Sequence: 1, Attempt: 1, URL: ref.CallbackURL,
		At: v1Now, StatusCode: 204, Outcome: references.OutcomeDelivered,
	}
	if done, err := db.RecordAttempt(ctx, dc.Lease, job, a, ""); err != nil || done.DeliveredSequence != 1 {
		t.Fatalf("record attempt: %+v, %v", done, err)
	}

	// An existing reference polled again: its sequence continues.
	pc, err = db.ClaimPoll(ctx, "compat", old.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	polled, err = db.RecordPoll(ctx, pc.Lease, references.PollResult{
		PolledAt: v1Now, NextPollAt: v1Now.Add(time.Hour), Error: "source down", ConsecutiveFailures: 1,
	})
	if err != nil || polled.LastSequence != old.LastSequence || polled.LastPollError != "source down" {
		t.Fatalf("record poll of %s: %+v, %v", old.ID, polled, err)
	}

	// Keys and secrets.
	if _, err := db.RotateWebhookSecret(ctx, "acct_beta", "whsec_bmV3c2VjcmV0bmV3c2VjcmV0bmV3c2VjcmV0MDE=", v1Now.Add(time.Hour), "key_test"); err != nil {
		t.Fatal(err)
	}
	_, key := references.NewAPIKey("acct_beta", []references.Scope{references.ScopeWrite}, v1Now)
	if err := db.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}

	// Everything else reads back as before.
	after := readV1(t, db)
	if n := len(after.APIKeys); n != len(before.APIKeys)+1 {
		t.Errorf("%d API keys after adding one to %d", n, len(before.APIKeys))
	}
	if ups := after.Updates[ref.ID]; len(ups) != 1 || ups[0].Shipment == nil || len(ups[0].Shipment.Events) != len(snap.Events) {
		t.Errorf("feed of the new reference: %+v", ups)
	}
	for id, want := range before.Updates {
		if got := after.Updates[id]; !bytes.Equal(mustJSON(t, records(got, newUpdateRecord)), mustJSON(t, records(want, newUpdateRecord))) {
			t.Errorf("feed of %s changed after new writes", id)
		}
	}
	if got, want := after.Counts, (v1Counts{Active: before.Counts.Active + 1, Unsubscribed: before.Counts.Unsubscribed, Pending: before.Counts.Pending}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func findRef(t *testing.T, refs []references.Reference, id string) references.Reference {
	t.Helper()
	for _, r := range refs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no reference %s", id)
	return references.Reference{}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpen_UpgradesAV1StoreForRetentionAndQuotas: opening a v1 file upgrades it to the
// current schema, with retention's indexes and the accounts' counts of active
// references filled from what it holds, so that a quota counts the references created
// before the upgrade and retention finds their old records.
func TestOpen_UpgradesAV1StoreForRetentionAndQuotas(t *testing.T) {
	for _, fixture := range v1Fixtures {
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			t.Run("Quota", func(t *testing.T) { quotaOnV1(t, fixture) })
			t.Run("Retention", func(t *testing.T) { retentionOnV1(t, fixture) })
		})
	}
}

// quotaOnV1 checks that the fixture's active references count against a quota:
// acct_alpha and acct_beta have one each.
func quotaOnV1(t *testing.T, fixture string) {
	ctx := context.Background()
	db := openV1Copy(t, fixture)
	var version []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		version = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte("schema_version")))
		return nil
	})
	if !bytes.Equal(version, u64(SchemaVersion)) {
		t.Fatalf("schema version after opening a v1 file: %x, want %d", version, SchemaVersion)
	}
	if outbox := outboxEntries(t, db); len(outbox) != 1 || !strings.HasSuffix(outbox[0], " callback/ref_v1container") {
		t.Errorf("outbox after upgrading a v1 file: %q, want the callback stream of ref_v1container", outbox)
	}
	checkIndexes(t, db)
	next := v1Now
	newRef := func(acct, booking string) references.Reference {
		return references.Reference{
			ID: references.NewID("ref_"), AccountID: acct, BookingNumber: booking, CarrierCode: "HLCU",
			Status: references.StatusActive, CreatedAt: v1Now, UpdatedAt: v1Now, NextPollAt: &next,
		}
	}
	one := references.CreateOptions{MaxActive: 1}
	for _, acct := range v1Accounts {
		_, _, err := db.CreateReference(ctx, newRef(acct, "BK77777777"), one)
		if references.ErrorCode(err) != references.CodeQuotaExceeded {
			t.Errorf("%s: create under a quota of 1 = %v, want quota_exceeded: its v1 reference counts", acct, err)
		}
	}
	if _, _, err := db.CreateReference(ctx, newRef("acct_beta", "BK77777777"), references.CreateOptions{MaxActive: 2}); err != nil {
		t.Errorf("acct_beta: create under a quota of 2: %v", err)
	}
	idem := v1IdempotencyKeys["acct_alpha"][0]
	rec := readV1(t, db).Idempotency[0]
	replay := references.CreateOptions{MaxActive: 1, Idempotency: &references.IdempotencyKey{Key: idem, RequestHash: rec.RequestHash, ExpiresAt: v1Now.Add(time.Hour)}}
	if got, replayed, err := db.CreateReference(ctx, newRef("acct_alpha", "BK88888888"), replay); err != nil || !replayed || got.ID != rec.ReferenceID {
		t.Errorf("replay of %s at the quota = %s replayed %t, %v; want %s replayed", idem, got.ID, replayed, err, rec.ReferenceID)
	}
	if _, err := db.UnsubscribeReference(ctx, "acct_alpha", "ref_v1container", references.ReasonUser, v1Now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateReference(ctx, newRef("acct_alpha", "BK77777777"), one); err != nil {
		t.Errorf("acct_alpha: create after unsubscribing its v1 reference: %v", err)
	}
	checkIndexes(t, db)
}

// retentionOnV1 checks that retention finds the fixture's records: the two
// unsubscribed references (delivered, or never delivering), every attempt, and the
// idempotency key once it expired.
func retentionOnV1(t *testing.T, fixture string) {
	ctx := context.Background()
	db := openV1Copy(t, fixture)
	before := readV1(t, db)
	attempts := 0
	for _, log := range before.Deliveries {
		attempts += len(log)
	}
	later := v1Now.Add(24 * time.Hour)
	got, err := db.Prune(ctx, references.PruneRequest{Attempts: later, IdempotencyKeys: later, Unsubscribed: later, Max: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := (references.PruneCounts{References: 2, Updates: 2, Attempts: int64(attempts), IdempotencyKeys: 1}); got != want {
		t.Fatalf("Prune of a v1 file = %+v, want %+v", got, want)
	}
	for _, id := range []string{"ref_v1bol", "ref_v1booking"} {
		if _, err := db.GetReference(ctx, "acct_alpha", id); !errors.Is(err, references.ErrNotFound) {
			t.Errorf("%s after the prune: %v, want not found", id, err)
		}
		if left := keysNaming(t, db, id); len(left) != 0 {
			t.Errorf("keys naming %s are left in %q", id, left)
		}
	}
	st, err := db.Stats(ctx)
	if err != nil || st.ActiveReferences != 2 || st.UnsubscribedReferences != 0 || st.PendingDeliveries != 1 || st.Pruned != got {
		t.Errorf("stats after the prune: %+v, %v", st, err)
	}
	checkIndexes(t, db)
}

func TestOpen_ReadsAV2StoreFile(t *testing.T) {
	want, err := os.ReadFile(v2Golden)
	if err != nil {
		t.Fatal(err)
	}
	got := encodeV1(t, readFixture(t, openCopy(t, v2Fixture, v2.now), v2))
	if !bytes.Equal(got, want) {
		t.Fatalf("reading %s gives other contents than %s:\n%s", v2Fixture, v2Golden, got)
	}
}

// TestOpen_UpgradesAV2StoreAndDeliversItsPendingWork: opening the v2 file rewrites its
// outbox in the form of schema 3, and the deliveries it left pending are claimed and
// recorded as the version that wrote it would have: the retry (attempt 3 of update 2,
// first tried at 12:31), the queued redelivery, the final update of the unsubscribed
// reference and the untried update, most overdue first; then what follows them.
func TestOpen_UpgradesAV2StoreAndDeliversItsPendingWork(t *testing.T) {
	ctx := context.Background()
	db := openCopy(t, v2Fixture, v2.now)
	before := readFixture(t, db, v2)
	var version []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		version = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte("schema_version")))
		return nil
	})
	if !bytes.Equal(version, u64(SchemaVersion)) {
		t.Fatalf("schema version after opening a v2 file: %x, want %d", version, SchemaVersion)
	}
	wantOutbox := []string{"13:05 callback/ref_v2retry", "15:00 callback/ref_v2unsub", "16:00 callback/ref_v2fresh"}
	if outbox := outboxEntries(t, db); !slices.Equal(outbox, wantOutbox) {
		t.Fatalf("outbox after the upgrade: %q, want %q", outbox, wantOutbox)
	}

	claims, err := db.ClaimDueDeliveries(ctx, "compat", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		ref, update string
		attempt     int
		first       time.Time
		redelivery  bool
	}
	var got []job
	for _, c := range claims {
		got = append(got, job{c.Job.Reference.ID, c.Job.Update.ID, c.Job.Attempt, c.Job.FirstAttemptAt, c.Job.Redelivery})
	}
	want := []job{
		{"ref_v2retry", "upd_v2retry2", 3, time.Date(2026, 4, 1, 12, 31, 0, 0, time.UTC), false},
		{"ref_v2retry", "upd_v2retry1", 1, time.Time{}, true},
		{"ref_v2unsub", "upd_v2unsub2", 1, time.Time{}, false},
		{"ref_v2fresh", "upd_v2fresh1", 1, time.Time{}, false},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("claims after the upgrade:\n got %+v\nwant %+v", got, want)
	}
	for _, c := range claims {
		j := c.Job
		for {
			a := references.DeliveryAttempt{
				ReferenceID: j.Reference.ID, UpdateID: j.Update.ID, Sequence: j.Update.Sequence, Attempt: j.Attempt,
				URL: j.Reference.CallbackURL, At: v2.now, StatusCode: 204, Outcome: references.OutcomeDelivered, Redelivery: j.Redelivery,
			}
			if _, err := db.RecordAttempt(ctx, c.Lease, j, a, ""); err != nil {
				t.Fatalf("record the delivery of %s: %v", j.Update.ID, err)
			}
			if j.Redelivery {
				break
			}
			next, err := db.NextDelivery(ctx, c.Lease)
			if errors.Is(err, references.ErrNothingToDeliver) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Reference.ID != "ref_v2retry" || next.Update.ID != "upd_v2retry3" || next.Attempt != 1 {
				t.Fatalf("after %s: next job %s attempt %d", j.Update.ID, next.Update.ID, next.Attempt)
			}
			j = next
		}
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}

	after := readFixture(t, db, v2)
	if len(after.Pending) != 0 || len(after.Redeliveries) != 0 || after.Counts.Pending != 0 {
		t.Errorf("after delivering everything: pending %+v, redeliveries %+v, count %d", after.Pending, after.Redeliveries, after.Counts.Pending)
	}
	for _, ref := range after.References {
		if ref.CallbackURL != "" && ref.DeliveredSequence != ref.LastSequence {
			t.Errorf("%s: delivered %d of %d", ref.ID, ref.DeliveredSequence, ref.LastSequence)
		}
	}
	for id, n := range map[string]int{"ref_v2retry": 3, "ref_v2unsub": 1, "ref_v2fresh": 1} {
		if added := len(after.Deliveries[id]) - len(before.Deliveries[id]); added != n {
			t.Errorf("%s: %d attempts logged after the upgrade, want %d", id, added, n)
		}
	}
	checkIndexes(t, db)
}
