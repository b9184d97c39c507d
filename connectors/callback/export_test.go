package callback

import "time"

// SetClock replaces c's clock, which dates events and reads HTTP-date
// Retry-After values.
func SetClock(c *Connector, now func() time.Time) { c.now = now }
