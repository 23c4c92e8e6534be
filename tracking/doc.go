// Package tracking is the pure logic of shipment tracking: Derive makes a source's
// snapshot canonical and derives its status, origin, destination, current location,
// vessel, ETA and containers; Diff lists the typed changes between two snapshots with
// their human wording; a TerminalRule (ParseTerminalRule, IsComplete) says when
// tracking is over, for a bill of lading once every one of its containers is done.
//
// Everything here is a function of its arguments: no I/O, no clock, no state. The
// poller calls it on every poll; the golden cases under testdata/diff pin its output.
package tracking
