package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Fixed inputs shared by the tests of this package.
const (
	testSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testNewSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0..31
	testID        = "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W"
)

var testTime = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// handSign computes a v1 signature straight from the specification, without any code
// of this package: base64(HMAC-SHA256(key, id + "." + unix seconds + "." + body)).
func handSign(t testing.TB, secret, id string, ts time.Time, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("test secret %q: %v", secret, err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, ts.Unix(), body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSign_KnownAnswerComputedFromTheSpec(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}}`)
	got, err := Sign([]string{testSecret}, testID, testTime, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := handSign(t, testSecret, testID, testTime, body); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// The Standard Webhooks reference libraries share this vector in their tests; matching
// it shows trackhook's signatures verify with any of those libraries.
func TestSign_MatchesTheReferenceLibrariesVector(t *testing.T) {
	t.Parallel()
	got, err := Sign([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSign_OneEntryPerSecretInOrder(t *testing.T) {
	t.Parallel()
	body := []byte(`{}`)
	got, err := Sign([]string{testNewSecret, testSecret}, testID, testTime, body)
	if err != nil {
		t.Fatal(err)
	}
	want := handSign(t, testNewSecret, testID, testTime, body) + " " + handSign(t, testSecret, testID, testTime, body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSign_UsesWholeSeconds(t *testing.T) {
	t.Parallel()
	a, err := Sign([]string{testSecret}, testID, testTime, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Sign([]string{testSecret}, testID, testTime.Add(999*time.Millisecond), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("signatures differ within one second: %q and %q", a, b)
	}
}

func TestSign_RefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		id      string
		want    error
	}{
		{name: "empty id", secrets: []string{testSecret}, id: "", want: ErrInvalidID},
		{name: "id with a full stop", secrets: []string{testSecret}, id: "upd_1.2", want: ErrInvalidID},
		{name: "id with a space", secrets: []string{testSecret}, id: "upd 1", want: ErrInvalidID},
		{name: "id with a newline", secrets: []string{testSecret}, id: "upd_1\r\nX-Evil: 1", want: ErrInvalidID},
		{name: "id with non-ASCII", secrets: []string{testSecret}, id: "upd_é", want: ErrInvalidID},
		{name: "id too long", secrets: []string{testSecret}, id: strings.Repeat("a", 257), want: ErrInvalidID},
		{name: "no secrets", secrets: nil, id: testID, want: ErrInvalidSecret},
		{name: "second secret bad", secrets: []string{testSecret, "whsec_short"}, id: testID, want: ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sig, err := Sign(tt.secrets, tt.id, testTime, []byte(`{}`))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign() = %q, %v; want error %v", sig, err, tt.want)
			}
		})
	}
}

func TestSetHeaders_SetsAllThreeHeaders(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}`)
	h := http.Header{}
	h.Set(HeaderSignature, "v1,stale") // must be replaced, not appended to
	if err := SetHeaders(h, []string{testSecret}, testID, testTime, body); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"Webhook-Id":        testID,
		"Webhook-Timestamp": "1740821400",
		"Webhook-Signature": handSign(t, testSecret, testID, testTime, body),
	}
	for name, want := range checks {
		if got := h.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%q]", name, got, want)
		}
	}
}

func TestSetHeaders_LeavesHeaderAloneOnError(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	if err := SetHeaders(h, nil, testID, testTime, nil); err == nil {
		t.Fatal("SetHeaders without secrets returned no error")
	}
	if len(h) != 0 {
		t.Fatalf("SetHeaders set %v despite failing", h)
	}
}

func TestSetHeadersWithStyle_SvixRepeatsTheValues(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"batch","data":[{"id":"upd_1"}]}`)
	tests := []struct {
		style references.HeaderStyle
		svix  bool
	}{
		{references.HeadersStandard, false},
		{"", false},
		{references.HeadersSvix, true},
	}
	for _, tt := range tests {
		h := http.Header{}
		if err := SetHeadersWithStyle(h, tt.style, []string{testNewSecret, testSecret}, testID, testTime, body); err != nil {
			t.Fatal(err)
		}
		wantSig := handSign(t, testNewSecret, testID, testTime, body) + " " + handSign(t, testSecret, testID, testTime, body)
		pairs := [][2]string{{HeaderID, HeaderSvixID}, {HeaderTimestamp, HeaderSvixTimestamp}, {HeaderSignature, HeaderSvixSignature}}
		if h.Get(HeaderSignature) != wantSig || h.Get(HeaderID) != testID || h.Get(HeaderTimestamp) != "1740821400" {
			t.Errorf("style %q: webhook headers %v", tt.style, h)
		}
		for _, p := range pairs {
			got := h.Get(p[1])
			if tt.svix && got != h.Get(p[0]) {
				t.Errorf("style %q: %s = %q, want %q as %s", tt.style, p[1], got, h.Get(p[0]), p[0])
			}
			if !tt.svix && got != "" {
				t.Errorf("style %q: %s is set", tt.style, p[1])
			}
		}
	}
}
