package browser_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where every page the tests visit is saved as a PNG; empty: none.
var screenshotDir = flag.String("screenshots", "", "save a PNG screenshot of every page the tests visit into this folder (created when missing)")

// The accounts of the suite, one per test so that tests running side by side never
// see each other's data. Each has an admin key, which is what its browser signs in
// with; accountDefault's is TRACKHOOK_API_KEY (an operator's, as serve makes it).
const (
	accountDefault = "default"
	accountShips   = "ships"
	accountHooks   = "hooks"
	accountSecrets = "secrets"
	accountKeys    = "keys"
	accountAlpha   = "alpha" // owns data that accountBravo must not see
	accountBravo   = "bravo"
	accountForms   = "forms"
)

var accounts = []string{accountShips, accountHooks, accountSecrets, accountKeys, accountAlpha, accountBravo, accountForms}

// Serve's flags: a demo voyage of six weeks or so plays in about a minute, polled every
// second, so that a timeline fills while a test watches; loopback http receivers are
// allowed.
var serveFlags = []string{
	"--demo-speed", "50000",
	"--poll-interval", "1s", "--min-poll-interval", "1s",
	"--allow-insecure-callbacks", "--allow-private-callbacks",
	"--delivery-timeout", "2s",
	"--log-level", "debug",
}

// suite is what every test shares: the trackhook binary, one `trackhook serve` on a
// fresh store with an admin key per account, and one headless Chromium in which each
// test opens its own browser context (its own cookies and storage). It is set up by
// the first test that needs it and torn down by TestMain.
type suite struct {
	dir      string // temporary: the binary, the store, the browser's profile
	bin      string
	db       string
	base     string            // http://127.0.0.1:port of serve
	keys     map[string]string // account -> its admin (sign-in) key
	cmd      *exec.Cmd
	exited   chan struct{}
	logs     *syncBuffer
	client   *http.Client
	execPath string // the Chromium binary

	browser     context.Context // the running browser; tabs are made from it
	stopBrowser func()
	browserLogs *syncBuffer

	shotsMu sync.Mutex
	shots   map[string]int // screenshots saved per test, for their file names
}

// nextShot numbers the next screenshot of test: its pages in the order visited,
// whoever visited them.
func (s *suite) nextShot(test string) int {
	s.shotsMu.Lock()
	defer s.shotsMu.Unlock()
	if s.shots == nil {
		s.shots = map[string]int{}
	}
	s.shots[test]++
	return s.shots[test]
}

var (
	setupOnce  sync.Once
	shared     *suite
	setupErr   error
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared != nil {
		if err := shared.teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "console/browser:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// setup returns the shared suite, setting it up on first use. Without a browser it
// skips the test, or fails it when CI=true (CI installs Chromium and must run these).
func setup(t *testing.T) *suite {
	t.Helper()
	setupOnce.Do(func() {
		path, reason := findChromium()
		if path == "" {
			skipReason = reason
			return
		}
		shared, setupErr = start(path)
	})
	switch {
	case skipReason != "" && os.Getenv("CI") == "true":
		t.Fatalf("CI=true runs the browser tests, and there is %s (.ci/run installs it)", skipReason)
	case skipReason != "":
		t.Skipf("skipped: there is %s", skipReason)
	case setupErr != nil:
		t.Fatal(setupErr)
	}
	return shared
}

// findChromium returns the browser to run, or why there is none.
func findChromium() (path, reason string) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "no Chromium on PATH (Debian: apt-get install chromium)"
}

// start builds trackhook, creates the accounts' keys on a fresh store, starts serve on
// it and starts the browser.
func start(chromium string) (s *suite, err error) {
	s = &suite{execPath: chromium, keys: map[string]string{}, logs: &syncBuffer{}, browserLogs: &syncBuffer{}}
	if s.dir, err = os.MkdirTemp("", "trackhook-browser-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.teardown()
			s = nil
		}
	}()
	if err := s.build(); err != nil {
		return nil, err
	}
	s.db = filepath.Join(s.dir, "trackhook.db")
	for _, acct := range accounts {
		key, err := s.createKey(acct)
		if err != nil {
			return nil, err
		}
		s.keys[acct] = key
	}
	s.keys[accountDefault] = "th-browser-" + randomHex(16)
	if err := s.serve(); err != nil {
		return nil, err
	}
	if err := s.startBrowser(); err != nil {
		return nil, err
	}
	return s, nil
}

// build compiles ./cmd/trackhook once (with -race when the tests run with -race).
func (s *suite) build() error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command to build trackhook with: %w", err)
	}
	s.bin = filepath.Join(s.dir, "trackhook")
	args := []string{"build", "-o", s.bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "github.com/trackhook/trackhook/cmd/trackhook")...)
	cmd.Dir = filepath.Join("..", "..") // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// createKey makes an admin key for acct (and the account) with `trackhook keys create`
// on the store, before serve holds it.
func (s *suite) createKey(acct string) (string, error) {
	cmd := exec.Command(s.bin, "keys", "create", "--account", acct, "--scopes", "admin", "--name", "browser tests", "--db", s.db)
	cmd.Env = append(environWithout("TRACKHOOK_"), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("trackhook keys create --account %s: %w\n%s", acct, err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	if key == "" || strings.ContainsAny(key, " \n") {
		return "", fmt.Errorf("trackhook keys create --account %s printed no single key (%d bytes)", acct, stdout.Len())
	}
	return key, nil
}

// serve starts `trackhook serve` on 127.0.0.1 and waits until it is ready and serves
// the console's sign-in page.
func (s *suite) serve() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--addr", addr, "--db", s.db}, serveFlags...)
	s.cmd = exec.Command(s.bin, args...)
	// GORACE: the race detector otherwise sleeps a second before the process exits.
	s.cmd.Env = append(environWithout("TRACKHOOK_"), "TRACKHOOK_API_KEY="+s.keys[accountDefault], "GORACE=atexit_sleep_ms=0")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = childAttrs()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start trackhook serve: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	s.base = "http://" + addr
	s.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("trackhook serve exited at start (%v); log:\n%s", s.cmd.ProcessState, s.tail())
		default:
		}
		status, err := s.status("/readyz")
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trackhook serve not ready 60 s after start (last: %d %v); log:\n%s", status, err, s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, err := s.status("/ui/sign-in"); err != nil || status != http.StatusOK {
		return fmt.Errorf("trackhook serve does not serve the console: GET /ui/sign-in answered %d %v", status, err)
	}
	return nil
}

// status GETs path without credentials and returns the status code.
func (s *suite) status(path string) (int, error) {
	resp, err := s.client.Get(s.base + path)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startBrowser starts headless Chromium: no sandbox as root (it refuses to start
// otherwise), no background networking (a test never reaches outside loopback), a
// window of 1200x800 for readable screenshots.
func (s *suite) startBrowser() error {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(s.execPath),
		chromedp.Headless,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(viewportWidth, viewportHeight),
		chromedp.UserDataDir(filepath.Join(s.dir, "chromium-profile")),
		chromedp.CombinedOutput(s.browserLogs),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	s.browser = ctx
	s.stopBrowser = func() { cancel(); cancelAlloc() }
	// The first run starts the browser, bound to ctx (no timeout on it: see chromedp.Run).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			return fmt.Errorf("start %s: %w\n%s", s.execPath, err, s.browserLogs.String())
		}
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s did not start within 60 s:\n%s", s.execPath, s.browserLogs.String())
	}
	return nil
}

const viewportWidth, viewportHeight = 1200, 800

// teardown stops the browser and serve, then checks serve's log: no sign-in key in
// it, and no data race reported by a -race build.
func (s *suite) teardown() error {
	if s.stopBrowser != nil {
		s.stopBrowser()
	}
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			errs = append(errs, errors.New("trackhook serve still running 30 s after SIGTERM"))
		}
		logs := s.logs.String()
		for acct, key := range s.keys {
			if strings.Contains(logs, key) {
				errs = append(errs, fmt.Errorf("trackhook serve's log contains the sign-in key of account %s", acct))
			}
		}
		if i := strings.Index(logs, "WARNING: DATA RACE"); i >= 0 {
			errs = append(errs, fmt.Errorf("trackhook serve reported a data race:\n%s", logs[i:min(len(logs), i+6000)]))
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	return errors.Join(errs...)
}

// tail returns the end of serve's log, for failure messages.
func (s *suite) tail() string {
	l := s.logs.String()
	if len(l) > 4000 {
		l = "...\n" + l[len(l)-4000:]
	}
	return l
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// environWithout returns the environment without the variables starting with prefix,
// so that a developer's TRACKHOOK_* settings do not change the child's behaviour.
func environWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects output written from several goroutines or a child process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
