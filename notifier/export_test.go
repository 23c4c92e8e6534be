package notifier

import (
	"net"
	"net/netip"
	"testing"
)

// StartFakeDNS starts the fake DNS server of ssrf_test.go for the tests of package
// notifier_test and returns a resolver that asks it.
func StartFakeDNS(t testing.TB, records map[string][]netip.Addr) *net.Resolver {
	return startFakeDNS(t, records).resolver()
}

// Waiting returns how many deliveries wait for a delivery slot or a place at their
// host.
func (n *Notifier) Waiting() int { return n.slots.waiting() }
