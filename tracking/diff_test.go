package tracking

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// changeTypes lists the types of changes, to compare with what a case expects.
func changeTypes(changes []references.Change) []references.ChangeType {
	var out []references.ChangeType
	for _, c := range changes {
		out = append(out, c.Type)
	}
	return out
}

func TestDiff_Cases(t *testing.T) {
	t.Parallel()
	vessel := func(b eventBuilder) eventBuilder { return b.on("PACIFIC MERIDIAN", "9815903", "412W") }
	base := []eventBuilder{
		vessel(mkEvent("LOAD", clsACT, 40).at("CNSHA")),
		vessel(mkEvent("DEPA", clsEST, 50).at("CNSHA")),
		vessel(mkEvent("ARRI", clsPLN, 700).at("NLRTM")),
	}
	with := func(i int, f func(eventBuilder) eventBuilder) []eventBuilder {
		c := slices.Clone(base)
		c[i] = f(c[i])
		return c
	}
	tests := []struct {
		name     string
		old, cur *references.Shipment
		want     []references.ChangeType
		old0     string // Old of the first change, when checked
		new0     string // New of the first change, when checked
	}{
		{name: "nothing to nothing", old: nil, cur: nil},
		{name: "first poll of an empty snapshot", old: nil, cur: mkShipment()},
		{
			name: "estimate moved under a new id",
			old:  mkShipment(base...),
			cur: mkShipment(with(1, func(b eventBuilder) eventBuilder {
				b.Time = b.Time.Add(3 * time.Hour)
				return b.id("revised")
			})...),
			want: []references.ChangeType{references.ChangeEstimateChanged},
			old0: "2026-03-03T02:00:00Z", new0: "2026-03-03T05:00:00Z",
		},
		{
			name: "plan becomes an estimate at the same time",
			old:  mkShipment(base...),
			cur:  mkShipment(with(2, func(b eventBuilder) eventBuilder { b.Classifier = clsEST; return b })...),
		},
		{
			name: "estimate happens",
			old:  mkShipment(base...),
			cur:  mkShipment(with(1, func(b eventBuilder) eventBuilder { b.Classifier = clsACT; return b })...),
			want: []references.ChangeType{references.ChangeActualized, references.ChangeStatusChanged},
		},
		{
			name: "actual corrected",
			old:  mkShipment(base...),
			cur: mkShipment(with(0, func(b eventBuilder) eventBuilder {
				b.Time = b.Time.Add(-time.Hour)
				return b
			})...),
			want: []references.ChangeType{references.ChangeActualCorrected},
			old0: "2026-03-02T16:00:00Z", new0: "2026-03-02T15:00:00Z",
		},
		{
			name: "actual withdrawn",
			old:  mkShipment(base...),
			cur:  mkShipment(base[1:]...),
			want: []references.ChangeType{
				references.ChangeActualCorrected, references.ChangeStatusChanged,
				references.ChangeLocationChanged,
			},
			old0: "2026-03-02T16:00:00Z", new0: "",
		},
		{
			name: "actual turned back into an estimate",
			old:  mkShipment(base...),
			cur:  mkShipment(with(0, func(b eventBuilder) eventBuilder { b.Classifier = clsEST; return b })...),
			want: []references.ChangeType{
				references.ChangeActualCorrected, references.ChangeStatusChanged,
				references.ChangeLocationChanged,
			},
		},
		{
			name: "plan removed",
			old:  mkShipment(base...),
			cur:  mkShipment(base[:2]...),
			want: []references.ChangeType{references.ChangeEventRemoved, references.ChangeETAChanged},
			old0: "2026-03-30T04:00:00Z",
		},
		{
			name: "new milestone",
			old:  mkShipment(base[:2]...),
			cur:  mkShipment(base...),
			want: []references.ChangeType{references.ChangeEventAdded, references.ChangeETAChanged},
			new0: "2026-03-30T04:00:00Z",
		},
		{
			name: "case and spacing of a source do not make a new milestone",
			old:  mkShipment(base...),
			cur: mkShipment(with(2, func(b eventBuilder) eventBuilder {
				b.Code = "arri"
				b.Location = &references.Location{UNLocode: " nlrtm"}
				b.TransportCall = &references.TransportCall{VesselName: "Pacific Meridian", VesselIMO: "9815903 ", Voyage: "412w"}
				return b
			})...),
		},
		{
			name: "another vessel is another milestone",
			old:  mkShipment(base...),
			cur: mkShipment(with(2, func(b eventBuilder) eventBuilder {
				return b.on("CAPE VERITAS", "9830161", "233W")
			})...),
			want: []references.ChangeType{references.ChangeEventRemoved, references.ChangeEventAdded},
		},
		{
			name: "a vessel without IMO is matched by name",
			old:  mkShipment(mkEvent("ARRI", clsEST, 700).at("NLRTM").on("NORDIC AURORA", "", "051W")),
			cur:  mkShipment(mkEvent("ARRI", clsEST, 701).at("NLRTM").on("Nordic Aurora", "", "051W")),
			want: []references.ChangeType{
				references.ChangeEstimateChanged, references.ChangeETAChanged,
			},
		},
		{
			name: "the plan listed beside the estimate is ignored",
			old:  mkShipment(append(base, vessel(mkEvent("DEPA", clsPLN, 45).at("CNSHA")))...),
			cur:  mkShipment(append(base, vessel(mkEvent("DEPA", clsPLN, 48).at("CNSHA")))...),
		},
		{
			name: "the plan is what is left when the estimate goes",
			old:  mkShipment(append(base, vessel(mkEvent("DEPA", clsPLN, 45).at("CNSHA")))...),
			cur:  mkShipment(base[0], base[2], vessel(mkEvent("DEPA", clsPLN, 45).at("CNSHA"))),
			want: []references.ChangeType{references.ChangeEstimateChanged},
			old0: "2026-03-03T02:00:00Z", new0: "2026-03-02T21:00:00Z",
		},
		{
			name: "everything gone",
			old:  mkShipment(base...),
			cur:  nil,
			want: []references.ChangeType{
				references.ChangeActualCorrected, references.ChangeEventRemoved, references.ChangeEventRemoved,
				references.ChangeStatusChanged, references.ChangeLocationChanged, references.ChangeVesselChanged,
				references.ChangeVoyageChanged, references.ChangeETAChanged,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var old *references.Shipment
			if tt.old != nil {
				old = Derive(tt.old)
			}
			var cur *references.Shipment
			if tt.cur != nil {
				cur = Derive(tt.cur)
			}
			got := Diff(old, cur)
			if !slices.Equal(changeTypes(got), tt.want) {
				t.Fatalf("changes = %v, want %v\n%+v", changeTypes(got), tt.want, got)
			}
			for _, c := range got {
				if c.Description == "" {
					t.Errorf("%s change without description", c.Type)
				}
			}
			if tt.old0 != "" || tt.new0 != "" {
				if got[0].Old != tt.old0 || got[0].New != tt.new0 {
					t.Errorf("first change old %q new %q, want %q %q", got[0].Old, got[0].New, tt.old0, tt.new0)
				}
			}
		})
	}
}

func TestDiff_SameSnapshotIsNoChange(t *testing.T) {
	t.Parallel()
	for name, s := range fixtureSnapshots(t) {
		d := Derive(s)
		if got := Diff(d, d); len(got) != 0 {
			t.Errorf("%s: Diff(x, x) = %+v", name, got)
		}
		if got := Diff(d, Derive(d)); len(got) != 0 {
			t.Errorf("%s: Diff(x, Derive(x)) = %+v", name, got)
		}
	}
}

func TestDiff_SourceOrderIsNoChange(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for name, s := range fixtureSnapshots(t) {
		d := Derive(s)
		for range 10 {
			shuffled := &references.Shipment{Events: slices.Clone(s.Events)}
			rng.Shuffle(len(shuffled.Events), func(i, j int) {
				shuffled.Events[i], shuffled.Events[j] = shuffled.Events[j], shuffled.Events[i]
			})
			if got := Diff(d, Derive(shuffled)); len(got) != 0 {
				t.Fatalf("%s: Diff(x, shuffled x) = %+v", name, got)
			}
		}
	}
}

// TestDiff_StoredSnapshotIsNoChange checks that a snapshot read back from JSON, as the
// store keeps it, compares equal to the one it was written from.
func TestDiff_StoredSnapshotIsNoChange(t *testing.T) {
	t.Parallel()
	for name, s := range fixtureSnapshots(t) {
		d := Derive(s)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var stored references.Shipment
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		if got := Diff(&stored, Derive(s)); len(got) != 0 {
			t.Errorf("%s: stored snapshot differs: %+v", name, got)
		}
	}
}

// TestDiff_OrderIsDeterministic repeats a diff with many changes: the milestones are
// indexed in maps, whose order Go randomises, so a missing sort would show here.
func TestDiff_OrderIsDeterministic(t *testing.T) {
	t.Parallel()
	snaps := fixtureSnapshots(t)
	old := Derive(snaps[filepath.Join("..", "testdata", "diff", "full_voyage", "01.json")])
	cur := Derive(snaps[filepath.Join("..", "testdata", "diff", "full_voyage", "08.json")])
	want := Diff(old, cur)
	if len(want) < 10 {
		t.Fatalf("only %d changes; the check needs many", len(want))
	}
	for range 50 {
		if got := Diff(old, cur); !reflect.DeepEqual(got, want) {
			t.Fatalf("a second run gave another result:\n%v\n%v", changeTypes(got), changeTypes(want))
		}
	}
}

func TestDiff_ChangesShareNothingWithTheSnapshots(t *testing.T) {
	t.Parallel()
	old := Derive(mkShipment(transshippedVoyage(3)...))
	cur := Derive(mkShipment(transshippedVoyage(5)...))
	changes := Diff(old, cur)
	if len(changes) == 0 || changes[0].Event == nil {
		t.Fatalf("want event changes, got %+v", changes)
	}
	changes[0].Event.Location.UNLocode = "XXXXX"
	if again := Diff(old, cur); !reflect.DeepEqual(again[0].Event, &cur.Events[3]) {
		t.Errorf("changing a change's event changed the snapshot: %+v", again[0].Event)
	}
}

// FuzzDiff feeds two snapshots, as JSON from a source or the store, to Derive and
// Diff: they must not panic, a snapshot must never differ from itself (as listed, in
// another order, or read back from JSON), and every change must say what it is.
func FuzzDiff(f *testing.F) {
	cases, _ := filepath.Glob(filepath.Join("..", "testdata", "diff", "*"))
	for _, dir := range cases {
		files, _ := filepath.Glob(filepath.Join(dir, "[0-9][0-9].json"))
		for i := 1; i < len(files); i++ {
			a, _ := os.ReadFile(files[i-1])
			b, _ := os.ReadFile(files[i])
			f.Add(a, b)
		}
	}
	f.Add([]byte(`{"events":[{"code":"ARRI","classifier":"ACT","event_time":"2026-01-01T00:00:00+14:00","location":{}}]}`), []byte(`null`))
	f.Add([]byte(`{"events":[{"type":"EQUIPMENT","code":"GTIN","empty_indicator":"empty","classifier":"ACT","event_time":"0001-01-01T00:00:00Z"}]}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var wa, wb webhook.Shipment // as JSON has them
		if json.Unmarshal(a, &wa) != nil || json.Unmarshal(b, &wb) != nil {
			return
		}
		sa, sb := *wa.Domain(), *wb.Domain()
		da, db := Derive(&sa), Derive(&sb)
		for _, c := range append(Diff(da, db), Diff(nil, db)...) {
			if c.Type == "" || c.Description == "" {
				t.Fatalf("change without type or description: %+v", c)
			}
		}
		if got := Diff(da, da); len(got) != 0 {
			t.Fatalf("Diff(x, x) = %+v", got)
		}
		if got := Diff(da, Derive(reversedEvents(&sa))); len(got) != 0 {
			t.Fatalf("Diff(x, reversed x) = %+v", got)
		}
		if again := Derive(da); !reflect.DeepEqual(again, da) {
			t.Fatalf("Derive(Derive(x)) != Derive(x)")
		}
		_ = IsComplete(da, nil)
		stored, err := json.Marshal(da)
		if err != nil {
			return // a time JSON cannot write (beyond year 9999) never reaches the store
		}
		var back references.Shipment
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("reading back %s: %v", stored, err)
		}
		if got := Diff(&back, da); len(got) != 0 {
			t.Fatalf("Diff(stored x, x) = %+v", got)
		}
	})
}
