package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestCodec_CoversEveryField lists the fields the binary codec writes for each type.
// A field added to one of these types must be added to codec.go (encoder and decoder)
// and then here; until then this test fails, rather than the field silently being
// lost on its way through the store.
func TestCodec_CoversEveryField(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[references.Shipment]():         {"Events", "Status", "Origin", "Destination", "CurrentLocation", "CurrentVessel", "ETA", "Containers"},
		reflect.TypeFor[references.Container]():        {"Number", "ISOEquipmentCode", "Status", "CurrentLocation", "LastEvent", "Milestones"},
		reflect.TypeFor[references.Event]():            {"ID", "Type", "Classifier", "Code", "Time", "RevisedAt", "Location", "TransportCall", "EquipmentReference", "ISOEquipmentCode", "EmptyIndicator", "Description"},
		reflect.TypeFor[references.Location]():         {"UNLocode", "Name"},
		reflect.TypeFor[references.TransportCall]():    {"VesselName", "VesselIMO", "Voyage", "ModeOfTransport"},
		reflect.TypeFor[references.Update]():           {"ID", "ReferenceID", "Sequence", "Type", "CreatedAt", "Reference", "Changes", "Shipment", "Error", "UnsubscribeReason"},
		reflect.TypeFor[references.ReferenceSummary](): {"ID", "ContainerID", "BillOfLading", "BookingNumber", "CarrierCode", "Metadata"},
		reflect.TypeFor[references.Change]():           {"Type", "Description", "Old", "New", "Container", "Event"},
		reflect.TypeFor[deliveryState]():               {"DueAt", "Attempts", "FirstAttemptAt"},
		// Written by encodeFacts (search.go), with the codec's encoder.
		reflect.TypeFor[references.ShipmentSummary](): {"Status", "Origin", "Destination", "ETA", "FirstETA"},
		reflect.TypeFor[streamState]():                {"DueAt", "Attempts", "FirstAttemptAt", "BatchID", "BatchEnd"},
		reflect.TypeFor[references.Message]():         {"EndpointID", "AccountID", "ID", "ReferenceID", "Sequence", "EventType", "Tags", "CreatedAt", "Status", "FailReason", "NextAttemptAt", "BatchID", "Attempts"},
		reflect.TypeFor[references.DeliveryAttempt](): {"Destination", "ReferenceID", "UpdateID", "Sequence", "Attempt", "URL", "At", "StatusCode", "Error", "LatencyMS", "ResponseBody", "Outcome", "NextRetryAt", "Redelivery", "Disable"},
		reflect.TypeFor[references.Reference](): {
			"ID", "AccountID", "ContainerID", "BillOfLading", "BookingNumber", "CarrierCode", "CarrierDetected", "CallbackURL", "EventTypes", "Metadata", "PollInterval",
			"Status", "UnsubscribeReason", "UnsubscribedAt", "CreatedAt", "UpdatedAt",
			"LastPolledAt", "NextPollAt", "LastPollError", "ConsecutiveFailures", "NotFoundSince",
			"LastSequence", "DeliveredSequence", "DeliveryState", "FailingSince",
			"PausedAt", "PausedFor", "LastRefreshAt", "Push",
		},
		reflect.TypeFor[references.PushSubscription](): {"Source", "ID", "Secrets", "CreatedAt", "RotatedAt", "CheckedAt", "LastPushAt"},
		reflect.TypeFor[references.PushSecret]():       {"Key", "Until"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v; store/codec.go writes %v: update the codec, then this list", typ, got, want)
		}
	}
}

// fill sets every field of the value v points to to something random and not zero:
// strings, numbers, times in various zones, pointers, slices and maps, recursively.
func fill(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(string(rune('a'+rng.IntN(26))) + "\x00é" + string(rune('0'+rng.IntN(10))))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8:
		v.SetUint(uint64(rng.IntN(256)))
	case reflect.Int, reflect.Int64:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Uint64:
		v.SetUint(rng.Uint64())
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(rng, v.Elem())
	case reflect.Slice:
		n := 1 + rng.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(rng, v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 1 + rng.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(rng, k)
			fill(rng, e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -5*3600-1800)}
			t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			fill(rng, v.Field(i))
		}
	default:
		panic("fill: no rule for " + v.Type().String())
	}
}

// viaJSON is v after a JSON round trip through its record (records_fallback.go), the
// way the store kept it before the binary form: the behaviour the codec must keep.
func viaJSON(t *testing.T, v any) []byte {
	t.Helper()
	data := asJSON(t, v)
	unmarshalInto := func(rec any) {
		t.Helper()
		if err := json.Unmarshal(data, rec); err != nil {
			t.Fatal(err)
		}
	}
	switch v.(type) {
	case *references.Shipment:
		var rec shipmentRecord
		unmarshalInto(&rec)
		return asJSON(t, rec.shipment())
	case *references.Update:
		var rec updateRecord
		unmarshalInto(&rec)
		u := rec.update()
		return asJSON(t, &u)
	case *references.Reference:
		var rec referenceRecord
		unmarshalInto(&rec)
		r := rec.reference()
		return asJSON(t, &r)
	case *deliveryState:
		var st deliveryState
		unmarshalInto(&st)
		return asJSON(t, &st)
	case *streamState:
		var st streamState
		unmarshalInto(&st)
		return asJSON(t, &st)
	case *references.Message:
		var rec messageRecord
		unmarshalInto(&rec)
		m := rec.message()
		return asJSON(t, &m)
	}
	t.Fatalf("viaJSON: no record for %T", v)
	return nil
}

// asJSON is the JSON form of a value the codec stores: the JSON of its record.
func asJSON(t *testing.T, v any) []byte {
	t.Helper()
	switch x := v.(type) {
	case *references.Shipment:
		v = newShipmentRecord(x)
	case *references.Update:
		v = newUpdateRecord(x)
	case *references.Reference:
		v = newReferenceRecord(x)
	case *references.Message:
		v = newMessageRecord(x)
	case *deliveryState, *streamState:
	default:
		t.Fatalf("asJSON: no record for %T", v)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// roundTrip checks that encode then decode gives what a JSON round trip gives, for
// random values, for values with nothing set, and for values with empty slices and
// maps (JSON tells some of those from nil).
func roundTrip[T any](t *testing.T, encode func(*T) []byte, decode func([]byte, *T) error) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var values []*T
	values = append(values, new(T))
	for range 200 {
		v := new(T)
		fill(rng, reflect.ValueOf(v).Elem())
		values = append(values, v)
	}
	empty := new(T)
	emptyCollections(reflect.ValueOf(empty).Elem())
	values = append(values, empty)
	for i, v := range values {
		data := encode(v)
		var back T
		if err := decode(data, &back); err != nil {
			t.Fatalf("value %d: decode: %v", i, err)
		}
		if got, want := asJSON(t, &back), viaJSON(t, v); !bytes.Equal(got, want) {
			t.Fatalf("value %d:\n got %s\nwant %s", i, got, want)
		}
		// And values written as JSON before are still read.
		var old T
		if err := decode(asJSON(t, v), &old); err != nil {
			t.Fatalf("value %d: decode of JSON: %v", i, err)
		}
	}
}

// emptyCollections sets the slices and maps of the struct v to empty, not nil.
func emptyCollections(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		}
	}
}

func TestCodec_RoundTripsAsJSONDid(t *testing.T) {
	t.Run("shipment", func(t *testing.T) { roundTrip(t, encodeShipment, decodeShipment) })
	t.Run("update", func(t *testing.T) { roundTrip(t, encodeUpdate, decodeUpdate) })
	t.Run("reference", func(t *testing.T) { roundTrip(t, encodeReference, decodeReference) })
	t.Run("delivery state", func(t *testing.T) { roundTrip(t, encodeDeliveryState, decodeDeliveryState) })
	t.Run("message", func(t *testing.T) { roundTrip(t, encodeMessage, decodeMessage) })
	t.Run("stream state", func(t *testing.T) { roundTrip(t, encodeStreamState, decodeStreamState) })
}

func TestCodec_CorruptValuesAreErrors(t *testing.T) {
	full := &references.Update{}
	fill(rand.New(rand.NewPCG(5, 6)), reflect.ValueOf(full).Elem())
	data := encodeUpdate(full)
	for n := 1; n < len(data); n++ {
		var u references.Update
		if err := decodeUpdate(data[:n], &u); !errors.Is(err, errCorrupt) {
			t.Fatalf("a value cut to %d of %d bytes: got %v, want errCorrupt", n, len(data), err)
		}
	}
	var u references.Update
	if err := decodeUpdate(append(data, 0), &u); !errors.Is(err, errCorrupt) {
		t.Fatalf("a value with a byte too many: got %v", err)
	}
}

// FuzzDecodeUpdate feeds stored bytes to the decoder, as a damaged file would: it must
// return an error or a value that encodes back to a value it reads the same way, and
// never panic or allocate without bound.
func FuzzDecodeUpdate(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 4 {
		u := &references.Update{}
		fill(rng, reflect.ValueOf(u).Elem())
		f.Add(encodeUpdate(u))
	}
	f.Add(encodeUpdate(&references.Update{}))
	f.Add(encodeUpdate(&references.Update{Shipment: containerShipment(), Changes: []references.Change{{Type: references.ChangeContainerAdded, Container: "MSCU1234566"}}}))
	f.Add([]byte{formatBinary1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte(`{"id":"upd_1","sequence":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u references.Update
		if err := decodeUpdate(data, &u); err != nil {
			return
		}
		var again references.Update
		if err := decodeUpdate(encodeUpdate(&u), &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if a, b := asJSON(t, &u), asJSON(t, &again); !bytes.Equal(a, b) {
			t.Fatalf("re-encoding changed the value:\n%s\n%s", a, b)
		}
	})
}

// FuzzDecodeReference is FuzzDecodeUpdate for references.
func FuzzDecodeReference(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 4 {
		r := &references.Reference{}
		fill(rng, reflect.ValueOf(r).Elem())
		f.Add(encodeReference(r))
	}
	f.Add(encodeReference(&references.Reference{}))
	f.Add([]byte(`{"id":"ref_1","poll_interval":"15m"}`))
	// A creation time in the year 10000, which JSON cannot write (found by fuzzing).
	r := &references.Reference{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Add(encodeReference(r))
	// A zone 30 hours away, which neither JSON nor any real place has.
	r = &references.Reference{CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 30*3600))}
	f.Add(encodeReference(r))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r references.Reference
		if err := decodeReference(data, &r); err != nil {
			return
		}
		var again references.Reference
		if err := decodeReference(encodeReference(&r), &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if a, b := asJSON(t, &r), asJSON(t, &again); !bytes.Equal(a, b) {
			t.Fatalf("re-encoding changed the value:\n%s\n%s", a, b)
		}
	})
}

func TestCodec_UpdateWithItsSnapshotEncodedAlready(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 20 {
		u := &references.Update{}
		fill(rng, reflect.ValueOf(u).Elem())
		var got references.Update
		if err := decodeUpdate(encodeUpdateWith(u, encodeShipment(u.Shipment)), &got); err != nil {
			t.Fatal(err)
		}
		if a, b := asJSON(t, &got), viaJSON(t, u); !bytes.Equal(a, b) {
			t.Fatalf("with the snapshot encoded apart:\n got %s\nwant %s", a, b)
		}
	}
}

// TestCodec_CarrierDetectedIsOptionalAtTheEnd: CarrierDetected, added after the binary
// form, is one byte at the end and only when true, so references stored before it
// (binary or JSON) read as not detected, and the others are stored as they were.
func TestCodec_CarrierDetectedIsOptionalAtTheEnd(t *testing.T) {
	ref := &references.Reference{}
	fill(rand.New(rand.NewPCG(15, 16)), reflect.ValueOf(ref).Elem())
	ref.PausedAt, ref.PausedFor, ref.LastRefreshAt = nil, 0, nil // see TestCodec_PauseFieldsAreOptionalAtTheEnd
	ref.Push = nil                                               // see TestCodec_PushIsOptionalAtTheEnd
	ref.CarrierDetected = false
	before := encodeReference(ref) // what earlier versions wrote for ref
	ref.CarrierDetected = true
	detected := encodeReference(ref)
	if !bytes.Equal(detected, append(slices.Clip(before), 1)) {
		t.Fatalf("a detected carrier is not one byte 1 after the earlier form:\n%x\n%x", detected, before)
	}

	tests := []struct {
		name    string
		data    []byte
		want    bool
		corrupt bool
	}{
		{"binary of an earlier version", before, false, false},
		{"binary, detected", detected, true, false},
		{"binary, flag 0 (never written)", append(slices.Clip(before), 0), false, true},
		{"binary, flag 2", append(slices.Clip(before), 2), false, true},
		{"binary, a byte after the flag", append(slices.Clip(detected), 1), false, true},
		{"JSON of an earlier version", []byte(`{"id":"ref_1","carrier_code":"MSCU"}`), false, false},
		{"JSON, detected", []byte(`{"id":"ref_1","carrier_code":"MSCU","carrier_detected":true}`), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got references.Reference
			err := decodeReference(tt.data, &got)
			if tt.corrupt {
				if !errors.Is(err, errCorrupt) {
					t.Fatalf("decode: %v, want errCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.CarrierDetected != tt.want {
				t.Errorf("CarrierDetected = %t, want %t", got.CarrierDetected, tt.want)
			}
		})
	}
}

// TestCodec_PauseFieldsAreOptionalAtTheEnd: the pause and refresh fields follow the
// carrier flag, which is then written even when false, and only when one is set: a
// reference never paused nor refreshed is stored as before.
func TestCodec_PauseFieldsAreOptionalAtTheEnd(t *testing.T) {
	base := &references.Reference{}
	fill(rand.New(rand.NewPCG(17, 18)), reflect.ValueOf(base).Elem())
	base.Push = nil // see TestCodec_PushIsOptionalAtTheEnd
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		detected bool
		pausedAt *time.Time
		for_     time.Duration
		refresh  *time.Time
	}{
		{"none", false, nil, 0, nil},
		{"paused, carrier given", false, &at, 0, nil},
		{"paused before, detected", true, nil, time.Hour, nil},
		{"refreshed only", false, nil, 0, &at},
		{"all", true, &at, 90 * time.Minute, &at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := *base
			ref.CarrierDetected, ref.PausedAt, ref.PausedFor, ref.LastRefreshAt = tt.detected, tt.pausedAt, tt.for_, tt.refresh
			var got references.Reference
			if err := decodeReference(encodeReference(&ref), &got); err != nil {
				t.Fatal(err)
			}
			if a, b := asJSON(t, &got), asJSON(t, &ref); !bytes.Equal(a, b) {
				t.Fatalf("round trip:\n got %s\nwant %s", a, b)
			}
		})
	}
}

// TestCodec_PushIsOptionalAtTheEnd: a push subscription follows the pause fields (so
// the carrier flag and those are then written, zero or not) after a presence byte, and
// only when there is one: a reference without one is stored as before, and every
// reference stored before it existed reads with Push nil.
func TestCodec_PushIsOptionalAtTheEnd(t *testing.T) {
	base := &references.Reference{}
	fill(rand.New(rand.NewPCG(19, 20)), reflect.ValueOf(base).Elem())
	sub := base.Push
	base.Push = nil
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	plain := *base
	plain.CarrierDetected, plain.PausedAt, plain.PausedFor, plain.LastRefreshAt = false, nil, 0, nil
	plain.Metadata = map[string]string{"po": "1"} // one entry: encoded in one order
	old := encodeReference(&plain)                // what a version before pause and push wrote

	withPush := plain
	withPush.Push = sub
	encoded := encodeReference(&withPush)
	// The flag (false), no pause, no duration, no refresh, then the subscription.
	if prefix := append(slices.Clip(old), 0, 0, 0, 0, 1); !bytes.HasPrefix(encoded, prefix) {
		t.Fatalf("a subscription is not written after the earlier form and empty optional fields:\n%x\n%x", encoded, prefix)
	}

	emptySecrets := *sub
	emptySecrets.Secrets = []references.PushSecret{}
	nilKey := *sub
	nilKey.Secrets = []references.PushSecret{{Key: nil, Until: &at}, {Key: []byte{}}}
	roundTrips := []struct {
		name string
		mod  func(*references.Reference)
	}{
		{"alone", func(r *references.Reference) { r.Push = sub }},
		{"with a detected carrier", func(r *references.Reference) { r.Push, r.CarrierDetected = sub, true }},
		{"with pause and refresh", func(r *references.Reference) {
			r.Push, r.PausedAt, r.PausedFor, r.LastRefreshAt = sub, &at, time.Hour, &at
		}},
		{"nothing set", func(r *references.Reference) { r.Push = &references.PushSubscription{} }},
		{"no secrets, not nil", func(r *references.Reference) { r.Push = &emptySecrets }},
		{"nil and empty keys", func(r *references.Reference) { r.Push = &nilKey }},
	}
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			ref := plain
			tt.mod(&ref)
			var got references.Reference
			if err := decodeReference(encodeReference(&ref), &got); err != nil {
				t.Fatal(err)
			}
			if a, b := asJSON(t, &got), asJSON(t, &ref); !bytes.Equal(a, b) {
				t.Fatalf("round trip:\n got %s\nwant %s", a, b)
			}
		})
	}

	pausedOnly := plain
	pausedOnly.PausedAt = &at
	paused := encodeReference(&pausedOnly)
	reads := []struct {
		name    string
		data    []byte
		corrupt bool
	}{
		{"binary of an earlier version", old, false},
		{"binary with pause fields, from before push", paused, false},
		{"JSON of an earlier version", []byte(`{"id":"ref_1","carrier_code":"MSCU"}`), false},
		{"presence 0 (never written)", append(slices.Clip(paused), 0), true},
		{"presence 2", append(slices.Clip(paused), 2), true},
		{"a subscription cut short", encoded[:len(encoded)-1], true},
		{"a byte after the subscription", append(slices.Clip(encoded), 0), true},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			var got references.Reference
			err := decodeReference(tt.data, &got)
			if tt.corrupt {
				if !errors.Is(err, errCorrupt) {
					t.Fatalf("decode: %v, want errCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Push != nil {
				t.Errorf("Push = %+v, want nil", got.Push)
			}
		})
	}
}

// TestCodec_PushKeysDoNotShareTheFilesMemory: a secret's bytes are copied out of the
// value decoded, which for a read transaction is the file's mapped memory.
func TestCodec_PushKeysDoNotShareTheFilesMemory(t *testing.T) {
	ref := &references.Reference{Push: &references.PushSubscription{ID: "sub", Secrets: []references.PushSecret{{Key: []byte("key")}}}}
	data := encodeReference(ref)
	var got references.Reference
	if err := decodeReference(data, &got); err != nil {
		t.Fatal(err)
	}
	clear(data)
	if string(got.Push.Secrets[0].Key) != "key" {
		t.Fatalf("the key changed with the encoded value: %q", got.Push.Secrets[0].Key)
	}
}
