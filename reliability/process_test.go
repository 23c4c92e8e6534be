package reliability_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// build is the trackhook binary of this test run: built once, on first use, into a
// directory TestMain removes at the end. It is the package's only shared state, so
// that the crash and shutdown tests, which run in parallel, do not build it twice.
var build struct {
	once sync.Once
	dir  string
	path string
	took time.Duration
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trackhook-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	build.dir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// trackhookBinary returns the path of the trackhook binary, building it from
// ./cmd/trackhook on first use (with -race when the tests run with -race).
func trackhookBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		start := time.Now()
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("no go command to build trackhook with: %w", err)
			return
		}
		build.path = filepath.Join(build.dir, "trackhook")
		args := []string{"build", "-o", build.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool, append(args, "github.com/trackhook/trackhook/cmd/trackhook")...)
		cmd.Dir = ".." // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		build.took = time.Since(start)
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// service is `trackhook serve` run as a child process on one store file, started,
// stopped and killed as often as a test likes. Each start listens on a new loopback
// port; the output of every run is kept in logs.
type service struct {
	t      *testing.T
	bin    string
	dbPath string   // --db: the store file, or a postgres:// URL
	key    string   // TRACKHOOK_API_KEY: the admin key of account "default"
	args   []string // flags added to every start
	logs   *syncBuffer
	client *http.Client

	base   string // http://host:port of the running process
	cmd    *exec.Cmd
	exited chan struct{} // closed when the running process has exited
	starts int
}

func newService(t *testing.T, key string, args ...string) *service {
	t.Helper()
	s := &service{
		t:      t,
		bin:    trackhookBinary(t),
		dbPath: filepath.Join(t.TempDir(), "trackhook.db"),
		key:    key,
		args:   args,
		logs:   &syncBuffer{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	t.Cleanup(func() {
		if s.running() {
			s.kill()
		}
		s.client.CloseIdleConnections()
	})
	return s
}

func (s *service) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// start runs the service and waits until /readyz answers 200, which also shows that
// the store opened.
func (s *service) start() {
	s.t.Helper()
	s.launch()
	s.awaitReady()
}

// launch runs the service without waiting for it: several services on one database
// are launched together, then awaited, so that their starts overlap.
func (s *service) launch() {
	s.t.Helper()
	addr := freeAddr(s.t)
	s.starts++
	fmt.Fprintf(s.logs, "--- start %d on %s ---\n", s.starts, addr)
	args := append([]string{"serve", "--addr", addr, "--db", s.dbPath, "--log-level", "debug"}, s.args...)
	cmd := exec.Command(s.bin, args...)
	// The race detector sleeps a second before a process exits unless told not to,
	// which would be counted as shutdown time.
	cmd.Env = append(environWithout("TRACKHOOK_"), "TRACKHOOK_API_KEY="+s.key, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start trackhook: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.base = cmd, exited, "http://"+addr
}

// awaitReady waits until the launched service's /readyz answers 200.
func (s *service) awaitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			s.t.Fatalf("trackhook exited during start %d (%v); log:\n%s", s.starts, s.cmd.ProcessState, s.tail())
		default:
		}
		resp, err := s.client.Get(s.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("trackhook not ready 30 s after start %d (last: %v); log:\n%s", s.starts, err, s.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *service) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Fatalf("kill: %v", err)
	}
	<-s.exited
	s.client.CloseIdleConnections()
}

// terminate sends SIGTERM and waits up to wait for the process to exit. It returns the
// exit code and how long the exit took; it fails the test if the process outlives wait.
func (s *service) terminate(wait time.Duration) (code int, took time.Duration) {
	s.t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(wait):
		s.kill()
		s.t.Fatalf("trackhook still running %v after SIGTERM; log:\n%s", wait, s.tail())
	}
	s.client.CloseIdleConnections()
	return s.cmd.ProcessState.ExitCode(), time.Since(start)
}

// tail returns the end of the logs, for failure messages.
func (s *service) tail() string {
	l := s.logs.String()
	if len(l) > 6000 {
		l = "...\n" + l[len(l)-6000:]
	}
	return l
}

// do makes an API call with the service's key; body, when not nil, is sent as JSON.
// header holds name/value pairs. Like a well-behaved client, it waits as long as a 429
// answer's Retry-After says and tries again.
func (s *service) do(method, path string, body any, header ...string) (int, []byte, http.Header, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, nil, err
		}
	}
	for {
		status, out, hdr, err := s.doOnce(method, path, raw, header...)
		if err != nil || status != http.StatusTooManyRequests {
			return status, out, hdr, err
		}
		secs, err := strconv.Atoi(hdr.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 5 {
			return status, out, hdr, nil
		}
		time.Sleep(time.Duration(secs) * time.Second) // what the service asked for
	}
}

func (s *service) doOnce(method, path string, body []byte, header ...string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header, err
}

// get makes a GET that must answer 200 and decodes its body into v.
func (s *service) get(path string, v any) {
	s.t.Helper()
	status, body, _, err := s.do(http.MethodGet, path, nil)
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s %v", path, status, body, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
}

// webhookSecrets returns the account's live signing secrets.
func (s *service) webhookSecrets() []string {
	s.t.Helper()
	var body struct {
		Secrets []api.WebhookSecret `json:"secrets"`
	}
	s.get("/account/webhook-secret", &body)
	var out []string
	for _, sec := range body.Secrets {
		out = append(out, sec.Secret)
	}
	if len(out) == 0 {
		s.t.Fatal("the account has no webhook secret")
	}
	return out
}

// references returns every reference of the account, following the pages.
func (s *service) references() []api.Reference {
	s.t.Helper()
	var all []api.Reference
	cursor := ""
	for {
		var page api.ReferencePage
		s.get("/references?limit=500&cursor="+url.QueryEscape(cursor), &page)
		all = append(all, page.References...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// feeds reads the whole feed of every reference through GET /references/:id/updates.
func (s *service) feeds(refs []api.Reference) map[string][]references.Update {
	s.t.Helper()
	out := make(map[string][]references.Update, len(refs))
	for _, ref := range refs {
		var feed []references.Update
		after := uint64(0)
		for {
			var page api.UpdatePage
			s.get(fmt.Sprintf("/references/%s/updates?limit=500&after=%d", ref.ID, after), &page)
			for _, u := range page.Updates {
				feed = append(feed, u.Domain())
			}
			if len(page.Updates) == 0 {
				break
			}
			after = page.NextAfter
		}
		out[ref.ID] = feed
	}
	return out
}

// settled reports whether every reference has finished: tracking is complete and
// every update of its feed was delivered.
func settled(refs []api.Reference) (bool, string) {
	waiting := 0
	var example string
	for _, r := range refs {
		if r.Status == references.StatusActive || r.LastSequence == 0 || r.DeliveredSequence != r.LastSequence {
			waiting++
			example = fmt.Sprintf("%s: status %s, delivered %d of %d", r.ID, r.Status, r.DeliveredSequence, r.LastSequence)
		}
	}
	if waiting > 0 {
		return false, fmt.Sprintf("%d of %d references not finished, e.g. %s", waiting, len(refs), example)
	}
	return true, ""
}

// checkStoreFile opens the store file with bbolt and runs its consistency check, then
// opens it with store.Open (which checks the schema) and reads its counters. The file
// must not be in use.
func checkStoreFile(t *testing.T, path string) references.Stats {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bbolt open %s: %v", path, err)
	}
	err = b.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("bbolt consistency check of %s: %v", path, err)
	}
	db, err := store.Open(path, store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("store.Open %s: %v", path, err)
	}
	defer db.Close()
	stats, err := db.Stats(t.Context())
	if err != nil {
		t.Fatalf("store stats: %v", err)
	}
	return stats
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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

// assertNoSecrets fails the test if text contains any of secrets. where names the
// text in the failure message, which never repeats the secret itself.
func assertNoSecrets(t *testing.T, where, text string, secrets map[string]string) {
	t.Helper()
	for name, secret := range secrets {
		if secret != "" && strings.Contains(text, secret) {
			i := strings.Index(text, secret)
			lineStart := strings.LastIndexByte(text[:i], '\n') + 1
			t.Errorf("%s contains the %s (in a line starting %q)", where, name, text[lineStart:min(i, lineStart+120)])
		}
	}
}
