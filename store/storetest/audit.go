package storetest

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runAudit exercises the AuditStore, and the entries the operations that write them
// in their own transactions append.
func runAudit(t *testing.T, open Opener) {
	t.Run("Audit", func(t *testing.T) {
		t.Run("KeyOperationsAreWrittenWithTheirActor", func(t *testing.T) {
			f := setup(t, open)
			k := f.createKey(acctA, func(k *references.APIKey) { k.CreatedBy = "key_creator" })
			f.clk.Advance(time.Minute)
			f.revokeKey(references.KeyRevocation{AccountID: acctA, Key: k.ID, Actor: "key_revoker"})
			want := []references.AuditEntry{
				{Sequence: 1, AccountID: acctA, At: Start, Actor: "key_creator", Action: references.AuditKeyCreated, TargetID: k.ID},
				{Sequence: 2, AccountID: acctA, At: Start.Add(time.Minute), Actor: "key_revoker", Action: references.AuditKeyRevoked, TargetID: k.ID},
			}
			wantEntries(t, f.audit(acctA, 0, 10), want)
		})

		t.Run("SecretRotationsAreWrittenWithTheirActor", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			f.clk.Advance(time.Minute)
			if _, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", f.now(), "key_rotator"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.b.RotateEndpointSecret(f.ctx, acctA, ep.ID, "whsec_ep2", f.now(), references.ActorCLI); err != nil {
				t.Fatal(err)
			}
			at := Start.Add(time.Minute)
			wantEntries(t, f.audit(acctA, 0, 10), []references.AuditEntry{
				{Sequence: 1, AccountID: acctA, At: at, Actor: "key_rotator", Action: references.AuditWebhookSecretRotated, TargetID: acctA},
				{Sequence: 2, AccountID: acctA, At: at, Actor: references.ActorCLI, Action: references.AuditEndpointSecretRotated, TargetID: ep.ID},
			})
		})

		t.Run("RefusedOperationsWriteNothing", func(t *testing.T) {
			f := setup(t, open)
			last := f.createKey(acctA, func(k *references.APIKey) { k.Scopes = scopes(references.ScopeAdmin) })
			if _, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{AccountID: acctA, Key: last.ID, At: f.now()}); !errors.Is(err, references.ErrConflict) {
				t.Fatalf("revoke the last admin key: %v", err)
			}
			if _, err := f.b.RotateEndpointSecret(f.ctx, acctA, "ep_nope", "whsec_x", f.now(), "key_x"); !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("rotate an unknown endpoint: %v", err)
			}
			if _, err := f.b.RotateWebhookSecret(f.ctx, "acct_nope", "whsec_x", f.now(), "key_x"); !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("rotate an unknown account: %v", err)
			}
			if err := f.b.CreateAPIKey(f.ctx, last); !errors.Is(err, references.ErrConflict) {
				t.Fatalf("create the same key twice: %v", err)
			}
			if got := f.auditActions(acctA); !slices.Equal(got, []references.AuditAction{references.AuditKeyCreated}) {
				t.Errorf("audit = %q, want only the creation", got)
			}
			if got := f.audit("acct_nope", 0, 10); len(got) != 0 {
				t.Errorf("audit of an unknown account = %+v", got)
			}
		})

		t.Run("AppendAndReadInPagesPerAccount", func(t *testing.T) {
			f := setup(t, open)
			for i := range 5 {
				acct := acctA
				if i%2 == 1 {
					acct = acctB
				}
				e, err := f.b.AppendAudit(f.ctx, references.AuditEntry{
					Sequence: 99, AccountID: acct, At: f.now(), Actor: "key_x", Action: references.AuditEndpointCreated, TargetID: "ep_x",
				})
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(i/2 + 1); e.Sequence != want {
					t.Errorf("entry %d of %s has sequence %d, want %d (1, 2, 3 ... per account)", i, acct, e.Sequence, want)
				}
				f.clk.Advance(time.Second)
			}
			f.restart()
			if got := auditSeqs(f.audit(acctA, 0, 2)); !slices.Equal(got, []uint64{1, 2}) {
				t.Errorf("first page of %s = %v, want [1 2]", acctA, got)
			}
			if got := auditSeqs(f.audit(acctA, 2, 2)); !slices.Equal(got, []uint64{3}) {
				t.Errorf("second page of %s = %v, want [3]", acctA, got)
			}
			if got := auditSeqs(f.audit(acctB, 0, 10)); !slices.Equal(got, []uint64{1, 2}) {
				t.Errorf("log of %s = %v, want [1 2]", acctB, got)
			}
			for _, after := range []uint64{3, 1000, math.MaxUint64} {
				if got := f.audit(acctA, after, 10); len(got) != 0 {
					t.Errorf("after %d: %v, want nothing", after, auditSeqs(got))
				}
			}
			// The sequence goes on after a restart.
			e, err := f.b.AppendAudit(f.ctx, references.AuditEntry{AccountID: acctA, At: f.now(), Actor: "key_x", Action: references.AuditEndpointDeleted, TargetID: "ep_x"})
			if err != nil || e.Sequence != 4 {
				t.Errorf("append after a restart: sequence %d, %v; want 4", e.Sequence, err)
			}
		})
	})
}

func auditSeqs(entries []references.AuditEntry) []uint64 {
	out := make([]uint64, len(entries))
	for i, e := range entries {
		out[i] = e.Sequence
	}
	return out
}

// wantEntries checks the log read back against want, times compared as instants.
func wantEntries(t *testing.T, got, want []references.AuditEntry) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.Sequence == w.Sequence && g.AccountID == w.AccountID && g.At.Equal(w.At) &&
			g.Actor == w.Actor && g.Action == w.Action && g.TargetID == w.TargetID
	}
	if !same {
		t.Errorf("audit log:")
		for _, e := range got {
			t.Errorf("  got  %s", describeEntry(e))
		}
		for _, e := range want {
			t.Errorf("  want %s", describeEntry(e))
		}
	}
}
