package main

import (
	"context"
	"os"
	"time"

	"github.com/trackhook/trackhook/internal/autosize"
)

// sizeCollector sets the garbage collector as `trackhook serve` does by default
// (autosize.GCSetting, kept tuned to the live heap) unless GOGC or GOMEMLIMIT is set,
// so that a run with no flags measures serve's defaults. It says which in the
// returned description; stop undoes it.
func sizeCollector(ctx context.Context) (description string, stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return "from the environment (GOGC=" + os.Getenv("GOGC") + " GOMEMLIMIT=" + os.Getenv("GOMEMLIMIT") + ")", func() {}
	}
	return "sized from the machine, as trackhook serve", autosize.Start(ctx, autosize.GCSetting(autosize.Read()), time.Second)
}
