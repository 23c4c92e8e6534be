package demo_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestFetch_Golden pins what the demo carrier publishes for a few references at a few
// simulated times, so that a change to the simulation (or to a library it draws from)
// that would give existing references other events shows up in review.
func TestFetch_Golden(t *testing.T) {
	t.Parallel()
	refs := []references.Reference{
		{ID: "ref_golden_container", ContainerID: "CSQU3054383", CarrierCode: demo.CarrierCode, CreatedAt: created},
		{ID: "ref_golden_bl", BillOfLading: "DEMOBL000042", CarrierCode: demo.CarrierCode, CreatedAt: created},
		{ID: "ref_golden_booking", BookingNumber: "BK20260301", CarrierCode: demo.CarrierCode, CreatedAt: created},
	}
	days := []int{0, 12, 30, 90}
	for _, ref := range refs {
		t.Run(ref.ID, func(t *testing.T) {
			t.Parallel()
			type poll struct {
				SimulatedTime time.Time       `json:"simulated_time"`
				Events        []webhook.Event `json:"events"`
			}
			var polls []poll
			for _, d := range days {
				at := created.Add(time.Duration(d) * 24 * time.Hour)
				s := demo.New(demo.Options{Clock: clock.NewFake(at)})
				polls = append(polls, poll{SimulatedTime: at, Events: webhook.NewShipment(fetch(t, s, ref)).Events})
			}
			got, err := json.MarshalIndent(polls, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("..", "..", "testdata", "demo", ref.ID+".golden.json")
			if *update {
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
				t.Errorf("the demo publishes other events than %s (run with -update to accept)", golden)
			}
		})
	}
}
