package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runSearch exercises ListReferences' filters, its ETA order and their cursors.
func runSearch(t *testing.T, open Opener) {
	t.Run("Search", func(t *testing.T) {
		t.Run("EveryFilterSelectsAcrossPages", func(t *testing.T) {
			f := setup(t, open)
			s := newSearchSet(f)
			since := s.polledAt
			for _, tc := range []struct {
				name string
				q    references.ListQuery
				want []string
			}{
				{"exact container", references.ListQuery{Identifier: "MSCU0000001"}, []string{s.c1}},
				{"exact container inside a bill of lading", references.ListQuery{Identifier: "MSCU7777777"}, []string{s.bol}},
				{"exact bill of lading", references.ListQuery{Identifier: "MEDUAB12345"}, []string{s.bol}},
				{"exact unsubscribed", references.ListQuery{Identifier: "MSCU0000003"}, []string{s.gone}},
				{"prefix", references.ListQuery{Identifier: "MSCU000000*"}, []string{s.c1, s.c2, s.gone}},
				{"prefix of a container inside", references.ListQuery{Identifier: "MSCU7*"}, []string{s.bol}},
				{"carrier", references.ListQuery{CarrierCode: "MAEU"}, []string{s.c2}},
				{"status", references.ListQuery{Status: references.StatusUnsubscribed}, []string{s.gone}},
				{"metadata one", references.ListQuery{Metadata: map[string]string{"team": "x"}}, []string{s.c1, s.bol}},
				{"metadata all must match", references.ListQuery{Metadata: map[string]string{"team": "x", "po": "7"}}, []string{s.bol}},
				{"updated since", references.ListQuery{UpdatedSince: &since}, []string{s.c1, s.bol}},
				{"eta before", references.ListQuery{ETABefore: ptr(s.eta.Add(4 * time.Hour))}, []string{s.c1, s.bol}},
				{"eta before, exclusive", references.ListQuery{ETABefore: ptr(s.eta.Add(3 * time.Hour))}, []string{s.c1}},
				{"eta after", references.ListQuery{ETAAfter: ptr(s.eta.Add(time.Hour))}, []string{s.bol}},
				{"eta between, by eta", references.ListQuery{ETAAfter: ptr(s.eta.Add(-time.Hour)), ETABefore: ptr(s.eta.Add(time.Hour)), Sort: references.SortETA}, []string{s.c1}},
				{"filters combined", references.ListQuery{Identifier: "MSCU*", Metadata: map[string]string{"team": "x"}, ETAAfter: &s.eta}, []string{s.bol}},
				{"nothing matches", references.ListQuery{Identifier: "ZZZU0000000"}, nil},
			} {
				for _, limit := range []int{1, 10} {
					q := tc.q
					q.Limit = limit
					if q.Sort == "" {
						q.Sort = references.SortCreated
					}
					if got, _ := f.listAll(acctA, q); !slices.Equal(got, tc.want) {
						t.Errorf("%s (limit %d) = %q, want %q", tc.name, limit, got, tc.want)
					}
				}
			}
		})

		t.Run("SortByETAPutsUndatedLastAndPages", func(t *testing.T) {
			f := setup(t, open)
			s := newSearchSet(f)
			want := []string{s.c1, s.bol, s.c2, s.gone} // dated by ETA, then by creation
			for _, limit := range []int{1, 3, 10} {
				got, _ := f.listAll(acctA, references.ListQuery{Sort: references.SortETA, Limit: limit})
				if !slices.Equal(got, want) {
					t.Errorf("sort by eta (limit %d) = %q, want %q", limit, got, want)
				}
			}
			got, _ := f.listAll(acctA, references.ListQuery{Sort: references.SortETA, Identifier: "MSCU*", Limit: 1})
			if !slices.Equal(got, want) {
				t.Errorf("sort by eta, prefix MSCU = %q, want %q", got, want)
			}
		})

		t.Run("NewSnapshotMovesTheIndexes", func(t *testing.T) {
			f := setup(t, open)
			s := newSearchSet(f)
			later := s.eta.Add(48 * time.Hour)
			f.poll(s.bol, references.PollResult{Shipment: &references.Shipment{ETA: &later,
				Containers: []references.Container{{Number: "MSCU8888888"}}}})
			for _, tc := range []struct {
				q    references.ListQuery
				want []string
			}{
				{references.ListQuery{Identifier: "MSCU7777777"}, nil},
				{references.ListQuery{Identifier: "MSCU8888888"}, []string{s.bol}},
				{references.ListQuery{Sort: references.SortETA}, []string{s.c1, s.bol, s.c2, s.gone}},
				{references.ListQuery{ETABefore: ptr(s.eta.Add(24 * time.Hour))}, []string{s.c1}},
			} {
				tc.q.Limit = 10
				if tc.q.Sort == "" {
					tc.q.Sort = references.SortCreated
				}
				if got, _ := f.listAll(acctA, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("after a new snapshot, %+v = %q, want %q", tc.q, got, tc.want)
				}
			}
		})

		t.Run("NewSnapshotKeepsWhatStaysAndDropsWhatGoes", func(t *testing.T) {
			f := setup(t, open)
			s := newSearchSet(f)
			bolETA := s.eta.Add(3 * time.Hour) // as newSearchSet polled it
			later := s.eta.Add(48 * time.Hour)
			for _, eta := range []time.Time{bolETA, bolETA, later, later} { // the same ETA, then a new one, twice each
				f.clk.Advance(time.Minute)
				f.poll(s.bol, references.PollResult{Shipment: &references.Shipment{ETA: &eta,
					Containers: []references.Container{{Number: "MSCU7777777"}, {Number: "MSCU8888888"}}}})
			}
			for _, tc := range []struct {
				q    references.ListQuery
				want []string
			}{
				{references.ListQuery{Identifier: "MSCU6666666"}, nil},
				{references.ListQuery{Identifier: "MSCU7777777"}, []string{s.bol}},
				{references.ListQuery{Identifier: "MSCU8888888"}, []string{s.bol}},
				{references.ListQuery{Identifier: "MSCU*"}, []string{s.c1, s.bol, s.c2, s.gone}},
				{references.ListQuery{Sort: references.SortETA}, []string{s.c1, s.bol, s.c2, s.gone}},
				{references.ListQuery{ETABefore: ptr(s.eta.Add(24 * time.Hour))}, []string{s.c1}},
				{references.ListQuery{ETAAfter: ptr(s.eta.Add(24 * time.Hour))}, []string{s.bol}},
			} {
				tc.q.Limit = 10
				if tc.q.Sort == "" {
					tc.q.Sort = references.SortCreated
				}
				if got, _ := f.listAll(acctA, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("after snapshots that keep a container and an ETA, %+v = %q, want %q", tc.q, got, tc.want)
				}
			}
		})

		t.Run("FiltersNeverShowAnotherAccount", func(t *testing.T) {
			f := setup(t, open)
			newSearchSet(f)
			for _, q := range []references.ListQuery{
				{Identifier: "MSCU0000001"}, {Identifier: "MSCU7777777"}, {Identifier: "MSCU*"},
				{CarrierCode: "MSCU"}, {Metadata: map[string]string{"team": "x"}},
				{ETABefore: ptr(Start.Add(1000 * time.Hour))}, {Sort: references.SortETA},
			} {
				q.Limit = 10
				if q.Sort == "" {
					q.Sort = references.SortCreated
				}
				// listAll fails on a reference of another account.
				a, _ := f.listAll(acctA, q)
				b, _ := f.listAll(acctB, q)
				if len(a) == 0 || len(b) != len(a) {
					t.Errorf("%+v: account A sees %d, account B %d; want the same number, more than 0", q, len(a), len(b))
				}
			}
		})

		t.Run("CursorOfAnotherSortIsInvalid", func(t *testing.T) {
			f := setup(t, open)
			newSearchSet(f)
			for _, sort := range []references.ListSort{references.SortCreated, references.SortETA} {
				page, err := f.b.ListReferences(f.ctx, acctA, references.ListQuery{Sort: sort, Limit: 1})
				if err != nil || page.NextCursor == "" {
					t.Fatalf("first page by %s: cursor %q, %v", sort, page.NextCursor, err)
				}
				other := references.SortETA
				if sort == other {
					other = references.SortCreated
				}
				_, err = f.b.ListReferences(f.ctx, acctA, references.ListQuery{Sort: other, Limit: 1, Cursor: page.NextCursor})
				wantCode(t, "cursor of sort "+string(sort)+" used with "+string(other), err, references.CodeInvalid)
			}
		})

		t.Run("FilterSurvivesRestart", func(t *testing.T) {
			f := setup(t, open)
			s := newSearchSet(f)
			f.restart()
			if got, _ := f.listAll(acctA, references.ListQuery{Identifier: "MSCU7777777", Sort: references.SortCreated, Limit: 10}); !slices.Equal(got, []string{s.bol}) {
				t.Errorf("container inside a bill of lading after a restart = %q, want %q", got, []string{s.bol})
			}
		})
	})
}

// searchSet is four references of acctA, created a second apart, and one of acctB
// with the same identifiers: c1 (container, ETA eta, team x), bol (bill of lading
// with container MSCU7777777, ETA eta+3h, team x, po 7), c2 (carrier MAEU, no
// snapshot) and gone (unsubscribed). c1 and bol were polled at polledAt, after the
// others were last changed.
type searchSet struct {
	c1, bol, c2, gone string
	eta, polledAt     time.Time
}

func newSearchSet(f *fixture) searchSet {
	f.t.Helper()
	s := searchSet{eta: Start.Add(240 * time.Hour)}
	for _, acct := range []string{acctB, acctA} {
		c1 := f.create(acct, func(r *references.Reference) {
			r.ContainerID, r.Metadata = "MSCU0000001", map[string]string{"team": "x"}
		})
		f.clk.Advance(time.Second)
		bol := f.create(acct, func(r *references.Reference) {
			r.ContainerID, r.BillOfLading = "", "MEDUAB12345"
			r.Metadata = map[string]string{"team": "x", "po": "7"}
		})
		f.clk.Advance(time.Second)
		c2 := f.create(acct, func(r *references.Reference) { r.ContainerID, r.CarrierCode = "MSCU0000002", "MAEU" })
		f.clk.Advance(time.Second)
		gone := f.create(acct, func(r *references.Reference) { r.ContainerID = "MSCU0000003" })
		if _, err := f.b.UnsubscribeReference(f.ctx, acct, gone.ID, references.ReasonUser, f.now()); err != nil {
			f.t.Fatal(err)
		}
		f.clk.Advance(time.Minute)
		s.polledAt = f.now()
		eta, bolETA := s.eta, s.eta.Add(3*time.Hour)
		f.poll(c1.ID, references.PollResult{Shipment: &references.Shipment{ETA: &eta,
			Containers: []references.Container{{Number: "MSCU0000001"}}}})
		f.poll(bol.ID, references.PollResult{Shipment: &references.Shipment{ETA: &bolETA,
			Containers: []references.Container{{Number: "MSCU6666666"}, {Number: "MSCU7777777"}}}})
		s.c1, s.bol, s.c2, s.gone = c1.ID, bol.ID, c2.ID, gone.ID
	}
	return s
}
