package engine

import (
	"fmt"
	"strings"
	"time"
)

// SourceTimings says where a source run's time went. The stages follow
// each other batch by batch, so they add up to about the run's duration.
type SourceTimings struct {
	// Read is the time spent waiting for the connector's records: its
	// own reading and parsing, and the plugin boundary.
	Read time.Duration
	// Mapping is the inbound mapping's.
	Mapping time.Duration
	// Diff is reading what the directory holds of each batch and
	// encoding the batch, outside the write transaction (the comparison
	// itself runs in it, and counts as Store).
	Diff time.Duration
	// Store is the directory's write transactions (the changed objects,
	// their change-log rows, the cursor), and finding and applying the
	// losses. It includes waiting for the store's one writer, which the
	// targets' deliveries share.
	Store time.Duration
}

// String is the timings as `midstream sync --timings` prints them.
func (t SourceTimings) String() string {
	return joinTimings("read", t.Read, "mapping", t.Mapping, "diff", t.Diff, "store", t.Store)
}

// TargetTimings says where a target run's time went. The run's loop
// consumes, claims and records results, one after the other: their sum,
// Store, is the serial part of delivery. Planning, marking and calls run
// beside the loop, so Mapping, Mark and Calls overlap it and each other.
// Every stage that writes to the store includes waiting for its one
// writer, which the sources' runs and other targets share: Consume,
// Claim, Finish, Mark, and Mapping where it reserves unique values.
type TargetTimings struct {
	// Consume is turning the change log into events (and, for a target
	// full sync, the directory).
	Consume time.Duration
	// Claim is claiming ready events, with what running them needs.
	Claim time.Duration
	// Mark is recording the creates about to be sent.
	Mark time.Duration
	// Finish is recording results: statuses, links, the next events.
	Finish time.Duration
	// Mapping is planning each event, the outbound mapping above all.
	Mapping time.Duration
	// Calls is the calls' time from queued (after the rate limit, if
	// any) to answered, summed over calls: a claim's calls are queued at
	// once, and the plugin runs up to the target's concurrency of them at
	// a time, so most of it is waiting for a turn. NCalls counts them.
	Calls  time.Duration
	NCalls int
}

// Store is the loop's time in the store.
func (t TargetTimings) Store() time.Duration { return t.Consume + t.Claim + t.Finish }

// String is the timings as `midstream sync --timings` prints them.
func (t TargetTimings) String() string {
	s := fmt.Sprintf("store %s (%s); beside it: %s", round(t.Store()),
		joinTimings("consume", t.Consume, "claim", t.Claim, "finish", t.Finish), joinTimings("mapping", t.Mapping, "mark", t.Mark))
	if t.NCalls > 0 {
		s += fmt.Sprintf("; %d calls, each %s from queued to answered", t.NCalls, round(t.Calls/time.Duration(t.NCalls)))
	}
	return s
}

func joinTimings(kv ...any) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%s %s", kv[i], round(kv[i+1].(time.Duration))))
	}
	return strings.Join(parts, ", ")
}

// round keeps three or four significant digits, enough to compare
// stages (under 5µs rounds to 0s).
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(10 * time.Microsecond)
	}
}
