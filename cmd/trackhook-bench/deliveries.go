package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// deliveryFigures are the delivery phase's results.
type deliveryFigures struct {
	// Baseline is a raw net/http POST loop to the same receiver, with real payloads,
	// as many goroutines as delivery workers and the same connection limit.
	Baseline rate `json:"baseline"`
	// Trackhook is webhooks delivered end to end: read from the outbox, signed,
	// POSTed, answered 2xx and recorded durably.
	Trackhook rate    `json:"trackhook"`
	Ratio     float64 `json:"ratio"` // Trackhook / Baseline
	// CPURatio is the same by CPU time per operation (baseline / trackhook): what
	// the ratio would be if both had the same CPU to themselves. With PostgreSQL on
	// this machine, trackhook's CPU time includes the server's.
	CPURatio float64 `json:"cpu_ratio"`
	// AttemptsPerCommit is how many recorded attempts shared one store commit.
	AttemptsPerCommit float64 `json:"attempts_per_commit"`
	PayloadBytes      int     `json:"payload_bytes"` // average size of the baseline's bodies
	// Drain is delivering the rest of the backlog, after which every reference's
	// feed must have reached the receiver: Missing, Duplicates and OutOfOrder count
	// what did not.
	Drain      rate  `json:"drain"`
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	OutOfOrder int64 `json:"out_of_order"`
	Failed     int64 `json:"failed_attempts"`
}

// runDeliveries measures the raw baseline, then the notifier on the backlog the polls
// left, then lets it deliver the rest and checks that every update arrived in order.
func runDeliveries(ctx context.Context, r *rig, ids []string, prog *progress) (deliveryFigures, error) {
	var f deliveryFigures
	bodies, err := samplePayloads(ctx, r, ids, 64)
	if err != nil {
		return f, err
	}
	for _, b := range bodies {
		f.PayloadBytes += len(b)
	}
	f.PayloadBytes /= max(len(bodies), 1)

	prog.begin("deliveries: baseline")
	stopProfile, err := r.cfg.profile("baseline")
	if err != nil {
		return f, err
	}
	f.Baseline, err = baseline(ctx, []string{r.rcv.url + baselinePath}, bodies, r.cfg.deliveryWorkers, r.cfg.deliverDuration, prog)
	if err = errors.Join(err, stopProfile()); err != nil {
		return f, err
	}

	prog.begin("deliveries: trackhook")
	commits0, err := r.st.commits(ctx, r.db)
	if err != nil {
		return f, err
	}
	attempts0 := r.attempts.Load()
	got0, start, cpu0 := r.rcv.webhooks.Load(), time.Now(), r.markCPU()
	prog.show(func() string {
		n := r.rcv.webhooks.Load() - got0
		return fmt.Sprintf("%d delivered, %.0f/s", n, float64(n)/time.Since(start).Seconds())
	})
	stop := r.startNotifier(ctx)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	if err := measure(ctx, r.cfg, "deliveries", r.cfg.deliverDuration, nil); err != nil {
		return f, err
	}
	got1 := r.rcv.webhooks.Load() // the drain counts from here: none is counted twice or lost
	f.Trackhook = newRate(got1-got0, time.Since(start))
	cpu0.fill(&f.Trackhook)
	commits1, err := r.st.commits(ctx, r.db)
	if err != nil {
		return f, err
	}
	if c := commits1 - commits0; c > 0 {
		f.AttemptsPerCommit = float64(r.attempts.Load()-attempts0) / float64(c)
	}
	if f.Baseline.PerSec > 0 {
		f.Ratio = f.Trackhook.PerSec / f.Baseline.PerSec
	}
	if c := f.Trackhook.totalCPUMicro(); c > 0 {
		f.CPURatio = f.Baseline.CPUMicro / c
	}

	prog.begin("deliveries: drain")
	start = time.Now()
	prog.show(func() string { return fmt.Sprintf("%d delivered", r.rcv.webhooks.Load()-got1) })
	if err := drain(ctx, r); err != nil {
		return f, err
	}
	f.Drain = newRate(r.rcv.webhooks.Load()-got1, time.Since(start))
	stop()
	stop = nil
	f.Missing, err = missing(ctx, r, ids, r.cfg.accounts)
	f.Duplicates, f.OutOfOrder = r.rcv.anomalies()
	f.Failed = r.failed.Load()
	return f, err
}

// drain waits until no reference has an update waiting for delivery.
func drain(ctx context.Context, r *rig) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.drainTimeout)
	defer cancel()
	var serr error
	err := waitEvery(ctx, r.st.drainEvery(), func() bool {
		s, err := r.db.Stats(ctx)
		serr = err
		return err != nil || s.PendingDeliveries == 0
	})
	if serr != nil {
		return serr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the backlog was not delivered within --drain-timeout %s", r.cfg.drainTimeout)
	}
	return err
}

// missing counts the updates in the references' feeds that the receiver did not get;
// ids were seeded in accounts accounts.
func missing(ctx context.Context, r *rig, ids []string, accounts int) (int64, error) {
	var n int64
	for i, id := range ids {
		ref, err := r.db.GetReference(ctx, accountOf(i, accounts), id)
		if err != nil {
			return n, err
		}
		if got := r.rcv.lastSequence(id); got < ref.LastSequence {
			n += int64(ref.LastSequence - got)
		}
	}
	return n, nil
}

// samplePayloads encodes the next update of up to n references, as the notifier will
// send them, for the baseline to POST.
func samplePayloads(ctx context.Context, r *rig, ids []string, n int) ([][]byte, error) {
	var bodies [][]byte
	for _, id := range ids {
		if len(bodies) == n {
			break
		}
		c, err := r.db.ClaimDelivery(ctx, "bench-baseline", id, time.Minute)
		if errors.Is(err, references.ErrNothingToDeliver) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := r.db.ReleaseLease(ctx, c.Lease); err != nil {
			return nil, err
		}
		b, err := webhook.Encode(c.Job.Update)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
	}
	if len(bodies) == 0 {
		return nil, errors.New("no update to deliver after the polls")
	}
	return bodies, nil
}

// baseline POSTs bodies to urls (in turn) in a plain loop from workers goroutines for
// d, through a client with the notifier's connection limits, and counts the 2xx.
func baseline(ctx context.Context, urls []string, bodies [][]byte, workers int, d time.Duration, prog *progress) (rate, error) {
	tr := &http.Transport{
		MaxConnsPerHost:     notifier.DefaultMaxConnsPerHost,
		MaxIdleConnsPerHost: notifier.DefaultMaxIdleConnsPerHost,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: notifier.DefaultSendTimeout}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok atomic.Int64
	var firstErr error
	var once sync.Once
	start, cpu0 := time.Now(), cpuTime()
	prog.show(func() string {
		return fmt.Sprintf("%d posted, %.0f/s", ok.Load(), float64(ok.Load())/time.Since(start).Seconds())
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += workers {
				err := post(ctx, client, urls[i%len(urls)], bodies[i%len(bodies)])
				if err == nil {
					ok.Add(1)
				} else if ctx.Err() == nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	r := newRate(ok.Load(), time.Since(start))
	r.CPUMicro = cpuPer(cpu0, r.Count)
	return r, firstErr
}

func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("baseline POST answered %s", resp.Status)
	}
	return nil
}
