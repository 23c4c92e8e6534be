package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// TestSchedule_DueAndCountMatchASortedList drives the heap with random puts, moves and
// removes and checks every answer against a plain sorted list of the same entries.
func TestSchedule_DueAndCountMatchASortedList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSchedule()
	model := map[string]int64{} // id -> due, for the references not pending
	pending := map[string]bool{}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func() time.Time { return base.Add(time.Duration(rng.IntN(1000)) * time.Second) }
	for step := range 5000 {
		id := fmt.Sprintf("ref_%03d", rng.IntN(300))
		switch op := rng.IntN(10); {
		case op < 4:
			t0 := at()
			isPending := rng.IntN(5) == 0
			s.put(id, t0, isPending)
			model[id] = nanos(t0)
			pending[id] = isPending
		case op < 5:
			s.confirm(id)
			if _, ok := model[id]; ok {
				pending[id] = false
			}
		case op < 8:
			t0 := at()
			moved := s.move(id, t0, base)
			_, known := model[id]
			if moved != (known && !pending[id]) {
				t.Fatalf("step %d: move(%s) = %v for a reference known=%v pending=%v", step, id, moved, known, pending[id])
			}
			if moved {
				model[id] = nanos(t0)
			}
		default:
			s.remove(id)
			delete(model, id)
			delete(pending, id)
		}
		now := at()
		limit := 1 + rng.IntN(40)
		var want []string
		for id, due := range model {
			if due <= nanos(now) && !pending[id] {
				want = append(want, id)
			}
		}
		slices.SortFunc(want, func(a, b string) int {
			if c := cmpInt64(model[a], model[b]); c != 0 {
				return c
			}
			return bytes.Compare([]byte(a), []byte(b))
		})
		if got := s.count(now); got != len(want) {
			t.Fatalf("step %d: count = %d, want %d", step, got, len(want))
		}
		if len(want) > limit {
			want = want[:limit]
		}
		if got := s.due(now, limit); !slices.Equal(got, want) {
			t.Fatalf("step %d: due(limit %d) = %v, want %v", step, limit, got, want)
		}
	}
}

// quietPoll is what the poller records for a poll that found nothing new.
func quietPoll(polled, next time.Time) references.PollResult {
	return references.PollResult{PolledAt: polled, NextPollAt: next}
}

func TestRecordPoll_UnchangedPollWritesNothingAndMovesTheSchedule(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	before := lastTx(t, db)

	polled, next := now.Add(time.Minute), now.Add(time.Hour)
	got, err := recordPoll(t, db, ref.ID, quietPoll(polled, next))
	if err != nil {
		t.Fatal(err)
	}
	if n := lastTx(t, db) - before; n != 0 {
		t.Fatalf("an unchanged poll committed %d transactions", n)
	}
	if got.LastPolledAt == nil || !got.LastPolledAt.Equal(polled) || !got.NextPollAt.Equal(next) {
		t.Fatalf("returned reference: polled %v next %v", got.LastPolledAt, got.NextPollAt)
	}
	clock.Set(next.Add(-time.Second))
	if due := duePolls(t, db, 10); len(due) != 0 {
		t.Fatalf("due before its next poll: %v", due)
	}
	clock.Set(next)
	if due := duePolls(t, db, 10); len(due) != 1 {
		t.Fatalf("not due at its next poll: %v", due)
	}
	// Reads show the poll as the API would.
	read, err := db.GetReference(ctx, "a", ref.ID)
	if err != nil || !read.LastPolledAt.Equal(polled) || !read.NextPollAt.Equal(next) {
		t.Fatalf("GetReference after an unchanged poll: polled %v next %v, %v", read.LastPolledAt, read.NextPollAt, err)
	}
	page, err := db.ListReferences(ctx, "a", references.ListQuery{Limit: 10})
	if err != nil || len(page.References) != 1 || !page.References[0].NextPollAt.Equal(next) {
		t.Fatalf("ListReferences after an unchanged poll: %+v, %v", page.References, err)
	}
}

func TestRecordPoll_ChangeOfErrorStateIsWritten(t *testing.T) {
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	failed := quietPoll(now, now.Add(time.Minute))
	failed.Error, failed.ConsecutiveFailures = "carrier answered 503", 1

	steps := []struct {
		name   string
		res    references.PollResult
		writes bool
	}{
		{"a failure", failed, true},
		{"the same failure again", func() references.PollResult { r := failed; r.ConsecutiveFailures = 2; return r }(), true},
		{"a success after failures", quietPoll(now, now.Add(time.Hour)), true},
		{"another success", quietPoll(now, now.Add(2*time.Hour)), false},
	}
	for _, step := range steps {
		before := lastTx(t, db)
		got, err := recordPoll(t, db, ref.ID, step.res)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if wrote := lastTx(t, db) > before; wrote != step.writes {
			t.Fatalf("%s: wrote %v, want %v", step.name, wrote, step.writes)
		}
		if got.LastPollError != step.res.Error || got.ConsecutiveFailures != step.res.ConsecutiveFailures {
			t.Fatalf("%s: error %q failures %d", step.name, got.LastPollError, got.ConsecutiveFailures)
		}
	}
}

// copyStore copies the file of an open store as a crash would leave it: what was
// committed, and nothing that was only in memory.
func copyStore(t *testing.T, db *DB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crashed.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := db.Backup(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSchedule_CrashRepollsUnchangedAndCloseKeepsThem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	quiet := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	changed := mustCreate(t, db, withCallback(newRef("a", "CSQU3054383", now), "https://example.com/hook"))
	gone := mustCreate(t, db, newRef("a", "TGHU1234563", now))
	next := now.Add(time.Hour)
	if _, err := recordPoll(t, db, quiet.ID, quietPoll(now, next)); err != nil {
		t.Fatal(err)
	}
	res := quietPoll(now, next)
	res.Updates = []references.Update{{Type: references.UpdateShipment, CreatedAt: now}}
	if _, err := recordPoll(t, db, changed.ID, res); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UnsubscribeReference(ctx, "a", gone.ID, references.ReasonUser, now); err != nil {
		t.Fatal(err)
	}

	// After a crash the unchanged poll is lost: that reference is due again at once,
	// and its update-free poll is simply made again. The written one is not.
	crashed, err := Open(copyStore(t, db), Options{NoSync: true, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	due := duePolls(t, crashed, 10)
	if !slices.Equal(due, []string{quiet.ID}) {
		t.Fatalf("due after a crash: %v, want only %s", due, quiet.ID)
	}
	crashed.Close()

	// A clean close writes the schedule: nothing is due before its time.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(next.Add(-time.Second))
	if due := duePolls(t, db, 10); len(due) != 0 {
		t.Fatalf("due before their time after a clean restart: %v", due)
	}
	clk.Set(next)
	due = duePolls(t, db, 10)
	slices.Sort(due)
	want := []string{quiet.ID, changed.ID}
	slices.Sort(want)
	if !slices.Equal(due, want) {
		t.Fatalf("due at their time after a clean restart: %v, want %v", due, want)
	}
	// The moved key is the one a later change replaces: no second key is left.
	later := next.Add(time.Hour)
	res = quietPoll(next, later)
	res.Updates = []references.Update{{Type: references.UpdateShipment, CreatedAt: next}}
	if _, err := recordPoll(t, db, quiet.ID, res); err != nil {
		t.Fatal(err)
	}
	clk.Set(later.Add(time.Hour))
	if n, _ := db.CountDue(ctx); n != 2 {
		t.Fatalf("%d references due in all after a change, want 2", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _ := db.CountDue(ctx); n != 2 {
		t.Fatalf("%d due keys on disk for 2 references", n)
	}
}

func TestSchedule_UnsubscribedLeaveAndUnchangedPollOfThemIsDropped(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	claim, err := db.ClaimPoll(ctx, testOwner, ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonUser, now); err != nil {
		t.Fatal(err)
	}
	// A poll that was under way when the reference was unsubscribed ends quietly.
	got, err := db.RecordPoll(ctx, claim.Lease, quietPoll(now, now.Add(time.Minute)))
	if err != nil || got.Active() {
		t.Fatalf("poll of an unsubscribed reference: %+v, %v", got, err)
	}
	clock.Advance(time.Hour)
	if n, _ := db.CountDue(ctx); n != 0 {
		t.Fatalf("%d references due after the only one was unsubscribed", n)
	}
}
