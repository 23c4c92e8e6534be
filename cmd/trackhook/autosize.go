package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/trackhook/trackhook/internal/autosize"
)

// gcTuneEvery is how often serve moves GOGC with the live heap (autosize.Tune).
const gcTuneEvery = time.Second

// sizeFromMachine sets the garbage collector to autosize's choice for the machine and
// keeps GOGC tuned to the live heap (autosize.Tune) until ctx ends or restore is
// called, unless the environment sets GOGC or GOMEMLIMIT (then the operator tunes
// it, and the runtime has read them). It logs what serve runs with and why. restore
// stops the tuning and sets the collector back, for when serve returns (tests run
// serve in their process).
func sizeFromMachine(ctx context.Context, c serveConfig, e env, log *slog.Logger) (restore func()) {
	m := c.machine
	attrs := []any{
		slog.Int("cpus", m.CPUs), slog.Int64("memory_bytes", m.Memory),
		slog.Int("poll_workers", c.pollWorkers), slog.Bool("poll_workers_given", c.given["poll-workers"]),
		slog.Int("delivery_workers", c.deliveryWorkers), slog.Bool("delivery_workers_given", c.given["delivery-workers"]),
	}
	if gogc, limit := e.getenv("GOGC"), e.getenv("GOMEMLIMIT"); gogc != "" || limit != "" {
		attrs = append(attrs, slog.String("gc", "from the environment"), slog.String("gogc", gogc), slog.String("gomemlimit", limit))
		log.Info("sized from the machine (flags and GOGC/GOMEMLIMIT override)", attrs...)
		return func() {}
	}
	gc := autosize.GCSetting(m)
	stop := autosize.Start(ctx, gc, gcTuneEvery)
	attrs = append(attrs, slog.String("gc", "sized from the machine"), slog.Int("gogc", gc.Percent),
		slog.Int64("gc_headroom_bytes", gc.Headroom), slog.Int64("gomemlimit_bytes", gc.MemoryLimit))
	log.Info("sized from the machine (flags and GOGC/GOMEMLIMIT override)", attrs...)
	return stop
}
