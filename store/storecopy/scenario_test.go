package storecopy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// Start is the fake clock's start: with nanoseconds, as a real clock has them, which
// PostgreSQL's columns do not keep.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

const (
	acctA = "acct_a"
	acctB = "acct_b"
	url1  = "https://receiver.example/hooks/1"
	url2  = "https://receiver.example/hooks/2"
	epURL = "https://receiver.example/endpoint"
	lease = time.Minute
)

// world is what a scenario made: the ids to read back through the contract.
type world struct {
	accounts  []string
	refs      map[string][]string // account -> reference ids
	endpoints map[string][]string // account -> endpoint ids
	idemKey   references.IdempotencyKey
	idemRef   references.Reference      // the reference created under idemKey
	batchKey  references.IdempotencyKey // the key of a batch create
	paused    string                    // a paused reference of acctA, with streams waiting
	disabled  string                    // an endpoint of acctA disabled by the user, with messages waiting
	session   string                    // the token hash of a console session, which a copy leaves behind
}

// scenario builds, through the contract, a store with every kind of record: accounts
// with rotated secrets, API keys (one revoked, one used), audit entries, endpoints of
// each format (one disabled by its receiver's failures, one by the user), references
// active, paused and unsubscribed with snapshots and feeds, idempotent single and
// batch creates, callback deliveries delivered and failed (retry state), endpoint
// messages delivered, failed, given up and pending, a fixed batch, operational
// events, a queued redelivery and resend, a refresh, and a prune.
type scenario struct {
	t   *testing.T
	ctx context.Context
	clk *clock.Fake
	b   references.Backend
	w   world
	n   int
}

func buildWorld(t *testing.T, clk *clock.Fake, b references.Backend) world {
	t.Helper()
	s := &scenario{t: t, ctx: t.Context(), clk: clk, b: b, w: world{refs: map[string][]string{}, endpoints: map[string][]string{}}}
	s.run()
	return s.w
}

func (s *scenario) now() time.Time { return s.clk.Now() }

func (s *scenario) must(what string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

func (s *scenario) run() {
	t := s.t
	ctx, b := s.ctx, s.b
	for _, id := range []string{acctA, acctB} {
		_, err := b.EnsureAccount(ctx, id, "whsec_first_"+id, s.now())
		s.must("EnsureAccount", err)
		s.w.accounts = append(s.w.accounts, id)
	}
	s.keys()
	s.clk.Advance(time.Minute)
	_, err := b.RotateWebhookSecret(ctx, acctA, "whsec_second", s.now().Add(time.Hour), "key_admin")
	s.must("RotateWebhookSecret", err)
	_, err = b.AppendAudit(ctx, references.AuditEntry{AccountID: acctB, At: s.now(), Actor: "key_b", Action: references.AuditEndpointCreated, TargetID: "ep_x"})
	s.must("AppendAudit", err)

	epAll := s.endpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{"*"} })
	epBatch := s.endpoint(acctA, func(ep *references.Endpoint) {
		ep.Format, ep.BatchSize, ep.MaxAttempts, ep.DisableAfter = references.FormatBatch, 2, 1, 0
		ep.EventTypes = []string{"shipment.*"}
	})
	epRetry := s.endpoint(acctA, func(ep *references.Endpoint) {
		ep.Format, ep.BatchSize, ep.EventTypes = references.FormatBatch, 5, []string{"shipment.*"}
	})
	epOff := s.endpoint(acctA, func(ep *references.Endpoint) { ep.Headers = references.HeadersSvix })
	epB := s.endpoint(acctB, func(ep *references.Endpoint) {
		ep.Filter = references.EndpointFilter{CarrierCodes: []string{"MSCU"}, Metadata: map[string]string{"team": "b"}}
	})

	r1 := s.create(acctA, func(r *references.Reference) { r.CallbackURL = url1 })
	r2 := s.create(acctA, nil)
	r3 := s.create(acctA, func(r *references.Reference) { r.CallbackURL = url1; r.EventTypes = []string{"shipment.updated"} })
	r4 := s.create(acctA, func(r *references.Reference) { r.CallbackURL = url2 })
	r6 := s.create(acctB, func(r *references.Reference) { r.CallbackURL = url2; r.Metadata = map[string]string{"team": "b"} })
	s.idempotent(acctA)
	batch := s.batch(acctA, r1)

	// Two rounds of polls: snapshots and updates for every reference.
	for round := range 2 {
		claims, err := b.ClaimDuePolls(ctx, "poller", 100, lease)
		s.must("ClaimDuePolls", err)
		if len(claims) == 0 {
			t.Fatal("no poll due")
		}
		for _, c := range claims {
			s.recordPoll(c, round)
		}
		s.clk.Advance(16 * time.Minute)
	}

	// Deliveries: callbacks delivered (r6) or failing (r1), endpoint messages
	// delivered and failing (epAll), a batch given up that disables its endpoint.
	s.deliver(map[string]func(references.DeliveryClaim){
		references.DeliveryLeaseKey(references.DestinationCallback, r1): s.failOnce,
		references.DeliveryLeaseKey(references.DestinationCallback, r6): s.deliverAll,
		references.DeliveryLeaseKey(epAll, r1):                          s.deliverThenFail,
		references.DeliveryLeaseKey(epAll, r2):                          s.deliverAll,
		references.DeliveryLeaseKey(epBatch, r1):                        s.giveUpAndDisable,
		references.DeliveryLeaseKey(epRetry, r1):                        s.failBatch,
	})
	s.clk.Advance(10 * time.Minute)
	pruneBefore := s.now()
	s.clk.Advance(time.Minute)
	// The failing callback fails again: its second attempt.
	s.deliver(map[string]func(references.DeliveryClaim){
		references.DeliveryLeaseKey(references.DestinationCallback, r1): s.failOnce,
	})

	ups, err := b.ListUpdates(ctx, acctB, r6, 0, 10)
	s.must("ListUpdates", err)
	s.must("RequestRedelivery", b.RequestRedelivery(ctx, acctB, r6, ups[0].ID, s.now()))
	msgs, err := b.ListMessages(ctx, acctA, epAll, references.MessageQuery{Limit: 100})
	s.must("ListMessages", err)
	resent := ""
	for _, m := range msgs.Messages {
		if m.ReferenceID == r1 && m.Status == references.MessageSucceeded {
			resent = m.ID // its update is kept: r1's callback still has it to deliver
		}
	}
	if resent == "" {
		t.Fatal("no delivered message of r1 to resend")
	}
	s.must("ResendMessage", b.ResendMessage(ctx, acctA, epAll, resent, s.now()))

	off := false
	_, err = b.PatchEndpoint(ctx, acctA, epOff, func(ep *references.Endpoint) error {
		ep.Enabled, ep.DisabledReason, ep.DisabledAt = off, references.DisabledByUser, new(s.now())
		return nil
	})
	s.must("PatchEndpoint", err)
	_, err = b.RotateEndpointSecret(ctx, acctA, epAll, "whsec_ep_second", s.now().Add(time.Hour), "key_admin")
	s.must("RotateEndpointSecret", err)
	_, err = b.UnsubscribeReference(ctx, acctA, r4, references.ReasonUser, s.now())
	s.must("UnsubscribeReference", err)
	// r4's subscription is queued for deletion, and a first deletion failed; the
	// batch's first reference is unsubscribed too, its deletion still due.
	s.clk.Advance(time.Second)
	_, err = b.UnsubscribeReference(ctx, acctA, batch[0], references.ReasonUser, s.now())
	s.must("UnsubscribeReference", err)
	deletions, err := b.ClaimPushDeletions(ctx, "deleter", 1, lease)
	s.must("ClaimPushDeletions", err)
	if len(deletions) != 1 || deletions[0].Deletion.ReferenceID != r4 {
		t.Fatalf("ClaimPushDeletions = %+v, want r4's deletion", deletions)
	}
	s.must("RetryPushDeletion", b.RetryPushDeletion(ctx, deletions[0].Lease, s.now().Add(30*time.Minute), "carrier answered 503"))
	_, err = b.RequestPoll(ctx, acctA, r2, s.now())
	s.must("RequestPoll", err)
	_, err = b.PatchReference(ctx, acctA, r1, references.Patch{EventTypes: &[]string{"shipment.updated", "tracking.failed"}}, s.now())
	s.must("PatchReference", err)

	// Retention: the delivery log of the first round, and updates delivered then.
	s.clk.Advance(time.Hour)
	got, err := b.Prune(ctx, references.PruneRequest{Attempts: pruneBefore, Updates: Start.Add(20 * time.Minute), Max: 1000})
	s.must("Prune", err)
	if got.Attempts == 0 || got.Updates == 0 {
		t.Fatalf("Prune = %+v, want attempts and updates deleted", got)
	}
	// Paused after the prune: retention would take its undelivered updates (both
	// backends count a paused reference as not delivering there).
	_, err = b.PauseReference(ctx, acctA, r3, s.now())
	s.must("PauseReference", err)

	s.w.refs[acctA] = append([]string{r1, r2, r3, r4, s.w.idemRef.ID}, batch...)
	s.w.refs[acctB] = []string{r6}
	s.w.endpoints[acctA] = []string{epAll, epBatch, epRetry, epOff}
	s.w.endpoints[acctB] = []string{epB}
	s.w.paused, s.w.disabled = r3, epOff
}

func (s *scenario) keys() {
	ctx := s.ctx
	_, ka := references.NewAPIKey(acctA, []references.Scope{references.ScopeWrite}, s.now())
	ka.CreatedBy, ka.Name = references.ActorCLI, "writer"
	s.must("CreateAPIKey", s.b.CreateAPIKey(ctx, ka))
	_, kb := references.NewAPIKey(acctB, []references.Scope{references.ScopeAdmin}, s.now())
	kb.Operator, kb.CreatedBy = true, references.ActorCLI
	exp := s.now().Add(90 * 24 * time.Hour)
	kb.ExpiresAt = &exp
	s.must("CreateAPIKey", s.b.CreateAPIKey(ctx, kb))
	_, kc := references.NewAPIKey(acctA, []references.Scope{references.ScopeRead}, s.now())
	kc.CreatedBy = ka.ID
	s.must("CreateAPIKey", s.b.CreateAPIKey(ctx, kc))
	s.clk.Advance(time.Second)
	_, err := s.b.RevokeAPIKey(ctx, references.KeyRevocation{AccountID: acctA, Key: kc.ID, Actor: ka.ID, At: s.now()})
	s.must("RevokeAPIKey", err)
	s.must("RecordAPIKeyUse", s.b.RecordAPIKeyUse(ctx, []references.APIKeyUse{{Hash: ka.Hash, At: s.now()}}))
	sess := references.Session{
		TokenHash: references.HashAPIKey("console-token"), AccountID: acctA, KeyID: ka.ID, KeyHash: ka.Hash,
		CSRFToken: "csrf", CreatedAt: s.now(), LastSeenAt: s.now(), Idle: time.Hour, ExpiresAt: s.now().Add(24 * time.Hour),
	}
	s.must("CreateSession", s.b.CreateSession(ctx, sess))
	s.w.session = sess.TokenHash
}

func (s *scenario) endpoint(acct string, mod func(*references.Endpoint)) string {
	now := s.now()
	ep := references.Endpoint{
		ID: references.NewID("ep_"), AccountID: acct, URL: epURL, Description: "endpoint of " + acct,
		Format: references.FormatStandard, Headers: references.HeadersStandard,
		DisableAfter: references.DefaultDisableAfter, Enabled: true,
		Secrets:   []references.WebhookSecret{{Secret: "whsec_ep_" + references.NewID(""), CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if mod != nil {
		mod(&ep)
	}
	stored, err := s.b.CreateEndpoint(s.ctx, ep, 0)
	s.must("CreateEndpoint", err)
	return stored.ID
}

func (s *scenario) newRef(acct string, mod func(*references.Reference)) references.Reference {
	s.n++
	now := s.now()
	ref := references.Reference{
		ID: references.NewID("ref_"), AccountID: acct, ContainerID: fmt.Sprintf("MSCU%07d", s.n), CarrierCode: "MSCU",
		Metadata: map[string]string{"po": fmt.Sprint(s.n)}, PollInterval: references.Duration(15 * time.Minute),
		Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &now,
	}
	if mod != nil {
		mod(&ref)
	}
	return ref
}

func (s *scenario) create(acct string, mod func(*references.Reference)) string {
	ref, _, err := s.b.CreateReference(s.ctx, s.newRef(acct, mod), references.CreateOptions{})
	s.must("CreateReference", err)
	s.clk.Advance(time.Second)
	return ref.ID
}

func (s *scenario) idempotent(acct string) {
	s.w.idemKey = references.IdempotencyKey{Key: "idem-1", RequestHash: "hash-1", ExpiresAt: s.now().Add(references.IdempotencyTTL)}
	ref, _, err := s.b.CreateReference(s.ctx, s.newRef(acct, nil), references.CreateOptions{Idempotency: &s.w.idemKey})
	s.must("CreateReference with an idempotency key", err)
	s.w.idemRef = ref
}

// batch creates two references and refuses a third (a conflict with taken), under
// an idempotency key.
func (s *scenario) batch(acct, taken string) []string {
	ref, err := s.b.GetReference(s.ctx, acct, taken)
	s.must("GetReference", err)
	conflict := s.newRef(acct, nil)
	conflict.ContainerID = ref.ContainerID
	items := []references.BatchItem{{Reference: s.newRef(acct, nil)}, {Reference: conflict}, {Reference: s.newRef(acct, nil)}}
	s.w.batchKey = references.IdempotencyKey{Key: "idem-batch", RequestHash: "hash-batch", ExpiresAt: s.now().Add(references.IdempotencyTTL)}
	results, _, err := s.b.CreateReferences(s.ctx, acct, items, references.CreateOptions{Idempotency: &s.w.batchKey})
	s.must("CreateReferences", err)
	var ids []string
	for _, r := range results {
		if r.Err == nil {
			ids = append(ids, r.Reference.ID)
		}
	}
	if len(ids) != 2 {
		s.t.Fatalf("batch created %d references, want 2", len(ids))
	}
	return ids
}

// recordPoll records a poll that brings a snapshot and updates; the second round
// also a failed poll of the references without a callback.
func (s *scenario) recordPoll(c references.PollClaim, round int) {
	now := s.now()
	ship := shipment(now, round)
	if c.Reference.CallbackURL == "" {
		ship.ETA = nil // a snapshot without an ETA
	}
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute), Shipment: ship}
	res.Updates = []references.Update{{
		ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now, Shipment: ship,
		Changes: []references.Change{
			{Type: references.ChangeStatusChanged, Description: "in transit", Old: "", New: "IN_TRANSIT"},
			{Type: references.ChangeEventAdded, Description: "loaded", Container: "MSCU1234566", Event: &ship.Events[0]},
		},
	}}
	if round == 1 && c.Reference.CallbackURL == "" {
		res.Error, res.ConsecutiveFailures = "source unavailable", 1
		res.Updates = append(res.Updates, references.Update{
			ID: references.NewID("upd_"), Type: references.UpdateTrackingFailed, CreatedAt: now, Changes: []references.Change{}, Error: "source unavailable",
		})
	}
	// Every reference subscribes at its carrier's push API in the first round; those
	// with a callback rotate its secret in the second.
	switch {
	case round == 0:
		res.Push = pushSub(c.Reference.ID, now, false)
	case c.Reference.CallbackURL != "":
		res.Push = pushSub(c.Reference.ID, now, true)
	}
	_, err := s.b.RecordPoll(s.ctx, c.Lease, res)
	s.must("RecordPoll", err)
}

// pushSub is the push subscription of a reference, made at now; rotated, it has a new
// secret and the previous one, good for another hour.
func pushSub(refID string, now time.Time, rotated bool) *references.PushSubscription {
	p := &references.PushSubscription{
		Source: "dcsa-push", ID: "sub-" + refID,
		Secrets:   []references.PushSecret{{Key: []byte("first secret of " + refID)}},
		CreatedAt: now, RotatedAt: now, CheckedAt: now,
	}
	if rotated {
		until := now.Add(time.Hour)
		p.Secrets = []references.PushSecret{{Key: []byte("second secret of " + refID)}, {Key: p.Secrets[0].Key, Until: &until}}
		p.CreatedAt = now.Add(-16 * time.Minute)
		p.LastPushAt = &now
	}
	return p
}

// shipment is a snapshot with containers, an ETA and an event in a time zone of its
// own (offsets are kept).
func shipment(now time.Time, round int) *references.Shipment {
	sgt := time.FixedZone("", 8*3600)
	rtm := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
	vessel := &references.TransportCall{VesselName: "PACIFIC MERIDIAN", VesselIMO: "9815903", Voyage: "412W", ModeOfTransport: "VESSEL"}
	eta := now.Add(time.Duration(20+round) * 24 * time.Hour).In(sgt)
	events := []references.Event{
		{ID: "evt-1", Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: references.CodeLoad,
			Time: now.Add(-time.Hour), Location: rtm, TransportCall: vessel, EquipmentReference: "MSCU1234566", ISOEquipmentCode: "45G1",
			EmptyIndicator: references.EmptyIndicatorLaden},
		{ID: "evt-2", Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: references.CodeArrival,
			Time: eta, Location: &references.Location{UNLocode: "SGSIN", Name: "Singapore"}, TransportCall: vessel},
	}
	last := events[0]
	return &references.Shipment{
		Events: events, Status: references.ShipmentInTransit, Origin: rtm, CurrentLocation: rtm, CurrentVessel: vessel, ETA: &eta,
		Containers: []references.Container{{Number: "MSCU1234566", ISOEquipmentCode: "45G1", Status: references.ShipmentInTransit,
			CurrentLocation: rtm, LastEvent: &last, Milestones: []references.Event{events[0]}}},
	}
}

// deliver claims the due deliveries, hands each to its handler by lease key, and
// gives back the leases of the others.
func (s *scenario) deliver(handlers map[string]func(references.DeliveryClaim)) {
	claims, err := s.b.ClaimDueDeliveries(s.ctx, "deliverer", 1000, lease)
	s.must("ClaimDueDeliveries", err)
	seen := map[string]bool{}
	for _, c := range claims {
		seen[c.Lease.Key] = true
		if h, ok := handlers[c.Lease.Key]; ok {
			h(c)
			continue
		}
		s.must("ReleaseLease", s.b.ReleaseLease(s.ctx, c.Lease))
	}
	for key := range handlers {
		if !seen[key] {
			s.t.Fatalf("%s was not claimed", key)
		}
	}
}

func (s *scenario) attempt(job references.DeliveryJob, outcome references.AttemptOutcome) references.DeliveryAttempt {
	a := references.DeliveryAttempt{
		Destination: job.Destination, ReferenceID: job.Reference.ID, UpdateID: job.MessageID(), Sequence: job.Update.Sequence,
		Attempt: job.Attempt, URL: job.URL(), At: s.now(), LatencyMS: 12, Outcome: outcome, Redelivery: job.Redelivery,
	}
	switch outcome {
	case references.OutcomeDelivered:
		a.StatusCode = 204
	default:
		a.StatusCode, a.Error, a.ResponseBody = 503, "503 Service Unavailable", "try later"
		retry := s.now().Add(5 * time.Minute)
		a.NextRetryAt = &retry
	}
	return a
}

func (s *scenario) record(c references.DeliveryClaim, job references.DeliveryJob, a references.DeliveryAttempt) {
	_, err := s.b.RecordAttempt(s.ctx, c.Lease, job, a, "")
	s.must("RecordAttempt", err)
}

func (s *scenario) failOnce(c references.DeliveryClaim) {
	s.record(c, c.Job, s.attempt(c.Job, references.OutcomeFailed))
	s.must("ReleaseLease", s.b.ReleaseLease(s.ctx, c.Lease))
}

func (s *scenario) deliverAll(c references.DeliveryClaim) {
	job := c.Job
	for {
		s.record(c, job, s.attempt(job, references.OutcomeDelivered))
		next, err := s.b.NextDelivery(s.ctx, c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			s.must("ReleaseLease", s.b.ReleaseLease(s.ctx, c.Lease))
			return
		}
		s.must("NextDelivery", err)
		job = next
	}
}

func (s *scenario) deliverThenFail(c references.DeliveryClaim) {
	s.record(c, c.Job, s.attempt(c.Job, references.OutcomeDelivered))
	next, err := s.b.NextDelivery(s.ctx, c.Lease)
	s.must("NextDelivery", err)
	s.record(c, next, s.attempt(next, references.OutcomeFailed))
	s.must("ReleaseLease", s.b.ReleaseLease(s.ctx, c.Lease))
}

// failBatch fails a batch's first attempt: the stream keeps the batch fixed, to be
// retried as it is.
func (s *scenario) failBatch(c references.DeliveryClaim) {
	if len(c.Job.Batch) < 2 || c.Job.BatchID == "" {
		s.t.Fatalf("the batch endpoint's job has %d updates, batch id %q; want a fixed batch", len(c.Job.Batch), c.Job.BatchID)
	}
	s.failOnce(c)
}

func (s *scenario) giveUpAndDisable(c references.DeliveryClaim) {
	if len(c.Job.Batch) < 2 || c.Job.BatchID == "" {
		s.t.Fatalf("the batch endpoint's job has %d updates, batch id %q; want a fixed batch of 2", len(c.Job.Batch), c.Job.BatchID)
	}
	a := s.attempt(c.Job, references.OutcomeGaveUp)
	a.NextRetryAt, a.Disable = nil, references.DisabledFailing
	s.record(c, c.Job, a)
	s.must("ReleaseLease", s.b.ReleaseLease(s.ctx, c.Lease))
}

// view is everything the contract reads of a world, for comparing two stores.
type view struct {
	Accounts       []references.Account
	Keys           []references.APIKey
	Audit          [][]references.AuditEntry
	Endpoints      [][]references.Endpoint
	References     [][]references.Reference
	Gets           []references.Reference
	Shipments      []*references.Shipment
	Feeds          [][]references.Update
	AccountFeeds   []references.AccountUpdatePage
	Deliveries     []references.DeliveryPage
	Messages       []references.MessagePage
	Bodies         []references.MessageBody
	Events         [][]references.AccountEvent
	EndpointStats  []references.EndpointStats
	Stats          references.Stats
	IdemReplay     references.Reference
	IdemReplayed   bool
	BatchReplay    []references.CreateResult
	KeyLookups     []references.APIKey
	MessageDetails []references.Message
	Summaries      []map[string]references.ShipmentSummary // of the unfiltered list, by account
	Counts         []map[references.Status]int
	ByID           []references.Reference // ReferenceByID of every reference
	PushDeletions  []references.PushDeletion
}

// read reads w back from b through the contract.
func read(t *testing.T, b references.Backend, w world) view {
	t.Helper()
	ctx := t.Context()
	var v view
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read %s: %v", what, err)
		}
	}
	keys, err := b.ListAPIKeys(ctx, "")
	fail("keys", err)
	v.Keys = keys
	for _, k := range keys {
		got, err := b.LookupAPIKey(ctx, k.Hash)
		fail("key", err)
		v.KeyLookups = append(v.KeyLookups, got)
	}
	for _, acct := range w.accounts {
		a, err := b.GetAccount(ctx, acct)
		fail("account", err)
		v.Accounts = append(v.Accounts, a)
		audit, err := b.ListAudit(ctx, acct, 0, 1000)
		fail("audit", err)
		v.Audit = append(v.Audit, audit)
		eps, err := b.ListEndpoints(ctx, acct, references.ListQuery{Limit: 100})
		fail("endpoints", err)
		v.Endpoints = append(v.Endpoints, eps.Endpoints)
		q, err := references.ListQuery{Limit: 100}.Normalize()
		fail("query", err)
		refs, err := b.ListReferences(ctx, acct, q)
		fail("references", err)
		v.References = append(v.References, refs.References)
		v.Summaries = append(v.Summaries, refs.Summaries)
		counts, err := b.CountReferences(ctx, acct)
		fail("counts", err)
		v.Counts = append(v.Counts, counts)
		// By ETA (the latest snapshot's), and found by a container of the snapshots.
		for _, q := range []references.ListQuery{{Limit: 100, Sort: references.SortETA}, {Limit: 100, Identifier: "MSCU1234566"}} {
			q, err := q.Normalize()
			fail("query", err)
			refs, err := b.ListReferences(ctx, acct, q)
			fail("references", err)
			if len(refs.References) == 0 {
				t.Fatalf("ListReferences(%s, %+v) found nothing", acct, q)
			}
			v.References = append(v.References, refs.References)
		}
		feed, err := b.ListAccountUpdates(ctx, acct, references.AccountUpdateQuery{Limit: 1000})
		fail("account feed", err)
		v.AccountFeeds = append(v.AccountFeeds, feed)
		events, err := b.ListAccountEvents(ctx, acct, 0, 1000)
		fail("account events", err)
		v.Events = append(v.Events, events)
		for _, id := range w.refs[acct] {
			ref, err := b.GetReference(ctx, acct, id)
			fail("reference", err)
			v.Gets = append(v.Gets, ref)
			byID, err := b.ReferenceByID(ctx, id)
			fail("reference by id", err)
			v.ByID = append(v.ByID, byID)
			ship, err := b.Shipment(ctx, id)
			fail("shipment", err)
			v.Shipments = append(v.Shipments, ship)
			ups, err := b.ListUpdates(ctx, acct, id, 0, 1000)
			fail("updates", err)
			v.Feeds = append(v.Feeds, ups)
			dels, err := b.ListDeliveries(ctx, acct, id, references.DeliveryQuery{Limit: 1000})
			fail("deliveries", err)
			v.Deliveries = append(v.Deliveries, dels)
		}
		for _, id := range w.endpoints[acct] {
			msgs, err := b.ListMessages(ctx, acct, id, references.MessageQuery{Limit: 1000})
			fail("messages", err)
			v.Messages = append(v.Messages, msgs)
			for _, m := range msgs.Messages {
				full, body, err := b.GetMessage(ctx, acct, id, m.ID)
				fail("message", err)
				v.MessageDetails = append(v.MessageDetails, full)
				v.Bodies = append(v.Bodies, body)
			}
			st, err := b.EndpointStats(ctx, acct, id, Start)
			fail("endpoint stats", err)
			v.EndpointStats = append(v.EndpointStats, st)
		}
	}
	v.PushDeletions, err = b.ListPushDeletions(ctx, 1000)
	fail("push deletions", err)
	v.Stats, err = b.Stats(ctx)
	fail("stats", err)
	v.Stats.FileBytes, v.Stats.Commits = 0, 0 // the file's own
	ref, replayed, err := b.CreateReference(ctx, references.Reference{ID: "ref_never", AccountID: w.idemRef.AccountID},
		references.CreateOptions{Idempotency: &w.idemKey})
	fail("idempotent replay", err)
	v.IdemReplay, v.IdemReplayed = ref, replayed
	results, replayed, err := b.CreateReferences(ctx, acctA, []references.BatchItem{{}, {}, {}},
		references.CreateOptions{Idempotency: &w.batchKey})
	fail("idempotent batch replay", err)
	if !replayed {
		t.Fatal("the batch create was not replayed")
	}
	v.BatchReplay = results
	return v
}

// claimView is what the stores hand out next: every due delivery (with its job) and
// poll, by lease key.
type claimView struct {
	Deliveries    map[string]references.DeliveryJob
	Polls         []string
	PushDeletions []references.PushDeletion
}

// claimAll claims every due delivery and poll of b.
func claimAll(t *testing.T, b references.Backend) claimView {
	t.Helper()
	ctx := t.Context()
	v := claimView{Deliveries: map[string]references.DeliveryJob{}}
	claims, err := b.ClaimDueDeliveries(ctx, "checker", 1000, lease)
	if err != nil {
		t.Fatalf("ClaimDueDeliveries: %v", err)
	}
	for _, c := range claims {
		job := c.Job
		if job.Endpoint != nil {
			// Set by the backend's clock when wake enabled it: PostgreSQL's to the
			// microsecond.
			ep := *job.Endpoint
			ep.UpdatedAt = ep.UpdatedAt.UTC().Truncate(time.Microsecond)
			job.Endpoint = &ep
		}
		if job.FirstAttemptAt.IsZero() {
			job.FirstAttemptAt = time.Time{}
		} else {
			// Kept to the microsecond by PostgreSQL's columns.
			job.FirstAttemptAt = job.FirstAttemptAt.UTC().Truncate(time.Microsecond)
		}
		v.Deliveries[c.Lease.Key] = job
	}
	polls, err := b.ClaimDuePolls(ctx, "checker", 1000, lease)
	if err != nil {
		t.Fatalf("ClaimDuePolls: %v", err)
	}
	for _, c := range polls {
		v.Polls = append(v.Polls, c.Reference.ID)
	}
	slices.Sort(v.Polls)
	deletions, err := b.ClaimPushDeletions(ctx, "checker", 1000, lease)
	if err != nil {
		t.Fatalf("ClaimPushDeletions: %v", err)
	}
	for _, c := range deletions {
		d := c.Deletion
		d.QueuedAt = d.QueuedAt.UTC().Truncate(time.Microsecond) // see normalise
		v.PushDeletions = append(v.PushDeletions, d)
	}
	return v
}

// keysOf lists a claim view's delivery keys, sorted, for messages.
func keysOf(v claimView) string {
	var keys []string
	for k := range v.Deliveries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, " ")
}

// wake resumes the world's paused reference and enables its disabled endpoint: the
// work that waited for them is due.
func wake(t *testing.T, b references.Backend, w world, at time.Time) {
	t.Helper()
	if _, err := b.ResumeReference(t.Context(), acctA, w.paused, at); err != nil {
		t.Fatalf("ResumeReference: %v", err)
	}
	_, err := b.PatchEndpoint(t.Context(), acctA, w.disabled, func(ep *references.Endpoint) error {
		ep.Enabled, ep.DisabledReason, ep.DisabledAt = true, "", nil
		return nil
	})
	if err != nil {
		t.Fatalf("PatchEndpoint: %v", err)
	}
}
