package store

import (
	"regexp"
	"sync"
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
}

// Two processes making ids in the same millisecond start at random
// points, each below 2^47 so that counting never reaches the timestamp.
func TestHubIDsOfTwoGeneratorsDiffer(t *testing.T) {
	at := time.UnixMilli(1_795_000_000_000)
	clock := func() time.Time { return at }
	starts := map[string]bool{}
	for range 50 {
		id := (&idGen{now: clock}).next()
		if id[12] > '7' {
			t.Fatalf("id %s: the count starts at or above 2^47", id)
		}
		starts[id[12:]] = true
	}
	if len(starts) < 50 {
		t.Errorf("50 generators in the same millisecond made %d distinct ids", len(starts))
	}
}

func TestHubIDsAreUniqueAcrossGoroutines(t *testing.T) {
	g := &idGen{now: time.Now}
	const workers, each = 8, 2000
	out := make(chan []string, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]string, 0, each)
			for range each {
				ids = append(ids, g.next())
			}
			out <- ids
		}()
	}
	wg.Wait()
	close(out)
	seen := map[string]bool{}
	for ids := range out {
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("id %s made twice", id)
			}
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("a goroutine got %s after %s", id, ids[i-1])
			}
			seen[id] = true
		}
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
