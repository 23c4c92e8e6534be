package tracking

import (
	"reflect"
	"testing"
)

func TestParseTerminalRule(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the rule; "" for an error
		wantErr bool
	}{
		{"", "GTIN:EMPTY", false},
		{"GTIN:EMPTY", "GTIN:EMPTY", false},
		{"gtin:empty, strp", "GTIN:EMPTY,STRP", false},
		{"GTOT:LADEN", "GTOT:LADEN", false},
		{"GTI", "", true},
		{"GTIN:FULL", "", true},
		{"GT1N", "", true},
		{",", "", true},
	}
	for _, tt := range tests {
		rule, err := ParseTerminalRule(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && rule.String() != tt.want) {
			t.Errorf("%q: got %q, %v", tt.in, rule, err)
		}
	}
	def, _ := ParseTerminalRule("")
	if !reflect.DeepEqual(def, DefaultTerminalRule()) {
		t.Fatalf("empty rule %v is not the default %v", def, DefaultTerminalRule())
	}
}

func FuzzParseTerminalRule(f *testing.F) {
	for _, s := range []string{"GTIN:EMPTY", "gtin:empty,STRP", "", ",,", "GTIN:", ":EMPTY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rule, err := ParseTerminalRule(s)
		if err != nil {
			return
		}
		again, err := ParseTerminalRule(rule.String())
		if err != nil || !reflect.DeepEqual(again, rule) {
			t.Fatalf("%q -> %q does not read back: %v", s, rule, err)
		}
	})
}
