package dcsa

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackhook/trackhook/references"
)

func TestSign_MatchesRFC4231(t *testing.T) {
	// RFC 4231, test case 2: HMAC-SHA-256 of "what do ya want for nothing?" keyed "Jefe".
	got := hex.EncodeToString(Sign([]byte("what do ya want for nothing?"), []byte("Jefe")))
	if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerifyNotification(t *testing.T) {
	body := []byte(`[{"eventID":"e-1"}]` + "\n")
	current, previous, other := NewSecret(), NewSecret(), NewSecret()
	sig := SignatureHeader(body, current)
	hexSig := strings.TrimPrefix(sig, "sha256=")
	tests := []struct {
		name    string
		body    []byte
		header  string
		secrets [][]byte
		want    error
	}{
		{"signed with the secret", body, sig, [][]byte{current}, nil},
		{"signed with the new secret during a rotation", body, sig, [][]byte{previous, current}, nil},
		{"signed with the old secret during a rotation", body, SignatureHeader(body, previous), [][]byte{previous, current}, nil},
		{"type in capitals, spaces around", body, "  SHA256=" + strings.ToUpper(hexSig) + " ", [][]byte{current}, nil},
		{"an empty secret among them is skipped", body, sig, [][]byte{nil, current}, nil},
		{"signed with another secret", body, SignatureHeader(body, other), [][]byte{previous, current}, ErrSignatureMismatch},
		{"a body changed by one byte", []byte(`[{"eventID":"e-2"}]` + "\n"), sig, [][]byte{current}, ErrSignatureMismatch},
		{"the body without its newline", bytes.TrimSpace(body), sig, [][]byte{current}, ErrSignatureMismatch},
		{"signed with an empty key", body, SignatureHeader(body, nil), [][]byte{nil, current}, ErrSignatureMismatch},
		{"no header", body, "", [][]byte{current}, ErrNoSignature},
		{"no type", body, hexSig, [][]byte{current}, ErrMalformedSignature},
		{"another type", body, "sha1=" + hexSig, [][]byte{current}, ErrMalformedSignature},
		{"not hex", body, "sha256=" + strings.Repeat("zz", 32), [][]byte{current}, ErrMalformedSignature},
		{"too short", body, sig[:len(sig)-2], [][]byte{current}, ErrMalformedSignature},
		{"two signatures", body, sig + "," + sig, [][]byte{current}, ErrMalformedSignature},
		{"a huge header", body, "sha256=" + strings.Repeat("0", 10000), [][]byte{current}, ErrMalformedSignature},
		{"no secrets", body, sig, nil, ErrNoSecret},
		{"only empty secrets", body, sig, [][]byte{{}, nil}, ErrNoSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyNotification(tc.body, tc.header, tc.secrets)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("VerifyNotification = %v, want %v", err, tc.want)
			}
			if tc.want != nil && tc.want != ErrNoSecret && !errors.Is(err, ErrBadSignature) {
				t.Errorf("%v does not wrap ErrBadSignature", err)
			}
		})
	}
}

func TestVerifyNotificationRequest_ChecksTheSubscriptionAndOneSignature(t *testing.T) {
	const sub = "3cecb101-7a1a-43a4-9d62-e88a131651e2"
	body := []byte(`[]`)
	secret := NewSecret()
	headers := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	sig := SignatureHeader(body, secret)
	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{"good", headers("Subscription-ID", sub, "Notification-Signature", sig), nil},
		{"no Subscription-ID", headers("Notification-Signature", sig), ErrSubscriptionMismatch},
		{"another subscription", headers("Subscription-ID", "other", "Notification-Signature", sig), ErrSubscriptionMismatch},
		{"two Subscription-IDs", headers("Subscription-ID", sub, "Subscription-ID", sub, "Notification-Signature", sig), ErrSubscriptionMismatch},
		{"no signature", headers("Subscription-ID", sub), ErrNoSignature},
		{"two signatures", headers("Subscription-ID", sub, "Notification-Signature", sig, "Notification-Signature", sig), ErrNoSignature},
		{"a bad signature", headers("Subscription-ID", sub, "Notification-Signature", SignatureHeader([]byte("[ ]"), secret)), ErrSignatureMismatch},
	}
	for _, tc := range tests {
		err := VerifyNotificationRequest(tc.h, body, sub, [][]byte{secret})
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := VerifyNotificationRequest(headers("Subscription-ID", "", "Notification-Signature", sig), body, "", [][]byte{secret}); !errors.Is(err, ErrSubscriptionMismatch) {
		t.Errorf("an empty subscription id passed: %v", err)
	}
}

func TestParseNotification_MapsEventsAsAPollDoes(t *testing.T) {
	// The three pages of the container journey, pushed as one notification, give the
	// events that polling them gives.
	c, _ := setup(t, Config{})
	ref := containerRef(fixtureContainer)
	polled, err := c.Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var all []json.RawMessage
	for _, name := range []string{"container_page3.json", "container_page1.json", "container_page2.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
		if err != nil {
			t.Fatal(err)
		}
		var page []json.RawMessage
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
	}
	all = append(all, all[0]) // a duplicate, as a carrier's retry of part of a bundle
	body, _ := json.Marshal(all)
	pushed, err := c.ParseNotification(t.Context(), ref, body)
	if err != nil {
		t.Fatalf("ParseNotification: %v", err)
	}
	if !reflect.DeepEqual(pushed, polled.Events) {
		t.Errorf("pushed events differ from polled ones:\npushed %+v\npolled %+v", pushed, polled.Events)
	}
	plain, err := ParseNotification(body)
	if err != nil || len(plain) < len(pushed) {
		t.Errorf("ParseNotification = %d events, %v; want at least the %d of the container", len(plain), err, len(pushed))
	}
}

func TestParseNotification_Refusals(t *testing.T) {
	event := `{"eventID":"e-%d","eventType":"EQUIPMENT","eventClassifierCode":"ACT","eventDateTime":"2024-03-01T09:12:00Z","equipmentEventTypeCode":"GTOT","equipmentReference":"MSKU7261948","emptyIndicatorCode":"EMPTY"}`
	many := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(event, i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name   string
		body   string
		events int
		want   error
	}{
		{"empty array", `[]`, 0, nil},
		{"null", `null`, 0, nil},
		{"one event", many(1), 1, nil},
		{"an unusable event among usable ones is skipped", `[` + fmt.Sprintf(event, 1) + `,{"eventID":"x","eventType":"EQUIPMENT"}]`, 1, nil},
		{"the same event twice is kept once", `[` + fmt.Sprintf(event, 1) + `,` + fmt.Sprintf(event, 1) + `]`, 1, nil},
		{"only unusable events", `[{"eventID":"x"},{"eventType":"IOT"}]`, 0, ErrMalformedNotification},
		{"an object", `{"events":[]}`, 0, ErrMalformedNotification},
		{"not JSON", `<html>`, 0, ErrMalformedNotification},
		{"cut short", many(2)[:50], 0, ErrMalformedNotification},
		{"data after the array", `[] []`, 0, ErrMalformedNotification},
		{"empty body", ``, 0, ErrMalformedNotification},
		{"too many events", strings.Repeat(" ", 0) + "[" + strings.Repeat("{},", MaxNotificationEvents) + "{}]", 0, ErrNotificationTooLarge},
		{"too many bytes", "[" + strings.Repeat(" ", MaxNotificationBytes) + "]", 0, ErrNotificationTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, err := ParseNotification([]byte(tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ParseNotification = %v, want %v", err, tc.want)
			}
			if len(events) != tc.events {
				t.Errorf("%d events, want %d", len(events), tc.events)
			}
		})
	}
}

func TestReadNotificationBody_StopsAtTheLimit(t *testing.T) {
	body, err := ReadNotificationBody(strings.NewReader(strings.Repeat("x", MaxNotificationBytes)))
	if err != nil || len(body) != MaxNotificationBytes {
		t.Errorf("a body of exactly the limit: %d bytes, %v", len(body), err)
	}
	if _, err := ReadNotificationBody(strings.NewReader(strings.Repeat("x", MaxNotificationBytes+1))); !errors.Is(err, ErrNotificationTooLarge) {
		t.Errorf("a body over the limit: %v, want ErrNotificationTooLarge", err)
	}
}

func TestCallbackStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 204},
		{ErrNoSignature, 401},
		{ErrMalformedSignature, 401},
		{fmt.Errorf("inbound: %w", ErrSignatureMismatch), 401},
		{ErrUnknownSubscription, 404},
		{ErrSubscriptionMismatch, 400},
		{fmt.Errorf("x: %w", ErrMalformedNotification), 400},
		{ErrNotificationTooLarge, 413},
		{ErrNoSecret, 500},
		{errors.New("store: disk full"), 500},
	}
	for _, tc := range tests {
		if got := CallbackStatus(tc.err); got != tc.want {
			t.Errorf("CallbackStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func FuzzVerifyNotification(f *testing.F) {
	secret := bytes.Repeat([]byte{7}, SecretSize)
	f.Add([]byte(`[]`), "", []byte("k"))
	f.Add([]byte(`[{"eventID":"e-1"}]`), SignatureHeader([]byte(`[{"eventID":"e-1"}]`), secret), secret)
	f.Add([]byte{0xff, 0x00}, "sha256=", []byte{})
	f.Add([]byte("x"), "SHA256=00", secret)
	f.Fuzz(func(t *testing.T, body []byte, header string, key []byte) {
		err := VerifyNotification(body, header, [][]byte{key, secret})
		if err == nil && header != SignatureHeader(body, key) && header != SignatureHeader(body, secret) {
			// Only a signature made with one of the keys may pass, whatever its spelling.
			sig, perr := parseSignature(header)
			if perr != nil || (!bytes.Equal(sig, Sign(body, secret)) && (len(key) == 0 || !bytes.Equal(sig, Sign(body, key)))) {
				t.Fatalf("header %q passed for a body it does not sign", header)
			}
		}
		if len(key) > 0 {
			if err := VerifyNotification(body, SignatureHeader(body, key), [][]byte{key}); err != nil {
				t.Fatalf("a body signed with its key was refused: %v", err)
			}
		}
	})
}

func FuzzParseNotification(f *testing.F) {
	for _, name := range []string{"container_page1.json", "booking_events.json", "bl_three_containers.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"eventType":"SHIPMENT","eventClassifierCode":"ACT","shipmentEventTypeCode":"ISSU","eventDateTime":"2024-01-01T00:00Z","documentTypeCode":"TRD"}]`))
	f.Add([]byte(`[{"eventType":{"x":1}},1,"a",null]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseNotification(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedNotification) && !errors.Is(err, ErrNotificationTooLarge) {
				t.Fatalf("an error of no documented kind: %v", err)
			}
			if events != nil {
				t.Fatal("events returned with an error")
			}
			return
		}
		seen := map[string]bool{}
		for i, e := range events {
			switch e.Type {
			case references.EventTransport, references.EventEquipment, references.EventShipment:
			default:
				t.Fatalf("event %d has type %q", i, e.Type)
			}
			if e.Code == "" || e.Time.IsZero() || e.Time.Location().String() != "UTC" {
				t.Fatalf("event %d has no code or no UTC time: %+v", i, e)
			}
			if i > 0 && events[i-1].Time.After(e.Time) {
				t.Fatalf("events are not sorted by time")
			}
			if e.ID != "" {
				if seen[e.ID] {
					t.Fatalf("event id %q twice", e.ID)
				}
				seen[e.ID] = true
			}
			for _, s := range []string{e.ID, e.Description, e.EquipmentReference} {
				if len(s) > maxTextLen || !utf8.ValidString(s) {
					t.Fatalf("event %d carries %q", i, s)
				}
			}
		}
	})
}
