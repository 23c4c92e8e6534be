package api

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestResponses_CoverEveryField fails when a field is added to a domain type the API
// answers with and not to its wire form, and when a conversion drops a field.
func TestResponses_CoverEveryField(t *testing.T) {
	pairs := []struct {
		domain, wire any
		convert      func(any) any
	}{
		{references.Reference{}, Reference{}, func(v any) any { return newReference(v.(references.Reference)) }},
		{references.DeliveryAttempt{}, DeliveryAttempt{}, func(v any) any { return newDeliveryAttempt(v.(references.DeliveryAttempt)) }},
		{references.WebhookSecret{}, WebhookSecret{}, func(v any) any {
			s := v.(references.WebhookSecret)
			return liveSecrets(references.Account{WebhookSecrets: []references.WebhookSecret{s}}, time.Unix(0, 0)).Secrets[0]
		}},
	}
	for _, p := range pairs {
		dt, wt := reflect.TypeOf(p.domain), reflect.TypeOf(p.wire)
		if got, want := fieldNames(wt), fieldNames(dt); !slices.Equal(got, want) {
			t.Errorf("%s has fields %v, %s has %v", wt, got, dt, want)
			continue
		}
		full := reflect.New(dt).Elem()
		for i := range full.NumField() {
			full.Field(i).Set(nonZero(t, full.Field(i).Type()))
		}
		wire := reflect.ValueOf(p.convert(full.Interface()))
		for i := range wire.NumField() {
			if wire.Field(i).IsZero() {
				t.Errorf("the conversion to %s drops %s", wt, wt.Field(i).Name)
			}
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

// nonZero returns a value of type typ that is not the zero value.
func nonZero(t *testing.T, typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	switch {
	case typ == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(1, 0)))
	case typ == reflect.TypeFor[*time.Time]():
		at := time.Unix(1, 0)
		v.Set(reflect.ValueOf(&at))
	case typ.Kind() == reflect.String:
		v.SetString("x")
	case typ.Kind() == reflect.Bool:
		v.SetBool(true)
	case typ.Kind() == reflect.Int || typ.Kind() == reflect.Int64:
		v.SetInt(1)
	case typ.Kind() == reflect.Uint64:
		v.SetUint(1)
	case typ.Kind() == reflect.Slice:
		v.Set(reflect.MakeSlice(typ, 1, 1))
	case typ.Kind() == reflect.Map:
		v.Set(reflect.MakeMapWithSize(typ, 1))
		v.SetMapIndex(nonZero(t, typ.Key()), nonZero(t, typ.Elem()))
	default:
		t.Fatalf("nonZero: no rule for %s", typ)
	}
	return v
}
