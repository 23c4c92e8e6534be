// Package store is the bbolt backend of the storage contract (references.Backend):
// references and their indexes, shipment snapshots, update feeds, the delivery outbox
// and log, accounts and API keys, the queue of carrier push subscriptions to delete,
// in one file. It stores the domain types of package references and nothing else, in
// encodings of its own (codec.go, records.go), so that the file's format changes only
// here; every logical change is one transaction, and the state rules it applies are
// the domain's (references/rules.go).
//
// Work is handed out by claims with leases (lease.go): a bbolt file has one process,
// so leases live in memory. The poll schedule is also held in memory, so that a poll
// that changed nothing costs no write (schedule.go). store/storetest is the suite that
// every backend of the contract passes; this one runs it in storetest_test.go.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// SchemaVersion is the layout version this code reads and writes. A file written by a
// newer version is refused rather than misread; an older one is upgraded at Open (see
// upgrade.go). Version 2 added the indexes and counts retention and quotas need, which
// a version 1 binary would not keep: it refuses the file. Version 3 added account
// endpoints, and keyed the outbox by destination (a version 2 binary would misread it).
// Version 4 numbered every update in its account (the account feed), which an older
// binary would not keep. Version 5 counts each account's references by status
// (counts.go) and keeps a shipment summary in the search facts (search.go), which a
// version 4 binary would neither keep nor read. Version 6 stores each event of a
// reference once, in a table its snapshot and its updates refer to (eventtable.go):
// a version 5 binary would misread those values, as it would the delivery log entries
// now written in binary (codec_attempts.go). Nothing is converted at the upgrade: the
// values of version 5 are read as they are, and only new ones take the new form.
// Version 7 writes event tables with a dictionary of their strings (format 4,
// eventtable_dict.go), which a version 6 binary would misread; as from 5 to 6, the
// upgrade writes the version only.
const SchemaVersion = 7

// ErrNewerSchema is returned by Open for a file written by a newer trackhook.
var ErrNewerSchema = errors.New("store was written by a newer trackhook")

// Bucket names. Keys are described next to each; ids never contain a NUL byte, which
// separates key parts. Values are JSON, except references, shipments, updates and
// delivery states, which are in the binary form of codec.go (read in either form).
var (
	bucketMeta        = []byte("meta")            // "schema_version" -> uint64
	bucketAccounts    = []byte("accounts")        // account id -> Account
	bucketAPIKeys     = []byte("api_keys")        // key hash -> APIKey
	bucketRefs        = []byte("refs")            // ref id -> Reference
	bucketRefsByAcct  = []byte("refs_by_account") // account \0 created_at(8) ref id -> nil
	bucketRefsByIdent = []byte("refs_by_ident")   // account \0 kind \0 value \0 carrier -> ref id (active only)
	bucketDue         = []byte("due")             // next_poll_at(8) ref id -> nil (active only; may lag, see schedule)
	bucketShipments   = []byte("shipments")       // ref id -> its event table and last snapshot (format 3, eventtable.go), or the last Shipment (formats 1, 2)
	bucketUpdates     = []byte("updates")         // ref id \0 seq(8) -> Update (format 3: its events as numbers in its reference's table)
	bucketUpdatesAge  = []byte("updates_by_time") // created_at(8) ref id \0 seq(8) -> its account_updates key (nil before schema 4), for retention
	bucketIdempotency = []byte("idempotency")     // account \0 key -> idempotencyRecord
	bucketOutbox      = []byte("outbox")          // deliver_at(8) destination \0 stream -> nil: delivery streams due (schema 2: deliver_at(8) ref id)
	bucketDelivery    = []byte("delivery_state")  // ref id -> deliveryState of its callback stream
	bucketRedeliver   = []byte("redeliver")       // ref id \0 update id -> requested_at(8)
	bucketAttempts    = []byte("attempts")        // ref id \0 n(8) -> DeliveryAttempt

	// Since schema 2: retention's indexes (see prune.go) and the quota's counts.
	bucketAttemptsAge = []byte("attempts_by_time")      // attempted_at(8) ref id \0 n(8) -> nil
	bucketIdemExpiry  = []byte("idempotency_by_expiry") // expires_at(8) account \0 key -> nil
	bucketUnsubAge    = []byte("unsubscribed_by_time")  // unsubscribed_at(8) ref id -> nil
	bucketActiveCount = []byte("active_by_account")     // account id -> active references(8)
)

var allBuckets = [][]byte{
	bucketMeta, bucketAccounts, bucketAPIKeys, bucketRefs, bucketRefsByAcct, bucketRefsByIdent,
	bucketDue, bucketShipments, bucketUpdates, bucketUpdatesAge, bucketIdempotency,
	bucketOutbox, bucketDelivery, bucketRedeliver, bucketAttempts,
	bucketAttemptsAge, bucketIdemExpiry, bucketUnsubAge, bucketActiveCount,
	// Since schema 3, see endpoint_records.go.
	bucketEndpoints, bucketEndpointsByAcct, bucketMessages, bucketMessagesByTime,
	bucketMessageIDs, bucketAccountEvents, bucketAccountEventN,
	bucketEndpointStreams, bucketEndpointPending, bucketEndpointResend,
	// Since schema 4, see account_updates.go.
	bucketAccountUpdates, bucketAccountUpdateN,
	// Added without a schema change: see audit.go.
	bucketAudit, bucketAuditSeq,
	// Added without a schema change: see search.go.
	bucketRefFacts, bucketRefsByETA, bucketRefsByNumbr,
	// Since schema 5, see counts.go.
	bucketStatusCount,
	// Added without a schema change: see sessions.go.
	bucketSessions, bucketSessionsByAcct,
	// Added without a schema change: see push.go.
	bucketPushDeletions, bucketPushDue,
}

// Options configures Open.
type Options struct {
	// Timeout bounds the wait for the file lock another process holds; default 1s.
	Timeout time.Duration
	// NoSync skips fsync on commit. Only for tests: a crash can lose or corrupt data.
	NoSync bool
	// Clock decides due-ness and lease ends; default the wall clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// DB is trackhook's store.
type DB struct {
	bolt  *bolt.DB
	group *groupCommit
	sched *schedule
	// Decoded accounts and endpoints, read for every delivery and every update's
	// fan-out (see decodedCache).
	accounts  *decodedCache[references.Account]
	endpoints *decodedCache[references.Endpoint]
	leases    *leases
	// claiming serialises ClaimDuePolls and ClaimDueDeliveries: each asks for as many
	// candidates as it wants plus the leases held when it starts, and a concurrent
	// claim granting meanwhile would leave it short while work is still due.
	claiming sync.Mutex
	clock    clock.Clock
	log      *slog.Logger
}

// Open opens or creates the store at path, creating buckets and the schema version on
// a new file and refusing a file of a newer schema.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// After a crash bbolt would rebuild its free page list by checking the whole file
	// (see NoFreelistSync below): write it first, much faster (freelist.go).
	repairFreelistAfterCrash(path, opts.Logger)
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.Timeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		// bbolt writes its whole list of free pages, sorted, at every commit: on a
		// store of 300,000 references that was 44% of the CPU time of the polls that
		// found a change, and it grows with the file (see BENCHMARKS.md). Without it,
		// the list is rebuilt by walking the file when the last close did not write
		// it (after a crash: about a second per 3 GB here); Close writes it, so an
		// orderly restart stays fast. etcd runs bbolt the same way.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{
		bolt: b, sched: newSchedule(), leases: newLeases(), clock: clock.OrReal(opts.Clock), log: opts.Logger,
		accounts: newDecodedCache(decodeAccount), endpoints: newDecodedCache(decodeEndpoint),
	}
	db.group = &groupCommit{db: b, failed: db.commitFailed}
	version, err := db.migrate()
	if err == nil && version < SchemaVersion {
		err = db.upgrade(version)
	}
	if err == nil {
		err = db.indexExisting()
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := b.View(func(tx *bolt.Tx) error { db.sched.load(tx); return nil }); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open store %s: load the poll schedule: %w", path, err)
	}
	return db, nil
}

// migrate creates the buckets that are missing and returns the file's schema version:
// SchemaVersion for a new file, an older one for upgrade to bring up to date.
func (db *DB) migrate() (version uint64, err error) {
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get([]byte("schema_version"))
		switch {
		case v == nil:
			version = SchemaVersion
			return meta.Put([]byte("schema_version"), u64(SchemaVersion))
		case len(v) != 8:
			return fmt.Errorf("schema version is corrupt (%d bytes)", len(v))
		case binary.BigEndian.Uint64(v) > SchemaVersion:
			return fmt.Errorf("%w: schema %d, this binary reads up to %d", ErrNewerSchema, binary.BigEndian.Uint64(v), SchemaVersion)
		}
		version = binary.BigEndian.Uint64(v)
		return nil
	})
	return version, err
}

// Close writes the due times kept in memory (see schedule) and closes the file.
// Transactions in flight finish first.
func (db *DB) Close() error {
	err := db.writeSchedule()
	if err != nil {
		db.log.Error("writing the poll schedule at close; unchanged references will be polled again early", "err", err)
	}
	if ferr := db.writeFreelist(); ferr != nil {
		db.log.Error("writing the free page list at close; the next start will rebuild it", "err", ferr)
		err = errors.Join(err, ferr)
	}
	return errors.Join(err, db.bolt.Close())
}

// writeFreelist commits once with bbolt's free page list, so that the next Open reads
// it instead of walking the whole file (see NoFreelistSync in Open). The switch is
// made inside the transaction, under bbolt's writer lock, which every commit holds
// when it reads it.
func (db *DB) writeFreelist() error {
	if db.bolt.IsReadOnly() {
		return nil
	}
	return db.bolt.Update(func(*bolt.Tx) error {
		db.bolt.NoFreelistSync = false
		return nil
	})
}

// Path returns the file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Backup writes a consistent copy of the whole database to w from one read
// transaction, while writers go on. It returns the number of bytes written.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// Ping checks that the store answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("store is not initialised")
		}
		return nil
	})
}

// view and update run fn in a read or write transaction after checking ctx.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ran := false
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		err := fn(tx)
		ran = err == nil
		return err
	})
	if err != nil && ran {
		db.commitFailed()
	}
	return err
}

// attemptPatience is how long a commit of delivery attempts may wait for more to
// join it (see groupCommit). It delays only the next update of the same reference,
// whose POST waits for the record; the receiver already has this one. Measured in
// BENCHMARKS.md: with it, CPU time per delivery fell by about a tenth.
const attemptPatience = time.Millisecond

// patientBatch is batch for calls that can wait attemptPatience for company.
func (db *DB) patientBatch(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.group.doPatient(fn, attemptPatience)
}

// commitFailed is called when a commit failed after its functions succeeded: the
// schedule may hold changes that are not on disk, so it is read again from disk.
func (db *DB) commitFailed() {
	err := db.bolt.Update(func(tx *bolt.Tx) error { db.sched.load(tx); return nil })
	if err != nil {
		db.log.Error("reloading the poll schedule after a failed commit", "err", err)
	}
}

// batch runs fn in a write transaction shared with concurrent batch callers (one
// fsync for many changes, see groupCommit). fn may run more than once, so it must be
// idempotent.
func (db *DB) batch(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.group.do(fn)
}
