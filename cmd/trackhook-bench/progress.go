package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress keeps one line on the terminal up to date while the tool runs: the phase,
// how long it has run and what it has done so far. When the output is not a terminal
// (a log file, a test), only the last state of each phase is written, one per line.
type progress struct {
	w     io.Writer
	every time.Duration
	live  bool // redraw the line in place

	mu     sync.Mutex
	phase  string
	start  time.Time
	status func() string
	width  int // of the last line written, to blank it out

	stop chan struct{}
	done chan struct{}
}

// startProgress redraws the line on w every interval until close, when live.
func startProgress(w io.Writer, every time.Duration, live bool) *progress {
	p := &progress{w: w, every: every, live: live, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// isTerminal reports whether w is a character device, where a line can be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// begin starts a new phase; its line stays on the screen when the next one begins.
func (p *progress) begin(phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != "" {
		p.draw(true)
	}
	p.phase, p.start, p.status = phase, time.Now(), nil
}

// show sets what the line says about the phase's progress.
func (p *progress) show(status func() string) {
	p.mu.Lock()
	p.status = status
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			if p.live {
				p.mu.Lock()
				p.draw(false)
				p.mu.Unlock()
			}
		}
	}
}

// draw writes the line; final ends it with a newline. Callers hold mu.
func (p *progress) draw(final bool) {
	if p.phase == "" {
		return
	}
	line := fmt.Sprintf("%-22s %6.1fs", p.phase, time.Since(p.start).Seconds())
	if p.status != nil {
		line += "  " + p.status()
	}
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	end := ""
	if final {
		end, p.width = "\n", 0
	}
	if !p.live {
		fmt.Fprintln(p.w, line)
		return
	}
	fmt.Fprintf(p.w, "\r%s%s%s", line, strings.Repeat(" ", pad), end)
}

// close ends the last phase's line and stops redrawing.
func (p *progress) close() {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	p.draw(true)
	p.phase = ""
	p.mu.Unlock()
}
