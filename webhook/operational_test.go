package webhook

import (
	"errors"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestEncodeEvent_WritesOnlyTheFieldsOfItsType(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		event references.AccountEvent
		want  string
	}{
		{"endpoint disabled", references.AccountEvent{
			ID: "evt_1", AccountID: "acct_a", Sequence: 4, Type: references.EventEndpointDisabled, CreatedAt: at,
			EndpointID: "ep_1", EndpointURL: "https://hooks.example.com/a", DisabledReason: references.DisabledGone,
		}, `{"id":"evt_1","type":"endpoint.disabled","created_at":"2026-03-01T12:00:00Z","data":{"endpoint_id":"ep_1","endpoint_url":"https://hooks.example.com/a","disabled_reason":"gone"}}`},
		{"message attempt exhausted", references.AccountEvent{
			ID: "evt_2", AccountID: "acct_a", Sequence: 5, Type: references.EventMessageAttemptExhausted, CreatedAt: at,
			EndpointID: "ep_1", EndpointURL: "https://hooks.example.com/a", MessageID: "upd_9", ReferenceID: "ref_3",
			Attempts: 5, LastStatusCode: 500, LastError: "receiver answered 500 Internal Server Error",
		}, `{"id":"evt_2","type":"message.attempt.exhausted","created_at":"2026-03-01T12:00:00Z","data":{"endpoint_id":"ep_1","endpoint_url":"https://hooks.example.com/a","message_id":"upd_9","reference_id":"ref_3","attempts":5,"last_status_code":500,"last_error":"receiver answered 500 Internal Server Error"}}`},
		{"exhausted without a response", references.AccountEvent{
			ID: "evt_3", Type: references.EventMessageAttemptExhausted, CreatedAt: at,
			EndpointID: "ep_1", MessageID: "evt_2", Attempts: 1, LastError: "no response from the receiver",
		}, `{"id":"evt_3","type":"message.attempt.exhausted","created_at":"2026-03-01T12:00:00Z","data":{"endpoint_id":"ep_1","message_id":"evt_2","attempts":1,"last_error":"no response from the receiver"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := EncodeEvent(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("EncodeEvent:\n got: %s\nwant: %s", got, tt.want)
			}
			e, err := DecodeEvent(got)
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.event.ID || e.Type != tt.event.Type || !e.CreatedAt.Equal(at) || e.Data.Attempts != tt.event.Attempts {
				t.Errorf("DecodeEvent = %+v", e)
			}
		})
	}
}

func TestNewTestEvent_SaysItIsATest(t *testing.T) {
	t.Parallel()
	body, err := NewTestEvent("evt_t", "ep_1", time.Unix(1772366400, 0)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_t","type":"endpoint.test","created_at":"2026-03-01T12:00:00Z","data":{"endpoint_id":"ep_1","message":"` + TestEventMessage + `"}}`
	if string(body) != want {
		t.Errorf("test event:\n got: %s\nwant: %s", body, want)
	}
}

func TestDecodeEvent_RefusesWhatIsNotAnEvent(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":      `{`,
		"no id":         `{"type":"endpoint.disabled","created_at":"2026-03-01T12:00:00Z","data":{}}`,
		"no type":       `{"id":"evt_1","created_at":"2026-03-01T12:00:00Z","data":{}}`,
		"no created_at": `{"id":"evt_1","type":"endpoint.disabled","data":{}}`,
		"id a number":   `{"id":1,"type":"endpoint.disabled","created_at":"2026-03-01T12:00:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if e, err := DecodeEvent([]byte(body)); !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("DecodeEvent = %+v, %v; want ErrInvalidPayload", e, err)
			}
		})
	}
}
