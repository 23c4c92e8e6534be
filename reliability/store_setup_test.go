package reliability_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// openStore opens a real store in the test's temporary directory, without fsync (the
// in-process suites test behaviour, not durability: the crash test does that).
func openStore(t *testing.T) *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newAccount creates an account with a fresh webhook secret and an API key, and
// returns the secret and the key.
func newAccount(t *testing.T, db *store.DB, accountID string, admin bool) (secret, key string, stored references.APIKey) {
	t.Helper()
	ctx := context.Background()
	acct, err := db.EnsureAccount(ctx, accountID, references.NewWebhookSecret(), time.Now())
	if err != nil {
		t.Fatalf("account %s: %v", accountID, err)
	}
	scopes := []references.Scope{references.ScopeWrite}
	if admin {
		scopes = []references.Scope{references.ScopeAdmin}
	}
	key, stored = references.NewAPIKey(accountID, scopes, time.Now())
	stored.Operator = admin
	if err := db.CreateAPIKey(ctx, stored); err != nil {
		t.Fatalf("key for %s: %v", accountID, err)
	}
	return acct.WebhookSecrets[0].Secret, key, stored
}

// addReference stores an active reference of the account tracking a container, with a
// callback URL (empty for a pull feed), straight into the store.
func addReference(t *testing.T, db *store.DB, accountID, callbackURL string, serial int) references.Reference {
	t.Helper()
	now := time.Now().UTC()
	ref := references.Reference{
		ID:           references.NewID("ref_"),
		AccountID:    accountID,
		ContainerID:  containerID("RELU", serial),
		CarrierCode:  "MSCU",
		CallbackURL:  callbackURL,
		PollInterval: references.Duration(time.Hour),
		Status:       references.StatusActive,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	stored, _, err := db.CreateReference(context.Background(), ref, references.CreateOptions{})
	if err != nil {
		t.Fatalf("add reference: %v", err)
	}
	return stored
}

// testOwner names the tests in the store's leases when they claim work themselves.
const testOwner = "reliability-test"

// appendUpdate records a poll that found a change, as the poller does (claimed with
// ClaimPoll, recorded under its lease): one shipment.updated update created at the
// moment of the call, queued for delivery when the reference has a callback.
func appendUpdate(ctx context.Context, db *store.DB, refID string, n int) error {
	claim, err := db.ClaimPoll(ctx, testOwner, refID, time.Minute)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = db.RecordPoll(ctx, claim.Lease, references.PollResult{
		PolledAt:   now,
		NextPollAt: now.Add(time.Hour),
		Updates: []references.Update{{
			ID:        references.NewID("upd_"),
			Type:      references.UpdateShipment,
			CreatedAt: now,
			Changes: []references.Change{{
				Type: references.ChangeStatusChanged, Description: fmt.Sprintf("change %d", n),
				Old: fmt.Sprint(n - 1), New: fmt.Sprint(n),
			}},
		}},
	})
	return err
}

// storedFeeds reads the feeds of refs from the store.
func storedFeeds(t *testing.T, db *store.DB, accountID string, refs []references.Reference) map[string][]references.Update {
	t.Helper()
	out := map[string][]references.Update{}
	for _, r := range refs {
		feed, err := db.ListUpdates(context.Background(), accountID, r.ID, 0, 1<<20)
		if err != nil {
			t.Fatalf("feed of %s: %v", r.ID, err)
		}
		out[r.ID] = feed
	}
	return out
}
