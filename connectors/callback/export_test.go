package callback

import (
	"io"
	"time"
)

// SetClock replaces c's clock, which dates events and reads HTTP-date
// Retry-After values.
func SetClock(c *Connector, now func() time.Time) { c.now = now }

// SetNonce replaces c's nonces and IV source before Configure, so that
// tests can show reproducible requests.
func SetNonce(c *Connector, nonce func() string, rand io.Reader) { c.nonce, c.rand = nonce, rand }

// OneAccessSignature is the signature of a OneAccess envelope, with c's
// signature_key.
func OneAccessSignature(c *Connector, nonce string, timestamp int64, eventType, data string) string {
	return c.oaSign(&oaEnvelope{Nonce: nonce, Timestamp: timestamp, EventType: eventType, Data: data})
}

// Waiting returns how many events wait for a batch request.
func Waiting(c *Connector) int {
	if c.batch == nil {
		return 0
	}
	c.batch.mu.Lock()
	defer c.batch.mu.Unlock()
	return len(c.batch.queue)
}
