package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/poller"
)

// The spread deliveries phase: references whose callbacks are spread over --receivers
// receivers, each on a loopback port of its own, the i-th reference's callback on
// receiver i mod --receivers. The notifier keys its per-host in-flight cap, its
// breakers and the sender's connection limit by host and port, so each receiver is a
// host of its own to it, as the callbacks of many customers are; the one-receiver run
// of the main phase puts every delivery behind one host's cap.

// spreadFigures are the spread phase's results.
type spreadFigures struct {
	Receivers  int   `json:"receivers"`
	References int   `json:"references"`
	Updates    int64 `json:"updates"` // the backlog: --spread-rounds polls of each reference
	// Baseline is the raw net/http POST loop to the same receivers in turn, with
	// the payloads of the backlog (PayloadBytes on average), as many goroutines as
	// delivery workers.
	Baseline     rate `json:"baseline"`
	PayloadBytes int  `json:"payload_bytes"`
	// Trackhook is the whole backlog read, signed, POSTed, answered 2xx and
	// recorded durably, from the notifier's start until nothing waits.
	Trackhook         rate    `json:"trackhook"`
	Ratio             float64 `json:"ratio"`     // Trackhook / Baseline, by rate
	CPURatio          float64 `json:"cpu_ratio"` // Baseline / Trackhook, by CPU time per operation
	AttemptsPerCommit float64 `json:"attempts_per_commit"`
	Missing           int64   `json:"missing"`
	Duplicates        int64   `json:"duplicates"`
	OutOfOrder        int64   `json:"out_of_order"`
	Failed            int64   `json:"failed_attempts"`
}

// runSpread runs the spread phase on a fresh store.
func runSpread(ctx context.Context, cfg config, st storage, prog *progress) (f spreadFigures, err error) {
	k := cfg.receivers
	f.Receivers, f.References = k, cfg.spreadRefs
	name := fmt.Sprintf("deliveries to %d: ", k)
	prog.begin(name + "create")
	var rcvs []*receiver
	defer func() {
		for _, rcv := range rcvs {
			err = errors.Join(err, rcv.close(context.WithoutCancel(ctx)))
		}
	}()
	for range k {
		rcv, err := startReceiver(time.Now, 0)
		if err != nil {
			return f, fmt.Errorf("receiver: %w", err)
		}
		rcvs = append(rcvs, rcv)
	}
	// The references and their backlog are set-up writes (not measured): the polls
	// run on the store opened for them, without fsync.
	var ids []string
	err = prepare(ctx, st, "spread", func(db benchStore) error {
		var err error
		ids, err = seedWith(ctx, db, cfg.spreadRefs, cfg.accounts, func(i int) string { return rcvs[i%k].url + "/hooks" }, prog)
		if err != nil {
			return err
		}
		prog.begin(name + "polls")
		f.Updates, err = setupPolls(ctx, db, ids, cfg, cfg.spreadRounds, prog)
		return err
	})
	if err != nil {
		return f, err
	}
	r, err := openRig(ctx, st, "spread", nil, cfg)
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, r.close(ctx)) }()

	prog.begin(name + "baseline")
	bodies, err := samplePayloads(ctx, r, ids, 64)
	if err != nil {
		return f, err
	}
	for _, b := range bodies {
		f.PayloadBytes += len(b)
	}
	f.PayloadBytes /= len(bodies)
	urls := make([]string, k)
	for i, rcv := range rcvs {
		urls[i] = rcv.url + baselinePath
	}
	stopProfile, err := cfg.profile(fmt.Sprintf("baseline-%d", k))
	if err != nil {
		return f, err
	}
	f.Baseline, err = baseline(ctx, urls, bodies, cfg.deliveryWorkers, cfg.deliverDuration, prog)
	if err = errors.Join(err, stopProfile()); err != nil {
		return f, err
	}

	prog.begin(name + "trackhook")
	if err := deliverSpread(ctx, r, rcvs, &f, prog); err != nil {
		return f, err
	}
	if f.Baseline.PerSec > 0 {
		f.Ratio = f.Trackhook.PerSec / f.Baseline.PerSec
	}
	if c := f.Trackhook.totalCPUMicro(); c > 0 {
		f.CPURatio = f.Baseline.CPUMicro / c
	}
	last, err := lastSequencesIn(ctx, r, ids, cfg.accounts, k)
	if err != nil {
		return f, err
	}
	for j, rcv := range rcvs {
		f.Missing += rcv.missing(last[j])
		dups, gaps := rcv.anomalies()
		f.Duplicates += dups
		f.OutOfOrder += gaps
	}
	f.Failed = r.failed.Load()
	return f, nil
}

// deliverSpread starts the notifier and measures it until the backlog is delivered.
func deliverSpread(ctx context.Context, r *rig, rcvs []*receiver, f *spreadFigures, prog *progress) error {
	commits0, err := r.st.commits(ctx, r.db)
	if err != nil {
		return err
	}
	stopProfile, err := r.cfg.profile(fmt.Sprintf("deliveries-%d", len(rcvs)))
	if err != nil {
		return err
	}
	attempts0, got0, start, cpu0 := r.attempts.Load(), delivered(rcvs), time.Now(), r.markCPU()
	prog.show(func() string {
		n := delivered(rcvs) - got0
		return fmt.Sprintf("%d of %d delivered, %.0f/s", n, f.Updates, float64(n)/time.Since(start).Seconds())
	})
	stop := r.startNotifier(ctx)
	err = drain(ctx, r)
	f.Trackhook = newRate(delivered(rcvs)-got0, time.Since(start))
	cpu0.fill(&f.Trackhook)
	stop()
	if err = errors.Join(err, stopProfile()); err != nil {
		return err
	}
	commits1, err := r.st.commits(ctx, r.db)
	if c := commits1 - commits0; err == nil && c > 0 {
		f.AttemptsPerCommit = float64(r.attempts.Load()-attempts0) / float64(c)
	}
	return err
}

// lastSequencesIn returns each reference's last sequence by the receiver of its
// callback, ids seeded in accounts accounts (see accountOf) with their callbacks on k
// receivers in turn.
func lastSequencesIn(ctx context.Context, r *rig, ids []string, accounts, k int) ([]map[string]uint64, error) {
	last := make([]map[string]uint64, k)
	for j := range last {
		last[j] = map[string]uint64{}
	}
	for i, id := range ids {
		ref, err := r.db.GetReference(ctx, accountOf(i, accounts), id)
		if err != nil {
			return nil, err
		}
		last[i%k][id] = ref.LastSequence
	}
	return last, nil
}

// setupPolls polls every reference rounds times on db with the stepping demo carrier,
// each poll appending an update, and returns how many were appended.
func setupPolls(ctx context.Context, db benchStore, ids []string, cfg config, rounds int, prog *progress) (int64, error) {
	var counts pollCounts
	p, err := poller.New(db, poller.Options{
		Router:          poller.Router{Default: newStepSource(cfg.step)},
		Workers:         cfg.pollWorkers,
		DefaultInterval: cfg.pollInterval,
		Observe:         counts.observe,
	})
	if err != nil {
		return 0, err
	}
	prog.show(func() string { return fmt.Sprintf("%d polls, %d updates", counts.total.Load(), counts.updates.Load()) })
	for range rounds {
		if err := pollAll(ctx, []*poller.Poller{p}, ids, batchWorkers); err != nil {
			return counts.updates.Load(), err
		}
	}
	return counts.updates.Load(), nil
}
