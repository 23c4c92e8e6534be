package poller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// logBuffer collects JSON log lines from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the records logged with message msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// containerN returns the n-th valid container number of owner MSCU.
func containerN(n int) string {
	s := fmt.Sprintf("MSCU%06d", n)
	return s + fmt.Sprint(references.ContainerCheckDigit(s))
}

// TestPoller_LogsFailedPollsAtWarnWithinALimitPerSource: every failed poll is logged
// at warn with its reference, carrier, source and error, but a source failing for
// many references gets only so many lines a minute; the rest are counted in a line
// that comes with the source's next one.
func TestPoller_LogsFailedPollsAtWarnWithinALimitPerSource(t *testing.T) {
	ctx := context.Background()
	var logs logBuffer
	b := newBundle(t)
	p := b.poller(t, poller.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), // the default level, info
		Router: poller.Router{ByCarrier: map[string]poller.Source{"MAEU": poller.Guard("MAEU", b.source, poller.GuardOptions{})}, Default: b.source},
	})
	// A refused request does not open the breaker: every poll reaches the carrier.
	b.source.set(nil, fmt.Errorf("dcsa MAEU: %w", &references.SourceError{Kind: references.ErrSourceBadRequest,
		Err: fmt.Errorf("carrier answered 422: invalidQuery: transportDocumentReference: size must be between 0 and 20")}))
	var refs []references.Reference
	for i := range 25 {
		ref := b.create(t, containerN(i))
		refs = append(refs, ref)
		if err := p.PollOne(ctx, ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	failed := logs.lines(t, "poll failed")
	if len(failed) != 10 {
		t.Fatalf("%d lines for 25 failed polls in a minute, want 10", len(failed))
	}
	want := map[string]any{"level": "WARN", "reference_id": refs[0].ID, "carrier": "MAEU", "source": "MAEU",
		"consecutive_failures": 1.0, "err": "dcsa MAEU: carrier answered 422: invalidQuery: transportDocumentReference: size must be between 0 and 20"}
	for k, v := range want {
		if failed[0][k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, failed[0][k], v, failed[0])
		}
	}

	b.clock.Advance(time.Minute)
	if err := p.PollOne(ctx, refs[24].ID); err != nil {
		t.Fatal(err)
	}
	left := logs.lines(t, "polls left out of the log")
	if len(left) != 1 || left[0]["count"] != 15.0 || left[0]["source"] != "MAEU" || left[0]["level"] != "WARN" {
		t.Fatalf("summary %v, want one line counting the 15 polls left out", left)
	}
	if failed := logs.lines(t, "poll failed"); len(failed) != 11 || failed[10]["consecutive_failures"] != 2.0 {
		t.Fatalf("after the minute: %d lines, the last %v; want the new failure logged", len(failed), failed[len(failed)-1])
	}

	// A shipment the source does not know is usual for a fresh booking: info.
	b.source.set(nil, fmt.Errorf("no events: %w", references.ErrShipmentNotFound))
	if err := p.PollOne(ctx, refs[0].ID); err != nil {
		t.Fatal(err)
	}
	nf := logs.lines(t, "poll: shipment not known to the source")
	if len(nf) != 1 || nf[0]["level"] != "INFO" || nf[0]["source"] != "MAEU" {
		t.Fatalf("not found: %v", nf)
	}
}
