package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverTimes is CPU time the PostgreSQL server spent: DB in the processes serving the
// tool's database (its connections' backends, autovacuum workers on it), Background
// in the server's processes of no database (WAL writer, checkpointer, background
// writer, launchers), which serve every database of the server: on a server shared
// with other work, Background is not the tool's alone.
type serverTimes struct {
	DB, Background time.Duration
}

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ), 100 on
// every Linux the tool runs on.
const clockTicks = 100

// processClass tells which figure of serverTimes a server process counts in.
type processClass int

const (
	classOther      processClass = iota // another database's: not counted
	classDB                             // serves the tool's database
	classBackground                     // serves no database
)

// serverSampler reads the CPU time of the server's processes from /proc, which only
// works when the server runs on this machine (and in its process namespace). It lists
// the server's processes with pg_stat_activity on a connection of its own (left out of
// the figures) and remembers the time of each process when first seen: a process that
// is new since the first sample counts from zero. It samples every second as well as
// when asked, so that a process that ends (a connection closed) loses at most the
// last second of its time.
type serverSampler struct {
	dbName string

	mu    sync.Mutex
	conn  *pgx.Conn
	self  int32 // the backend of conn
	first bool  // no sample taken yet
	procs map[int32]*procTimes
	err   error // of the last sample

	stop chan struct{}
	done chan struct{}
}

// procTimes is one server process's CPU time when first seen and when last sampled.
type procTimes struct {
	class      processClass
	base, last time.Duration
}

// startServerSampler connects to the database at url and starts sampling, or says
// why the server's CPU time cannot be read from here.
func startServerSampler(ctx context.Context, url string) (*serverSampler, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &serverSampler{conn: conn, first: true, procs: map[int32]*procTimes{}, stop: make(chan struct{}), done: make(chan struct{})}
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid(), current_database()").Scan(&s.self, &s.dbName); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	if comm, _, err := readProcStat(s.self); err != nil || comm != "postgres" {
		conn.Close(ctx)
		return nil, fmt.Errorf("the server's processes are not visible in /proc here (backend %d: %q, %v)", s.self, comm, err)
	}
	if err := s.sample(ctx); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	go s.loop()
	return s, nil
}

// loop samples every second until close.
func (s *serverSampler) loop() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.sample(ctx) // kept in s.err for the next read
			cancel()
		}
	}
}

// times samples now and returns the CPU time spent since the sampler started.
func (s *serverSampler) times(ctx context.Context) (serverTimes, error) {
	if err := s.sample(ctx); err != nil {
		return serverTimes{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t serverTimes
	for _, p := range s.procs {
		switch p.class {
		case classDB:
			t.DB += p.last - p.base
		case classBackground:
			t.Background += p.last - p.base
		}
	}
	return t, nil
}

// sample lists the server's processes and reads the CPU time of those that count.
func (s *serverSampler) sample(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = s.sampleLocked(ctx)
	return s.err
}

func (s *serverSampler) sampleLocked(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, "SELECT pid, coalesce(datname, ''), coalesce(backend_type, '') FROM pg_stat_activity")
	if err != nil {
		return fmt.Errorf("server CPU: %w", err)
	}
	type proc struct {
		pid   int32
		class processClass
	}
	var procs []proc
	for rows.Next() {
		var p proc
		var datname, backendType string
		if err := rows.Scan(&p.pid, &datname, &backendType); err != nil {
			rows.Close()
			return fmt.Errorf("server CPU: %w", err)
		}
		switch {
		case p.pid == s.self:
			continue
		case datname == s.dbName:
			p.class = classDB
		case datname == "":
			p.class = classBackground
		default:
			continue
		}
		procs = append(procs, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("server CPU: %w", err)
	}
	for _, p := range procs {
		_, cpu, err := readProcStat(p.pid)
		if err != nil {
			continue // ended since the list was read
		}
		pt, ok := s.procs[p.pid]
		if !ok || pt.class != p.class { // new, or the pid was reused
			pt = &procTimes{class: p.class}
			if s.first {
				pt.base = cpu // it ran before the tool looked: count from now
			}
			s.procs[p.pid] = pt
		}
		pt.last = cpu
	}
	s.first = false
	return nil
}

// close stops sampling and closes the connection.
func (s *serverSampler) close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn.Close(ctx)
}

// readProcStat returns a process's command name and the CPU time it has used, user
// and system, from /proc/<pid>/stat.
func readProcStat(pid int32) (comm string, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses, so the fields
	// are counted from the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, errors.New("unexpected /proc stat format")
	}
	comm = string(b[open+1 : end])
	fields := bytes.Fields(b[end+1:])
	// After comm: state is field 3 of the line, utime 14 and stime 15.
	if len(fields) < 13 {
		return comm, 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return comm, 0, err
	}
	return comm, time.Duration(utime+stime) * time.Second / clockTicks, nil
}
