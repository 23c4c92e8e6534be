package webhook

import (
	"slices"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestCatalogue_NamesEveryEventTypeOnce(t *testing.T) {
	t.Parallel()
	cat := Catalogue()
	var names []string
	for _, e := range cat {
		if slices.Contains(names, e.Name) {
			t.Errorf("%s is listed twice", e.Name)
		}
		names = append(names, e.Name)
	}
	for _, name := range references.EventTypeNames() {
		if !slices.Contains(names, name) {
			t.Errorf("%s, a name event_types accepts, is not in the catalogue", name)
		}
	}
	for _, name := range []string{references.EventEndpointTest, BatchType} {
		if !slices.Contains(names, name) {
			t.Errorf("%s is not in the catalogue", name)
		}
	}
	if len(cat) != len(references.EventTypeNames())+2 {
		t.Errorf("the catalogue has %d entries: %v", len(cat), names)
	}
}

func TestCatalogue_EntriesAreDescribedAndKinded(t *testing.T) {
	t.Parallel()
	for _, e := range Catalogue() {
		want := KindType
		switch {
		case slices.Contains(references.Tags, e.Name):
			want = KindTag
		case slices.Contains(references.OperationalEventTypes, e.Name), e.Name == references.EventEndpointTest:
			want = KindOperational
		}
		if e.Kind != want {
			t.Errorf("%s: kind %q, want %q", e.Name, e.Kind, want)
		}
		// One sentence of its own: a generic fallback means a new name was not described.
		if !strings.HasSuffix(e.Description, ".") || strings.Count(e.Description, ". ") > 0 || strings.Contains(e.Description, e.Name+".") {
			t.Errorf("%s: description %q is not one sentence of its own", e.Name, e.Description)
		}
	}
}

// TestCatalogue_ExamplesDecodeAsWhatTheyShow checks each example with the decoders a
// receiver uses: an update type's example is an update of that type, a tag's an
// update carrying the tag, an operational event's an event of that type.
func TestCatalogue_ExamplesDecodeAsWhatTheyShow(t *testing.T) {
	t.Parallel()
	for _, e := range Catalogue() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			d, err := DecodeDelivery(e.Example)
			if err != nil {
				t.Fatalf("example does not decode: %v\n%s", err, e.Example)
			}
			switch {
			case e.Name == BatchType:
				if d.Batch == nil || len(d.Batch.Data) < 2 {
					t.Fatalf("example is not a batch of updates: %+v", d)
				}
				for i := 1; i < len(d.Batch.Data); i++ {
					if d.Batch.Data[i].Sequence != d.Batch.Data[i-1].Sequence+1 || d.Batch.Data[i].ReferenceID != d.Batch.Data[0].ReferenceID {
						t.Errorf("the batch's updates are not consecutive updates of one reference")
					}
				}
			case e.Kind == KindType:
				if d.Update == nil || string(d.Update.Type) != e.Name || d.Update.Data.Type != d.Update.Type {
					t.Fatalf("example is not a %s update: %+v", e.Name, d)
				}
			case e.Kind == KindTag:
				if d.Update == nil || d.Update.Type != references.UpdateShipment {
					t.Fatalf("example is not a shipment.updated update: %+v", d)
				}
				if !slices.Contains(d.Update.Data.Tags, e.Name) {
					t.Errorf("example's tags %v do not hold %s", d.Update.Data.Tags, e.Name)
				}
				if u := d.Update.Data.Domain(); !slices.Contains(u.Tags(0), e.Name) {
					t.Errorf("the example's changes do not give the tag %s", e.Name)
				}
			case e.Kind == KindOperational:
				if d.Event == nil || d.Event.Type != e.Name || d.Event.Data.EndpointID == "" {
					t.Fatalf("example is not a %s event: %+v", e.Name, d)
				}
			}
			if err := checkID(webhookIDOf(d)); err != nil {
				t.Errorf("the example's id cannot be a webhook-id: %v", err)
			}
		})
	}
}

func TestCatalogue_IsTheSameOnEveryCall(t *testing.T) {
	t.Parallel()
	a, b := Catalogue(), Catalogue()
	for i := range a {
		if string(a[i].Example) != string(b[i].Example) {
			t.Fatalf("%s: the example changed between calls", a[i].Name)
		}
	}
}

func webhookIDOf(d *Delivery) string {
	switch {
	case d.Event != nil:
		return d.Event.ID
	case d.Batch != nil:
		return d.Batch.Data[0].ID
	}
	return d.Update.Data.ID
}
