package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Creates from several instances at once take turns at the account's counters row:
// one identifier is created once (the others are conflicts naming it), the quota is
// never exceeded, and an Idempotency-Key creates one reference that every retry
// replays.
func TestInstancesCreatingAtOnceKeepConflictsQuotaAndIdempotency(t *testing.T) {
	dbs := openInstances(t, 2)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	newRef := func(container string) references.Reference {
		return references.Reference{
			ID: references.NewID("ref_"), AccountID: "acct_c", ContainerID: container, CarrierCode: "MSCU",
			Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &now,
		}
	}
	const tries, quota = 20, 5
	type outcome struct {
		ref      references.Reference
		replayed bool
		err      error
	}
	run := func(build func(i int) (references.Reference, references.CreateOptions)) []outcome {
		out := make([]outcome, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref, opts := build(i)
				out[i].ref, out[i].replayed, out[i].err = dbs[i%2].CreateReference(ctx, ref, opts)
			}()
		}
		wg.Wait()
		return out
	}

	// One identifier from everyone at once.
	created := ""
	for _, o := range run(func(int) (references.Reference, references.CreateOptions) {
		return newRef("MSCU1111111"), references.CreateOptions{}
	}) {
		var e *references.Error
		switch {
		case o.err == nil && created == "":
			created = o.ref.ID
		case o.err == nil:
			t.Errorf("MSCU1111111 created twice: %s and %s", created, o.ref.ID)
		case !errors.As(o.err, &e) || e.Code != references.CodeConflict:
			t.Errorf("a second create of MSCU1111111 = %v, want a conflict", o.err)
		}
	}
	for _, o := range run(func(int) (references.Reference, references.CreateOptions) {
		return newRef("MSCU1111111"), references.CreateOptions{}
	}) {
		var e *references.Error
		if !errors.As(o.err, &e) || e.ReferenceID != created {
			t.Errorf("conflict %v names %q, want %s", o.err, e.ReferenceID, created)
		}
	}

	// Distinct identifiers against a quota (one active already).
	n := 0
	for _, o := range run(func(i int) (references.Reference, references.CreateOptions) {
		return newRef(fmt.Sprintf("MSCU2%06d", i)), references.CreateOptions{MaxActive: quota}
	}) {
		var e *references.Error
		switch {
		case o.err == nil:
			n++
		case !errors.As(o.err, &e) || e.Code != references.CodeQuotaExceeded:
			t.Errorf("create beyond the quota = %v, want quota_exceeded", o.err)
		}
	}
	if n != quota-1 {
		t.Errorf("%d created under a quota of %d with one active, want %d", n, quota, quota-1)
	}

	// One Idempotency-Key from everyone at once.
	idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: now.Add(time.Hour)}
	first, replays := "", 0
	for _, o := range run(func(int) (references.Reference, references.CreateOptions) {
		return newRef("MSCU3333333"), references.CreateOptions{Idempotency: idem}
	}) {
		if o.err != nil {
			t.Fatalf("create under an Idempotency-Key: %v", o.err)
		}
		if o.replayed {
			replays++
		}
		if first == "" {
			first = o.ref.ID
		} else if o.ref.ID != first {
			t.Errorf("the key gave %s and %s, want one reference", first, o.ref.ID)
		}
	}
	if replays != tries-1 {
		t.Errorf("%d replays, want %d", replays, tries-1)
	}
}
