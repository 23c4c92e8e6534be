package store

import (
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestKnown_InternsTheVocabulary checks that every code of the DCSA vocabulary, every
// update type and every change type is decoded without allocating: a code added to
// references must be added to known too.
func TestKnown_InternsTheVocabulary(t *testing.T) {
	values := references.Codes()
	for _, u := range references.UpdateTypes {
		values = append(values, string(u))
	}
	for _, c := range references.ChangeTypes {
		values = append(values, string(c))
	}
	for _, v := range values {
		if got, ok := known([]byte(v)); !ok || got != v {
			t.Errorf("known(%q) = %q, %v; add it to store/known.go", v, got, ok)
			continue
		}
		e := encoder{}
		e.str(v)
		allocs := testing.AllocsPerRun(10, func() {
			d := decoder{b: e.b}
			if d.str() != v {
				t.Fatalf("decoding %q gave another string", v)
			}
		})
		if allocs != 0 {
			t.Errorf("decoding %q allocates %v times", v, allocs)
		}
	}
	if s, ok := known([]byte("NLRTM")); ok {
		t.Errorf("known(NLRTM) = %q: a location is not vocabulary", s)
	}
}
