package tracking

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestUnionEvents(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := func(id, code string, minutes int) references.Event {
		return references.Event{ID: id, Type: references.EventTransport, Classifier: references.ClassifierActual, Code: code,
			Time: at.Add(time.Duration(minutes) * time.Minute), Location: &references.Location{UNLocode: "NLRTM"}}
	}
	est := func(id, code string, minutes int) references.Event {
		ev := e(id, code, minutes)
		ev.Classifier = references.ClassifierEstimated
		return ev
	}
	tests := []struct {
		name            string
		stored, fetched []references.Event
		want            []string // id@minutes, in order
	}{
		{"NothingStored", nil, []references.Event{e("a", "DEPA", 0)}, []string{"a@0"}},
		{"NothingFetched", []references.Event{e("a", "DEPA", 0)}, nil, []string{"a@0"}},
		{"PushedKept", []references.Event{e("a", "DEPA", 0), e("p", "ARRI", 9)}, []references.Event{e("a", "DEPA", 0)}, []string{"a@0", "p@9"}},
		{"FetchedVersionWins", []references.Event{e("a", "DEPA", 5)}, []references.Event{e("a", "DEPA", 0)}, []string{"a@0"}},
		{"WithoutIDAlikeOnce", []references.Event{e("", "DEPA", 0)}, []references.Event{e("", "DEPA", 0)}, []string{"@0"}},
		{"WithoutIDOtherKept", []references.Event{e("", "DEPA", 3)}, []references.Event{e("", "DEPA", 0)}, []string{"@0", "@3"}},
		// A revised estimate under a new id, earlier than the one it revises.
		{"RevisedEstimateReplaces", []references.Event{est("e1", "ARRI", 60)}, []references.Event{est("e2", "ARRI", 30)}, []string{"e2@30"}},
		{"EstimateOfAnotherMilestoneKept", []references.Event{est("e1", "DEPA", 60)}, []references.Event{est("e2", "ARRI", 30)}, []string{"e2@30", "e1@60"}},
		{"ActualKeepsTheEstimate", []references.Event{est("e1", "ARRI", 60)}, []references.Event{e("a1", "ARRI", 50)}, []string{"a1@50", "e1@60"}},
		{"EstimateKeepsTheActual", []references.Event{e("a1", "ARRI", 50)}, []references.Event{est("e2", "ARRI", 70)}, []string{"a1@50", "e2@70"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ev := range UnionEvents(tc.stored, tc.fetched) {
				got = append(got, ev.ID+"@"+strconv.Itoa(int(ev.Time.Sub(at)/time.Minute)))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("union = %v, want %v", got, tc.want)
			}
		})
	}
}
