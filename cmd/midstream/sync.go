package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
)

func newSyncCmd(g *globals) *cobra.Command {
	var o engine.SyncOptions
	var timings bool
	cmd := &cobra.Command{
		Use:   "sync [flags] DIR|FILE",
		Short: "Run one pass: read the sources, deliver the changes to the targets",
		Long: `sync runs one pass of the pipeline: each source is read (a full snapshot, or the
changes since its cursor for an incremental source; --full reads a full snapshot) into
the directory and, while it reads, each target receives what changed as sync events.
Losses (objects absent from a snapshot, or marked disabled or left) are decided once the
read is complete, under the mass-deletion guard.

Events a crash left RUNNING are re-queued first. Transient failures are retried
within the pass while they fall due within --retry-wait; what is left is reported.
The exit code is non-zero when any source run or event failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := fullTarget(&o); err != nil {
				return err
			}
			return runSync(ctx, g, args[0], o, timings, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.Full, "full", false, "read a full snapshot from incremental sources; with --target, a full sync of the target")
	cmd.Flags().BoolVar(&o.ChangedOnly, "changed-only", false, "with --full --target: send only objects whose mapped values differ from what the target last received")
	cmd.Flags().BoolVar(&o.AllowDeletes, "allow-deletes", false, "apply losses above the mass-deletion guard, this once")
	cmd.Flags().StringSliceVar(&o.Sources, "source", nil, "run only these sources (repeatable)")
	cmd.Flags().StringSliceVar(&o.Targets, "target", nil, "deliver only to these targets (repeatable)")
	cmd.Flags().DurationVar(&o.RetryWait, "retry-wait", time.Minute, "how long the pass waits for retries to fall due")
	cmd.Flags().BoolVar(&timings, "timings", false, "print where each run's time went: reading, mapping, the store, the calls")
	return cmd
}

// fullTarget reads --full --target T as a full sync of the target (its
// sources are read as usual), for sync and plan alike.
func fullTarget(o *engine.SyncOptions) error {
	if o.Full && o.Targets != nil {
		o.Full, o.FullTarget = false, true
	}
	if o.ChangedOnly && !o.FullTarget {
		return fmt.Errorf("--changed-only goes with --full --target T")
	}
	return nil
}

func runSync(ctx context.Context, g *globals, path string, o engine.SyncOptions, timings bool, out, errw io.Writer) error {
	p, err := loadPipeline(ctx, path, errw)
	if err != nil {
		return err
	}
	st, err := store.Open(g.db)
	if err != nil {
		return err
	}
	defer st.Close()
	prog := newProgress(errw)
	eng := engine.New(p, st, engine.Options{Progress: prog.update})
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Close()
	start := time.Now()
	rep := eng.Sync(ctx, o)
	prog.done()
	printReport(out, rep, time.Since(start), timings)
	for _, s := range rep.Sources {
		var ce *engine.ConfigError
		if errors.As(s.Err, &ce) {
			printDiagnostics(errw, ce.Files, ce.Diags)
		}
	}
	for _, t := range rep.Targets {
		var ce *engine.ConfigError
		if errors.As(t.Err, &ce) {
			printDiagnostics(errw, ce.Files, ce.Diags)
		}
	}
	if ctx.Err() != nil {
		return errors.New("interrupted; events in flight finished, the rest continue with the next sync")
	}
	if rep.Failed() {
		return errors.New("the pass did not complete cleanly; see above (midstream events list --status FAILURE)")
	}
	return nil
}

func printReport(w io.Writer, rep *engine.Report, took time.Duration, timings bool) {
	for _, s := range rep.Sources {
		c := s.Counts
		line := fmt.Sprintf("source %s (%s read, %s): %d seen, %d created, %d updated, %d moved, %d enabled, %d disabled, %d deleted, %d unchanged\n",
			s.Name, s.Mode, s.Duration.Round(time.Millisecond), c.Seen, c.Created, c.Updated, c.Moved, c.Enabled, c.Disabled, c.Deleted, c.Unchanged)
		if timings {
			// One write with its line: what reads the output finds them
			// together, whatever else writes meanwhile.
			line += fmt.Sprintf("  time: %s\n", s.Time)
		}
		fmt.Fprint(w, line)
		if s.Err != nil {
			fmt.Fprintf(w, "  error: %v\n", s.Err)
			if h, ok := s.Err.(interface{ Hint() string }); ok && h.Hint() != "" {
				fmt.Fprintf(w, "  hint: %s\n", h.Hint())
			}
			var ge *engine.GuardError
			if errors.As(s.Err, &ge) {
				for i, l := range s.Blocked {
					if i == 20 {
						fmt.Fprintf(w, "    … and %d more\n", len(s.Blocked)-20)
						break
					}
					why := "marked " + string(l.State) + " in the source"
					if l.Absent {
						why = "absent from the source"
					}
					fmt.Fprintf(w, "    would %s %s %s (%s): %s\n", verb(l.State), l.Kind, l.ExternalID, l.DisplayName, why)
				}
			}
		}
	}
	for _, t := range rep.Targets {
		var parts []string
		for _, st := range store.Statuses {
			if n := t.Counts[st]; n > 0 && st != store.Queuing {
				parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(string(st))))
			}
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			parts = []string{"nothing to do"}
		}
		full := ""
		if t.FullSync > 0 {
			full = fmt.Sprintf(", full sync of %d objects", t.FullSync)
		}
		line := fmt.Sprintf("target %s (%s): %d changes%s, events: %s\n", t.Name, t.Duration.Round(time.Millisecond), t.Consumed, full, strings.Join(parts, ", "))
		if timings {
			line += fmt.Sprintf("  time: %s\n", t.Time)
		}
		fmt.Fprint(w, line)
		if t.Left > 0 {
			fmt.Fprintf(w, "  %d event(s) left for a later pass (retries not yet due, or waiting on a failed parent)\n", t.Left)
		}
		if t.Err != nil {
			fmt.Fprintf(w, "  error: %v\n", t.Err)
		}
	}
	fmt.Fprintf(w, "done in %s\n", took.Round(time.Millisecond))
}

func verb(s sdk.State) string {
	if s == sdk.StateDisabled {
		return "disable"
	}
	return "delete"
}

// progress shows a bar on a terminal and a line every few seconds
// otherwise.
type progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	last time.Time
	line bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, tty: isTerminal(w)} }

func (p *progress) update(pr engine.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 2 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	what := fmt.Sprintf("%s %s: %d", pr.Stage, pr.Name, pr.Done)
	if pr.Total > 0 {
		what = fmt.Sprintf("%s %s: %d/%d %s", pr.Stage, pr.Name, pr.Done, pr.Total, bar(pr.Done, pr.Total, 30))
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", what)
		p.line = true
		return
	}
	fmt.Fprintln(p.w, what)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func bar(done, total, width int) string {
	n := min(width, width*done/max(1, total))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}
