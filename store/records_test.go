package store

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestRecords_CoverEveryField fails when a field is added to a domain type the store
// keeps as JSON (or reads as JSON from older files) and not to its record: the field
// would be lost on its way through the file.
func TestRecords_CoverEveryField(t *testing.T) {
	pairs := []struct{ domain, record reflect.Type }{
		{reflect.TypeFor[references.Account](), reflect.TypeFor[accountRecord]()},
		{reflect.TypeFor[references.WebhookSecret](), reflect.TypeFor[webhookSecretRecord]()},
		{reflect.TypeFor[references.APIKey](), reflect.TypeFor[apiKeyRecord]()},
		{reflect.TypeFor[references.DeliveryAttempt](), reflect.TypeFor[attemptRecord]()},
		{reflect.TypeFor[references.Reference](), reflect.TypeFor[referenceRecord]()},
		{reflect.TypeFor[references.Shipment](), reflect.TypeFor[shipmentRecord]()},
		{reflect.TypeFor[references.Event](), reflect.TypeFor[eventRecord]()},
		{reflect.TypeFor[references.Location](), reflect.TypeFor[locationRecord]()},
		{reflect.TypeFor[references.TransportCall](), reflect.TypeFor[transportCallRecord]()},
		{reflect.TypeFor[references.Update](), reflect.TypeFor[updateRecord]()},
		{reflect.TypeFor[references.ReferenceSummary](), reflect.TypeFor[summaryRecord]()},
		{reflect.TypeFor[references.Change](), reflect.TypeFor[changeRecord]()},
	}
	names := func(t reflect.Type) []string {
		var out []string
		for f := range t.Fields() {
			out = append(out, f.Name)
		}
		return out
	}
	for _, p := range pairs {
		if got, want := names(p.record), names(p.domain); !slices.Equal(got, want) {
			t.Errorf("%s has fields %v, %s has %v: add the field to the record and its conversions", p.record, got, p.domain, want)
		}
	}
}

// TestRecords_ConvertEveryField converts random values to their records and back.
func TestRecords_ConvertEveryField(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	check := func(name string, v any, back func() any) {
		t.Helper()
		if got := back(); !reflect.DeepEqual(got, v) {
			t.Fatalf("%s after its record:\n got %+v\nwant %+v", name, got, v)
		}
	}
	for range 50 {
		var a references.Account
		var k references.APIKey
		var at references.DeliveryAttempt
		var r references.Reference
		var s references.Shipment
		var u references.Update
		for _, v := range []any{&a, &k, &at, &r, &s, &u} {
			fill(rng, reflect.ValueOf(v).Elem())
		}
		check("account", a, func() any { return newAccountRecord(&a).account() })
		check("API key", k, func() any { return newAPIKeyRecord(&k).apiKey() })
		check("attempt", at, func() any { return newAttemptRecord(&at).attempt() })
		check("reference", r, func() any { return newReferenceRecord(&r).reference() })
		check("shipment", &s, func() any { return newShipmentRecord(&s).shipment() })
		check("update", u, func() any { return newUpdateRecord(&u).update() })
	}
}

// TestSessionRecord_CoversEveryField: a session's record holds every field of the
// session but its token hash, which is its key, and converts back to the same session.
func TestSessionRecord_CoversEveryField(t *testing.T) {
	var want []string
	for f := range reflect.TypeFor[references.Session]().Fields() {
		if f.Name != "TokenHash" {
			want = append(want, f.Name)
		}
	}
	var got []string
	for f := range reflect.TypeFor[sessionRecord]().Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("sessionRecord has fields %v, references.Session %v (less TokenHash): add the field to the record and its conversions", got, want)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for range 20 {
		var s references.Session
		fill(rng, reflect.ValueOf(&s).Elem())
		if back := newSessionRecord(&s).session(s.TokenHash); !reflect.DeepEqual(back, s) {
			t.Fatalf("session after its record:\n got %+v\nwant %+v", back, s)
		}
	}
}
