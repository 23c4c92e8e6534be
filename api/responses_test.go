package api

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// TestResponses_CoverEveryField fails when a field is added to a domain type the API
// answers with and not to its wire form, and when a conversion drops a field. A wire
// form leaves out (omit) or adds (extra) only the fields its pair lists, each for a
// reason.
func TestResponses_CoverEveryField(t *testing.T) {
	at := time.Unix(0, 0)
	pairs := []struct {
		domain, wire any
		convert      func(any) any
		omit, extra  []string
	}{
		{
			domain: references.Reference{}, wire: Reference{},
			convert: func(v any) any { return newReference(v.(references.Reference)) },
			omit:    []string{"PausedFor"}, // only the max age reads it
		},
		{
			domain: references.DeliveryAttempt{}, wire: DeliveryAttempt{},
			convert: func(v any) any { return newDeliveryAttempt(v.(references.DeliveryAttempt)) },
			// A reference's delivery log is its callback's; disabling is for endpoints.
			omit: []string{"Destination", "Disable"},
		},
		{domain: references.WebhookSecret{}, wire: WebhookSecret{}, convert: func(v any) any {
			s := v.(references.WebhookSecret)
			return liveSecrets(references.Account{WebhookSecrets: []references.WebhookSecret{s}}, at).Secrets[0]
		}},
		{
			domain: references.Endpoint{}, wire: Endpoint{},
			convert: func(v any) any { return newEndpoint(v.(references.Endpoint), at) },
			// Secrets only leave through the secret routes; the endpoint shows a hint.
			omit: []string{"Secrets"}, extra: []string{"SecretHint"},
		},
		{domain: references.EndpointFilter{}, wire: EndpointFilter{}, convert: func(v any) any {
			return newEndpoint(references.Endpoint{Filter: v.(references.EndpointFilter)}, at).Filter
		}},
		{
			domain: references.Message{}, wire: messageHead{},
			convert: func(v any) any { m := v.(references.Message); return newMessageHead(&m) },
			// The endpoint and account are the request's; attempts are shown by Message
			// (a count and the last) and MessageDetail (all).
			omit: []string{"EndpointID", "AccountID", "Attempts"},
		},
		{
			domain: references.DeliveryAttempt{}, wire: MessageAttempt{},
			convert: func(v any) any {
				return newMessageDetail(references.Message{Attempts: []references.DeliveryAttempt{v.(references.DeliveryAttempt)}}, references.MessageBody{}).Attempts[0]
			},
			// The endpoint is the request's; the reference, update and sequence the
			// message's.
			omit: []string{"Destination", "ReferenceID", "UpdateID", "Sequence"},
		},
		{domain: references.EndpointStats{}, wire: EndpointStats{}, convert: func(v any) any { return newEndpointStats(v.(references.EndpointStats)) }},
		{
			domain: references.AccountEvent{}, wire: AccountEvent{},
			convert: func(v any) any { return newAccountEvent(v.(references.AccountEvent)) },
			omit:    []string{"AccountID"}, // the key's
		},
		{
			domain: references.APIKey{}, wire: APIKey{},
			convert: func(v any) any { return newAPIKey(v.(references.APIKey)) },
			// The account is the request's; the hash never leaves the server.
			omit: []string{"AccountID", "Hash"},
		},
		{
			domain: references.AuditEntry{}, wire: AuditEntry{},
			convert: func(v any) any { return newAuditEntry(v.(references.AuditEntry)) },
			omit:    []string{"AccountID"}, // the key's
		},
		{
			domain: references.PushSubscription{}, wire: PushSubscription{},
			convert: func(v any) any {
				p := v.(references.PushSubscription)
				return *newPushSubscription(&p)
			},
			omit: []string{"Secrets"}, // never leave the server
		},
		{
			domain: references.AccountEvent{}, wire: webhook.OperationalEventData{},
			convert: func(v any) any { return webhook.NewOperationalEvent(v.(references.AccountEvent)).Data },
			// The account is the endpoint's; the rest is the event's envelope
			// (OperationalEvent), which has no sequence: the feed has.
			omit:  []string{"ID", "AccountID", "Sequence", "Type", "CreatedAt"},
			extra: []string{"Message"}, // endpoint.test's text
		},
	}
	for _, p := range pairs {
		dt, wt := reflect.TypeOf(p.domain), reflect.TypeOf(p.wire)
		want := slices.DeleteFunc(fieldNames(dt), func(n string) bool { return slices.Contains(p.omit, n) })
		got := slices.DeleteFunc(fieldNames(wt), func(n string) bool { return slices.Contains(p.extra, n) })
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v, %s has %v (leaving out %v)", wt, got, dt, want, p.omit)
			continue
		}
		full := reflect.New(dt).Elem()
		for i := range full.NumField() {
			full.Field(i).Set(nonZero(t, full.Field(i).Type()))
		}
		wire := reflect.ValueOf(p.convert(full.Interface()))
		for i := range wire.NumField() {
			if wire.Field(i).IsZero() && !slices.Contains(p.extra, wt.Field(i).Name) {
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
	case typ.Kind() == reflect.Float64:
		v.SetFloat(0.5)
	case typ.Kind() == reflect.Struct:
		for i := range v.NumField() {
			v.Field(i).Set(nonZero(t, typ.Field(i).Type))
		}
	case typ.Kind() == reflect.Slice:
		v.Set(reflect.MakeSlice(typ, 1, 1))
	case typ.Kind() == reflect.Map:
		v.Set(reflect.MakeMapWithSize(typ, 1))
		v.SetMapIndex(nonZero(t, typ.Key()), nonZero(t, typ.Elem()))
	case typ.Kind() == reflect.Pointer && typ.Elem().Kind() == reflect.Struct:
		p := reflect.New(typ.Elem())
		p.Elem().Set(nonZero(t, typ.Elem()))
		v.Set(p)
	default:
		t.Fatalf("nonZero: no rule for %s", typ)
	}
	return v
}
