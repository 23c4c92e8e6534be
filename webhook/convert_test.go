package webhook

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestConvert_CoversEveryField fails when a field is added to a domain type that an
// update carries and not to its wire form (and to convert.go), so that it is never
// silently left out of webhooks and the feed. Fields of the wire form derived from
// others (an update's tags, from its changes) are named in derived.
func TestConvert_CoversEveryField(t *testing.T) {
	pairs := []struct {
		domain, wire reflect.Type
		derived      []string
	}{
		{reflect.TypeFor[references.Update](), reflect.TypeFor[Update](), []string{"Tags"}},
		{reflect.TypeFor[references.ReferenceSummary](), reflect.TypeFor[ReferenceSummary](), nil},
		{reflect.TypeFor[references.Change](), reflect.TypeFor[Change](), nil},
		{reflect.TypeFor[references.Shipment](), reflect.TypeFor[Shipment](), nil},
		{reflect.TypeFor[references.Container](), reflect.TypeFor[Container](), nil},
		{reflect.TypeFor[references.Event](), reflect.TypeFor[Event](), nil},
		{reflect.TypeFor[references.Location](), reflect.TypeFor[Location](), nil},
		{reflect.TypeFor[references.TransportCall](), reflect.TypeFor[TransportCall](), nil},
	}
	// Domain fields the wire leaves out on purpose. RevisedAt orders a source's
	// revisions in the store (tracking.UnionEvents): it is not news to a user.
	internal := map[reflect.Type][]string{reflect.TypeFor[references.Event](): {"RevisedAt"}}
	for _, p := range pairs {
		got := slices.DeleteFunc(fieldNames(p.wire), func(name string) bool { return slices.Contains(p.derived, name) })
		want := slices.DeleteFunc(fieldNames(p.domain), func(name string) bool { return slices.Contains(internal[p.domain], name) })
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v, %s has %v: add the field to the wire type and convert.go", p.wire, got, p.domain, want)
		}
	}
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		names = append(names, f.Name)
	}
	return names
}

func TestConvert_RoundTripsEveryField(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []references.Update{{}}
	for range 100 {
		var u references.Update
		fillRandom(rng, reflect.ValueOf(&u).Elem())
		values = append(values, u)
	}
	empty := references.Update{Changes: []references.Change{}, Shipment: &references.Shipment{Events: []references.Event{}}}
	noMilestones := references.Update{Shipment: &references.Shipment{
		Containers: []references.Container{{Number: "MSCU1234566", Milestones: []references.Event{}}, {}},
	}}
	values = append(values, empty, noMilestones)
	for i, u := range values {
		w := NewUpdate(u)
		if got := w.Domain(); !reflect.DeepEqual(got, u) {
			t.Fatalf("value %d:\n got %+v\nwant %+v", i, got, u)
		}
	}
	if NewShipment(nil) != nil || NewChanges(nil) != nil || NewUpdates(nil) != nil {
		t.Error("nil did not stay nil")
	}
}

// fillRandom sets every field of v to a random value that is not zero, recursively.
func fillRandom(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(string(rune('a' + rng.IntN(26))))
	case reflect.Int, reflect.Int64:
		v.SetInt(1 + rng.Int64N(1000))
	case reflect.Uint64:
		v.SetUint(1 + rng.Uint64N(1000))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(rng, v.Elem())
	case reflect.Slice:
		n := 1 + rng.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fillRandom(rng, v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillRandom(rng, k)
		fillRandom(rng, e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("", 3600*rng.IntN(10)))))
			return
		}
		for i := range v.NumField() {
			fillRandom(rng, v.Field(i))
		}
		if ev, ok := v.Addr().Interface().(*references.Event); ok {
			ev.RevisedAt = time.Time{} // internal: not on the wire (see TestConvert_CoversEveryField)
		}
	default:
		panic("fillRandom: no rule for " + v.Type().String())
	}
}

// The wire tags are the update's own, whatever an endpoint's min_eta_change: every
// destination gets the same body.
func TestNewUpdate_TagsAreTheUpdatesTags(t *testing.T) {
	t.Parallel()
	small := references.Change{Type: references.ChangeETAChanged, Old: "2026-04-06T07:00:00Z", New: "2026-04-06T07:01:00Z"}
	tests := []struct {
		name    string
		changes []references.Change
		want    []string
	}{
		{"no changes", []references.Change{}, nil},
		{"a one-minute ETA move", []references.Change{small}, []string{references.TagETAChanged}},
		{"in the order of references.Tags, once each", []references.Change{
			{Type: references.ChangeLocationChanged}, small, {Type: references.ChangeActualized}, small,
		}, []string{references.TagETAChanged, references.TagMilestoneActual, references.TagLocationChanged}},
	}
	for _, tt := range tests {
		u := NewUpdate(references.Update{ID: "upd_1", Type: references.UpdateShipment, Changes: tt.changes})
		if !slices.Equal(u.Tags, tt.want) {
			t.Errorf("%s: tags %v, want %v", tt.name, u.Tags, tt.want)
		}
	}
}
