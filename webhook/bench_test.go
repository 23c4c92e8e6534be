package webhook

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// benchUpdate is a shipment.updated update carrying a snapshot of 15 events, the
// size of what the notifier sends for a voyage half way through (about 10 KB).
func benchUpdate(b *testing.B) references.Update {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "diff", "full_voyage", "05.json"))
	if err != nil {
		b.Fatal(err)
	}
	var s Shipment
	if err := json.Unmarshal(data, &s); err != nil {
		b.Fatal(err)
	}
	u := testUpdate()
	u.Shipment = s.Domain()
	return u
}

// BenchmarkSign measures signing one delivery attempt of a realistic payload, with one
// secret and with two (during a rotation's grace period).
func BenchmarkSign(b *testing.B) {
	body, err := Encode(benchUpdate(b))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		secrets []string
	}{
		{"one_secret", []string{testSecret}},
		{"two_secrets", []string{testNewSecret, testSecret}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(tc.secrets, testID, at, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("set_headers", func(b *testing.B) {
		h := http.Header{}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := SetHeaders(h, []string{testSecret}, testID, at, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode measures writing the payload of one delivery.
func BenchmarkEncode(b *testing.B) {
	u := benchUpdate(b)
	body, err := Encode(u)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(u); err != nil {
			b.Fatal(err)
		}
	}
}
