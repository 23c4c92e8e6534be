package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// voyage returns the events of a voyage from Shanghai to Rotterdam by way of
// Singapore, as seen at the rig's clock: loaded and departed, the rest planned, the
// arrival at eta.
func voyage(start, eta time.Time, container string) []references.Event {
	return []references.Event{
		forContainer(ev(references.EventEquipment, references.ClassifierActual, references.CodeGateIn, "CNSHA", "Shanghai container terminal", start), container),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierActual, references.CodeLoad, "CNSHA", "Shanghai container terminal", start.Add(12*time.Hour)), container), "NORDIC AURORA", "9434761", "412W"),
		onVessel(ev(references.EventTransport, references.ClassifierActual, references.CodeDeparture, "CNSHA", "Shanghai", start.Add(20*time.Hour)), "NORDIC AURORA", "9434761", "412W"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeDischarge, "SGSIN", "Singapore", start.Add(7*24*time.Hour)), container), "NORDIC AURORA", "9434761", "412W"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeLoad, "SGSIN", "Singapore", start.Add(8*24*time.Hour)), container), "MAERSK ESSEN", "9456783", "215E"),
		onVessel(ev(references.EventTransport, references.ClassifierEstimated, references.CodeArrival, "NLRTM", "Rotterdam", eta), "MAERSK ESSEN", "9456783", "215E"),
		onVessel(forContainer(ev(references.EventEquipment, references.ClassifierPlanned, references.CodeDischarge, "NLRTM", "Rotterdam", eta.Add(10*time.Hour)), container), "MAERSK ESSEN", "9456783", "215E"),
	}
}

func TestShipments_ListsTheAccountsReferencesWithTheirSummaries(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	polled := r.container(accountA, "MSCU1234566")
	r.recordPoll(polled.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	fresh := r.track(accountA, references.CreateRequest{BillOfLading: "MAEU123456789", CarrierCode: "MAEU", CallbackURL: "https://example.com/hook"})
	other := r.container(accountB, "MSCU1234566")

	b := r.login(r.keyA)
	res := b.get("/ui/")
	if res.status != http.StatusOK {
		t.Fatalf("GET /ui/: %d %s", res.status, res.body)
	}
	if got := rowIDs(res.body); !sameIDs(got, []string{polled.ID, fresh.ID}) {
		t.Fatalf("rows %v, want A's %s and %s", got, polled.ID, fresh.ID)
	}
	if strings.Contains(res.body, other.ID) {
		t.Error("account B's reference is listed to A")
	}
	t.Log(res.body)
}
