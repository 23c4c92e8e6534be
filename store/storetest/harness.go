// Package storetest is the conformance suite of the storage contract
// (references.Backend): every backend runs it, so the bbolt store and a database
// backend keep the same promises. It is modelled on river's riverdrivertest: a backend
// test calls Run with a function that opens a fresh, empty backend for each subtest,
// and the suite exercises the contract one behaviour per subtest.
//
//	func TestBackend(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, clk *clock.Fake) storetest.Harness {
//			return openMyBackend(t, clk)
//		})
//	}
//
// Every subtest runs on a fake clock that moves only when the suite advances it; the
// backend must take its time (due-ness, lease ends, secret expiry) from that clock.
package storetest

import (
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// Harness is what a backend gives the suite for one subtest: the backend under test and
// the ways to stop and start it again on the same data. Its methods fail t on error.
type Harness interface {
	// Backend returns the backend in use: the one Open made, or the last one Restart,
	// Crash returned.
	Backend() references.Backend
	// Restart closes the backend as an orderly shutdown does and opens it again on the
	// same data and clock (for PostgreSQL: close the pool, open a new one).
	Restart(t *testing.T) references.Backend
	// Crash abandons the backend as a killed process would, without any of the work a
	// Close does, and opens it again on the same durable data and clock. What lived
	// only in the old process's memory is gone. The old backend is not used again.
	Crash(t *testing.T) references.Backend
	// OpenBackup opens a backend, on the same clock, over a copy written by Backup.
	OpenBackup(t *testing.T, backup []byte) references.Backend
	// DeleteUpdate removes one update from the feed behind the contract's back, as an
	// operator or an older version's retention could. The suite uses it to check that
	// work pointing at a missing update is dropped rather than blocking the queue.
	DeleteUpdate(t *testing.T, refID, updateID string)
}

// Opener opens a fresh, empty backend for one subtest, on clk. It registers the
// backend's Close with t.Cleanup.
type Opener func(t *testing.T, clk *clock.Fake) Harness

// Start is the fake clock's time when a subtest begins. Whole seconds, so a backend that
// keeps microseconds (PostgreSQL) stores every time of the suite exactly.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the whole suite against the backend open makes. Subtests run in parallel,
// each on a backend and a fake clock of its own.
func Run(t *testing.T, open Opener) {
	t.Helper()
	runReferences(t, open)
	runSearch(t, open)
	runSummaries(t, open)
	runCounts(t, open)
	runFeed(t, open)
	runAccountFeed(t, open)
	runPolls(t, open)
	runLeases(t, open)
	runDeliveries(t, open)
	runPatchDeliveries(t, open)
	runRedeliveries(t, open)
	runAttempts(t, open)
	runAccounts(t, open)
	runKeys(t, open)
	runSessions(t, open)
	runSessionPrune(t, open)
	runPush(t, open)
	runRevisions(t, open)
	runAudit(t, open)
	runIsolation(t, open)
	runMaintenance(t, open)
	runRetention(t, open)
	runQuota(t, open)
	runPause(t, open)
	runBatch(t, open)
	runRestarts(t, open)
	runEndpoints(t, open)
	runMessageReads(t, open)
	runEndpointDelivery(t, open)
	runIdentifierLookup(t, open)
}
