package notifier_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
)

// aliasesOf returns callback URLs that all reach the loopback server at rawURL: the
// port with leading zeros, IPv4-mapped IPv6 in two spellings, inet_aton shorthands,
// and DNS names (with upper case and a trailing dot) of its address, which resolver
// knows.
func aliasesOf(t *testing.T, rawURL string) (aliases []string, resolver *net.Resolver) {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	resolver = notifier.StartFakeDNS(t, map[string][]netip.Addr{"alias.test.": lo, "other-name.test.": lo})
	for _, host := range []string{
		"127.0.0.1:" + port, "127.0.0.1:0" + port, "[::ffff:127.0.0.1]:" + port, "[::FFFF:7F00:1]:00" + port,
		"127.1:" + port, "2130706433:" + port, "alias.test:" + port, "OTHER-NAME.test.:" + port,
	} {
		aliases = append(aliases, "http://"+host)
	}
	return aliases, resolver
}

// TestNotifier_AliasesOfOneReceiverShareItsCap gives a receiver that hangs one
// reference under each of its aliases: together they hold MaxInFlightPerHost
// workers, not one cap each.
func TestNotifier_AliasesOfOneReceiverShareItsCap(t *testing.T) {
	ctx := context.Background()
	const perHost, hostWait, breakerWait = 2, 250 * time.Millisecond, time.Second
	_, b := setup(t, notifier.Options{})
	rcv := newGate(t)
	aliases, resolver := aliasesOf(t, rcv.URL)
	b.sendTimeout = time.Minute // the receiver hangs until the test lets it answer
	b.resolver = resolver
	n := b.notifier(notifier.Options{Workers: 16, MaxInFlightPerHost: perHost, HostWait: hostWait, BreakerWait: breakerWait})
	var refs []references.Reference
	for i, alias := range aliases {
		refs = append(refs, b.track(t, alias+"/hooks/"+strconv.Itoa(i), container(i), 1))
	}
	n.Start(ctx)
	// Every stream is at the receiver or waits HostWait for a place there.
	waitFor(t, func() bool { return rcv.count(&rcv.arrived)+b.clock.Timers()-loopTimers == len(aliases) })
	if got := rcv.count(&rcv.arrived); got != perHost {
		t.Fatalf("%d requests under way to one receiver through %d aliases, want its cap of %d", got, len(aliases), perHost)
	}
	b.clock.Advance(hostWait)
	waitFor(t, func() bool { return len(b.store.postponements()) == len(aliases)-perHost })
	rcv.release()
	delivered := func() int {
		sum := 0
		for _, ref := range refs {
			sum += int(b.ref(t, ref.ID).DeliveredSequence)
		}
		return sum
	}
	waitFor(t, func() bool { return delivered() == perHost })
	b.clock.Advance(breakerWait) // the postponed deliveries come due again
	n.Wake()
	waitFor(t, func() bool { return delivered() == len(aliases) })
	n.Stop(ctx)
	if most := rcv.count(&rcv.most); most != perHost {
		t.Fatalf("%d requests to one receiver at once, want at most %d", most, perHost)
	}
	for _, ref := range refs {
		if log := b.log(t, ref.ID); len(log) != 1 || log[0].Attempt != 1 || log[0].Outcome != references.OutcomeDelivered {
			t.Fatalf("%s: %+v", ref.CallbackURL, log)
		}
	}
}

// TestNotifier_AliasesOfOneReceiverShareItsBreaker: the breaker opened by failures
// through one alias holds back deliveries through every other.
func TestNotifier_AliasesOfOneReceiverShareItsBreaker(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	down := newReceiver(t, repeat(503, 20)...)
	aliases, resolver := aliasesOf(t, down.URL)
	b.resolver = resolver
	breakers := notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 2, OpenFor: time.Hour})
	n := b.notifier(notifier.Options{Breakers: breakers, BreakerWait: time.Minute})
	first := b.track(t, aliases[0]+"/a", container(0), 2)
	for range 2 {
		if out, err := n.DeliverNext(ctx, first.ID); err != nil || out != references.OutcomeFailed {
			t.Fatalf("failing attempt: %q, %v", out, err)
		}
	}
	for i, alias := range aliases[1:] {
		ref := b.track(t, alias+"/b", container(i+1), 1)
		if out, err := n.DeliverNext(ctx, ref.ID); err != nil || out != "" {
			t.Errorf("through %s with the receiver's breaker open: %q, %v; want no attempt", alias, out, err)
		}
	}
	if got := len(down.deliveries()); got != 2 {
		t.Fatalf("the receiver got %d requests, want the 2 that opened its breaker", got)
	}
}
