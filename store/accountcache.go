package store

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/trackhook/trackhook/references"
)

// accountCache keeps each account decoded, with the stored bytes it was decoded from.
// Every delivery needs its account's live signing secrets; reading the bytes from the
// file is cheap, decoding the JSON is not. An entry is used only while the stored
// bytes are the same, so a rotated secret is seen at once, with nothing to invalidate.
type accountCache struct {
	mu      sync.Mutex
	entries map[string]cachedAccount
}

type cachedAccount struct {
	raw  []byte // a copy: bbolt's bytes live only as long as their transaction
	acct references.Account
}

// get returns the account stored as data, decoding it only when it changed.
func (c *accountCache) get(id string, data []byte) (references.Account, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, data) {
		return e.acct, nil
	}
	var rec accountRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return references.Account{}, err
	}
	acct := rec.account()
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]cachedAccount{}
	}
	c.entries[id] = cachedAccount{raw: bytes.Clone(data), acct: acct}
	c.mu.Unlock()
	return acct, nil
}
