package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// EnvBin is the variable naming the directory of PostgreSQL's server programs
// (initdb, pg_ctl) for StartServer; without it, the newest /usr/lib/postgresql/*/bin
// (Debian's layout) is used.
const EnvBin = "TRACKHOOK_TEST_PG_BIN"

// Server is a private PostgreSQL server of one test, which the test may stop and
// start again (a database outage): unlike the shared server of TRACKHOOK_TEST_POSTGRES,
// nothing else uses it.
type Server struct {
	// URL is the superuser's database, postgres://postgres@127.0.0.1:PORT/postgres
	// (trust authentication on the loopback address).
	URL  string
	Port int
	bin  string
	dir  string
	as   *user.User // runs the programs when the test runs as root, which initdb refuses
}

// StartServer creates a cluster in a temporary directory and starts it on a free
// loopback port, tuned for tests (no fsync). It is stopped and removed when t ends.
// Without initdb and pg_ctl the test is skipped with the reason, or fails when
// CI=true (.ci/run installs them).
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := serverBin()
	if bin == "" {
		msg := fmt.Sprintf("no PostgreSQL server programs (initdb, pg_ctl): install Debian's postgresql package or set %s", EnvBin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		// initdb refuses root: the cluster belongs to the postgres system user the
		// package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the server needs the postgres system user: %v", err)
		}
		s.as = u
	}
	dir, err := os.MkdirTemp("", "trackhook-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.pgCtl(context.Background(), "stop", "-m", "immediate") // may be stopped already
		os.RemoveAll(dir)
	})
	if s.as != nil {
		uid, _ := strconv.Atoi(s.as.Uid)
		gid, _ := strconv.Atoi(s.as.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := s.command(ctx, "initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Port = freePort(t)
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", s.Port)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		s.Port, s.dir)
	return s.pgCtl(ctx, "start", "-w", "-t", "60", "-l", filepath.Join(s.dir, "log"), "-o", opts)
}

// Stop stops the server the fast way: connections are cut, transactions under way
// roll back, as when a database is restarted. It returns once the server is down.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.pgCtl(ctx, "stop", "-w", "-m", "fast")
}

// Crash stops the server the way a crash does (pg_ctl stop -m immediate): no
// checkpoint, recovery from the WAL at the next Start.
func (s *Server) Crash() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.pgCtl(ctx, "stop", "-w", "-m", "immediate")
}

// HasServerPrograms reports whether StartServer finds initdb and pg_ctl, for a test
// that can do without a private server.
func HasServerPrograms() bool { return serverBin() != "" }

// Log returns the server's log, for a failing test to show.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) pgCtl(ctx context.Context, args ...string) error {
	out, err := s.command(ctx, "pg_ctl", append([]string{"-D", s.data()}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v: %s", args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// command runs one of the server's programs, as the postgres user when s.as is set.
func (s *Server) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, program)
	if s.as == nil {
		return exec.CommandContext(ctx, path, args...)
	}
	return exec.CommandContext(ctx, "runuser", append([]string{"-u", s.as.Username, "--", path}, args...)...)
}

// serverBin returns the directory holding initdb and pg_ctl, or "".
func serverBin() string {
	candidates := []string{os.Getenv(EnvBin)}
	if candidates[0] == "" {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		// Newest major version first: /usr/lib/postgresql/15 after .../9.6 by number.
		slices.SortFunc(found, func(a, b string) int {
			return majorVersion(b) - majorVersion(a)
		})
		candidates = found
	}
	for _, dir := range candidates {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "pg_ctl")) {
			return dir
		}
	}
	return ""
}

func majorVersion(binDir string) int {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return int(v * 100)
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
