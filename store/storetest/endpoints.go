package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Receiver URLs of the suite's endpoints.
const (
	epURL1 = "https://receiver.example/endpoints/1"
	epURL2 = "https://receiver.example/endpoints/2"
)

// runEndpoints exercises the endpoint records of EndpointStore: create with its quota,
// get, list, patch, delete, secret rotation, the reads of an endpoint without messages,
// and that no account reaches another's endpoint.
func runEndpoints(t *testing.T, open Opener) {
	t.Run("Endpoints", func(t *testing.T) {
		t.Run("CreateStoresEveryFieldDurably", func(t *testing.T) {
			f := setup(t, open)
			want := f.newEndpoint(acctA, func(ep *references.Endpoint) {
				ep.Description = "orders team"
				ep.EventTypes = []string{"shipment.*", references.EventEndpointDisabled}
				ep.MinETAChange = 6 * time.Hour
				ep.Filter = references.EndpointFilter{CarrierCodes: []string{"MSCU", "MAEU"}, Metadata: map[string]string{"campaign": "spring"}}
				ep.Format, ep.BatchSize = references.FormatBatch, 20
				ep.Headers = references.HeadersSvix
				ep.MaxAttempts, ep.RetryWindow, ep.DisableAfter = 5, 0, 0
			})
			got, err := f.b.CreateEndpoint(f.ctx, want, 0)
			if err != nil {
				t.Fatalf("CreateEndpoint: %v", err)
			}
			if d := endpointDiff(got, want); d != "" {
				t.Errorf("CreateEndpoint returned another endpoint: %s", d)
			}
			f.crash()
			if d := endpointDiff(f.getEndpoint(acctA, want.ID), want); d != "" {
				t.Errorf("GetEndpoint after a crash: %s", d)
			}
		})

		t.Run("ListPagesInCreationOrder", func(t *testing.T) {
			f := setup(t, open)
			var want []string
			for range 5 {
				want = append(want, f.createEndpoint(acctA, nil).ID)
				f.createEndpoint(acctB, nil) // another account's, never listed
				f.clk.Advance(time.Second)
			}
			var got []string
			pages := 0
			for q := (references.ListQuery{Limit: 2}); ; pages++ {
				page, err := f.b.ListEndpoints(f.ctx, acctA, q)
				if err != nil {
					t.Fatalf("ListEndpoints(%+v): %v", q, err)
				}
				for _, ep := range page.Endpoints {
					got = append(got, ep.ID)
				}
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if !slices.Equal(got, want) || pages != 2 {
				t.Errorf("pages of 2 gave %q in %d pages after the first, want %q in 2", got, pages, want)
			}
			all, err := f.b.ListEndpoints(f.ctx, acctA, references.ListQuery{})
			if err != nil || len(all.Endpoints) != 5 || all.NextCursor != "" {
				t.Errorf("ListEndpoints without a limit = %d endpoints, cursor %q, %v; want all 5", len(all.Endpoints), all.NextCursor, err)
			}
			_, err = f.b.ListEndpoints(f.ctx, acctA, references.ListQuery{Cursor: "not a cursor!"})
			wantCode(t, "a cursor the backend did not make", err, references.CodeInvalid)
		})

		t.Run("QuotaCountsTheAccountsEndpoints", func(t *testing.T) {
			f := setup(t, open)
			first := f.createEndpointMax(acctA, 2)
			f.createEndpointMax(acctA, 2)
			_, err := f.b.CreateEndpoint(f.ctx, f.newEndpoint(acctA, nil), 2)
			wantCode(t, "a third endpoint under a quota of 2", err, references.CodeQuotaExceeded)
			f.createEndpointMax(acctB, 2) // another account's count
			f.createEndpoint(acctA, nil)  // no quota asked for
			if page := f.listEndpoints(acctA); len(page) != 3 {
				t.Errorf("%d endpoints, want 3: the refused create stored nothing", len(page))
			}
			f.deleteEndpoint(acctA, first.ID)
			f.deleteEndpoint(acctA, f.listEndpoints(acctA)[0].ID)
			f.createEndpointMax(acctA, 2) // deleting made room
		})

		t.Run("PatchAppliesTheChangeAtTheBackendsClock", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			f.clk.Advance(time.Minute)
			got, err := f.b.PatchEndpoint(f.ctx, acctA, ep.ID, func(e *references.Endpoint) error {
				e.URL, e.Description, e.EventTypes = epURL2, "new", []string{"tracking.failed"}
				return nil
			})
			if err != nil {
				t.Fatalf("PatchEndpoint: %v", err)
			}
			want := ep
			want.URL, want.Description, want.EventTypes, want.UpdatedAt = epURL2, "new", []string{"tracking.failed"}, f.now()
			if d := endpointDiff(got, want); d != "" {
				t.Errorf("PatchEndpoint returned: %s", d)
			}
			f.restart()
			if d := endpointDiff(f.getEndpoint(acctA, ep.ID), want); d != "" {
				t.Errorf("GetEndpoint after a patch and a restart: %s", d)
			}
		})

		t.Run("AnErrorFromTheChangeWritesNothing", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			f.clk.Advance(time.Minute)
			refused := references.Invalidf("url", "is not https")
			_, err := f.b.PatchEndpoint(f.ctx, acctA, ep.ID, func(e *references.Endpoint) error {
				e.URL, e.Enabled = epURL2, false
				return refused
			})
			if !errors.Is(err, refused) {
				t.Errorf("PatchEndpoint = %v, want the change's error", err)
			}
			if d := endpointDiff(f.getEndpoint(acctA, ep.ID), ep); d != "" {
				t.Errorf("the refused change was written: %s", d)
			}
		})

		t.Run("DisableAndReEnable", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			f.clk.Advance(time.Minute)
			off := f.patchEndpoint(acctA, ep.ID, func(e *references.Endpoint) { e.Disable(references.DisabledByUser, f.now()) })
			f.restart()
			if got := f.getEndpoint(acctA, ep.ID); got.Enabled || got.DisabledReason != references.DisabledByUser || !sameTime(got.DisabledAt, off.DisabledAt) {
				t.Errorf("after disabling: enabled %t, reason %q, at %v", got.Enabled, got.DisabledReason, got.DisabledAt)
			}
			f.clk.Advance(time.Minute)
			on := f.patchEndpoint(acctA, ep.ID, func(e *references.Endpoint) {
				e.Enabled, e.DisabledReason, e.DisabledAt = true, "", nil
			})
			if got := f.getEndpoint(acctA, ep.ID); !got.Enabled || got.DisabledReason != "" || got.DisabledAt != nil || !got.UpdatedAt.Equal(on.UpdatedAt) {
				t.Errorf("after re-enabling: enabled %t, reason %q, at %v, updated %v", got.Enabled, got.DisabledReason, got.DisabledAt, got.UpdatedAt)
			}
		})

		t.Run("DeleteRemovesTheEndpoint", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			kept := f.createEndpoint(acctA, nil)
			f.deleteEndpoint(acctA, ep.ID)
			f.crash()
			_, err := f.b.GetEndpoint(f.ctx, acctA, ep.ID)
			wantCode(t, "GetEndpoint of a deleted endpoint", err, references.CodeNotFound)
			_, err = f.b.ListMessages(f.ctx, acctA, ep.ID, references.MessageQuery{})
			wantCode(t, "ListMessages of a deleted endpoint", err, references.CodeNotFound)
			err = f.b.DeleteEndpoint(f.ctx, acctA, ep.ID)
			wantCode(t, "deleting it twice", err, references.CodeNotFound)
			if got := f.listEndpoints(acctA); len(got) != 1 || got[0].ID != kept.ID {
				t.Errorf("endpoints after a delete = %v, want only %s", got, kept.ID)
			}
		})

		t.Run("RotationReplacesAtOnceWithoutGrace", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			rotated := f.rotateEndpoint(acctA, ep.ID, "whsec_second", f.now())
			if live := rotated.LiveSecrets(f.now()); !slices.Equal(live, []string{"whsec_second"}) {
				t.Errorf("live secrets after a rotation with no grace = %q", live)
			}
			if live := f.liveEndpointSecrets(acctA, ep.ID); !slices.Equal(live, []string{"whsec_second"}) {
				t.Errorf("GetEndpoint's live secrets after a rotation with no grace = %q", live)
			}
		})

		t.Run("RotationKeepsTheOldSecretForItsGrace", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			first := ep.Secrets[0].Secret
			f.rotateEndpoint(acctA, ep.ID, "whsec_second", f.now().Add(time.Hour))
			f.restart()
			if live := f.liveEndpointSecrets(acctA, ep.ID); !slices.Equal(live, []string{"whsec_second", first}) {
				t.Errorf("live secrets during the grace = %q, want the new then the old", live)
			}
			f.clk.Advance(time.Hour)
			if live := f.liveEndpointSecrets(acctA, ep.ID); !slices.Equal(live, []string{"whsec_second"}) {
				t.Errorf("live secrets after the grace = %q, want only the new", live)
			}
		})

		t.Run("RotationKeepsAtMostThreeLive", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			for i := range 4 {
				f.clk.Advance(time.Second)
				f.rotateEndpoint(acctA, ep.ID, fmt.Sprintf("whsec_%d", i), f.now().Add(24*time.Hour))
			}
			want := []string{"whsec_3", "whsec_2", "whsec_1"}
			if live := f.liveEndpointSecrets(acctA, ep.ID); !slices.Equal(live, want) {
				t.Errorf("live secrets after 4 rotations = %q, want %q", live, want)
			}
		})

		t.Run("AnEndpointWithoutMessages", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			page, err := f.b.ListMessages(f.ctx, acctA, ep.ID, references.MessageQuery{})
			if err != nil || len(page.Messages) != 0 || page.NextCursor != "" {
				t.Errorf("ListMessages = %d messages, cursor %q, %v; want none", len(page.Messages), page.NextCursor, err)
			}
			_, err = f.b.ListMessages(f.ctx, acctA, ep.ID, references.MessageQuery{Status: "lost"})
			wantCode(t, "ListMessages of an unknown status", err, references.CodeInvalid)
			_, _, err = f.b.GetMessage(f.ctx, acctA, ep.ID, "upd_none")
			wantCode(t, "GetMessage of an unknown message", err, references.CodeNotFound)
			err = f.b.ResendMessage(f.ctx, acctA, ep.ID, "upd_none", f.now())
			wantCode(t, "ResendMessage of an unknown message", err, references.CodeNotFound)
			if n, err := f.b.RecoverMessages(f.ctx, acctA, ep.ID, f.now().Add(-time.Hour), f.now()); n != 0 || err != nil {
				t.Errorf("RecoverMessages = %d, %v; want 0", n, err)
			}
			st, err := f.b.EndpointStats(f.ctx, acctA, ep.ID, f.now().Add(-24*time.Hour))
			if err != nil || st.Attempts != 0 || st.SuccessRate != 0 || st.LatencyP50MS != 0 {
				t.Errorf("EndpointStats = %+v, %v; want nothing counted", st, err)
			}
			for _, s := range references.MessageStatuses {
				if st.Counts[s] != 0 {
					t.Errorf("EndpointStats counts %d %s messages, want 0", st.Counts[s], s)
				}
			}
			events, err := f.b.ListAccountEvents(f.ctx, acctA, 0, 10)
			if err != nil || len(events) != 0 {
				t.Errorf("ListAccountEvents = %d events, %v; want none", len(events), err)
			}
		})

		t.Run("AnotherAccountsEndpointIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			ep := f.createEndpoint(acctA, nil)
			f.createEndpoint(acctB, nil) // acctB has endpoints of its own
			calls := []struct {
				name string
				call func() error
			}{
				{"GetEndpoint", func() error { _, err := f.b.GetEndpoint(f.ctx, acctB, ep.ID); return err }},
				{"PatchEndpoint", func() error {
					_, err := f.b.PatchEndpoint(f.ctx, acctB, ep.ID, func(e *references.Endpoint) error { e.URL = epURL2; return nil })
					return err
				}},
				{"RotateEndpointSecret", func() error {
					_, err := f.b.RotateEndpointSecret(f.ctx, acctB, ep.ID, "whsec_stolen", f.now(), "key_suite")
					return err
				}},
				{"DeleteEndpoint", func() error { return f.b.DeleteEndpoint(f.ctx, acctB, ep.ID) }},
				{"ListMessages", func() error {
					_, err := f.b.ListMessages(f.ctx, acctB, ep.ID, references.MessageQuery{})
					return err
				}},
				{"GetMessage", func() error { _, _, err := f.b.GetMessage(f.ctx, acctB, ep.ID, "upd_x"); return err }},
				{"ResendMessage", func() error { return f.b.ResendMessage(f.ctx, acctB, ep.ID, "upd_x", f.now()) }},
				{"RecoverMessages", func() error {
					_, err := f.b.RecoverMessages(f.ctx, acctB, ep.ID, f.now().Add(-time.Hour), f.now())
					return err
				}},
				{"EndpointStats", func() error { _, err := f.b.EndpointStats(f.ctx, acctB, ep.ID, f.now().Add(-time.Hour)); return err }},
			}
			for _, c := range calls {
				if err := c.call(); !errors.Is(err, references.ErrNotFound) {
					t.Errorf("%s of another account's endpoint: %v, want ErrNotFound", c.name, err)
				}
			}
			if d := endpointDiff(f.getEndpoint(acctA, ep.ID), ep); d != "" {
				t.Errorf("another account's calls changed the endpoint: %s", d)
			}
			if got := f.listEndpoints(acctB); len(got) != 1 || got[0].ID == ep.ID {
				t.Errorf("acctB lists %d endpoints, want only its own", len(got))
			}
		})
	})
}

// newEndpoint returns an enabled endpoint of the account as the Service makes one: a
// new id and secret, created now, with the defaults; mod changes it before it is
// stored.
func (f *fixture) newEndpoint(accountID string, mod func(*references.Endpoint)) references.Endpoint {
	now := f.now()
	ep := references.Endpoint{
		ID:           references.NewID("ep_"),
		AccountID:    accountID,
		URL:          epURL1,
		Format:       references.FormatStandard,
		Headers:      references.HeadersStandard,
		DisableAfter: references.DefaultDisableAfter,
		Enabled:      true,
		Secrets:      []references.WebhookSecret{{Secret: "whsec_ep_" + references.NewID(""), CreatedAt: now}},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if mod != nil {
		mod(&ep)
	}
	return ep
}

// createEndpoint stores a new endpoint of the account (see newEndpoint), with no quota.
func (f *fixture) createEndpoint(accountID string, mod func(*references.Endpoint)) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.CreateEndpoint(f.ctx, f.newEndpoint(accountID, mod), 0)
	if err != nil {
		f.t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

// createEndpointMax stores a new endpoint of the account under a quota of max.
func (f *fixture) createEndpointMax(accountID string, max int) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.CreateEndpoint(f.ctx, f.newEndpoint(accountID, nil), max)
	if err != nil {
		f.t.Fatalf("CreateEndpoint under a quota of %d: %v", max, err)
	}
	return ep
}

// getEndpoint reads an endpoint of the account, failing the test if it cannot.
func (f *fixture) getEndpoint(accountID, id string) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.GetEndpoint(f.ctx, accountID, id)
	if err != nil {
		f.t.Fatalf("GetEndpoint(%s): %v", id, err)
	}
	return ep
}

// listEndpoints returns the account's endpoints in one page.
func (f *fixture) listEndpoints(accountID string) []references.Endpoint {
	f.t.Helper()
	page, err := f.b.ListEndpoints(f.ctx, accountID, references.ListQuery{Limit: references.MaxPageSize})
	if err != nil {
		f.t.Fatalf("ListEndpoints(%s): %v", accountID, err)
	}
	return page.Endpoints
}

// patchEndpoint applies change to an endpoint, failing the test on error.
func (f *fixture) patchEndpoint(accountID, id string, change func(*references.Endpoint)) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.PatchEndpoint(f.ctx, accountID, id, func(e *references.Endpoint) error { change(e); return nil })
	if err != nil {
		f.t.Fatalf("PatchEndpoint(%s): %v", id, err)
	}
	return ep
}

// deleteEndpoint deletes an endpoint, failing the test on error.
func (f *fixture) deleteEndpoint(accountID, id string) {
	f.t.Helper()
	if err := f.b.DeleteEndpoint(f.ctx, accountID, id); err != nil {
		f.t.Fatalf("DeleteEndpoint(%s): %v", id, err)
	}
}

// rotateEndpoint rotates an endpoint's secret, failing the test on error.
func (f *fixture) rotateEndpoint(accountID, id, secret string, graceUntil time.Time) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.RotateEndpointSecret(f.ctx, accountID, id, secret, graceUntil, "key_suite")
	if err != nil {
		f.t.Fatalf("RotateEndpointSecret(%s): %v", id, err)
	}
	return ep
}

// liveEndpointSecrets returns the secrets a stored endpoint signs with now, newest
// first.
func (f *fixture) liveEndpointSecrets(accountID, id string) []string {
	f.t.Helper()
	ep := f.getEndpoint(accountID, id)
	return ep.LiveSecrets(f.now())
}

// endpointDiff names the first field in which got differs from want, or is "". Empty
// and nil lists are the same, and times are compared as instants, so that every
// backend's encoding passes.
func endpointDiff(got, want references.Endpoint) string {
	fields := []struct {
		name string
		same bool
	}{
		{"ID", got.ID == want.ID},
		{"AccountID", got.AccountID == want.AccountID},
		{"URL", got.URL == want.URL},
		{"Description", got.Description == want.Description},
		{"EventTypes", slices.Equal(got.EventTypes, want.EventTypes)},
		{"MinETAChange", got.MinETAChange == want.MinETAChange},
		{"Filter.CarrierCodes", slices.Equal(got.Filter.CarrierCodes, want.Filter.CarrierCodes)},
		{"Filter.Metadata", maps.Equal(got.Filter.Metadata, want.Filter.Metadata)},
		{"Format", got.Format == want.Format},
		{"BatchSize", got.BatchSize == want.BatchSize},
		{"Headers", got.Headers == want.Headers},
		{"MaxAttempts", got.MaxAttempts == want.MaxAttempts},
		{"RetryWindow", got.RetryWindow == want.RetryWindow},
		{"DisableAfter", got.DisableAfter == want.DisableAfter},
		{"Enabled", got.Enabled == want.Enabled},
		{"DisabledReason", got.DisabledReason == want.DisabledReason},
		{"DisabledAt", sameTime(got.DisabledAt, want.DisabledAt)},
		{"FailingSince", sameTime(got.FailingSince, want.FailingSince)},
		{"Secrets", slices.EqualFunc(got.Secrets, want.Secrets, func(a, b references.WebhookSecret) bool {
			return a.Secret == b.Secret && a.CreatedAt.Equal(b.CreatedAt) && sameTime(a.ExpiresAt, b.ExpiresAt)
		})},
		{"CreatedAt", got.CreatedAt.Equal(want.CreatedAt)},
		{"UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt)},
	}
	for _, fl := range fields {
		if !fl.same {
			return fmt.Sprintf("%s differs:\n got %+v\nwant %+v", fl.name, got, want)
		}
	}
	return ""
}
