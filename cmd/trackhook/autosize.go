package main

import (
	"log/slog"

	"github.com/trackhook/trackhook/internal/autosize"
)

// sizeFromMachine sets the garbage collector to autosize's choice for the machine,
// unless the environment sets GOGC or GOMEMLIMIT (then the operator tunes it, and the
// runtime has read them), and logs what serve runs with and why. It returns the
// function that sets the collector back, for when serve returns (tests run serve in
// their process).
func sizeFromMachine(c serveConfig, e env, log *slog.Logger) (restore func()) {
	m := c.machine
	attrs := []any{
		slog.Int("cpus", m.CPUs), slog.Int64("memory_bytes", m.Memory),
		slog.Int("poll_workers", c.pollWorkers), slog.Bool("poll_workers_given", c.given["poll-workers"]),
		slog.Int("delivery_workers", c.deliveryWorkers), slog.Bool("delivery_workers_given", c.given["delivery-workers"]),
	}
	restore = func() {}
	if gogc, limit := e.getenv("GOGC"), e.getenv("GOMEMLIMIT"); gogc != "" || limit != "" {
		attrs = append(attrs, slog.String("gc", "from the environment"), slog.String("gogc", gogc), slog.String("gomemlimit", limit))
	} else {
		gc := autosize.GCSetting(m)
		restore = autosize.Apply(gc)
		attrs = append(attrs, slog.String("gc", "sized from the machine"), slog.Int("gogc", gc.Percent), slog.Int64("gomemlimit_bytes", gc.MemoryLimit))
	}
	log.Info("sized from the machine (flags and GOGC/GOMEMLIMIT override)", attrs...)
	return restore
}
