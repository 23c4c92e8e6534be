package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The shipment pages format their values in Go, so their templates only place
// strings (and a 10,000-reference account's page costs no template logic per cell).

// stamp is a time as the shipment pages show it: in UTC, which is the only zone the
// DCSA model keeps (sources send offsets, the store keeps instants, and trackhook has
// no table of the ports' zones to convert to local time), said so with "UTC".
type stamp struct {
	ISO  string // RFC 3339, for <time datetime>
	Text string // "2026-03-04 08:00 UTC"; "" for none
}

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	u := t.UTC()
	return stamp{ISO: u.Format(time.RFC3339), Text: u.Format("2006-01-02 15:04") + " UTC"}
}

func stampPtr(t *time.Time) stamp {
	if t == nil {
		return stamp{}
	}
	return stampOf(*t)
}

// sinceText says how long before now t was ("5m ago"), or in how long it comes ("in
// 2h"); "" for nil.
func sinceText(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t)
	switch {
	case d > -time.Minute && d < time.Minute:
		return "just now"
	case d < 0:
		return "in " + shortDuration(-d)
	}
	return shortDuration(d) + " ago"
}

// shortDuration is d in its two largest units: "2d 4h", "3h 12m", "45m", "20s".
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	mins, secs := int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	case mins > 0:
		return fmt.Sprintf("%dm", mins)
	}
	return fmt.Sprintf("%ds", secs)
}

// etaMoveText says how the ETA moved from the first one seen: "+2d 4h since first
// ETA", "-6h since first ETA", "as first announced"; "" without both ETAs.
func etaMoveText(sum *references.ShipmentSummary) string {
	if sum == nil || sum.ETA == nil || sum.FirstETA == nil {
		return ""
	}
	d := sum.ETAMove()
	switch {
	case d == 0:
		return "as first announced"
	case d > 0:
		return "+" + shortDuration(d) + " since first ETA"
	}
	return "-" + shortDuration(d) + " since first ETA"
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

// words turns a code of the API ("in_transit", "bill_of_lading") into words.
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
