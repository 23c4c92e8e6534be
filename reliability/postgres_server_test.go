package reliability_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// pgServer is a PostgreSQL server of the test's own, in a temporary directory, which
// the test may stop and start again: a database restart cannot be done to the shared
// server of TRACKHOOK_TEST_POSTGRES, whose other users would see it go. It listens on
// 127.0.0.1 only, on a free port, with trust authentication for the role postgres.
type pgServer struct {
	t    *testing.T
	bin  string // the directory of initdb, pg_ctl and postgres
	data string // the cluster's directory
	log  string // the server's log file
	port int
	// runAs is the unprivileged user the server's commands run as when the test runs
	// as root (initdb refuses root); "" runs them as the test's own user.
	runAs string
}

// postgresBinDir returns the newest /usr/lib/postgresql/*/bin holding initdb and
// pg_ctl (Debian's layout, which .ci/run installs), or "" when there is none.
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startPgServer creates a cluster in a directory of t's and starts its server, which
// t's cleanup stops. It returns nil and the reason when it cannot: no binaries, or
// root without a postgres user to run them as.
func startPgServer(t *testing.T) (*pgServer, string) {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		return nil, "no initdb and pg_ctl under /usr/lib/postgresql/*/bin"
	}
	dir := t.TempDir()
	p := &pgServer{t: t, bin: bin, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "postgres.log")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "running as root, and there is no postgres user to run initdb as: " + err.Error()
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The unprivileged user must reach the directory: t.TempDir's parent is the
		// test's own, 0700; let others through it, not read it.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.runAs = u.Username
	}
	p.port = freePort(t)
	if out, err := p.command("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// Appended as root, the file keeps its owner. fsync is off: the server is
	// stopped (even with -m immediate), never the machine, so the page cache keeps
	// every committed write, and the tests run faster.
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\nfsync = off\nmax_connections = 200\n", p.port)
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(func() {
		if p.running() {
			p.stop("immediate")
		}
	})
	return p, ""
}

// url is the address of the server's database postgres.
func (p *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// command prepares one of the server's programs, run as p.runAs when set.
func (p *pgServer) command(program string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, program)
	if p.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// start starts the server and waits until it accepts connections.
func (p *pgServer) start() {
	p.t.Helper()
	if out, err := p.command("pg_ctl", "start", "-D", p.data, "-l", p.log, "-w", "-t", "60").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, p.logTail())
	}
}

// stop stops the server with pg_ctl's mode: "immediate" is a crash of the server (the
// next start recovers from the WAL), "fast" a clean shutdown.
func (p *pgServer) stop(mode string) {
	p.t.Helper()
	if out, err := p.command("pg_ctl", "stop", "-D", p.data, "-m", mode, "-w", "-t", "60").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// running reports whether the server is up, by pg_ctl status.
func (p *pgServer) running() bool {
	return p.command("pg_ctl", "status", "-D", p.data).Run() == nil
}

// logTail returns the end of the server's log, for failure messages.
func (p *pgServer) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
