package console

import (
	"net/url"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestZZDump(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, "http://127.0.0.1:9/erp/webhooks")
	ref := r.epTrack(t, accountA, "BK900001")
	r.clock.Set(time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC))
	r.epSeedUpdates(t, ref.ID, 6)
	for i := 0; i < 4; i++ {
		r.epAttempt(t, ep.ID, false, epDelivered(40))
	}
	r.epAttempt(t, ep.ID, false, epGaveUp(900))
	r.clock.Advance(5 * time.Hour)
	r.epSeedUpdates(t, ref.ID, 3)
	b := r.signIn(r.keyA)
	css := regexp.MustCompile(`/ui/assets/console.css\?v=[0-9a-f]+`)
	save := func(name string, p page) {
		body := css.ReplaceAllString(p.body, "file:///work/wt-d/console/assets/console.css")
		os.WriteFile("/tmp/wtd/"+name+".html", []byte(body), 0o644)
	}
	save("list", b.get("/ui/webhooks"))
	save("endpoint", b.post("/ui/webhooks/"+ep.ID+"/secret/reveal", url.Values{}))
	save("form", b.post("/ui/webhooks", url.Values{"url": {"ftp://x"}, "format": {"standard"}, "header_style": {"standard"}, "batch_size": {"x"}}))
	save("messages", b.get("/ui/webhooks/"+ep.ID+"/messages"))
	pg, _ := r.svc.Messages(t.Context(), accountA, ep.ID, referencesMQ())
	save("message", b.get("/ui/webhooks/"+ep.ID+"/messages/"+pg.Messages[4].ID))
}

func referencesMQ() references.MessageQuery { return references.MessageQuery{} }
