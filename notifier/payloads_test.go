package notifier

import (
	"fmt"
	"testing"
)

func TestPayloads_KeepTheRecentOnesUpToTheBound(t *testing.T) {
	t.Parallel()
	p := newPayloads()
	body := func(i int) []byte { return fmt.Appendf(nil, `{"n":%d}`, i) }
	for i := range payloadCacheSize + 10 {
		p.put(fmt.Sprintf("upd_%d", i), body(i))
	}
	p.put("upd_20", []byte("not kept: upd_20 is kept already"))
	if len(p.bodies) != payloadCacheSize {
		t.Fatalf("%d bodies kept, want at most %d", len(p.bodies), payloadCacheSize)
	}
	for i := range 10 {
		if got := p.get(fmt.Sprintf("upd_%d", i)); got != nil {
			t.Errorf("upd_%d, among the oldest, is still kept: %s", i, got)
		}
	}
	for _, i := range []int{10, 20, payloadCacheSize + 9} {
		if got, want := string(p.get(fmt.Sprintf("upd_%d", i))), string(body(i)); got != want {
			t.Errorf("upd_%d: got %q, want %q", i, got, want)
		}
	}
}
