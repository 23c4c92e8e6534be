package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// fanoutLatency is detect -> 2xx of the healthy endpoints of one latency run of the
// fan-out phase. The first endpoint is the one taken down; the figures are of the
// others in every run, with it down or not, so that runs compare like with like.
type fanoutLatency struct {
	// Down is how the first endpoint failed: "" (it did not), "503" (it answered 503
	// at once) or "hang" (it held every request until the sender's timeout).
	Down      string `json:"down"`
	Endpoints int    `json:"endpoints"` // healthy ones measured
	Offered   rate   `json:"offered_polls"`
	Updates   rate   `json:"updates"`
	Late      int64  `json:"late_polls"`
	// Delivered is how many webhooks the healthy endpoints got, every update of the
	// run to each of them.
	Delivered  int     `json:"delivered"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Duplicates int64   `json:"duplicates"`
	OutOfOrder int64   `json:"out_of_order"`
	// DownRequests is how many requests the down endpoint answered 503 or held.
	DownRequests int64 `json:"down_requests"`
}

// downName says how the first endpoint fared in a latency run, for people.
func downName(down string) string {
	switch down {
	case "":
		return "all healthy"
	case "hang":
		return "one hanging"
	}
	return "one answering " + down
}

// fanoutLatencyRun offers updates at --fanout-rate for --fanout-duration to the
// --fanout-endpoints endpoints of a fresh store, with the first endpoint down as
// down says, and measures detect -> 2xx at the others. Each run has a store, receivers
// and a notifier of its own: retries and an open breaker left by one run would change
// the next.
func fanoutLatencyRun(ctx context.Context, cfg config, st storage, storeName, down string, prog *progress) (l fanoutLatency, err error) {
	l.Down, l.Endpoints = down, cfg.fanoutEndpoints-1
	name := "fan-out latency, " + downName(down) + ": "
	prog.begin(name + "create")
	f, err := newFanoutRig(ctx, cfg, st, storeName, cfg.fanoutEndpoints, 0, prog)
	if err != nil {
		return l, err
	}
	defer func() { err = errors.Join(err, f.close(ctx)) }()
	ps, err := f.newPollers()
	if err != nil {
		return l, err
	}
	downRcv, healthy := f.rcvs[0], f.rcvs[1:]
	if down != "" {
		downRcv.outage.set(downModes[down])
	}
	for _, rcv := range healthy {
		rcv.record()
	}
	stop := f.startNotifier(ctx)
	defer func() {
		if stop != nil {
			downRcv.outage.release()
			stop()
		}
	}()

	prog.begin(name + "offered")
	var offered, late atomic.Int64
	prog.show(func() string {
		return fmt.Sprintf("%d polls, %d updates, %d late, %d delivered", offered.Load(), f.polls.updates.Load(), late.Load(), delivered(healthy))
	})
	d, err := offerPolls(ctx, ps, f.ids, cfg.fanoutRate, cfg.fanoutDuration, cfg.pollWorkers, &offered, &late)
	if err != nil {
		return l, err
	}
	l.Offered = newRate(offered.Load(), d)
	l.Updates = newRate(f.polls.updates.Load(), d)
	l.Late = late.Load()

	prog.begin(name + "drain")
	last, err := lastSequences(ctx, f.rig, f.ids)
	if err != nil {
		return l, err
	}
	if err := awaitReceivers(ctx, healthy, last, cfg.drainTimeout); err != nil {
		return l, err
	}
	downRcv.outage.release() // its attempts under way end now, not at the timeout
	stop()
	stop = nil

	var lat []time.Duration
	for _, rcv := range healthy {
		lat = append(lat, rcv.stopRecording()...)
		dups, gaps := rcv.anomalies()
		l.Duplicates += dups
		l.OutOfOrder += gaps
	}
	l.Delivered = len(lat)
	l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99), percentile(lat, 1)
	l.DownRequests = downRcv.outage.refused.Load()
	return l, nil
}

// awaitReceivers waits until every receiver has every update up to last, or fails
// after timeout.
func awaitReceivers(ctx context.Context, rcvs []*receiver, last map[string]uint64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := waitUntil(ctx, func() bool {
		for _, rcv := range rcvs {
			if rcv.missing(last) > 0 {
				return false
			}
		}
		return true
	})
	if errors.Is(err, context.DeadlineExceeded) {
		var n int64
		for _, rcv := range rcvs {
			n += rcv.missing(last)
		}
		return fmt.Errorf("the healthy endpoints still miss %d updates after --drain-timeout %s", n, timeout)
	}
	return err
}
