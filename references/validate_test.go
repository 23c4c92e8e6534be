package references

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeContainerID(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string // substring of the error; "" for valid
	}{
		{"MSCU1234566", "MSCU1234566", ""},
		{"CSQU3054383", "CSQU3054383", ""}, // the ISO 6346 standard's own example
		{"mscu1234566", "MSCU1234566", ""},
		{"MSCU 123456-6", "MSCU1234566", ""},
		{"TGHZ1234565", "", "check digit"},
		{"MSCU1234567", "", "check digit of MSCU123456 is 6"},
		{"MSCX1234566", "", "must be U, J or Z"},
		{"MSC1234566", "", "must be 11 characters"},
		{"MSCU12345666", "", "must be 11 characters"},
		{"MSCUA234566", "", "must end with 7 digits"},
		{"1SCU1234566", "", "must start with 4 letters"},
		{"MSСU1234566", "", "ASCII"}, // Cyrillic С
		{"", "", "must be 11 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeContainerID(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %q, %v; want an invalid error containing %q", got, err, tt.wantErr)
			}
		})
	}
}

func TestContainerCheckDigit_TenMapsToZero(t *testing.T) {
	// Owner/serial combinations whose weighted sum mod 11 is 10 take check digit 0.
	found := false
	for serial := 0; serial < 1000 && !found; serial++ {
		s := "ABCU" + strings.Repeat("0", 3) + itoa3(serial)
		sum := 0
		for i := 0; i < 10; i++ {
			v := int(s[i] - '0')
			if s[i] >= 'A' {
				v = iso6346Letter(s[i])
			}
			sum += v << i
		}
		if sum%11 == 10 {
			found = true
			if d := ContainerCheckDigit(s); d != 0 {
				t.Fatalf("%s: check digit %d, want 0", s, d)
			}
		}
	}
	if !found {
		t.Fatal("no serial with remainder 10 in range")
	}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func TestNormalizeDocumentNumber(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"MAEU123456789", "MAEU123456789", true},
		{"abcd", "ABCD", true},
		{strings.Repeat("A", 35), strings.Repeat("A", 35), true},
		{strings.Repeat("A", 36), "", false},
		{"ABC", "", false},
		{"AB-123", "", false},
		{"AB 1234", "", false},
		{"ＡＢＣＤ", "", false}, // full-width letters
		{"../../etc", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeDocumentNumber("booking_number", tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("%q: got %q, %v", tt.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "booking_number") {
			t.Errorf("%q: error does not name the field: %v", tt.in, err)
		}
	}
}

func TestNormalizeCarrierCode(t *testing.T) {
	for in, ok := range map[string]bool{"MAEU": true, "hlcu": true, "CM": true, "M": false, "MAEUX": false, "MA1U": false, "": false, "MÄEU": false} {
		if _, err := NormalizeCarrierCode(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestValidateCallbackURL(t *testing.T) {
	tests := []struct {
		url           string
		allowInsecure bool
		wantErr       string
	}{
		{"https://hooks.example.com/trackhook", false, ""},
		{"https://hooks.example.com:8443/a?b=c", false, ""},
		{"http://hooks.example.com/", true, ""},
		{"http://hooks.example.com/", false, "must use https"},
		{"ftp://hooks.example.com/", true, "must use https"},
		{"https://user:pass@hooks.example.com/", false, "user name or password"},
		{"/relative/path", false, "absolute URL"},
		{"hooks.example.com/path", false, "absolute URL"},
		{"https://", false, "absolute URL"},
		{"https:opaque", false, "absolute URL"},
		{"https://example.com/" + strings.Repeat("a", MaxCallbackURLLength), false, "at most 2048"},
		{"https://exa mple.com/", false, "not a valid URL"},
	}
	for _, tt := range tests {
		_, err := ValidateCallbackURL(tt.url, tt.allowInsecure)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%.60q: got %v, want %q", tt.url, err, tt.wantErr)
		}
	}
}

func TestValidateEventTypesAndMetadata(t *testing.T) {
	got, err := ValidateEventTypes([]string{"shipment.updated", "shipment.updated", "reference.unsubscribed"})
	if err != nil || len(got) != 2 {
		t.Fatalf("dedupe: %v, %v", got, err)
	}
	if _, err := ValidateEventTypes([]string{"shipment.*"}); err == nil {
		t.Fatal("unknown event type accepted")
	}
	big := map[string]string{}
	for i := 0; i <= MaxMetadataKeys; i++ {
		big[string(rune('a'+i))] = "v"
	}
	for name, m := range map[string]map[string]string{
		"too many keys": big,
		"empty key":     {"": "v"},
		"long key":      {strings.Repeat("k", MaxMetadataKeyLen+1): "v"},
		"long value":    {"k": strings.Repeat("v", MaxMetadataValueLen+1)},
	} {
		if err := ValidateMetadata(m); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// FuzzIdentifiers checks that the validators never panic, that what they accept is in
// canonical form (normalising it again changes nothing) and pure ASCII.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{"MSCU1234566", "mscu 123456-6", "CSQU3054383", "MAEU123456789", "MSСU1234566", "", "\x00", "ＡＢＣＤ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := NormalizeContainerID(s); err == nil {
			if again, err := NormalizeContainerID(c); err != nil || again != c || len(c) != 11 {
				t.Fatalf("container %q -> %q -> %q, %v", s, c, again, err)
			}
		}
		if d, err := NormalizeDocumentNumber("bill_of_lading", s); err == nil {
			if again, err := NormalizeDocumentNumber("bill_of_lading", d); err != nil || again != d {
				t.Fatalf("document %q -> %q -> %q, %v", s, d, again, err)
			}
		}
		if c, err := NormalizeCarrierCode(s); err == nil && (len(c) < 2 || len(c) > 4) {
			t.Fatalf("carrier %q -> %q", s, c)
		}
		_, _ = ValidateCallbackURL(s, true)
	})
}
