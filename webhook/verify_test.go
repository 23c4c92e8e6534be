package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signedRequest is what a sender puts on the wire for one attempt.
type signedRequest struct {
	header http.Header
	body   []byte
}

func newSignedRequest(t testing.TB, secrets []string, ts time.Time, body string) signedRequest {
	t.Helper()
	h := http.Header{}
	if err := SetHeaders(h, secrets, testID, ts, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return signedRequest{header: h, body: []byte(body)}
}

func TestVerifier_Verify(t *testing.T) {
	t.Parallel()
	const body = `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}}`
	validSig := handSign(t, testSecret, testID, testTime, []byte(body))

	type verifyCase struct {
		name     string
		signWith []string               // secrets the sender signs with
		verifyBy []string               // secrets the receiver knows
		now      time.Time              // receiver clock
		modify   func(r *signedRequest) // tampering after signing
		want     error                  // nil for accepted
	}
	tests := []verifyCase{
		{name: "valid", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime},
		{name: "tampered body", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.body = []byte(strings.Replace(string(r.body), "upd_1", "upd_2", 1)) },
			want:   ErrNoMatchingSignature},
		{name: "body with an extra space", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.body = append(r.body, ' ') },
			want:   ErrNoMatchingSignature},
		{name: "tampered id", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderID, testID+"x") },
			want:   ErrNoMatchingSignature},
		{name: "tampered timestamp within tolerance", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderTimestamp, strconv.FormatInt(testTime.Unix()+1, 10)) },
			want:   ErrNoMatchingSignature},
		{name: "wrong secret", signWith: []string{testSecret}, verifyBy: []string{testNewSecret}, now: testTime,
			want: ErrNoMatchingSignature},
		{name: "just inside tolerance in the past", signWith: []string{testSecret}, verifyBy: []string{testSecret},
			now: testTime.Add(DefaultTolerance)},
		{name: "just inside tolerance in the future", signWith: []string{testSecret}, verifyBy: []string{testSecret},
			now: testTime.Add(-DefaultTolerance)},
		{name: "expired timestamp", signWith: []string{testSecret}, verifyBy: []string{testSecret},
			now: testTime.Add(DefaultTolerance + time.Second), want: ErrTooOld},
		{name: "replayed a day later", signWith: []string{testSecret}, verifyBy: []string{testSecret},
			now: testTime.Add(24 * time.Hour), want: ErrTooOld},
		{name: "future timestamp", signWith: []string{testSecret}, verifyBy: []string{testSecret},
			now: testTime.Add(-DefaultTolerance - time.Second), want: ErrTooNew},
		{name: "rotation: receiver knows only the old secret", signWith: []string{testNewSecret, testSecret},
			verifyBy: []string{testSecret}, now: testTime},
		{name: "rotation: receiver knows only the new secret", signWith: []string{testNewSecret, testSecret},
			verifyBy: []string{testNewSecret}, now: testTime},
		{name: "rotation: receiver knows both, sender uses old", signWith: []string{testSecret},
			verifyBy: []string{testNewSecret, testSecret}, now: testTime},
		{name: "rotation: receiver knows neither", signWith: []string{testNewSecret, testSecret},
			verifyBy: []string{"whsec_" + strings.Repeat("A", 32)}, now: testTime, want: ErrNoMatchingSignature},
		{name: "unknown versions are skipped", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header.Set(HeaderSignature, "v1a,"+strings.Repeat("A", 86)+"== v2,abc "+validSig+" v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			}},
		{name: "valid bytes under another version are not accepted", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderSignature, "v1a,"+strings.TrimPrefix(validSig, "v1,")) },
			want:   ErrNoMatchingSignature},
		{name: "version is case-sensitive", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderSignature, "V1,"+strings.TrimPrefix(validSig, "v1,")) },
			want:   ErrNoMatchingSignature},
		{name: "extra spaces between entries", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderSignature, "  v2,x   "+validSig+"  ") }},
		{name: "signatures split over two header lines", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
				r.header.Add(HeaderSignature, validSig)
			}},
		{name: "lower-case keys in a hand-built header map", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header = http.Header{
					"webhook-id":        {testID},
					"webhook-timestamp": {strconv.FormatInt(testTime.Unix(), 10)},
					"webhook-signature": {validSig},
				}
			}},
		{name: "missing id", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Del(HeaderID) }, want: ErrMissingHeader},
		{name: "missing timestamp", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Del(HeaderTimestamp) }, want: ErrMissingHeader},
		{name: "missing signature", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Del(HeaderSignature) }, want: ErrMissingHeader},
		{name: "blank signature", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderSignature, "   ") }, want: ErrMissingHeader},
		{name: "svix headers alone are read", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header = http.Header{
					"Svix-Id":        {testID},
					"Svix-Timestamp": {strconv.FormatInt(testTime.Unix(), 10)},
					"Svix-Signature": {validSig},
				}
			}},
		{name: "svix headers in lower case in a hand-built map", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header = http.Header{
					"svix-id":        {testID},
					"svix-timestamp": {strconv.FormatInt(testTime.Unix(), 10)},
					"svix-signature": {validSig},
				}
			}},
		{name: "svix headers alone, tampered id", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header = http.Header{
					"Svix-Id":        {testID + "x"},
					"Svix-Timestamp": {strconv.FormatInt(testTime.Unix(), 10)},
					"Svix-Signature": {validSig},
				}
			}, want: ErrNoMatchingSignature},
		{name: "svix headers alone, expired", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime.Add(time.Hour),
			modify: func(r *signedRequest) {
				r.header = http.Header{
					"Svix-Id":        {testID},
					"Svix-Timestamp": {strconv.FormatInt(testTime.Unix(), 10)},
					"Svix-Signature": {validSig},
				}
			}, want: ErrTooOld},
		{name: "svix headers do not fill in a missing webhook header", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header.Set(HeaderSvixSignature, r.header.Get(HeaderSignature))
				r.header.Del(HeaderSignature)
			}, want: ErrMissingHeader},
		{name: "webhook headers win over svix ones", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header.Set(HeaderSvixID, "msg_other")
				r.header.Set(HeaderSvixTimestamp, "1")
				r.header.Set(HeaderSvixSignature, "v1,AAAA")
			}},
		{name: "webhook headers win over svix ones, even when theirs fail", signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) {
				r.header.Set(HeaderSvixID, r.header.Get(HeaderID))
				r.header.Set(HeaderSvixTimestamp, r.header.Get(HeaderTimestamp))
				r.header.Set(HeaderSvixSignature, r.header.Get(HeaderSignature))
				r.header.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			}, want: ErrNoMatchingSignature},
	}
	for _, ts := range []string{"abc", "-1740821400", "+1740821400", "1740821400.5", "1.7e9", "0x67c2d318", " 1740821400", "99999999999999999999"} {
		tests = append(tests, verifyCase{name: "malformed timestamp " + strconv.Quote(ts), signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderTimestamp, ts) }, want: ErrInvalidTimestamp})
	}
	for _, sig := range []string{"garbage", "v1", "v1,", "v1,!!!!", "v1,AAAA", ",", "v1 ,x", strings.TrimPrefix(validSig, "v1,"),
		"v1," + strings.TrimRight(strings.TrimPrefix(validSig, "v1,"), "="), validSig[:len(validSig)-2] + "A="} {
		tests = append(tests, verifyCase{name: "malformed signature " + strconv.Quote(sig), signWith: []string{testSecret}, verifyBy: []string{testSecret}, now: testTime,
			modify: func(r *signedRequest) { r.header.Set(HeaderSignature, sig) }, want: ErrNoMatchingSignature})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newSignedRequest(t, tt.signWith, testTime, body)
			if tt.modify != nil {
				tt.modify(&r)
			}
			v, err := NewVerifier(tt.verifyBy...)
			if err != nil {
				t.Fatal(err)
			}
			v.Now = func() time.Time { return tt.now }
			err = v.Verify(r.header, r.body)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify() = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifier_ToleranceIsConfigurable(t *testing.T) {
	t.Parallel()
	r := newSignedRequest(t, []string{testSecret}, testTime, `{}`)
	v, err := NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	v.Tolerance = 10 * time.Second
	v.Now = func() time.Time { return testTime.Add(11 * time.Second) }
	if err := v.Verify(r.header, r.body); !errors.Is(err, ErrTooOld) {
		t.Fatalf("Verify 11s late with 10s tolerance = %v, want ErrTooOld", err)
	}
	v.Now = func() time.Time { return testTime.Add(10 * time.Second) }
	if err := v.Verify(r.header, r.body); err != nil {
		t.Fatalf("Verify 10s late with 10s tolerance = %v, want nil", err)
	}
}

func TestVerifier_DefaultsToTheWallClock(t *testing.T) {
	t.Parallel()
	v, err := NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(newSignedRequest(t, []string{testSecret}, time.Now(), `{}`).header, []byte(`{}`)); err != nil {
		t.Fatalf("Verify of a request signed now = %v", err)
	}
	if err := v.Verify(newSignedRequest(t, []string{testSecret}, testTime, `{}`).header, []byte(`{}`)); !errors.Is(err, ErrTooOld) {
		t.Fatalf("Verify of a request signed in 2025 = %v, want ErrTooOld", err)
	}
}

func TestNewVerifier_RefusesBadSecrets(t *testing.T) {
	t.Parallel()
	for _, secrets := range [][]string{nil, {"whsec_"}, {testSecret, "abc"}} {
		if _, err := NewVerifier(secrets...); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("NewVerifier(%q) = %v, want ErrInvalidSecret", secrets, err)
		}
	}
}

func TestVerify_OneCallForm(t *testing.T) {
	t.Parallel()
	r := newSignedRequest(t, []string{testSecret}, testTime, `{}`)
	if err := Verify([]string{testSecret}, r.header, r.body, 0, testTime.Add(time.Minute)); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if err := Verify([]string{testSecret}, r.header, r.body, time.Second, testTime.Add(time.Minute)); !errors.Is(err, ErrTooOld) {
		t.Fatalf("Verify() with 1s tolerance a minute later = %v, want ErrTooOld", err)
	}
	if err := Verify([]string{"nope"}, r.header, r.body, 0, testTime); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("Verify() with a bad secret = %v, want ErrInvalidSecret", err)
	}
}

// FuzzVerify feeds arbitrary header values to Verify. It must never panic, and it may
// only accept a request when one signature entry is exactly what the specification
// computes for that id, timestamp and body.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"a":1}`)
	f.Add(testID, strconv.FormatInt(testTime.Unix(), 10), handSign(f, testSecret, testID, testTime, body), body)
	f.Add("msg", "1740821400", "v1,AAAA v1a,BBBB", body)
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "-1", "v1,,,, ,v1", []byte("x"))
	f.Add("id", "99999999999999999999", "v1,"+strings.Repeat("A", 43)+"=", []byte("{}"))
	f.Add("id", "1740821400", "\tv1,\x00", []byte("{}"))

	v, err := NewVerifier(testSecret)
	if err != nil {
		f.Fatal(err)
	}
	v.Now = func() time.Time { return testTime }
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := v.Verify(h, body)
		if err != nil {
			return
		}
		unix, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			t.Fatalf("accepted timestamp %q that does not parse", ts)
		}
		want := handSign(t, testSecret, id, time.Unix(unix, 0), body)
		for _, entry := range strings.Fields(sig) {
			if entry == want {
				return
			}
		}
		t.Fatalf("accepted id=%q ts=%q sig=%q without the expected entry %q", id, ts, sig, want)
	})
}
