package retryafter

import (
	"net/http"
	"testing"
	"time"
)

var now = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"45", 45 * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"30s", 0, false},
		{"soon", 0, false},
		{"tomorrow", 0, false},
		{"2592000", Max, true},
		{"2592001", Max, true},
		{"9999999999", Max, true},
		{"999999999999", Max, true},
		{"99999999999999999999999", Max, true}, // beyond uint64: still a number of seconds
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true}, // in the past
		{now.Add(365 * 24 * time.Hour).Format(http.TimeFormat), Max, true},
		{"Sat, 01 Mar 2025 09:31:00 GMT", time.Minute, true},
		{"Saturday, 01-Mar-25 09:31:00 GMT", time.Minute, true}, // RFC 850
		{"Sat Mar  1 09:31:00 2025", time.Minute, true},         // ANSI C asctime
		{"Sat, 01 Mar 2025 09:31:00", 0, false},                 // no zone
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0", "120", "Sat, 01 Mar 2025 09:31:00 GMT", "Mon Jan  2 15:04:05 2006", "-1", "1e9", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := Parse(v, now)
		if d < 0 || d > Max {
			t.Fatalf("Parse(%q) = %s, outside [0, %s]", v, d, Max)
		}
		if !ok && d != 0 {
			t.Fatalf("Parse(%q) = %s, false: a refused value must give 0", v, d)
		}
	})
}
