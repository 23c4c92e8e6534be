package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runAccounts exercises the AccountStore: accounts and signing secrets (API keys: see
// runKeys).
func runAccounts(t *testing.T, open Opener) {
	t.Run("EnsureAccount", func(t *testing.T) {
		t.Run("CreatesOnceWithTheFirstSecret", func(t *testing.T) {
			f := setup(t, open)
			acct, err := f.b.EnsureAccount(f.ctx, "acct_new", "whsec_1", f.now())
			if err != nil || acct.ID != "acct_new" || len(acct.WebhookSecrets) != 1 || acct.WebhookSecrets[0].Secret != "whsec_1" {
				t.Fatalf("EnsureAccount = %+v, %v; want acct_new with whsec_1", acct, err)
			}
			f.clk.Advance(time.Hour)
			again, err := f.b.EnsureAccount(f.ctx, "acct_new", "whsec_2", f.now())
			if err != nil || len(again.WebhookSecrets) != 1 || again.WebhookSecrets[0].Secret != "whsec_1" || !again.CreatedAt.Equal(Start) {
				t.Fatalf("second EnsureAccount = %+v, %v; want the existing account unchanged", again, err)
			}
			got, err := f.b.GetAccount(f.ctx, "acct_new")
			if err != nil || !slices.Equal(got.LiveSecrets(f.now()), []string{"whsec_1"}) {
				t.Fatalf("GetAccount = %+v, %v; want whsec_1 live", got, err)
			}
		})

		t.Run("UnknownAccountIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			if _, err := f.b.GetAccount(f.ctx, "acct_nope"); !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("GetAccount of an unknown account: %v, want ErrNotFound", err)
			}
		})
	})

	t.Run("RotateWebhookSecret", func(t *testing.T) {
		t.Run("NewestFirstAndTheOldOneLivesUntilGraceEnds", func(t *testing.T) {
			f := setup(t, open)
			grace := f.now().Add(time.Hour)
			acct, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", grace, "key_suite")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"whsec_2", secretOf(acctA)}
			if got := acct.LiveSecrets(f.now()); !slices.Equal(got, want) {
				t.Errorf("live secrets after rotation = %q, want %q", got, want)
			}
			read, err := f.b.GetAccount(f.ctx, acctA)
			if err != nil || !slices.Equal(read.LiveSecrets(f.now()), want) {
				t.Errorf("live secrets read back = %q, %v; want %q", read.LiveSecrets(f.now()), err, want)
			}
			if got := read.LiveSecrets(grace); !slices.Equal(got, []string{"whsec_2"}) {
				t.Errorf("live secrets at the end of the grace = %q, want only the new one", got)
			}
		})

		t.Run("DeliveryJobsCarryTheSecretsLiveAtTheStoresClock", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			if _, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", f.now().Add(time.Hour), "key_suite"); err != nil {
				t.Fatal(err)
			}
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			if want := []string{"whsec_2", secretOf(acctA)}; !slices.Equal(c.Job.Secrets, want) {
				t.Errorf("secrets during the grace = %q, want %q", c.Job.Secrets, want)
			}
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			f.clk.Advance(time.Hour + time.Second)
			f.appendUpdates(ref.ID)
			c = f.claimStream("owner-1", ref.ID)
			if want := []string{"whsec_2"}; !slices.Equal(c.Job.Secrets, want) {
				t.Errorf("secrets after the grace = %q, want %q", c.Job.Secrets, want)
			}
		})

		t.Run("AtMostThreeLiveOnlyTheOldestGraceEndsAndOthersKeepTheirs", func(t *testing.T) {
			f := setup(t, open)
			week := 7 * 24 * time.Hour
			var ends []time.Time // the grace each rotation gave, in order
			for i := 2; i <= 6; i++ {
				f.clk.Advance(time.Minute)
				ends = append(ends, f.now().Add(week))
				if _, err := f.b.RotateWebhookSecret(f.ctx, acctA, fmt.Sprintf("whsec_%d", i), f.now().Add(week), "key_suite"); err != nil {
					t.Fatal(err)
				}
			}
			read, err := f.b.GetAccount(f.ctx, acctA)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := read.LiveSecrets(f.now()), []string{"whsec_6", "whsec_5", "whsec_4"}; !slices.Equal(got, want) {
				t.Errorf("live after 5 rotations = %q, want %q", got, want)
			}
			if n := len(read.WebhookSecrets); n > references.MaxLiveSecrets {
				t.Errorf("%d secrets stored, want at most %d: ended graces are dropped", n, references.MaxLiveSecrets)
			}
			for i, s := range read.Live(f.now())[1:] {
				if want := ends[len(ends)-1-i]; s.ExpiresAt == nil || !s.ExpiresAt.Equal(want) {
					t.Errorf("%s ends %v, want %v: the grace its rotation gave", s.Secret, s.ExpiresAt, want)
				}
			}
		})

		t.Run("ALaterShorterGraceDoesNotCutAnEarlierOne", func(t *testing.T) {
			f := setup(t, open)
			firstEnds := f.now().Add(24 * time.Hour)
			if _, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", firstEnds, "key_suite"); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Minute)
			acct, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_3", f.now().Add(10*time.Minute), "key_suite")
			if err != nil {
				t.Fatal(err)
			}
			live := acct.Live(f.now())
			if len(live) != 3 || live[2].Secret != secretOf(acctA) || live[2].ExpiresAt == nil || !live[2].ExpiresAt.Equal(firstEnds) {
				t.Errorf("live secrets %+v; want the first one still ending at %v", live, firstEnds)
			}
		})

		t.Run("GraceEndingNowReplacesAtOnce", func(t *testing.T) {
			f := setup(t, open)
			acct, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", f.now(), "key_suite")
			if err != nil || !slices.Equal(acct.LiveSecrets(f.now()), []string{"whsec_2"}) {
				t.Fatalf("after a rotation without grace: %+v, %v; want only whsec_2", acct.WebhookSecrets, err)
			}
		})

		t.Run("UnknownAccountIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			_, err := f.b.RotateWebhookSecret(f.ctx, "acct_nope", "whsec_2", f.now(), "key_suite")
			if !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("rotation of an unknown account: %v, want ErrNotFound", err)
			}
		})
	})
}
