package references

import (
	"fmt"
	"strings"
	"testing"
)

// carrierSCACs are the carriers the table may name, written out by hand: a SCAC
// mistyped in a row of carriers.tsv is not among them.
var carrierSCACs = map[string]string{
	"MSCU": "MSC", "MAEU": "Maersk", "CMDU": "CMA CGM", "APLU": "APL", "ANNU": "ANL",
	"HLCU": "Hapag-Lloyd", "ONEY": "ONE", "EGLV": "Evergreen", "COSU": "COSCO",
	"OOLU": "OOCL", "ZIMU": "ZIM", "HDMU": "HMM", "YMLU": "Yang Ming", "PCIU": "PIL",
	"MATS": "Matson", "ACLU": "ACL", "ARKU": "Arkas",
}

// majorCarriers are the prefixes of the large carriers, written out by hand from
// the issue and the carriers' documents: the table must list each with this SCAC.
var majorCarriers = []struct {
	kind   IdentifierKind
	prefix string
	scac   string
}{
	{KindContainer, "MSCU", "MSCU"}, {KindContainer, "MEDU", "MSCU"},
	{KindContainer, "MAEU", "MAEU"}, {KindContainer, "MSKU", "MAEU"}, {KindContainer, "MRKU", "MAEU"}, {KindContainer, "MRSU", "MAEU"},
	{KindContainer, "CMAU", "CMDU"}, {KindContainer, "CGMU", "CMDU"},
	{KindContainer, "HLXU", "HLCU"}, {KindContainer, "HLBU", "HLCU"},
	{KindContainer, "ONEU", "ONEY"},
	{KindContainer, "EGHU", "EGLV"}, {KindContainer, "EISU", "EGLV"}, {KindContainer, "EMCU", "EGLV"},
	{KindContainer, "CBHU", "COSU"}, {KindContainer, "CSNU", "COSU"}, {KindContainer, "CCLU", "COSU"},
	{KindContainer, "OOLU", "OOLU"}, {KindContainer, "OOCU", "OOLU"},
	{KindContainer, "ZIMU", "ZIMU"},
	{KindContainer, "HDMU", "HDMU"},
	{KindContainer, "YMLU", "YMLU"}, {KindContainer, "YMMU", "YMLU"},
	{KindBillOfLading, "MEDU", "MSCU"}, {KindBillOfLading, "MAEU", "MAEU"}, {KindBillOfLading, "CMDU", "CMDU"},
	{KindBillOfLading, "HLCU", "HLCU"}, {KindBillOfLading, "ONEY", "ONEY"}, {KindBillOfLading, "COSU", "COSU"},
	{KindBillOfLading, "EGLV", "EGLV"}, {KindBillOfLading, "ZIMU", "ZIMU"}, {KindBillOfLading, "HDMU", "HDMU"},
	{KindBillOfLading, "YMLU", "YMLU"},
}

// leasingPrefixes belong to container leasing companies (Textainer, Triton, SeaCo,
// CAI, Florens, Beacon, UES...), whose boxes travel with any carrier.
var leasingPrefixes = []string{
	"TGHU", "TCNU", "SEGU", "CAIU", "TRHU", "FSCU", "GESU", "TEMU", "BMOU", "CRSU",
	"DFSU", "FCIU", "TCLU", "TTNU", "TCKU", "UETU", "TEXU", "TRLU", "CRXU", "FBLU",
}

// sample returns a valid identifier of the kind that starts with prefix.
func sample(kind IdentifierKind, prefix string) string {
	if kind == KindContainer {
		first10 := prefix + "123456"
		return fmt.Sprintf("%s%d", first10, ContainerCheckDigit(first10))
	}
	return prefix + "2603451234"
}

func TestDetectCarrier_EveryRowOfTheTable(t *testing.T) {
	rows := 0
	for kind, prefixes := range carrierPrefixes() {
		for prefix, scac := range prefixes {
			rows++
			t.Run(string(kind)+"/"+prefix, func(t *testing.T) {
				if _, known := carrierSCACs[scac]; !known {
					t.Errorf("%s %s names %s, which is no carrier's SCAC this test knows: a typo, or add the carrier to carrierSCACs", kind, prefix, scac)
				}
				v := sample(kind, prefix)
				for _, in := range []string{v, strings.ToLower(v), " " + v + " "} {
					if got, ok := DetectCarrier(kind, in); !ok || got != scac {
						t.Errorf("DetectCarrier(%s, %q) = %q, %t; want %q", kind, in, got, ok, scac)
					}
				}
			})
		}
	}
	if rows < len(majorCarriers) {
		t.Errorf("the table has %d rows, fewer than the %d of the major carriers", rows, len(majorCarriers))
	}
}

func TestDetectCarrier_MajorCarriers(t *testing.T) {
	for _, c := range majorCarriers {
		t.Run(string(c.kind)+"/"+c.prefix, func(t *testing.T) {
			if got := carrierPrefixes()[c.kind][c.prefix]; got != c.scac {
				t.Errorf("carriers.tsv gives %s %s the SCAC %q, want %q", c.kind, c.prefix, got, c.scac)
			}
			if got, ok := DetectCarrier(c.kind, sample(c.kind, c.prefix)); !ok || got != c.scac {
				t.Errorf("DetectCarrier = %q, %t; want %q", got, ok, c.scac)
			}
		})
	}
}

func TestDetectCarrier_LeasingPrefixesNameNoCarrier(t *testing.T) {
	for _, prefix := range leasingPrefixes {
		t.Run(prefix, func(t *testing.T) {
			if scac, ok := DetectCarrier(KindContainer, sample(KindContainer, prefix)); ok {
				t.Errorf("a leasing company's box detected as %s", scac)
			}
		})
	}
}

func TestDetectCarrier_DetectsNothing(t *testing.T) {
	tests := []struct {
		name  string
		kind  IdentifierKind
		value string
	}{
		{"carrier's box with a wrong check digit", KindContainer, "MSKU1234566"},
		{"carrier's owner code in another category", KindContainer, sample(KindContainer, "MSCJ")},
		{"unknown owner", KindContainer, sample(KindContainer, "QQQU")},
		{"container number too short", KindContainer, "MSKU12345"},
		{"container in Cyrillic", KindContainer, "MSКU1234565"},
		{"empty container", KindContainer, ""},
		{"bill of lading of no known prefix", KindBillOfLading, "LHV1234567"},
		{"bill of lading that is only a prefix", KindBillOfLading, "MAEU"},
		{"bill of lading with punctuation", KindBillOfLading, "MAEU-123456"},
		{"bill of lading prefix that is only an owner code", KindBillOfLading, "MSKU123456789"},
		{"booking with a carrier-like start", KindBooking, "MAEU12345678"},
		{"booking of digits", KindBooking, "234567891"},
		{"unknown kind", IdentifierKind("awb"), "MAEU12345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if scac, ok := DetectCarrier(tt.kind, tt.value); ok || scac != "" {
				t.Errorf("DetectCarrier(%s, %q) = %q, %t; want nothing", tt.kind, tt.value, scac, ok)
			}
		})
	}
}

func TestParseCarrierTable_RefusesMistakes(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"spaces for tabs", "container_id MSCU MSCU MSC\n", "1 columns"},
		{"column missing", "# c\ncontainer_id\tMSCU\tMSCU\n", "line 2: 3 columns"},
		{"unknown kind", "container\tMSCU\tMSCU\tMSC\n", `"container" is not an identifier kind`},
		{"prefix in lower case", "container_id\tmscu\tMSCU\tMSC\n", "not 4 capital letters"},
		{"prefix of 3 letters", "bill_of_lading\tMSC\tMSCU\tMSC\n", "not 4 capital letters"},
		{"owner code of category J", "container_id\tMSCJ\tMSCU\tMSC\n", "ending in U"},
		{"SCAC with a digit", "container_id\tMSCU\tM5CU\tMSC\n", "not a SCAC"},
		{"SCAC in lower case", "container_id\tMSCU\tmscu\tMSC\n", "not a SCAC"},
		{"row twice", "container_id\tMSCU\tMSCU\tMSC\ncontainer_id\tMSCU\tMAEU\tMaersk\n", "line 2: container_id MSCU is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCarrierTable(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseCarrierTable: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := parseCarrierTable("# only comments\n\n"); err != nil {
		t.Errorf("a table of comments: %v", err)
	}
}

// FuzzDetectCarrier: whatever a client sends, detection does not panic, names only
// SCACs of the table, and only for a value Create accepts, whatever its case.
func FuzzDetectCarrier(f *testing.F) {
	f.Add(0, "MSKU1234565")
	f.Add(0, "msku 123456-5")
	f.Add(0, "TGHU1234567")
	f.Add(1, "medu123456")
	f.Add(1, "MAEU")
	f.Add(2, "BK123456")
	f.Add(0, "MSКU1234565")
	kinds := []IdentifierKind{KindContainer, KindBillOfLading, KindBooking, "other"}
	scacs := map[string]bool{}
	for _, prefixes := range carrierPrefixes() {
		for _, scac := range prefixes {
			scacs[scac] = true
		}
	}
	f.Fuzz(func(t *testing.T, k int, value string) {
		kind := kinds[uint(k)%uint(len(kinds))]
		scac, ok := DetectCarrier(kind, value)
		if !ok {
			if scac != "" {
				t.Fatalf("nothing detected, but the SCAC %q returned", scac)
			}
			return
		}
		if !scacs[scac] {
			t.Fatalf("detected %q, which is in no row of the table", scac)
		}
		var err error
		if kind == KindContainer {
			_, err = NormalizeContainerID(value)
		} else {
			_, err = NormalizeDocumentNumber(string(kind), value)
		}
		if err != nil {
			t.Fatalf("detected %s for %q, which Create refuses: %v", scac, value, err)
		}
		if again, ok := DetectCarrier(kind, strings.ToLower(value)); !ok || again != scac {
			t.Fatalf("%q detects %s, its lower case %q, %t", value, scac, again, ok)
		}
	})
}
