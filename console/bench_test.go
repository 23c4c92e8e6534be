package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/tracking"
)

// benchRefs is the size of the account the shipments page is rendered for.
const benchRefs = 10_000

// shipmentsBench is a console over a bbolt store with one account of benchRefs
// references, each polled once by the demo carrier (a snapshot, a summary and one
// update), and a session of that account's write key.
type shipmentsBench struct {
	e      *echo.Echo
	cookie *http.Cookie
	ids    []string
}

func newShipmentsBench(b *testing.B) *shipmentsBench {
	b.Helper()
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.EnsureAccount(ctx, accountA, references.NewWebhookSecret(), start); err != nil {
		b.Fatal(err)
	}
	key, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeWrite}, start)
	if err := db.CreateAPIKey(ctx, stored); err != nil {
		b.Fatal(err)
	}
	svc := references.NewService(db, references.ServiceOptions{Now: clk.Now})

	// References in batches, one in ten a bill of lading, one in five with a callback.
	sb := &shipmentsBench{}
	for first := 0; first < benchRefs; first += references.MaxBatchCreate {
		var entries []references.BatchEntry
		for i := first; i < min(benchRefs, first+references.MaxBatchCreate); i++ {
			req := references.CreateRequest{ContainerID: cn("MSCU", i), CarrierCode: "MAEU"}
			if i%10 == 0 {
				req = references.CreateRequest{BillOfLading: fmt.Sprintf("MAEU%09d", i), CarrierCode: "MAEU"}
			}
			if i%5 == 0 {
				req.CallbackURL = "https://example.com/hooks"
			}
			entries = append(entries, references.BatchEntry{Request: req})
		}
		results, _, err := svc.CreateBatch(ctx, accountA, entries, "", "")
		if err != nil {
			b.Fatal(err)
		}
		for _, res := range results {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
			sb.ids = append(sb.ids, res.Reference.ID)
		}
		clk.Advance(time.Minute)
	}

	// One poll each, ten simulated days into the voyage, as the poller records it;
	// concurrent, so that the store commits them in groups. Every tenth is polled again
	// ten days later: the demo carrier delays half its legs, so some of those ETAs
	// move by more than a day (late).
	src := demo.New(demo.Options{Speed: 1, Clock: clk})
	clk.Advance(10 * 24 * time.Hour)
	pollAll(b, db, src, clk, sb.ids)
	var again []string
	for i := 0; i < len(sb.ids); i += 10 {
		again = append(again, sb.ids[i])
	}
	clk.Advance(10 * 24 * time.Hour)
	pollAll(b, db, src, clk, again)

	log := slog.New(slog.DiscardHandler)
	sb.e = api.New(svc, api.Options{Logger: log, RateLimit: rate.Inf, RotationLimit: rate.Inf, AuthFailureLimit: rate.Inf, Now: clk.Now})
	if _, err := Register(sb.e, svc, Options{Logger: log, Now: clk.Now}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/ui/sign-in", strings.NewReader(url.Values{"key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	sb.e.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName {
			sb.cookie = c
		}
	}
	if rec.Code != http.StatusSeeOther || sb.cookie == nil {
		b.Fatalf("sign in: %d", rec.Code)
	}
	return sb
}

// pollAll polls ids with the demo carrier, eight at a time.
func pollAll(b *testing.B, db *store.DB, src *demo.Source, clk *clock.Fake, ids []string) {
	b.Helper()
	ctx := context.Background()
	work := make(chan string)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := benchPoll(ctx, db, src, clk.Now(), id); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// benchPoll fetches id from the demo carrier and records the snapshot and its update.
func benchPoll(ctx context.Context, db *store.DB, src *demo.Source, now time.Time, id string) error {
	claim, err := db.ClaimPoll(ctx, "bench", id, time.Minute)
	if err != nil {
		return err
	}
	fetched, err := src.Fetch(ctx, claim.Reference)
	if err != nil {
		return err
	}
	cur := tracking.Derive(fetched)
	old, err := db.Shipment(ctx, id)
	if err != nil {
		return err
	}
	_, err = db.RecordPoll(ctx, claim.Lease, references.PollResult{
		PolledAt: now, NextPollAt: now.Add(15 * time.Minute), Shipment: cur,
		Updates: []references.Update{{ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now, Changes: tracking.Diff(old, cur), Shipment: cur}},
	})
	return err
}

// get serves path through the whole handler stack (the API's middleware, the
// session check, the page) and checks the answer.
func (sb *shipmentsBench) get(b *testing.B, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.AddCookie(sb.cookie)
	rec := httptest.NewRecorder()
	sb.e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkShipmentsPage renders the shipments page (GET /ui/, server side: the
// handler stack with the session lookup, the counts, one page of 50 references with
// their summaries, and the template) for an account of 10,000 references with
// snapshots. The target is under 50 ms. The filtered pages (late, an
// identifier prefix) read up to the store's scan bound (10,000 references) to fill a
// page, which costs what BENCHMARKS.md says of the store's bounded scans. cpu-ms/op
// is the process's CPU time per page, which other sessions on the machine do not
// stretch as they do the wall time.
func BenchmarkShipmentsPage(b *testing.B) {
	sb := newShipmentsBench(b)
	for _, bc := range []struct{ name, path string }{
		{"first page", "/ui/"},
		{"page 100 by cursor", ""}, // set below: the 100th page's link
		{"late", "/ui/?late=on"},
		{"identifier prefix", "/ui/?q=MSCU0099*"},
		{"by ETA", "/ui/?sort=eta"},
	} {
		path := bc.path
		if path == "" {
			path = "/ui/"
			for range 99 {
				next := linkHref(sb.get(b, path).Body.String(), "next-page")
				if next == "" {
					b.Fatal("fewer than 100 pages")
				}
				path = next
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			rows := 0
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				rows = len(rowIDs(sb.get(b, path).Body.String()))
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			}
			if rows == 0 {
				b.Fatalf("GET %s: no rows", path)
			}
			b.ReportMetric(float64(rows), "rows/op")
		})
	}
}
