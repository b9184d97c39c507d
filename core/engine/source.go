package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

// SourceReport is what one source run did.
type SourceReport struct {
	Name     string
	RunID    int64
	Mode     string // "full" or "incremental"
	Counts   store.Counts
	Duration time.Duration
	// Rejected lists the records the run could not take in (a mapping
	// failed), each with its location; such a run applies no losses.
	Rejected []string
	// Blocked lists the losses the mass-deletion guard held back.
	Blocked []store.Loss
	// Time is where the run's time went.
	Time SourceTimings
	Err  error
}

// GuardError is a full run whose losses exceed the mass-deletion guard.
type GuardError struct {
	Source         string
	Losses, Of     int
	Percent, Limit float64
	MaxCount       int
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("source %s: the run would delete or disable %d of %d objects (%.1f%%), above the limit; none of these losses was applied",
		e.Source, e.Losses, e.Of, e.Percent)
}

// Hint says how to proceed.
func (e *GuardError) Hint() string {
	return "if the losses are real, run again with --allow-deletes once, or raise max_deletion_percent / max_deletions in the source block"
}

// RejectedError is a run that could not take some records in.
type RejectedError struct {
	Source   string
	Rejected []string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("source %s: %d record(s) could not be taken in; they were left as they were and no deletions were applied:\n  %s",
		e.Source, len(e.Rejected), strings.Join(e.Rejected, "\n  "))
}

// SyncSource runs one source: a full snapshot (a source without a change
// feed, an incremental source without a cursor yet, or Full), or the
// changes since its cursor.
func (e *Engine) SyncSource(ctx context.Context, s *config.Source, o SyncOptions) *SourceReport {
	defer e.lock("source:" + s.Name)()
	start := time.Now()
	rep := &SourceReport{Name: s.Name}
	defer func() { rep.Duration = time.Since(start) }()
	conn, err := e.sourceConnector(ctx, s)
	if err != nil {
		rep.Err = err
		return rep
	}
	caps := sdk.CapabilitiesOf(conn)
	cursor, hasCursor, err := e.st.Cursor(ctx, s.Name)
	if err != nil {
		rep.Err = err
		return rep
	}
	full := o.Full || !caps.Incremental || !hasCursor
	rep.Mode = "incremental"
	if full {
		rep.Mode = "full"
	}
	if rep.RunID, err = e.st.StartRun(ctx, "source", s.Name, rep.Mode); err != nil {
		rep.Err = err
		return rep
	}
	run := e.st.BeginSourceRun(s.Name, rep.RunID, full)
	// What the read's callbacks spent is the engine's; the rest of the
	// read is the connector's.
	var reading, inCallbacks, applying time.Duration
	defer func() {
		rep.Time.Read = reading - inCallbacks
		rep.Time.Diff = run.DiffTime
		rep.Time.Store = applying - run.DiffTime
	}()
	apply := func(objs []store.Object, cursor string) (store.Counts, error) {
		t0 := time.Now()
		defer func() { applying += time.Since(t0) }()
		return run.Apply(ctx, objs, cursor)
	}
	now := time.Now()
	var rejected []string
	var rejectedIDs = map[sdk.Kind][]string{}
	objects := func(records []sdk.Record) ([]store.Object, error) {
		t0 := time.Now()
		defer func() { rep.Time.Mapping += time.Since(t0) }()
		objs := make([]store.Object, 0, len(records))
		for _, r := range records {
			attrs, err := e.inbound(ctx, s, r, now)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rejected = append(rejected, err.Error())
				rejectedIDs[r.Kind] = append(rejectedIDs[r.Kind], r.ExternalID)
				continue
			}
			objs = append(objs, store.ObjectFromRecord(r, attrs))
		}
		return objs, nil
	}
	progress := func() {
		if e.opts.Progress != nil {
			e.opts.Progress(Progress{Stage: "read", Name: s.Name, Done: rep.Counts.Seen + len(rejected)})
		}
	}

	if full {
		src := conn.(sdk.Source)
		t0 := time.Now()
		res, err := src.Read(ctx, sdk.ReadRequest{}, func(records ...sdk.Record) error {
			t1 := time.Now()
			defer func() { inCallbacks += time.Since(t1) }()
			objs, err := objects(records)
			if err != nil {
				return err
			}
			c, err := apply(objs, "")
			rep.Counts.Add(c)
			progress()
			return err
		})
		reading = time.Since(t0)
		if err == nil && len(rejectedIDs) > 0 {
			for kind, ids := range rejectedIDs {
				t1 := time.Now()
				err = run.MarkSeen(ctx, kind, ids)
				applying += time.Since(t1)
				if err != nil {
					break
				}
			}
		}
		if err == nil {
			t1 := time.Now()
			err = e.decideLosses(ctx, s, run, rep, rejected, o)
			applying += time.Since(t1)
		} else {
			_ = run.Discard(context.WithoutCancel(ctx))
		}
		if err == nil && res.Cursor != "" {
			// The cursor is taken before the snapshot, so committing it
			// after the snapshot replays, never skips, what changed during
			// the read.
			_, err = apply(nil, res.Cursor)
		}
		rep.Err = err
	} else {
		inc := conn.(sdk.Incremental)
		t0 := time.Now()
		err := inc.ReadChanges(ctx, cursor, func(next string, records ...sdk.Record) error {
			t1 := time.Now()
			defer func() { inCallbacks += time.Since(t1) }()
			before := len(rejected)
			objs, err := objects(records)
			if err != nil {
				return err
			}
			if len(rejected) > before {
				// The cursor never moves past a record that could not be
				// taken in.
				return &RejectedError{Source: s.Name, Rejected: rejected}
			}
			c, err := apply(objs, next)
			rep.Counts.Add(c)
			progress()
			return err
		})
		reading = time.Since(t0)
		rep.Err = err
	}
	rep.Rejected = rejected
	outcome, msg := "success", ""
	if rep.Err != nil {
		outcome, msg = "failure", rep.Err.Error()
	}
	if err := e.st.FinishRun(context.WithoutCancel(ctx), rep.RunID, outcome, rep.Counts.Map(), msg); err != nil && rep.Err == nil {
		rep.Err = err
	}
	return rep
}

// decideLosses applies a complete snapshot's losses, unless records were
// rejected or the guard holds them back.
func (e *Engine) decideLosses(ctx context.Context, s *config.Source, run *store.SourceRun, rep *SourceReport, rejected []string, o SyncOptions) error {
	losses, err := run.Losses(ctx)
	if err != nil {
		return err
	}
	if len(rejected) > 0 {
		_ = run.Discard(ctx)
		return &RejectedError{Source: s.Name, Rejected: rejected}
	}
	if len(losses) == 0 {
		return run.Discard(ctx)
	}
	total, err := e.st.ActiveCount(ctx, s.Name)
	if err != nil {
		return err
	}
	pct := 100 * float64(len(losses)) / math.Max(1, float64(total))
	over := pct > s.MaxDeletionPercent || (s.MaxDeletions > 0 && len(losses) > s.MaxDeletions)
	if over && !o.AllowDeletes {
		rep.Blocked = losses
		_ = run.Discard(ctx)
		return &GuardError{Source: s.Name, Losses: len(losses), Of: total, Percent: pct, Limit: s.MaxDeletionPercent, MaxCount: s.MaxDeletions}
	}
	c, err := run.CommitLosses(ctx, losses)
	rep.Counts.Add(c)
	return err
}

// inbound maps a source record's attributes to the hub object's.
func (e *Engine) inbound(ctx context.Context, s *config.Source, r sdk.Record, now time.Time) (sdk.Attributes, error) {
	m := s.Mappings[r.Kind]
	if m == nil || r.State == sdk.StateDeleted {
		return r.Attributes, nil
	}
	attrs, err := m.Apply(ctx, mapping.Input{Kind: r.Kind, ID: r.ExternalID, State: r.State, Attributes: r.Attributes, Now: now})
	if err != nil {
		var se *mapping.ScriptError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("%s %s: %w", r.Kind, r.ExternalID, err)
	}
	return attrs, nil
}
