package console

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFuncs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fm := funcs(func() time.Time { return now }, func(n string) string { return "/ui/assets/" + n + "?v=1" })
	shanghai := time.FixedZone("", 8*3600)
	at := time.Date(2026, 3, 1, 9, 30, 5, 0, time.UTC)
	var nilTime *time.Time
	d90 := 90 * time.Minute
	tests := []struct {
		name, tmpl string
		data       any
		want       string
	}{
		{"when UTC", `{{when .}}`, at, `<time datetime="2026-03-01T09:30:05Z" title="2026-03-01T09:30:05Z">2026-03-01 09:30 UTC</time>`},
		{"when keeps the zone", `{{when .}}`, at.In(shanghai), `<time datetime="2026-03-01T17:30:05+08:00" title="2026-03-01T17:30:05+08:00">2026-03-01 17:30 +0800</time>`},
		{"when pointer", `{{when .}}`, &at, `<time datetime="2026-03-01T09:30:05Z" title="2026-03-01T09:30:05Z">2026-03-01 09:30 UTC</time>`},
		{"when nil", `{{when .}}`, nilTime, "—"},
		{"when zero", `{{when .}}`, time.Time{}, "—"},
		{"whenSec", `{{whenSec .}}`, at, `<time datetime="2026-03-01T09:30:05Z" title="2026-03-01T09:30:05Z">2026-03-01 09:30:05 UTC</time>`},
		{"whenText in an attribute", `<p title="{{whenText .}}">`, at, `<p title="2026-03-01 09:30 UTC">`},
		{"ago", `{{ago .}}`, at, "2 h 29 min ago"},
		{"ago future", `{{ago .}}`, now.Add(3 * 24 * time.Hour), "in 3 days"},
		{"ago now", `{{ago .}}`, now, "just now"},
		{"ago nil", `{{ago .}}`, nilTime, "—"},
		{"since", `{{dur (since .)}}`, now.Add(-90 * time.Second), "1 min 30 s"},
		{"dur ms", `{{dur .}}`, 250 * time.Millisecond, "250 ms"},
		{"dur s", `{{dur .}}`, 4200 * time.Millisecond, "4.2 s"},
		{"dur h", `{{dur .}}`, d90, "1 h 30 min"},
		{"dur pointer", `{{dur .}}`, &d90, "1 h 30 min"},
		{"dur days", `{{dur .}}`, 76 * time.Hour, "3 days 4 h"},
		{"dur seconds", `{{dur .}}`, 3600, "1 h"},
		{"dur negative", `{{dur .}}`, -2 * time.Hour, "-2 h"},
		{"num", `{{num .}}`, 1234567, "1,234,567"},
		{"num negative", `{{num .}}`, int64(-1234), "-1,234"},
		{"num small", `{{num .}}`, uint64(999), "999"},
		{"bytes", `{{bytes .}}`, int64(3 * 1024 * 1024), "3.0 MiB"},
		{"bytes small", `{{bytes .}}`, int64(512), "512 B"},
		{"plural one", `{{plural . "key" "keys"}}`, 1, "1 key"},
		{"plural many", `{{plural . "key" "keys"}}`, 1200, "1,200 keys"},
		{"mask", `{{mask .}}`, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_••••••••LaSw"},
		{"mask short", `{{mask .}}`, "whsec_abc", "whsec_••••••••"},
		{"truncate", `{{truncate 5 .}}`, "abcdefgh", "abcd…"},
		{"query", `<a href="{{query "/ui/" "q" .Q "status" .S "after" .A "late" .L}}">`, struct {
			Q, S string
			A    uint64
			L    bool
		}{"MSCU 1", "", 40, true}, `<a href="/ui/?after=40&amp;late=true&amp;q=MSCU&#43;1">`},
		{"query empty", `{{query "/ui/" "q" ""}}`, nil, "/ui/"},
		{"asset", `{{asset "console.css"}}`, nil, "/ui/assets/console.css?v=1"},
		{"dict", `{{with dict "a" 1 "b" "two"}}{{.a}} {{.b}}{{end}}`, nil, "1 two"},
		{"can nil viewer", `{{can . "read"}}`, (*Viewer)(nil), "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := template.New("").Funcs(fm).Parse(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := tp.Execute(&buf, tt.data); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/ui/x?y=1":         "/ui/x?y=1",
		"/ui":               "/ui/",
		"/uix":              "/ui/",
		"/ui/sign-in":       "/ui/",
		"/ui/%2e%2e/admin":  "/ui/",
		"/ui/a\r\nSet: x":   "/ui/",
		"http://x/ui/":      "/ui/",
		"/ui/webhooks#frag": "/ui/webhooks",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestAssets_VersionedAndCached(t *testing.T) {
	r := newRig(t)
	b := r.anonymous()
	login := b.get("/ui/sign-in")
	for _, name := range []string{"console.css", "console.js", "favicon.svg"} {
		f := r.srvAssets(t)[name]
		versioned := "/ui/assets/" + name + "?v=" + f.version
		if !strings.Contains(login.body, versioned) {
			t.Errorf("the layout does not link %s", versioned)
		}
		p := b.get(versioned)
		if p.status != 200 || p.header.Get("Content-Type") != f.contentType || p.header.Get("Cache-Control") != assetCacheFor ||
			p.header.Get("X-Content-Type-Options") != "nosniff" || p.body != string(f.body) {
			t.Errorf("%s: %d %v", versioned, p.status, p.header)
		}
		if p := b.get("/ui/assets/" + name); p.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s without its version: Cache-Control %q, want no-cache", name, p.header.Get("Cache-Control"))
		}
		if p := b.get("/ui/assets/" + name + "?v=old"); p.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s with another version: Cache-Control %q", name, p.header.Get("Cache-Control"))
		}
	}
	css := r.srvAssets(t)["console.css"]
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/ui/assets/console.css", nil)
	req.Header.Set("If-None-Match", `"`+css.version+`"`)
	if p := b.do(req); p.status != http.StatusNotModified || p.body != "" {
		t.Errorf("revalidated with its ETag: %d, want 304", p.status)
	}
	if ct := r.srvAssets(t)["console.css"].contentType; ct != "text/css; charset=utf-8" {
		t.Errorf("css content type %q", ct)
	}
	if p := b.get("/ui/assets/nope.js"); p.status != 404 {
		t.Errorf("unknown asset: %d", p.status)
	}
	if p := b.get("/ui/assets/../templates/layout.html"); p.status == 200 {
		t.Errorf("a template through the assets route: %d", p.status)
	}
}

// srvAssets returns the embedded assets, as the server loads them.
func (r *rig) srvAssets(t *testing.T) assets {
	t.Helper()
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	return a
}
