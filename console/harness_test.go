package console

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// rig is the console and the API on a loopback server over a real bbolt store, with
// two accounts: A (a write key and an admin key that is also an operator's) and B (a
// write key).
type rig struct {
	t     *testing.T
	srv   *httptest.Server
	db    *store.DB
	svc   *references.Service
	clock *clock.Fake

	keyA, adminA, keyB string
}

const (
	accountA = "acct_a"
	accountB = "acct_b"
)

// newRig builds the rig; each option may change the console's Options (a sign-in
// limit, a public URL) before it is registered.
func newRig(t *testing.T, options ...func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, clock: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	ctx := context.Background()
	now := r.clock.Now()
	for _, acct := range []string{accountA, accountB} {
		if _, err := db.EnsureAccount(ctx, acct, references.NewWebhookSecret(), now); err != nil {
			t.Fatal(err)
		}
	}
	newKey := func(acct string, scope references.Scope, operator bool) string {
		key, stored := references.NewAPIKey(acct, []references.Scope{scope}, now)
		stored.Operator = operator
		if err := db.CreateAPIKey(ctx, stored); err != nil {
			t.Fatal(err)
		}
		return key
	}
	r.keyA = newKey(accountA, references.ScopeWrite, false)
	r.adminA = newKey(accountA, references.ScopeAdmin, true)
	r.keyB = newKey(accountB, references.ScopeWrite, false)
	r.svc = references.NewService(db, references.ServiceOptions{Now: r.clock.Now, AllowInsecureCallbacks: true})
	log := slog.New(slog.DiscardHandler)
	e := api.New(r.svc, api.Options{Logger: log, RateLimit: rate.Inf, RotationLimit: rate.Inf, AuthFailureLimit: rate.Inf, Now: r.clock.Now})
	opts := Options{Logger: log, Operator: db, Now: r.clock.Now}
	for _, o := range options {
		o(&opts)
	}
	if _, err := Register(e, r.svc, opts); err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(e)
	t.Cleanup(r.srv.Close)
	return r
}

// browser is one person's cookie jar on the rig's server; it follows no redirects,
// so a test sees each answer.
type browser struct {
	r      *rig
	client *http.Client
	csrf   string // the session's, read from the last page that had a form
}

// anonymous returns a browser that has not signed in.
func (r *rig) anonymous() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{r: r, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn returns a browser signed in with key through the sign-in form.
func (r *rig) signIn(key string) *browser {
	r.t.Helper()
	b := r.anonymous()
	res := b.post("/ui/sign-in", url.Values{"key": {key}})
	if res.status != http.StatusSeeOther {
		r.t.Fatalf("sign in: %d %s", res.status, res.body)
	}
	b.get("/ui/account") // reads the CSRF token (every page's sign-out form has it)
	if b.csrf == "" {
		r.t.Fatal("sign in: no CSRF token on the first page")
	}
	return b
}

// page is one answer.
type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.r.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.r.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.r.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	// No page ever shows a key someone signs in with.
	for _, key := range []string{b.r.keyA, b.r.adminA, b.r.keyB} {
		if key != "" && strings.Contains(string(body), key) {
			b.r.t.Errorf("%s %s: the answer shows an API key", req.Method, req.URL.Path)
		}
	}
	return page{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(body)}
}

// get fetches path.
func (b *browser) get(path string) page {
	b.r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.r.srv.URL+path, nil)
	if err != nil {
		b.r.t.Fatal(err)
	}
	return b.do(req)
}

// post submits form to path with the session's CSRF token, as a page's form does.
func (b *browser) post(path string, form url.Values) page {
	b.r.t.Helper()
	if b.csrf != "" && form.Get("csrf") == "" {
		form = cloneValues(form)
		form.Set("csrf", b.csrf)
	}
	return b.postRaw(path, form)
}

// postRaw submits form as it is (no CSRF token added).
func (b *browser) postRaw(path string, form url.Values) page {
	b.r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.r.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

var noticeText = regexp.MustCompile(`<p class="notice" role="status">([^<]*)</p>`)

// followNotice checks that p is a 303 to path and returns the notice the page there
// shows (unescaped), following the redirect as a browser does.
func (b *browser) followNotice(p page, path string) string {
	b.r.t.Helper()
	if p.status != http.StatusSeeOther {
		b.r.t.Fatalf("%d, want 303: %s", p.status, p.body)
	}
	if p.location != path {
		b.r.t.Fatalf("Location %q, want %q", p.location, path)
	}
	m := noticeText.FindStringSubmatch(b.get(p.location).body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
