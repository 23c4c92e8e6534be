package main

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/store"
)

// startupFigures are the start-up phase's results, on a store of References active
// references made for it (references only) or on an existing store (--startup-store).
type startupFigures struct {
	References int   `json:"references"`
	Create     rate  `json:"create"`
	FileBytes  int64 `json:"file_bytes"`
	// OpenSeconds is store.Open, which loads the poll schedule; FirstScanSeconds
	// the first due scans of the poller and the notifier after it.
	OpenSeconds      float64 `json:"open_seconds"`
	FirstScanSeconds float64 `json:"first_scan_seconds"`
	StartupSeconds   float64 `json:"startup_seconds"`
	// Memory is what opening the store added to the process; PerReference is it
	// divided by References.
	Memory       memory `json:"memory"`
	PerReference memory `json:"per_reference"`
}

// runStartup creates a store of cfg.startupRefs references, closes it, and measures
// opening it again until the first due scans have answered, and the memory that took.
func runStartup(ctx context.Context, cfg config, st storage, prog *progress) (f startupFigures, err error) {
	f.References = cfg.startupRefs
	open := func() (benchStore, error) { return st.open(ctx, "startup", false) }
	if cfg.startupStore != "" {
		open = func() (benchStore, error) { return store.Open(cfg.startupStore, store.Options{}) }
	} else {
		prog.begin("start-up: create")
		err := prepare(ctx, st, "startup", func(db benchStore) error {
			start := time.Now()
			ids, err := seed(ctx, db, cfg.startupRefs, 1, "http://127.0.0.1:9/hooks", prog)
			f.Create = newRate(int64(len(ids)), time.Since(start))
			return err
		})
		if err != nil {
			return f, err
		}
		defer func() { err = errors.Join(err, st.remove(context.WithoutCancel(ctx), "startup")) }()
	}

	prog.begin("start-up: open")
	before := measureMemory()
	start := time.Now()
	db, err := open()
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	f.OpenSeconds = time.Since(start).Seconds()
	scan := time.Now()
	// The first scans, as the poller and the notifier make them (their claims are
	// given back: the store is closed right after).
	polls, err := db.ClaimDuePolls(ctx, "bench-startup", 100, time.Minute)
	if err != nil {
		return f, err
	}
	deliveries, err := db.ClaimDueDeliveries(ctx, "bench-startup", 100, time.Minute)
	if err != nil {
		return f, err
	}
	for _, c := range polls {
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			return f, err
		}
	}
	for _, c := range deliveries {
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			return f, err
		}
	}
	f.FirstScanSeconds = time.Since(scan).Seconds()
	f.StartupSeconds = time.Since(start).Seconds()
	f.Memory = measureMemory().minus(before)
	stats, err := db.Stats(ctx)
	if err != nil {
		return f, err
	}
	if cfg.startupStore != "" {
		f.FileBytes = stats.FileBytes
	} else if f.FileBytes, err = st.size(ctx, "startup", db); err != nil {
		return f, err
	}
	f.References = int(stats.ActiveReferences)
	f.PerReference = f.Memory.per(1, f.References)
	return f, nil
}
