package poller

import "testing"

// testEnv is a getenv with the variables the examples use.
func testEnv(name string) string {
	return map[string]string{
		"MAEU_KEY":       "maeu-key-1",
		"HLCU_CLIENT_ID": "trackhook",
		"HLCU_SECRET":    "hlcu-secret-2",
	}[name]
}

func TestSourcesExpandVars(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"plain", "plain", ""},
		{"${MAEU_KEY}", "maeu-key-1", ""},
		{"Bearer ${MAEU_KEY}/${HLCU_SECRET}!", "Bearer maeu-key-1/hlcu-secret-2!", ""},
		{"price $5 and $HOME stay", "price $5 and $HOME stay", ""},
		{"${MAEU_KEY", "", `"${" without a closing "}"`},
		{"${}", "", "${}: not an environment variable name"},
		{"${A-B}", "", "${A-B}: not an environment variable name"},
		{"${UNSET}", "", "environment variable UNSET is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expandVars(tt.in, testEnv)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expandVars(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
