package notifier

import (
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   Control
	}{
		{"absent", nil, Control{}},
		{"empty", []string{""}, Control{}},
		{"abort", []string{"abort-message"}, Control{AbortMessage: true}},
		{"disable", []string{"disable"}, Control{Disable: true}},
		{"any case", []string{"Abort-Message"}, Control{AbortMessage: true}},
		{"upper case", []string{"DISABLE"}, Control{Disable: true}},
		{"spaces and tabs around", []string{" \tdisable\t "}, Control{Disable: true}},
		{"both in one list", []string{"disable, abort-message"}, Control{AbortMessage: true, Disable: true}},
		{"both on two lines", []string{"abort-message", "disable"}, Control{AbortMessage: true, Disable: true}},
		{"unknown values are ignored", []string{"pause, disable-later, abort"}, Control{}},
		{"unknown beside a known one", []string{"pause,abort-message"}, Control{AbortMessage: true}},
		{"a value inside a longer token is not it", []string{"disabled", "abort-messages", "no-disable"}, Control{}},
		{"quoted is not it", []string{`"disable"`}, Control{}},
		{"non-ASCII look-alikes do not fold", []string{"diſable", "\u212Aill", "abort-meſſage"}, Control{}},
		{"other whitespace is not trimmed", []string{"\u00a0disable"}, Control{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseControl(tt.values); got != tt.want {
				t.Errorf("parseControl(%q) = %+v, want %+v", tt.values, got, tt.want)
			}
		})
	}
}

// FuzzParseControl: the parser never panics; a header on two lines means what it
// means as one comma-separated line; ASCII case does not matter; and a value is only
// honoured when its words are in the header.
func FuzzParseControl(f *testing.F) {
	for _, seed := range [][2]string{
		{"disable", ""}, {"abort-message", "disable"}, {" Abort-Message ,x", "DISABLE\t"}, {"diſable", ",,"}, {"\xff", "abort-message,"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		two := parseControl([]string{a, b})
		if one := parseControl([]string{a + "," + b}); one != two {
			t.Fatalf("%q and %q: as two lines %+v, as one list %+v", a, b, two, one)
		}
		merged := Control{
			AbortMessage: parseControl([]string{a}).AbortMessage || parseControl([]string{b}).AbortMessage,
			Disable:      parseControl([]string{a}).Disable || parseControl([]string{b}).Disable,
		}
		if two != merged {
			t.Fatalf("%q and %q: %+v, each alone %+v", a, b, two, merged)
		}
		if up := parseControl([]string{asciiUpper(a), asciiUpper(b)}); up != two {
			t.Fatalf("%q and %q: upper case gives %+v, not %+v", a, b, up, two)
		}
		lower := strings.ToLower(a + "," + b)
		if two.Disable && !strings.Contains(lower, controlDisable) || two.AbortMessage && !strings.Contains(lower, controlAbortMessage) {
			t.Fatalf("%q and %q gave %+v without the words", a, b, two)
		}
	})
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
