package console

import (
	"net/http"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestShipment_Smoke(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	rc := r.receiver()
	ref := r.track(accountA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MAEU", CallbackURL: rc.srv.URL, Metadata: map[string]string{"po": "4711"}})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	r.clock.Advance(6 * time.Hour)
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(22*24*time.Hour), "MSCU1234566"), "")
	r.deliver(ref.ID)
	b := r.login(r.keyA)
	res := b.get("/ui/shipments/" + ref.ID)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	t.Log(res.body)
}
