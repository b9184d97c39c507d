package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
)

// Defaults of a [JWKSClient].
const (
	// DefaultJWKSMaxAge is how long fetched keys are used before they are
	// read again.
	DefaultJWKSMaxAge = time.Hour
	// DefaultJWKSMinRefresh is how often, at most, a signature by an
	// unknown key id makes the client read the JWKS again.
	DefaultJWKSMinRefresh = 10 * time.Second
	// maxJWKSBytes caps a JWKS document.
	maxJWKSBytes = 1 << 20
)

// JWKSClient is a [callback.KeySet] that reads the hub's public keys from
// its JWKS URL (`midstream run` serves /.well-known/jwks.json) and caches
// them. It reads them again after MaxAge, and as soon as a request is
// signed by a key id it does not hold (the hub rotated its key), but not
// more often than every MinRefresh, so that requests with made-up key ids
// cannot make it hammer the hub. When the hub cannot be reached it keeps
// using the keys it has. It is safe for concurrent use.
type JWKSClient struct {
	// URL is the JWKS URL.
	URL string
	// Client fetches the keys; nil means a client with a 10-second
	// timeout.
	Client *http.Client
	// MaxAge and MinRefresh: 0 means DefaultJWKSMaxAge and
	// DefaultJWKSMinRefresh.
	MaxAge, MinRefresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	keys     *callback.JWKS
	fetched  time.Time // of the keys held
	attempt  time.Time // of the last fetch, successful or not
	fetchErr error     // of the last fetch
}

var _ callback.KeySet = (*JWKSClient)(nil)

var defaultJWKSClient = &http.Client{Timeout: 10 * time.Second}

// Key returns the public key with id kid, reading the JWKS when it has
// none, when its keys are older than MaxAge, or when kid is unknown and the
// last read is older than MinRefresh. An id the JWKS does not hold is an
// error wrapping [callback.ErrUnknownKey]; a JWKS that cannot be read (and
// no cached key with that id) is another error.
func (c *JWKSClient) Key(ctx context.Context, kid string) (*callback.JWK, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	maxAge, minRefresh := c.MaxAge, c.MinRefresh
	if maxAge <= 0 {
		maxAge = DefaultJWKSMaxAge
	}
	if minRefresh <= 0 {
		minRefresh = DefaultJWKSMinRefresh
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	fresh := c.keys != nil && t.Sub(c.fetched) < maxAge
	if k, ok := c.keys.Find(kid); ok && fresh {
		return k, nil
	}
	var fetchErr error
	if !fresh || c.attempt.IsZero() || t.Sub(c.attempt) >= minRefresh {
		c.attempt = t
		keys, err := c.fetch(ctx)
		if err == nil {
			c.keys, c.fetched, c.fetchErr = keys, t, nil
		} else {
			c.fetchErr, fetchErr = err, err
		}
	}
	if k, ok := c.keys.Find(kid); ok {
		return k, nil
	}
	if fetchErr == nil && c.keys == nil {
		fetchErr = c.fetchErr
	}
	if fetchErr != nil {
		return nil, fetchErr
	}
	return nil, fmt.Errorf("%w %q (the JWKS at %s holds %d keys)", callback.ErrUnknownKey, kid, c.URL, len(c.keys.Keys))
}

func (c *JWKSClient) fetch(ctx context.Context) (*callback.JWKS, error) {
	client := c.Client
	if client == nil {
		client = defaultJWKSClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("read the JWKS at %s: %w", c.URL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the JWKS: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the JWKS at %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the JWKS at %s: HTTP %d", c.URL, resp.StatusCode)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("read the JWKS at %s: larger than %d bytes", c.URL, maxJWKSBytes)
	}
	var keys callback.JWKS
	if err := json.Unmarshal(body, &keys); err != nil {
		return nil, fmt.Errorf("read the JWKS at %s: not a JWKS: %w", c.URL, err)
	}
	if keys.Keys == nil {
		return nil, errors.New("read the JWKS at " + c.URL + `: no "keys" member`)
	}
	return &keys, nil
}
