package store

import (
	"regexp"
	"testing"
	"time"
)

func TestHubIDsIncrease(t *testing.T) {
	at := time.UnixMilli(1_795_000_000_000)
	g := &idGen{now: func() time.Time { return at }}
	format := regexp.MustCompile(`^[0-9a-f]{24}$`)
	prev := ""
	seen := map[string]bool{}
	for i := range 3000 {
		switch i {
		case 1000:
			at = at.Add(time.Millisecond)
		case 2000:
			// The clock goes back: ids still increase.
			at = at.Add(-time.Second)
		}
		id := g.next()
		if !format.MatchString(id) {
			t.Fatalf("id %q: want 24 hex digits", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("id %d: %s after %s: want increasing, unique ids", i, id, prev)
		}
		if i < 2000 && id[:12] != fmtMS(at) {
			t.Fatalf("id %s: want it to begin with the time %s", id, fmtMS(at))
		}
		prev, seen[id] = id, true
	}
	// Two generators in the same millisecond start apart.
	h := &idGen{now: func() time.Time { return at }}
	if a, b := g.next(), h.next(); a[12:] == b[12:] {
		t.Errorf("two generators made %s and %s in the same millisecond", a, b)
	}
}

func fmtMS(t time.Time) string {
	ms := t.UnixMilli()
	const hexdig = "0123456789abcdef"
	b := make([]byte, 12)
	for i := 11; i >= 0; i-- {
		b[i] = hexdig[ms&15]
		ms >>= 4
	}
	return string(b)
}
