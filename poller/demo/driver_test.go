package demo_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

func parseSources(yaml string, speed float64) (*poller.Sources, error) {
	return poller.NewRegistry(demo.Driver(speed)).Parse([]byte(yaml), "yaml", func(string) string { return "" })
}

func TestDriver_RejectsBadBlocks(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"demo with settings", "carriers:\n  DEMO: {type: demo, timeout: 5s}\n", "carriers.DEMO.type: demo takes no other settings"},
		{"negative demo speed", "demo: {speed: -1}\n", "demo.speed: must be a positive number of simulated seconds per second"},
		{"infinite demo speed", "demo: {speed: .inf}\n", "demo.speed: must be a positive number of simulated seconds per second"},
		{"unknown key in the demo block", "demo: {sped: 2}\n", `line 1: unknown key "sped"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSources(tt.data, 1)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestDriver_SpeedOfTheFileElseOfTheDriver(t *testing.T) {
	tests := []struct {
		yaml string
		want float64
	}{
		{"carriers: {DEMO: {type: demo}}\n", 7},
		{"demo: {speed: 0}\ncarriers: {DEMO: {type: demo}}\n", 7},
		{"demo: {speed: 3600}\ncarriers: {DEMO: {type: demo}}\n", 3600},
	}
	for _, tt := range tests {
		s, err := parseSources(tt.yaml, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Carriers["DEMO"]; !reflect.DeepEqual(got, demo.Options{Speed: tt.want}) {
			t.Errorf("%q: DEMO %+v, want speed %v", tt.yaml, got, tt.want)
		}
	}
}

func TestDriver_DefaultRunsAtTheSpeedOfTheFile(t *testing.T) {
	s, err := parseSources("demo: {speed: 86400}\n", 1)
	if err != nil {
		t.Fatal(err)
	}
	// The driver runs at 1x; the file asks for a day per second.
	created := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	later := clock.NewFake(created.Add(10 * time.Second))
	r, err := s.Router(poller.SourceEnv{Clock: later})
	if err != nil {
		t.Fatal(err)
	}
	ref := references.Reference{ID: "ref_1", ContainerID: "MSCU1234566", CarrierCode: "DEMO", CreatedAt: created}
	fast, err := r.Default.Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want, err := demo.New(demo.Options{Speed: 86400, Clock: later}).Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Error("the default source does not run at the speed of the file")
	}
}
