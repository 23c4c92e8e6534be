package dcsa

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/trackhook/trackhook/internal/clock"
)

// tokenEarlyExpiry is how long before its expiry a token is replaced, so that a token
// does not expire between being picked and reaching the carrier.
const tokenEarlyExpiry = 30 * time.Second

// tokenCache holds one OAuth2 client-credentials token for a Client. Only one token
// request runs at a time; callers waiting for it give up when their context ends.
type tokenCache struct {
	cfg    *clientcredentials.Config
	client *http.Client // used for token requests
	clock  clock.Clock
	sem    chan struct{} // a mutex that a context can abandon

	tok *oauth2.Token // guarded by sem
}

func newTokenCache(o *OAuth2, client *http.Client, clk clock.Clock) *tokenCache {
	return &tokenCache{
		cfg: &clientcredentials.Config{
			ClientID:     o.ClientID,
			ClientSecret: o.ClientSecret,
			TokenURL:     o.TokenURL,
			Scopes:       o.Scopes,
		},
		client: client,
		clock:  clk,
		sem:    make(chan struct{}, 1),
	}
}

// token returns the cached token, or fetches a new one when there is none or it is
// about to expire. The expiry check uses the injected clock, so tests can expire a
// token without waiting.
func (c *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()

	if c.tok != nil && (c.tok.Expiry.IsZero() || c.clock.Now().Add(tokenEarlyExpiry).Before(c.tok.Expiry)) {
		return c.tok, nil
	}
	// clientcredentials.Config.Token fetches unconditionally; the caching is ours.
	tok, err := c.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, c.client))
	if err != nil {
		// The library's error carries the token endpoint's answer, never the secret.
		return nil, fmt.Errorf("oauth2 token: %w", err)
	}
	c.tok = tok
	return tok, nil
}

// invalidate drops tok if it is still the cached token: the carrier refused it (revoked
// early, or the clocks disagree), so the next request fetches a new one.
func (c *tokenCache) invalidate(ctx context.Context, tok *oauth2.Token) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if c.tok == tok {
		c.tok = nil
	}
	<-c.sem
}
