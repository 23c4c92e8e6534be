package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step (a navigation, a click and the page it loads, a
// wait for an element): a missing element fails the test with the page it was
// looked for on, instead of hanging until the test binary's timeout.
const stepTimeout = 30 * time.Second

// person is one browser context (its own cookies and storage) in the shared browser,
// signed in as one account (signIn) or not at all. Every page it loads is checked for the
// sign-in keys and, with -screenshots, saved as a PNG.
type person struct {
	t      *testing.T
	s      *suite
	ctx    context.Context   // the tab
	pages  int               // pages loaded and checked
	hidden map[string]string // more secrets no page may show from now on: what -> secret
}

// hide adds secret (named what) to what no page this person loads may show.
func (p *person) hide(what, secret string) {
	if p.hidden == nil {
		p.hidden = map[string]string{}
	}
	p.hidden[what] = secret
}

// newPerson opens a new browser context with one tab.
func newPerson(t *testing.T, s *suite) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &person{t: t, s: s, ctx: ctx}
	// Last, before the tab closes (cleanups run in reverse): nothing the browser
	// stored for the console holds a sign-in key.
	t.Cleanup(func() {
		if p.pages > 0 {
			p.noKeysStored()
		}
	})
	// The first run opens the tab, which lives as long as the context of that run:
	// so no timeout on it (see chromedp.Run); the steps after it have one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	p.do("set the viewport", chromedp.EmulateViewport(viewportWidth, viewportHeight))
	return p
}

// do runs steps within stepTimeout and fails the test with what was on the page
// when one fails.
func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, p.where())
	}
}

// where describes the page the tab shows, for failure messages: its URL and the
// start of its text.
func (p *person) where() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 1500 {
		text = text[:1500] + "..."
	}
	return fmt.Sprintf("page %s:\n%s", loc, text)
}

// open loads path (relative to serve's address) and returns the HTTP status of the
// page, after checking it (see capture).
func (p *person) open(path string) int {
	p.t.Helper()
	return p.load(path, true)
}

// load is open, with a screenshot or not.
func (p *person) load(path string, shot bool) int {
	p.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.s.base+path))
	if err != nil {
		p.t.Fatalf("open %s: %v (ERR_HTTP_RESPONSE_CODE_FAILURE is an error status with an empty body)", path, err)
	}
	loaded := time.Since(start)
	p.capture(shot)
	p.t.Logf("open %s: %d (loaded in %v, checked in %v)", path, resp.Status, loaded.Round(time.Millisecond), (time.Since(start) - loaded).Round(time.Millisecond))
	return int(resp.Status)
}

// submit clicks sel (a submit button or a link) and waits for the page it loads;
// it returns the page's status after checking it.
func (p *person) submit(sel string) int {
	p.t.Helper()
	start := time.Now()
	p.do("find "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("click %s: %v\n%s", sel, err, p.where())
	}
	loaded := time.Since(start)
	p.capture(true)
	p.t.Logf("click %s: %d %s (loaded in %v, checked in %v)", sel, resp.Status, pageName(resp.URL), loaded.Round(time.Millisecond), (time.Since(start) - loaded).Round(time.Millisecond))
	return int(resp.Status)
}

// mustSubmit is submit that expects a page with status want.
func (p *person) mustSubmit(sel string, want int) {
	p.t.Helper()
	if got := p.submit(sel); got != want {
		p.t.Fatalf("click %s: status %d, want %d\n%s", sel, got, want, p.where())
	}
}

// mustOpen is open that expects status want.
func (p *person) mustOpen(path string, want int) {
	p.t.Helper()
	if got := p.open(path); got != want {
		p.t.Fatalf("open %s: status %d, want %d\n%s", path, got, want, p.where())
	}
}

// confirm answers a confirmation page (destructive actions ask first) with Confirm.
func (p *person) confirm() {
	p.t.Helper()
	p.do("the confirmation page", chromedp.WaitVisible(chromedp.ID("confirm-question")))
	p.mustSubmit("button#confirm", http.StatusOK)
}

// capture checks the page the tab shows: neither its HTML nor its URL holds a
// sign-in key; with -screenshots and shot it saves the page as a PNG.
func (p *person) capture(shot bool) {
	p.t.Helper()
	p.pages++
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("read the location: %v", err)
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		p.t.Fatalf("read the HTML of %s: %v", loc, err)
	}
	p.noKeys("the HTML of "+loc, html)
	p.noKeys("the URL "+loc, loc)
	if *screenshotDir == "" || !shot {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		p.t.Fatalf("screenshot of %s: %v", loc, err)
	}
	name := fmt.Sprintf("%s-%02d-%s.png", strings.ReplaceAll(p.t.Name(), "/", "-"), p.s.nextShot(p.t.Name()), pageName(loc))
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshotDir, name), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// idSegment matches the ids in a console path (ref_..., ep_..., msg_..., key_...);
// nonWord what a file name replaces with a dash.
var (
	idSegment = regexp.MustCompile(`^[a-z]+_[A-Za-z0-9]+$`)
	nonWord   = regexp.MustCompile(`[^a-z0-9]+`)
)

// pageName names a page for its screenshot file: its path with ids replaced, so that
// runs name the same pages alike (ui-shipments-id for /ui/shipments/ref_x).
func pageName(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return "page"
	}
	var parts []string
	for seg := range strings.SplitSeq(strings.Trim(u.Path, "/"), "/") {
		if idSegment.MatchString(seg) {
			seg = "id"
		}
		parts = append(parts, strings.Trim(nonWord.ReplaceAllString(strings.ToLower(seg), "-"), "-"))
	}
	if len(parts) == 0 || parts[0] == "" {
		return "root"
	}
	return strings.Join(parts, "-")
}

// noKeys fails the test if text holds the sign-in key of any account; the message
// never repeats the key.
func (p *person) noKeys(where, text string) {
	p.t.Helper()
	for acct, key := range p.s.keys {
		if strings.Contains(text, key) {
			p.t.Errorf("%s contains the sign-in key of account %s", where, acct)
		}
	}
	for what, secret := range p.hidden {
		if strings.Contains(text, secret) {
			p.t.Errorf("%s contains %s", where, what)
		}
	}
}

// noKeysStored fails the test if a cookie or the page's localStorage or
// sessionStorage holds a sign-in key.
func (p *person) noKeysStored() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.s.base + "/", p.s.base + "/ui/"}})
	if err != nil {
		p.t.Fatalf("read the cookies: %v", err)
	}
	for _, c := range cookies.Cookies {
		p.noKeys("cookie "+c.Name, c.Name+"="+c.Value)
	}
	storage, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])`))
	if err != nil {
		p.t.Fatalf("read the page's storage: %v", err)
	}
	p.noKeys("the page's localStorage and sessionStorage", storage)
}

// cookie returns the browser's cookie name for the console, or nil.
func (p *person) cookie(name string) *network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.s.base + "/ui/"}})
	if err != nil {
		p.t.Fatalf("read the cookies: %v", err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signIn signs in with account's key through the sign-in form and expects the
// shipments page.
func (p *person) signIn(account string) {
	p.t.Helper()
	p.mustOpen("/ui/sign-in", http.StatusOK)
	p.do("type the key",
		chromedp.WaitVisible(chromedp.CSS("form#sign-in-form input#key")),
		chromedp.SendKeys(chromedp.CSS("input#key"), p.s.keys[account]),
	)
	p.mustSubmit("form#sign-in-form button[type=submit]", http.StatusOK)
	if h1 := p.text("h1"); h1 != "Shipments" {
		p.t.Fatalf("after signing in as %s: the page's h1 is %q, want Shipments\n%s", account, h1, p.where())
	}
}

// text returns the text of the first element matching sel, waiting for it.
func (p *person) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		p.t.Fatalf("text of %s: %v\n%s", sel, err, p.where())
	}
	return strings.TrimSpace(s)
}

// count returns how many elements match sel now (no waiting).
func (p *person) count(sel string) int {
	p.t.Helper()
	var n int
	p.evalInto(fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)), &n)
	return n
}

// attrs returns attribute name of every element matching sel now.
func (p *person) attrs(sel, name string) []string {
	p.t.Helper()
	var out []string
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%s), e => e.getAttribute(%s) || "")`, jsString(sel), jsString(name))
	p.evalInto(js, &out)
	return out
}

// has reports whether an element matches sel now.
func (p *person) has(sel string) bool {
	p.t.Helper()
	return p.count(sel) > 0
}

// evalInto evaluates js in the page and decodes its JSON value into v.
func (p *person) evalInto(js string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v\n%s", js, err, p.where())
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.t.Fatalf("evaluate %s: %s: %v", js, raw, err)
	}
}

// fetch GETs path with the person's cookies, outside the browser (for a download,
// which the browser would only save), and returns the status and body.
func (p *person) fetch(path string) (int, string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.s.base + path}})
	if err != nil {
		p.t.Fatalf("read the cookies: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, p.s.base+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := p.s.client.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	p.noKeys("GET "+path, string(body))
	return resp.StatusCode, string(body)
}

// path returns the URL path of the page the tab shows.
func (p *person) path() string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		p.t.Fatal(err)
	}
	return u.Path
}

// typeInto empties the field sel and types text into it, key by key ("\n" is Enter).
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	// Emptied by script: chromedp's SetValue and Clear fail on an empty value or field.
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).value = ""`, jsString(sel))),
	}
	if text != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(sel), text))
	}
	return chromedp.Steps(steps...)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// until reloads path every half second until cond, given the loaded page, holds, or
// fails the test after timeout with cond's last explanation. It waits for a state,
// never for a fixed time; timeout is a generous bound, not an expectation.
func (p *person) until(path string, timeout time.Duration, what string, cond func() (bool, string)) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if status := p.load(path, false); status != http.StatusOK {
			p.t.Fatalf("open %s: status %d\n%s", path, status, p.where())
		}
		ok, why := cond()
		if ok {
			p.capture(true) // the page as it was awaited
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not reached within %v: %s\n%s", what, timeout, why, p.where())
		}
		time.Sleep(500 * time.Millisecond)
	}
}
