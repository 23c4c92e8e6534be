package fakecarrier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// delivery is one planned push: a request to send (unless dropped) and the record
// of what happened to it.
type delivery struct {
	group  string // the subscription or subscriber: its pushes go one after the other
	url    string
	body   []byte
	header http.Header
	rec    Push
}

// planTNT turns the outbox's T&T events into the notifications of each subscription,
// and applies the faults. It must be called with c.mu held.
func (c *Carrier) planTNT(at time.Time) []*delivery {
	var out []*delivery
	for _, id := range c.subOrder {
		s := c.subs[id]
		var events []observation
		for _, o := range c.outbox {
			if o.event != nil && o.seq > s.since && s.filter.matches(o.sh, o.event) {
				events = append(events, o)
			}
		}
		var fresh []*delivery
		for chunk := range slices.Chunk(events, c.opts.Bundle) {
			wire := make([]tntEvent, len(chunk))
			rec := Push{Model: ModelTNT, Target: s.id, URL: s.callback, At: at}
			for i, o := range chunk {
				wire[i] = tntWireEvent(o.sh, *o.event, o.created)
				rec.EventIDs = append(rec.EventIDs, o.event.ID)
				if !slices.Contains(rec.Identifiers, o.sh.ident) {
					rec.Identifiers = append(rec.Identifiers, o.sh.ident)
				}
			}
			body, _ := json.Marshal(wire)
			f := c.faultsOf(&s.filter, chunk[0].sh)
			d := &delivery{group: s.id, url: s.callback, body: body, rec: rec}
			stale, bad := c.draw(f.StaleSecret), c.draw(f.BadSignature)
			key := s.secret
			switch {
			case bad:
				key = make([]byte, SecretSize)
				for i := range key {
					key[i] = byte(c.rng.Uint32())
				}
				d.rec.BadSignature = true
			case stale && s.previous != nil:
				key = s.previous
				d.rec.StaleSecret = true
			}
			d.header = http.Header{
				"Content-Type":           {"application/json"},
				"Api-Version":            {tntAPIVersion},
				"Subscription-Id":        {s.id},
				"Notification-Signature": {"sha256=" + hex.EncodeToString(sign(body, key))},
			}
			d.rec.Body, d.rec.Header = body, d.header.Clone()
			fresh = append(fresh, d)
		}
		var held []*delivery
		fresh, held = c.reorder(fresh, &s.filter)
		out = append(out, c.dropAndDuplicate(append(fresh, s.held...), &s.filter)...)
		s.held = held
	}
	return out
}

// reorder applies the Reorder fault to a group's pushes of one Step: a hit push
// swaps places with the next, or, when it is the last, is held back to the next Step.
func (c *Carrier) reorder(list []*delivery, f *filter) (sent, held []*delivery) {
	for i := 0; i < len(list); i++ {
		if !c.draw(c.faultsOf(f, c.byIdent[strings.ToUpper(first(list[i].rec.Identifiers))]).Reorder) {
			continue
		}
		list[i].rec.Reordered = true
		if i+1 < len(list) {
			list[i], list[i+1] = list[i+1], list[i]
			i++ // the swapped one is not drawn again
			continue
		}
		held = append(held, list[i])
		list = list[:i]
	}
	return list, held
}

// dropAndDuplicate applies Drop and Duplicate: a dropped push stays in the plan,
// marked, and is not sent; a duplicated one is planned twice in a row.
func (c *Carrier) dropAndDuplicate(list []*delivery, f *filter) []*delivery {
	var out []*delivery
	for _, d := range list {
		faults := c.faultsOf(f, c.byIdent[strings.ToUpper(first(d.rec.Identifiers))])
		drop, dup := c.draw(faults.Drop), c.draw(faults.Duplicate)
		if drop {
			d.rec.Dropped = true
			out = append(out, d)
			continue
		}
		out = append(out, d)
		if dup {
			again := *d
			again.rec.Duplicate = true
			out = append(out, &again)
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// sign is HMAC-SHA256, as Notification-Signature carries it. The carrier computes it
// itself rather than with poller/dcsa, so that the tests cross-check the two.
func sign(body, key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// send makes the planned pushes, each group's in order, up to Options.Concurrency
// groups at once, and returns the records in plan order.
func (c *Carrier) send(ctx context.Context, plan []*delivery) []Push {
	groups := map[string][]int{}
	var order []string
	for i, d := range plan {
		if _, ok := groups[d.group]; !ok {
			order = append(order, d.group)
		}
		groups[d.group] = append(groups[d.group], i)
	}
	slots := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	for _, g := range order {
		slots <- struct{}{}
		wg.Add(1)
		go func(idx []int) {
			defer func() { <-slots; wg.Done() }()
			for _, i := range idx {
				if !plan[i].rec.Dropped {
					c.post(ctx, plan[i])
				}
			}
		}(groups[g])
	}
	wg.Wait()
	out := make([]Push, len(plan))
	for i, d := range plan {
		out[i] = d.rec
	}
	return out
}

// post sends one push and records the answer. Latency is measured on the wall clock:
// it is what the benchmark reports, not something a test asserts.
func (c *Carrier) post(ctx context.Context, d *delivery) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		d.rec.Err = err.Error()
		return
	}
	req.Header = d.header.Clone()
	start := time.Now()
	resp, err := c.client.Do(req)
	d.rec.Latency = time.Since(start)
	if err != nil {
		d.rec.Err = err.Error()
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	d.rec.Status = resp.StatusCode
}
