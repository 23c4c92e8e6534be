package references

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// carriersTSV is the detection table: which identifier prefixes name which carrier,
// with the public sources it was read from in its header.
//
//go:embed carriers.tsv
var carriersTSV string

// prefixLen is the length of every prefix in the table: an ISO 6346 owner code and
// category letter, or a SCAC-sized bill of lading prefix.
const prefixLen = 4

// carrierPrefixes is the table read once, by kind and prefix; nothing changes it.
var carrierPrefixes = sync.OnceValue(func() map[IdentifierKind]map[string]string {
	t, err := parseCarrierTable(carriersTSV)
	if err != nil {
		panic("references: carriers.tsv: " + err.Error()) // embedded at build time: a mistake of the program
	}
	return t
})

// parseCarrierTable reads the rows "kind<TAB>prefix<TAB>scac<TAB>carrier" of the
// table; # starts a comment line.
func parseCarrierTable(text string) (map[IdentifierKind]map[string]string, error) {
	t := map[IdentifierKind]map[string]string{}
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			return nil, fmt.Errorf("line %d: %d columns, want 4 separated by tabs", n+1, len(cols))
		}
		kind, prefix, scac := IdentifierKind(cols[0]), cols[1], cols[2]
		if kind != KindContainer && kind != KindBillOfLading && kind != KindBooking {
			return nil, fmt.Errorf("line %d: %q is not an identifier kind", n+1, kind)
		}
		if len(prefix) != prefixLen || !upperLetters(prefix) || (kind == KindContainer && prefix[3] != 'U') {
			return nil, fmt.Errorf("line %d: prefix %q is not 4 capital letters (a container's ending in U)", n+1, prefix)
		}
		if code, err := NormalizeCarrierCode(scac); err != nil || code != scac {
			return nil, fmt.Errorf("line %d: %q is not a SCAC in capitals", n+1, scac)
		}
		if t[kind] == nil {
			t[kind] = map[string]string{}
		}
		if _, dup := t[kind][prefix]; dup {
			return nil, fmt.Errorf("line %d: %s %s is listed twice", n+1, kind, prefix)
		}
		t[kind][prefix] = scac
	}
	return t, nil
}

func upperLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// DetectCarrier returns the SCAC of the carrier an identifier names by its prefix: a
// container number's owner code (MSKU1234565 is Maersk's, MAEU) or a bill of lading
// that starts with a carrier's prefix (MEDU... is MSC's, MSCU). The value is first
// normalised and checked as Create does, so an invalid value (a container number with
// a wrong check digit, say) detects nothing. A leasing company's box, whose owner
// ships with any carrier, and a booking number, which carries no carrier prefix,
// detect nothing either.
func DetectCarrier(kind IdentifierKind, value string) (scac string, ok bool) {
	var err error
	switch kind {
	case KindContainer:
		value, err = NormalizeContainerID(value)
	case KindBillOfLading, KindBooking:
		value, err = NormalizeDocumentNumber(string(kind), value)
	default:
		return "", false
	}
	if err != nil || len(value) <= prefixLen { // a bare prefix is no document number
		return "", false
	}
	scac, ok = carrierPrefixes()[kind][value[:prefixLen]]
	return scac, ok
}

// carrierOf sets the carrier code of ref, whose identifier is set and valid: the code
// the client gave, or else the one DetectCarrier finds (and CarrierDetected). When
// neither is there, the error asks for carrier_code and says why it could not be
// detected.
func carrierOf(ref *Reference, given string) error {
	if strings.TrimSpace(given) != "" {
		code, err := NormalizeCarrierCode(given)
		ref.CarrierCode = code
		return err
	}
	kind, value := ref.Identifier()
	if scac, ok := DetectCarrier(kind, value); ok {
		ref.CarrierCode, ref.CarrierDetected = scac, true
		return nil
	}
	const give = "give the carrier's SCAC code of 2 to 4 letters, e.g. MAEU"
	switch kind {
	case KindContainer:
		return Invalidf("carrier_code", "is required for container %s: its owner prefix %s belongs to no carrier (a leasing company's box, or an owner trackhook does not know), so the carrier cannot be detected; %s",
			value, value[:prefixLen], give)
	case KindBillOfLading:
		return Invalidf("carrier_code", "is required for bill of lading %s: it does not start with a carrier's prefix (such as MEDU or MAEU), so the carrier cannot be detected; %s", value, give)
	default:
		return Invalidf("carrier_code", "is required with a booking_number: booking numbers carry no carrier prefix to detect the carrier from; %s", give)
	}
}
