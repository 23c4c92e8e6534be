package storecopy_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/store/storecopy"
)

func openBolt(t *testing.T, path string, clk *clock.Fake) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// copyStore copies from into to and checks the report against from's view.
func copyStore(t *testing.T, from, to storecopy.Backend) storecopy.Report {
	t.Helper()
	rep, err := storecopy.Copy(t.Context(), from, to)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	counts := map[storecopy.Kind]int64{}
	for _, c := range rep.Counts {
		counts[c.Kind] = c.Count
	}
	for _, k := range storecopy.Kinds {
		if counts[k] == 0 {
			t.Errorf("the copy has no record of kind %s: the scenario should make every kind", k)
		}
	}
	if rep.Feeds == 0 {
		t.Error("no feed was compared")
	}
	return rep
}

// sameView fails the test at the first part of the views that differs.
func sameView(t *testing.T, what string, want, got view) {
	t.Helper()
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range wv.NumField() {
		a, b := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Errorf("%s: %s differ:\nsource %s\ncopy   %s", what, wv.Type().Field(i).Name, ja, jb)
		}
	}
}

// somePushDeletionsDue checks that the first claims of the source include push
// deletions, so that sameClaims compares some (later claims find them leased).
func somePushDeletionsDue(t *testing.T, claims claimView) {
	t.Helper()
	if len(claims.PushDeletions) == 0 {
		t.Error("the source hands out no push deletion; the scenario should leave some due")
	}
}

func sameClaims(t *testing.T, what string, want, got claimView) {
	t.Helper()
	if len(want.Deliveries) == 0 || len(want.Polls) == 0 {
		t.Errorf("%s: the source hands out %d deliveries and %d polls; the scenario should leave both due", what, len(want.Deliveries), len(want.Polls))
	}
	if !reflect.DeepEqual(want.PushDeletions, got.PushDeletions) {
		t.Errorf("%s: push deletions due %+v in the source, %+v in the copy", what, want.PushDeletions, got.PushDeletions)
	}
	if !reflect.DeepEqual(want.Polls, got.Polls) {
		t.Errorf("%s: polls due %v in the source, %v in the copy", what, want.Polls, got.Polls)
	}
	if keysOf(want) != keysOf(got) {
		t.Fatalf("%s: deliveries due:\nsource %s\ncopy   %s", what, keysOf(want), keysOf(got))
	}
	for key, job := range want.Deliveries {
		if g := got.Deliveries[key]; !reflect.DeepEqual(job, g) {
			ja, _ := json.Marshal(job)
			jb, _ := json.Marshal(g)
			t.Errorf("%s: the job of %s differs:\nsource %s\ncopy   %s", what, key, ja, jb)
		}
	}
}

// TestCopy_BoltToBolt copies a store with every kind of record into a new bbolt file:
// everything the contract reads is the same, and so is the work each hands out next.
func TestCopy_BoltToBolt(t *testing.T) {
	clk := clock.NewFake(Start)
	dir := t.TempDir()
	src := openBolt(t, filepath.Join(dir, "src.db"), clk)
	w := buildWorld(t, clk, src)
	dst := openBolt(t, filepath.Join(dir, "dst.db"), clk)

	copyStore(t, src, dst)
	want := read(t, src, w)
	movedETAs(t, want)
	sameView(t, "bbolt -> bbolt", want, read(t, dst, w))
	sessionLeftBehind(t, src, dst, w)
	clk.Advance(time.Hour)
	claims := claimAll(t, src)
	somePushDeletionsDue(t, claims)
	sameClaims(t, "bbolt -> bbolt", claims, claimAll(t, dst))
}

// movedETAs fails the test unless a summary of v has a first ETA other than its ETA,
// which only the Shipment record's FirstETA carries through a copy.
func movedETAs(t *testing.T, v view) {
	t.Helper()
	for _, sums := range v.Summaries {
		for _, s := range sums {
			if s.ETA != nil && s.FirstETA != nil && !s.ETA.Equal(*s.FirstETA) {
				return
			}
		}
	}
	t.Error("no summary of the scenario has an ETA that moved: the copy of first ETAs is not tested")
}

// sessionLeftBehind checks that the source's console session is not in the copy:
// sessions belong to the store they were made in (see store/dump.go).
func sessionLeftBehind(t *testing.T, src, dst references.Backend, w world) {
	t.Helper()
	if _, err := src.GetSession(t.Context(), w.session); err != nil {
		t.Fatalf("the source's session: %v", err)
	}
	if s, err := dst.GetSession(t.Context(), w.session); !errors.Is(err, references.ErrNotFound) {
		t.Errorf("GetSession in the copy = %+v, %v; want ErrNotFound: sessions are not copied", s, err)
	}
}

// TestCopy_SurvivesARestart: a copy closed and opened again (the schedule and counts
// read from the file) still reads the same.
func TestCopy_SurvivesARestart(t *testing.T) {
	clk := clock.NewFake(Start)
	dir := t.TempDir()
	src := openBolt(t, filepath.Join(dir, "src.db"), clk)
	w := buildWorld(t, clk, src)
	path := filepath.Join(dir, "dst.db")
	dst, err := store.Open(path, store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	copyStore(t, src, dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	again := openBolt(t, path, clk)
	sameView(t, "bbolt -> bbolt, reopened", read(t, src, w), read(t, again, w))
	sessionLeftBehind(t, src, again, w)
	clk.Advance(time.Hour)
	sameClaims(t, "bbolt -> bbolt, reopened", claimAll(t, src), claimAll(t, again))
}

// TestCopy_RefusesANonEmptyDestination: nothing is written into a store that holds
// records already, whatever they are.
func TestCopy_RefusesANonEmptyDestination(t *testing.T) {
	clk := clock.NewFake(Start)
	dir := t.TempDir()
	src := openBolt(t, filepath.Join(dir, "src.db"), clk)
	if _, err := src.EnsureAccount(t.Context(), acctA, "whsec_1", clk.Now()); err != nil {
		t.Fatal(err)
	}
	dst := openBolt(t, filepath.Join(dir, "dst.db"), clk)
	if _, err := dst.AppendAudit(t.Context(), references.AuditEntry{AccountID: acctB, At: clk.Now(), Action: references.AuditKeyCreated}); err != nil {
		t.Fatal(err)
	}
	_, err := storecopy.Copy(t.Context(), src, dst)
	var ne *storecopy.NotEmptyError
	if !errors.As(err, &ne) || ne.Kind != storecopy.KindAudit {
		t.Fatalf("Copy into a store with an audit entry: %v, want a NotEmptyError naming %s", err, storecopy.KindAudit)
	}
	if _, err := dst.GetAccount(t.Context(), acctA); !errors.Is(err, references.ErrNotFound) {
		t.Errorf("the refused copy wrote the account: %v", err)
	}
}

// tampered is a destination whose load changes what it writes, as a faulty backend
// would: the verification must catch it.
type tampered struct {
	*store.DB
	change func(storecopy.Record) (storecopy.Record, bool) // false: drop it
}

func (d tampered) Load(ctx context.Context, records iter.Seq2[storecopy.Record, error]) error {
	return d.DB.Load(ctx, func(yield func(storecopy.Record, error) bool) {
		for r, err := range records {
			if err == nil {
				var keep bool
				if r, keep = d.change(r); !keep {
					continue
				}
			}
			if !yield(r, err) {
				return
			}
		}
	})
}

// TestCopy_VerificationCatchesADifference: a record lost, or an update changed, by
// the destination fails the copy with a sentence naming it.
func TestCopy_VerificationCatchesADifference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(storecopy.Record) (storecopy.Record, bool)
		want   string
	}{
		{"AMessageLost", func(r storecopy.Record) (storecopy.Record, bool) {
			_, isMsg := r.(storecopy.Message)
			return r, !isMsg
		}, "messages: "},
		{"AnUpdateChanged", func(r storecopy.Record) (storecopy.Record, bool) {
			if u, ok := r.(storecopy.Update); ok && u.Update.Sequence == 2 {
				u.Update.Changes = append(slices.Clone(u.Update.Changes), references.Change{Type: references.ChangeETAChanged})
				return u, true
			}
			return r, true
		}, "feeds: the feed of reference "},
		{"AStreamsRetryStateChanged", func(r storecopy.Record) (storecopy.Record, bool) {
			if s, ok := r.(storecopy.Stream); ok && s.Attempts > 0 {
				s.Attempts++
				return s, true
			}
			return r, true
		}, "delivery_streams: the same count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(Start)
			dir := t.TempDir()
			src := openBolt(t, filepath.Join(dir, "src.db"), clk)
			buildWorld(t, clk, src)
			dst := tampered{DB: openBolt(t, filepath.Join(dir, "dst.db"), clk), change: tc.change}
			_, err := storecopy.Copy(t.Context(), src, dst)
			var me *storecopy.MismatchError
			if !errors.As(err, &me) || !strings.Contains(me.What, tc.want) {
				t.Fatalf("Copy through a faulty load: %v; want a mismatch starting %q", err, tc.want)
			}
		})
	}
}
