package tracking

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// updateGolden rewrites golden files instead of comparing with them:
// go test ./tracking -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata")

// diffGoldenStep is one poll of a golden case: the changes from the previous snapshot, and
// what Derive made of the new one (without its events, which are in the fixture).
type diffGoldenStep struct {
	From     string               `json:"from,omitempty"`
	To       string               `json:"to"`
	Derived  *references.Shipment `json:"derived"`
	Complete bool                 `json:"complete"`
	Changes  []references.Change  `json:"changes"`
}

// TestDiff_Golden replays each case under testdata/diff: the snapshots 01.json, 02.json
// ... are polled in turn, the first against nothing, and the steps are compared with
// the case's changes.golden.json.
func TestDiff_Golden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("..", "testdata", "diff", "*", "01.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 8 {
		t.Fatalf("found %d golden cases, want at least 8", len(cases))
	}
	for _, first := range cases {
		dir := filepath.Dir(first)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			files, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9].json"))
			if err != nil {
				t.Fatal(err)
			}
			var (
				steps []diffGoldenStep
				prev  *references.Shipment
				from  string
			)
			for _, f := range files {
				cur := Derive(readShipmentFixture(t, f))
				steps = append(steps, diffGoldenStep{
					From:     from,
					To:       filepath.Base(f),
					Derived:  withoutEventsList(cur),
					Complete: IsComplete(cur, nil),
					Changes:  changesOrEmpty(Diff(prev, cur)),
				})
				prev, from = cur, filepath.Base(f)
			}
			got, err := json.MarshalIndent(wireSteps(steps), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(dir, "changes.golden.json")
			if *updateGolden {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("changes differ from %s (run with -update to accept):\n%s", golden, got)
			}
		})
	}
}

func withoutEventsList(s *references.Shipment) *references.Shipment {
	c := *s
	c.Events = nil
	return &c
}

// changesOrEmpty makes "no change" read as [] rather than null in golden files.
func changesOrEmpty(c []references.Change) []references.Change {
	if c == nil {
		return []references.Change{}
	}
	return c
}

// wireSteps is steps with the snapshots and changes in their wire form, the JSON
// receivers get.
func wireSteps(steps []diffGoldenStep) any {
	type wireStep struct {
		From     string           `json:"from,omitempty"`
		To       string           `json:"to"`
		Derived  goldenShipment   `json:"derived"`
		Complete bool             `json:"complete"`
		Changes  []webhook.Change `json:"changes"`
	}
	out := make([]wireStep, len(steps))
	for i, s := range steps {
		out[i] = wireStep{s.From, s.To, newGoldenShipment(s.Derived), s.Complete, webhook.NewChanges(s.Changes)}
	}
	return out
}

// goldenShipment is the wire form of a derived shipment with its containers' events
// named by id: the events are in the fixture already, and a golden file that repeats
// each one under its container is harder to review.
type goldenShipment struct {
	*webhook.Shipment
	Containers []goldenContainer `json:"containers,omitempty"` // hides Shipment.Containers
}

type goldenContainer struct {
	Number           string                    `json:"number"`
	ISOEquipmentCode string                    `json:"iso_equipment_code,omitempty"`
	Status           references.ShipmentStatus `json:"status"`
	CurrentLocation  *webhook.Location         `json:"current_location,omitempty"`
	LastEvent        string                    `json:"last_event,omitempty"`
	Milestones       []string                  `json:"milestones"`
}

func newGoldenShipment(s *references.Shipment) goldenShipment {
	w := webhook.NewShipment(s)
	out := goldenShipment{Shipment: w}
	for _, c := range w.Containers {
		g := goldenContainer{Number: c.Number, ISOEquipmentCode: c.ISOEquipmentCode, Status: c.Status, CurrentLocation: c.CurrentLocation, Milestones: []string{}}
		if c.LastEvent != nil {
			g.LastEvent = c.LastEvent.ID
		}
		for _, e := range c.Milestones {
			g.Milestones = append(g.Milestones, e.ID)
		}
		out.Containers = append(out.Containers, g)
	}
	return out
}
