package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketTest = []byte("test")

// putKey returns a write function that puts key into the test bucket.
func putKey(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTest)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte("v"))
	}
}

func hasKey(t *testing.T, db *DB, key string) bool {
	t.Helper()
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTest); b != nil {
			found = b.Get([]byte(key)) != nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// lastTx is the id of the last committed write transaction.
func lastTx(t *testing.T, db *DB) int {
	t.Helper()
	s, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(s.Commits)
}

// queueBehindWriter holds bbolt's writer lock with a transaction of its own and runs
// one batch call per fn; it returns when all but the first (which leads and waits for
// the lock) are queued, with a function that lets the writer go and waits for the
// calls' errors.
func queueBehindWriter(t *testing.T, db *DB, fns ...func(*bolt.Tx) error) (release func() []error) {
	t.Helper()
	held, letGo := make(chan struct{}), make(chan struct{})
	go func() {
		_ = db.bolt.Update(func(*bolt.Tx) error {
			close(held)
			<-letGo
			return nil
		})
	}()
	<-held
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.batch(context.Background(), fn)
		}()
		if i == 0 {
			// The leader takes its group before the others come: wait until it has.
			for !leadingAlone(db.group) {
				runtime.Gosched()
			}
			continue
		}
		// The others queue in the order given, so a group runs them in that order.
		for queued(db.group) < i {
			runtime.Gosched()
		}
	}
	return func() []error {
		close(letGo)
		wg.Wait()
		return errs
	}
}

// leadingAlone reports that a leader has taken its group and nothing is queued.
func leadingAlone(g *groupCommit) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leading && len(g.queue) == 0
}

func queued(g *groupCommit) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func TestGroupCommit_CommitsCallsQueuedMeanwhileTogether(t *testing.T) {
	db, _ := mustOpen(t)
	var fns []func(*bolt.Tx) error
	for i := range 20 {
		fns = append(fns, putKey(fmt.Sprint("k", i)))
	}
	before := lastTx(t, db)
	errs := queueBehindWriter(t, db, fns...)()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if !hasKey(t, db, fmt.Sprint("k", i)) {
			t.Fatalf("call %d returned before its write was committed", i)
		}
	}
	// The writer's own commit, the first call's, and one for the 19 that queued.
	if got := lastTx(t, db) - before; got != 3 {
		t.Fatalf("%d commits for 20 calls queued behind one writer, want 3", got)
	}
}

func TestGroupCommit_FailingCallGetsItsErrorAndTheOthersCommit(t *testing.T) {
	db, _ := mustOpen(t)
	boom := errors.New("boom")
	runs := 0
	counted := func(tx *bolt.Tx) error { runs++; return putKey("counted")(tx) }
	failing := func(tx *bolt.Tx) error {
		if err := putKey("failed")(tx); err != nil {
			return err
		}
		return boom
	}
	panicking := func(*bolt.Tx) error { panic("bad") }
	errs := queueBehindWriter(t, db, putKey("first"), counted, failing, panicking, putKey("last"))()
	for i, want := range []error{nil, nil, boom, nil, nil} {
		if i == 3 {
			if errs[i] == nil {
				t.Fatal("a panicking call returned no error")
			}
			continue
		}
		if !errors.Is(errs[i], want) && errs[i] != want {
			t.Fatalf("call %d: got %v, want %v", i, errs[i], want)
		}
	}
	for _, k := range []string{"first", "counted", "last"} {
		if !hasKey(t, db, k) {
			t.Fatalf("%s was not committed", k)
		}
	}
	if hasKey(t, db, "failed") {
		t.Fatal("the failing call's write was committed")
	}
	// It ran before the failing call, was rolled back with it, and ran again.
	if runs < 2 {
		t.Fatalf("the call before a failure ran %d times, want it run again", runs)
	}
}

func TestGroupCommit_LoneCallCommitsAtOnce(t *testing.T) {
	db, _ := mustOpen(t)
	before := lastTx(t, db)
	if err := db.batch(context.Background(), putKey("alone")); err != nil {
		t.Fatal(err)
	}
	if !hasKey(t, db, "alone") || lastTx(t, db)-before != 1 {
		t.Fatal("a lone call was not committed on its own")
	}
}

func TestGroupCommit_PatientLeaderWaitsForAFullGroup(t *testing.T) {
	db, _ := mustOpen(t)
	before := lastTx(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, fullGroup)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Patient for an hour: only a full group makes it commit.
		errs <- db.group.doPatient(putKey("patient"), time.Hour)
	}()
	for !leading(db.group) {
		runtime.Gosched()
	}
	for i := range fullGroup - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.batch(context.Background(), putKey(fmt.Sprint("k", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := lastTx(t, db) - before; got != 1 {
		t.Fatalf("%d commits for a patient leader and %d callers, want 1", got, fullGroup-1)
	}
}

func leading(g *groupCommit) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leading
}
