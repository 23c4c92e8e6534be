package references

import (
	"net/url"
	"strings"
)

// Limits on what a reference may carry.
const (
	MaxCallbackURLLength = 2048
	MaxMetadataKeys      = 20
	MaxMetadataKeyLen    = 64
	MaxMetadataValueLen  = 512
)

// asciiUpper upper-cases ASCII letters and reports whether s was pure ASCII. Unicode
// is refused rather than folded, so look-alike letters cannot pass as identifiers.
func asciiUpper(s string) (string, bool) {
	b := []byte(s)
	for i, c := range b {
		if c >= 0x80 {
			return "", false
		}
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b), true
}

// iso6346Letter maps A-Z to the values ISO 6346 uses: 10 upwards, skipping multiples of 11.
func iso6346Letter(c byte) int {
	v := 10 + int(c-'A')
	// 11, 22 and 33 are skipped: one step after A (10), after K (21+1), after U (32+1).
	if v >= 11 {
		v++
	}
	if v >= 22 {
		v++
	}
	if v >= 33 {
		v++
	}
	return v
}

// ContainerCheckDigit returns the ISO 6346 check digit of the first ten characters of
// a container number (owner code, category, serial), which must be valid.
func ContainerCheckDigit(first10 string) int {
	sum := 0
	for i := 0; i < 10; i++ {
		c := first10[i]
		v := int(c - '0')
		if c >= 'A' && c <= 'Z' {
			v = iso6346Letter(c)
		}
		sum += v << i
	}
	return sum % 11 % 10
}

// NormalizeContainerID validates an ISO 6346 container number (3-letter owner code,
// category U, J or Z, 6-digit serial, check digit) and returns it upper-cased. Spaces
// and hyphens, as printed on boxes and documents, are removed first.
func NormalizeContainerID(s string) (string, error) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	s, ok := asciiUpper(s)
	if !ok {
		return "", Invalidf("container_id", "must contain only ASCII letters and digits")
	}
	if len(s) != 11 {
		return "", Invalidf("container_id", "must be 11 characters: 4 letters, 6 digits and a check digit (e.g. MSCU1234566), got %d", len(s))
	}
	for i := 0; i < 4; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return "", Invalidf("container_id", "must start with 4 letters (owner code and category), e.g. MSCU1234566")
		}
	}
	if c := s[3]; c != 'U' && c != 'J' && c != 'Z' {
		return "", Invalidf("container_id", "the 4th letter is the equipment category and must be U, J or Z, got %q", string(c))
	}
	for i := 4; i < 11; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", Invalidf("container_id", "must end with 7 digits (serial number and check digit), e.g. MSCU1234566")
		}
	}
	if want := ContainerCheckDigit(s[:10]); int(s[10]-'0') != want {
		return "", Invalidf("container_id", "check digit of %s is %d, not %c: the number is mistyped", s[:10], want, s[10])
	}
	return s, nil
}

// NormalizeDocumentNumber validates a bill of lading or booking number: 4 to 35
// characters of A-Z and 0-9 (lower case is upper-cased). field names it in errors.
func NormalizeDocumentNumber(field, s string) (string, error) {
	s, ok := asciiUpper(strings.TrimSpace(s))
	if !ok {
		return "", Invalidf(field, "must contain only the characters A-Z and 0-9")
	}
	if len(s) < 4 || len(s) > 35 {
		return "", Invalidf(field, "must be 4 to 35 characters long, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return "", Invalidf(field, "must contain only the characters A-Z and 0-9, found %q", string(c))
		}
	}
	return s, nil
}

// NormalizeCarrierCode validates a SCAC carrier code: 2 to 4 letters, returned upper-cased.
func NormalizeCarrierCode(s string) (string, error) {
	s, ok := asciiUpper(strings.TrimSpace(s))
	if s == "" && ok {
		return "", Invalidf("carrier_code", "is required: the carrier's SCAC code of 2 to 4 letters, e.g. MAEU")
	}
	if !ok || len(s) < 2 || len(s) > 4 {
		return "", Invalidf("carrier_code", "must be a SCAC code of 2 to 4 letters, e.g. MAEU")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return "", Invalidf("carrier_code", "must be a SCAC code of 2 to 4 letters, e.g. MAEU")
		}
	}
	return s, nil
}

// ValidateCallbackURL checks the form of a callback URL: absolute, https (http only
// when allowInsecure), a host, no user-info, at most MaxCallbackURLLength characters.
// Whether the host is a permitted destination is checked separately (see Service).
func ValidateCallbackURL(raw string, allowInsecure bool) (*url.URL, error) {
	if len(raw) > MaxCallbackURLLength {
		return nil, Invalidf("callback_url", "must be at most %d characters", MaxCallbackURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Invalidf("callback_url", "is not a valid URL")
	}
	switch {
	case !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, Invalidf("callback_url", "must be an absolute URL such as https://example.com/webhooks")
	case u.Scheme == "http" && !allowInsecure:
		return nil, Invalidf("callback_url", "must use https (for development, this server accepts http:// callbacks when started with --allow-insecure-callbacks)")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, Invalidf("callback_url", "must use https, not %q", u.Scheme)
	case u.User != nil:
		return nil, Invalidf("callback_url", "must not contain a user name or password")
	case u.Hostname() == "":
		return nil, Invalidf("callback_url", "must name a host")
	}
	return u, nil
}

// ValidateEventTypes checks an event_types filter against the known update types and
// returns it without duplicates.
func ValidateEventTypes(types []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range types {
		known := false
		for _, k := range UpdateTypes {
			known = known || string(k) == t
		}
		if !known {
			return nil, Invalidf("event_types", "%q is not an update type; known types are shipment.updated, tracking.failed, reference.unsubscribed", t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// ValidateMetadata checks the size of user metadata.
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return Invalidf("metadata", "may have at most %d keys, got %d", MaxMetadataKeys, len(m))
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetadataKeyLen {
			return Invalidf("metadata", "keys must be 1 to %d bytes long", MaxMetadataKeyLen)
		}
		if len(v) > MaxMetadataValueLen {
			return Invalidf("metadata", "value of %q is over %d bytes", k, MaxMetadataValueLen)
		}
	}
	return nil
}
