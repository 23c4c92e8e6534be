// Package reliability holds trackhook's black-box reliability and security suites.
// It has no code of its own: its tests drive the real packages (api, store, poller,
// notifier, poller/dcsa) and the real trackhook binary from the outside, and check
// that nothing is lost and that no one gets in where they don't belong.
//
//	crash_test.go            SIGKILL the real `trackhook serve` at random moments, restart it
//	                         on the same store, check every update reached the receiver
//	                         and the account feed (GET /updates) stayed gapless
//	crash_endpoints_test.go  the same with a callback and three account endpoints (standard,
//	                         flaky batch, svix with a filter): per destination, every
//	                         selected update arrived in order, signed with its own secret,
//	                         batches stable across retries, every message succeeded
//	multi_instance_test.go   three `trackhook serve` on one PostgreSQL database, a DCSA carrier
//	                         and the endpoint crash test's destinations: SIGKILL a random
//	                         instance every few seconds and restart it, crash the database
//	                         server in the middle; nothing lost, order kept per destination,
//	                         and the carrier's poll log shows no reference polled by two
//	                         processes at once (needs TRACKHOOK_TEST_POSTGRES; restarts a
//	                         private server it starts with initdb/pg_ctl when installed)
//	push_test.go             carrier push against internal/fakecarrier (T&T v2.2 subscriptions
//	                         and CT 3.0): every event once in each feed whatever the pushes'
//	                         duplicates and order, dropped pushes healed by the safety-net
//	                         poll, lost subscriptions made again, subscriptions deleted when
//	                         references end; refused pushes change nothing and are counted
//	shutdown_test.go         SIGTERM under load: exit 0 in time, nothing lost after restart
//	receiver_chaos_test.go   receivers that time out, reset, answer 5xx/429, drip, send huge
//	                         bodies or flap, against the real notifier; no leaks
//	source_chaos_test.go     a hostile DCSA server against the real poller and dcsa client
//	hostile_api_test.go      malformed, oversized, look-alike and injected input against the
//	                         real API; 1,000 concurrent creates; per-key rate limits
//	security_test.go         account isolation on every route, key revocation, secrets kept
//	                         out of logs and error bodies, SSRF through DNS
//	hostile_endpoints_test.go, security_endpoints_test.go
//	                         the same for account endpoints: hostile bodies and queries,
//	                         isolation of endpoints, messages and secrets, SSRF of their URLs
//	connections_test.go      2,000 keep-alive connections against --max-connections 100:
//	                         the process's file descriptors stay bounded, it recovers
//	cli_test.go              the real command line: help and error exit codes, nothing
//	                         written before a refusal, a second process on a held store
//
// How to run:
//
//	go test -race ./reliability/                     # what CI runs (in `go test -race ./...`)
//	go test -race ./reliability/ -run Crash -v       # one suite, with its figures logged
//	go test -race ./reliability/ -seed 1234 -v       # replay the random choices of a run
//	go test -race ./reliability/ -soak -timeout 30m  # the longer soak variants
//
// Every randomised test logs its seed; pass it back with -seed to replay the same kill
// moments and delays. The figures (kills survived, updates checked, hostile inputs
// tried, latencies under chaos) are written with t.Logf, so run with -v to see them.
// The -soak flag makes the crash test kill the service 30 times over 150 references
// (the endpoint crash test 25 times over 80, the multi-instance test 40 times over 90,
// with the database down for 10 s), the shutdown test run longer under load,
// and the receiver chaos last 30 seconds.
package reliability
