package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fill sets every field reachable from v (a pointer) to a value that is not zero,
// by reflection, so that a field added to a wire type is written by json.Marshal and
// must be written by appendPayload too. Strings take s with the field's path, so
// that each is different and carries the characters to escape.
func fill(v reflect.Value, s, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type() == reflect.TypeFor[*time.Time]() {
			t := time.Date(2026, 3, 1, 9, 30, 0, 120_000_000, time.UTC)
			v.Set(reflect.ValueOf(&t))
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s, path)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 4, 2, 6, 0, 0, 0, time.FixedZone("", 3600))))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), s, path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), s, fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"z" + s, "a", "m&"} {
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(path+s))
		}
		v.Set(m)
	case reflect.String:
		v.SetString(path + s)
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		v.SetUint(18446744073709551615 >> (64 - v.Type().Bits()))
	case reflect.Int, reflect.Int64:
		v.SetInt(-42)
	case reflect.Bool:
		v.SetBool(true)
	default:
		panic(fmt.Sprintf("fill: %s is of kind %s, which the test does not know", path, v.Kind()))
	}
}

// checkSameAsMarshal fails unless appendPayload writes p exactly as json.Marshal does.
func checkSameAsMarshal(t *testing.T, p *Payload) {
	t.Helper()
	want, wantErr := json.Marshal(p)
	got, err := appendPayload(nil, p)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendPayload error %v, json.Marshal error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendPayload wrote\n%s\njson.Marshal writes\n%s", got, want)
	}
}

func TestAppendPayload_SameBytesAsMarshal(t *testing.T) {
	t.Parallel()
	golden := NewPayload(testUpdate())
	var full Payload
	fill(reflect.ValueOf(&full).Elem(), ` "quoted" \ <b>&amp; é 日本 `+"\u2028\u2029\x00\x1f\t\n\r\b\f\x7f\xff", "")
	empty := full
	empty.Data = Update{}
	emptyShipment := full
	emptyShipment.Data.Shipment = &Shipment{Containers: []Container{{}}, Events: []Event{}}
	emptyShipment.Data.Changes = []Change{}
	emptyShipment.Data.Tags = []string{}
	emptyShipment.Data.Reference.Metadata = map[string]string{}
	emptyObjects := full
	emptyObjects.Data.Shipment = &Shipment{Origin: &Location{}, CurrentVessel: &TransportCall{}}

	for name, p := range map[string]*Payload{
		"golden update":                     &golden,
		"every field set":                   &full,
		"zero update":                       &empty,
		"empty lists and maps":              &emptyShipment,
		"empty location and transport call": &emptyObjects,
	} {
		t.Run(name, func(t *testing.T) { checkSameAsMarshal(t, p) })
	}
}

func TestAppendPayload_TimeOutOfRangeIsAnError(t *testing.T) {
	t.Parallel()
	p := NewPayload(testUpdate())
	p.Data.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := appendPayload(nil, &p); err == nil {
		t.Fatal("appendPayload wrote a year 10000, which RFC 3339 cannot")
	}
	if _, err := json.Marshal(p); err == nil {
		t.Fatal("json.Marshal wrote a year 10000: the test's premise is wrong")
	}
}

// FuzzAppendString checks that strings of any bytes are written as encoding/json
// writes them.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"<>&\`, "\u2028\u2029é", "\xff\xfe\x00\x1f", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	})
}
