package storetest

import (
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runIdentifierLookup: a carrier's push names an identifier; every account's active
// references of it with that carrier are found, and no other.
func runIdentifierLookup(t *testing.T, open Opener) {
	t.Run("ActiveReferencesByIdentifierFindsEveryAccounts", func(t *testing.T) {
		f := setup(t, open)
		same := func(r *references.Reference) { r.ContainerID = "MSCU1234566" }
		a := f.create(acctA, same)
		b := f.create(acctB, same)
		f.create(acctA, func(r *references.Reference) { same(r); r.CarrierCode = "MAEU" }) // another carrier
		f.create(acctA, nil)                                                               // another container
		bol := f.create(acctB, func(r *references.Reference) { r.ContainerID, r.BillOfLading = "", "MSCU1234566" })
		ended := f.create(acctB, func(r *references.Reference) { r.ContainerID = "MSCU7654321" })
		if _, err := f.b.UnsubscribeReference(f.ctx, acctB, ended.ID, references.ReasonUser, f.now()); err != nil {
			t.Fatal(err)
		}
		ids := func(kind references.IdentifierKind, value, carrier string) []string {
			t.Helper()
			refs, err := f.b.ActiveReferencesByIdentifier(f.ctx, kind, value, carrier)
			if err != nil {
				t.Fatalf("ActiveReferencesByIdentifier(%s %s %s): %v", kind, value, carrier, err)
			}
			var out []string
			for _, r := range refs {
				out = append(out, r.ID)
			}
			slices.Sort(out)
			return out
		}
		want := []string{a.ID, b.ID}
		slices.Sort(want)
		cases := []struct {
			kind           references.IdentifierKind
			value, carrier string
			want           []string
		}{
			{references.KindContainer, "MSCU1234566", "MSCU", want},
			{references.KindBillOfLading, "MSCU1234566", "MSCU", []string{bol.ID}},
			{references.KindContainer, "MSCU1234566", "CMDU", nil},
			{references.KindContainer, "MSCU7654321", "MSCU", nil}, // unsubscribed
			{references.KindContainer, "MSCU0000000", "MSCU", nil},
		}
		for _, c := range cases {
			if got := ids(c.kind, c.value, c.carrier); !slices.Equal(got, c.want) {
				t.Errorf("%s %s %s: %v, want %v", c.kind, c.value, c.carrier, got, c.want)
			}
		}
	})
}
