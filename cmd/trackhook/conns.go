package main

import (
	"log/slog"
	"net"

	"golang.org/x/net/netutil"
)

// defaultMaxConnections is the default of --max-connections. Every open connection
// costs serve a file descriptor and, idle, about 20 KB: 19,000 idle keep-alive
// connections took it from 14 MB to 393 MB and near its limit of 20,000 descriptors
// (the report that led here: 20,800, 526 MB, then "accept4: too many open files").
// With 4096 the same flood peaked at 4,107 descriptors and 133 MB. 4096 also stays
// below the descriptor limits serve meets (Go raises the soft limit to the hard one
// at start: 1,048,576 in Docker, 524,288 under systemd, 20,000 or less on some hosts)
// with room for the store and the outgoing polls and webhooks; connectionLimit lowers
// it where the limit is smaller. A reverse proxy in front needs far fewer.
const defaultMaxConnections = 4096

// fdReserve is how many file descriptors serve keeps out of the connection limit: the
// store, the listeners, logs and DNS (fdReserveBase), and two for each poll and
// delivery worker (one in use, one kept alive for the next request to that host).
func fdReserve(c serveConfig) int {
	const fdReserveBase = 64
	return fdReserveBase + 2*(c.pollWorkers+c.deliveryWorkers)
}

// minConnections is the least connectionLimit allows, however low the file descriptor
// limit: with fewer, a handful of slow clients would block the API.
const minConnections = 16

// connectionLimit returns how many API connections serve keeps open at once: want
// (--max-connections), lowered to what the process's file descriptor limit fdLimit
// leaves after reserve, but not below minConnections (nor above want). fdLimit 0
// means unknown: want is kept. lowered says whether want was lowered.
func connectionLimit(want int, fdLimit uint64, reserve int) (limit int, lowered bool) {
	if fdLimit == 0 || fdLimit >= uint64(want+reserve) {
		return want, false
	}
	limit = min(want, max(int(fdLimit)-reserve, minConnections))
	return limit, limit < want
}

// limitConnections returns ln accepting at most the connection limit at once (see
// connectionLimit); a connection beyond it waits in the kernel's accept queue until
// one closes, which --idle-timeout makes happen to idle keep-alive connections.
func limitConnections(ln net.Listener, c serveConfig, log *slog.Logger) net.Listener {
	fdLimit := openFileLimit()
	limit, lowered := connectionLimit(c.maxConnections, fdLimit, fdReserve(c))
	if lowered {
		log.Warn("lowering --max-connections to what the file descriptor limit leaves (raise it with ulimit -n or LimitNOFILE)",
			"max_connections", c.maxConnections, "lowered_to", limit, "fd_limit", fdLimit)
	}
	return netutil.LimitListener(ln, limit)
}
