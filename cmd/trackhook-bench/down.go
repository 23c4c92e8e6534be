package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// outageMode is how a receiver answers while it is down.
type outageMode int32

// Outage modes. A refusing receiver is the easy case for the others: each attempt to
// it ends at once and its breaker soon opens. A hanging one holds a connection, a
// place of its host and a delivery slot per attempt until the sender's timeout.
const (
	up       outageMode = iota
	refusing            // answers 503 at once
	hanging             // holds each request until the client gives up, then 503
)

// downModes names the modes for --fanout-down.
var downModes = map[string]outageMode{"503": refusing, "hang": hanging}

// parseDownModes reads --fanout-down: a comma-separated list of downModes' names, each
// once; empty for none.
func parseDownModes(s string) ([]string, error) {
	var names []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := downModes[name]; !ok {
			return nil, fmt.Errorf("--fanout-down: %q is not 503 or hang", name)
		}
		for _, seen := range names {
			if seen == name {
				return nil, fmt.Errorf("--fanout-down: %q twice", name)
			}
		}
		names = append(names, name)
	}
	return names, nil
}

// outage is a receiver's down state. Requests held while hanging are let go (with a
// 503) by release, so that a run can end without waiting out the sender's timeout.
// released is made with the receiver.
type outage struct {
	mode    atomic.Int32
	refused atomic.Int64 // requests answered 503, at once or after hanging

	once     sync.Once
	released chan struct{}
}

// set puts the receiver in mode m.
func (o *outage) set(m outageMode) { o.mode.Store(int32(m)) }

// refuse reports whether the request is to be answered 503, after holding it until
// ctx ends or release when hanging.
func (o *outage) refuse(ctx context.Context) bool {
	switch outageMode(o.mode.Load()) {
	case refusing:
	case hanging:
		select {
		case <-ctx.Done(): // the sender gave up
		case <-o.released:
		}
	default:
		return false
	}
	o.refused.Add(1)
	return true
}

// release lets go of the requests held and of any held later.
func (o *outage) release() { o.once.Do(func() { close(o.released) }) }
