package dcsa3

import (
	"fmt"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestMerge_StoredEventsSayTheirVersion: a snapshot stored without its Versions (as
// the inbound route merges) still knows each event's version by its RevisedAt, the
// eventUpdatedDateTime the parser gives it: an older version pushed after a newer
// one changes nothing, whatever order they come in. Where either side has no time,
// or both the same, the pushed one replaces the stored one, as before.
func TestMerge_StoredEventsSayTheirVersion(t *testing.T) {
	day := func(d int) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC)
	}
	// rec is a record as decodeRecord makes it: the event's RevisedAt is its
	// eventUpdatedDateTime.
	rec := func(id, code string, updated int) Record {
		return Record{ID: id, UpdatedAt: day(updated), Event: references.Event{ID: id, Code: code, Type: "TRANSPORT", Classifier: "EST",
			Time: day(20), RevisedAt: day(updated)}, Identifiers: Identifiers{BillsOfLading: []string{fixtureBL}}}
	}
	tests := []struct {
		name   string
		stored int      // the stored version's eventUpdatedDateTime (day; 0 none)
		pushed []Record // in the order received, after the stored one
		want   string   // the code standing
	}{
		{"older after newer", 3, []Record{rec("a", "old", 2)}, "[stored]"},
		{"newer after older", 1, []Record{rec("a", "new", 2)}, "[new]"},
		{"equal times: the same version again", 2, []Record{rec("a", "again", 2)}, "[stored]"},
		{"stored without a time", 0, []Record{rec("a", "pushed", 2)}, "[pushed]"},
		{"pushed without a time", 3, []Record{rec("a", "pushed", 0)}, "[pushed]"},
		{"newer then older in one push", 1, []Record{rec("a", "new", 3), rec("a", "old", 2)}, "[new]"},
		{"older then newer in one push", 1, []Record{rec("a", "old", 2), rec("a", "new", 3)}, "[new]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := []references.Event{rec("a", "stored", tt.stored).Event}
			events, _ := Merge(stored, nil, tt.pushed)
			var codes []string
			for _, e := range events {
				codes = append(codes, e.Code)
			}
			if fmt.Sprint(codes) != tt.want {
				t.Errorf("events %v, want %s", codes, tt.want)
			}
			if stored[0].Code != "stored" {
				t.Error("Merge changed the stored events")
			}
		})
	}
}
