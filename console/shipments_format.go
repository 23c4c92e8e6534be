package console

import (
	"strings"

	"github.com/trackhook/trackhook/references"
)

// Formatting shared by the shipment pages. Times are shown with the template funcs
// when and ago: in UTC, the only zone the DCSA model keeps (sources send offsets, the
// tracking package stores instants in UTC, and trackhook has no table of the ports'
// zones to show a milestone in local time), and the page says so.

// etaMoveText says how the ETA moved from the first one seen: "+2 days 4 h since
// first ETA", "-6 h since first ETA", "as first announced"; "" without both ETAs.
func etaMoveText(sum *references.ShipmentSummary) string {
	if sum == nil || sum.ETA == nil || sum.FirstETA == nil {
		return ""
	}
	d := sum.ETAMove()
	switch {
	case d == 0:
		return "as first announced"
	case d > 0:
		return "+" + dur(d) + " since first ETA"
	}
	return dur(d) + " since first ETA" // dur signs it
}

// place is a location as the shipment pages show it: the UN/LOCODE and the name the
// source gave.
type place struct {
	Code string
	Name string
}

func placeOf(l *references.Location) place {
	if l == nil {
		return place{}
	}
	return place{Code: strings.TrimSpace(l.UNLocode), Name: strings.TrimSpace(l.Name)}
}

// Label is "NLRTM Rotterdam", or whichever part is known; "" for none.
func (p place) Label() string { return strings.TrimSpace(p.Code + " " + p.Name) }

// words turns a code of the API ("in_transit", "tracking_complete") into words.
func words(code string) string { return strings.ReplaceAll(code, "_", " ") }

// kindWords names an identifier kind for people.
func kindWords(k references.IdentifierKind) string {
	switch k {
	case references.KindContainer:
		return "container"
	case references.KindBillOfLading:
		return "bill of lading"
	}
	return "booking"
}
