package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
)

func newPlanCmd(g *globals) *cobra.Command {
	var o engine.SyncOptions
	cmd := &cobra.Command{
		Use:   "plan [flags] DIR|FILE",
		Short: "Dry run: show what a sync would send each target, calling no application and changing nothing",
		Long: `plan reads the sources as sync would and shows, per target, what would be created,
updated (which attributes, old → new), moved, disabled and deleted, and what would be
skipped and why. It works on a copy of the store: the store and every application
are left untouched. Losses the mass-deletion guard would hold back are listed too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := fullTarget(&o); err != nil {
				return err
			}
			return runPlan(ctx, g, args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.Full, "full", false, "plan a full read of incremental sources; with --target, a full sync of the target")
	cmd.Flags().BoolVar(&o.ChangedOnly, "changed-only", false, "with --full --target: only objects whose mapped values differ")
	cmd.Flags().BoolVar(&o.AllowDeletes, "allow-deletes", false, "plan as if the mass-deletion guard were lifted")
	cmd.Flags().StringSliceVar(&o.Sources, "source", nil, "plan only these sources")
	cmd.Flags().StringSliceVar(&o.Targets, "target", nil, "plan only these targets")
	return cmd
}

func runPlan(ctx context.Context, g *globals, path string, o engine.SyncOptions, out, errw io.Writer) error {
	p, err := loadPipeline(ctx, path, errw)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "midstream-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, "plan.db")
	if _, err := os.Stat(g.db); err == nil {
		orig, err := store.Open(g.db)
		if err != nil {
			return err
		}
		err = orig.CopyTo(ctx, copyPath)
		orig.Close()
		if err != nil {
			return fmt.Errorf("copy the store for the dry run: %w", err)
		}
	}
	st, err := store.Open(copyPath)
	if err != nil {
		return err
	}
	defer st.Close()

	var mu sync.Mutex
	var planned []engine.PlannedEvent
	eng := engine.New(p, st, engine.Options{Plan: func(pe engine.PlannedEvent) {
		mu.Lock()
		planned = append(planned, pe)
		mu.Unlock()
	}})
	if err := eng.Start(ctx); err != nil {
		var held *store.ErrLeaseHeld
		if !errors.As(err, &held) {
			return err
		}
	}
	defer eng.Close()
	o.RetryWait = 0
	rep := eng.Sync(ctx, o)
	for _, s := range rep.Sources {
		c := s.Counts
		fmt.Fprintf(out, "source %s (%s read): %d seen, %d created, %d updated, %d moved, %d enabled, %d disabled, %d deleted\n",
			s.Name, s.Mode, c.Seen, c.Created, c.Updated, c.Moved, c.Enabled, c.Disabled, c.Deleted)
		if s.Err != nil {
			fmt.Fprintf(out, "  error: %v\n", s.Err)
			for i, l := range s.Blocked {
				if i == 20 {
					fmt.Fprintf(out, "    … and %d more\n", len(s.Blocked)-20)
					break
				}
				fmt.Fprintf(out, "    held back: %s %s %s (%s)\n", verb(l.State), l.Kind, l.ExternalID, l.DisplayName)
			}
		}
	}
	byTarget := map[string][]engine.PlannedEvent{}
	for _, pe := range planned {
		byTarget[pe.Target] = append(byTarget[pe.Target], pe)
	}
	for _, t := range rep.Targets {
		list := byTarget[t.Name]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Event.ID < list[j].Event.ID })
		fmt.Fprintf(out, "\ntarget %s: %s\n", t.Name, planSummary(list))
		for _, pe := range list {
			fmt.Fprintf(out, "  %s\n", planLine(pe))
		}
		if t.Err != nil {
			fmt.Fprintf(out, "  error: %v\n", t.Err)
		}
	}
	fmt.Fprintln(out, "\nNothing was sent and the store is unchanged.")
	return nil
}

func planSummary(list []engine.PlannedEvent) string {
	counts := map[string]int{}
	for _, pe := range list {
		if pe.Op != nil {
			counts[string(pe.Op.Op)]++
		} else {
			counts[strings.ToLower(string(pe.Result.Status))]++
		}
	}
	if len(counts) == 0 {
		return "nothing to send"
	}
	var parts []string
	for _, k := range []string{"create", "update", "move", "enable", "disable", "delete", "skipped", "failure"} {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

func planLine(pe engine.PlannedEvent) string {
	name := fmt.Sprintf("%s %s", pe.Event.Kind, pe.Object.DisplayName)
	if pe.Op == nil {
		what := strings.ToLower(string(pe.Result.Status))
		why := pe.Result.Reason
		if why == "" {
			why = pe.Result.ErrMessage
		}
		return fmt.Sprintf("%-8s %s (%s): %s", what, name, pe.Event.Op, why)
	}
	op := pe.Op
	var detail string
	switch op.Op {
	case sdk.OpCreate:
		detail = attrList(op.Attributes)
		if op.Parent != nil {
			detail += " in " + parentName(op.Parent)
		}
	case sdk.OpUpdate:
		var parts []string
		for _, k := range op.Attributes.Names() {
			old := "∅"
			if v, ok := pe.Link.Synced[k]; ok {
				old = show(k, v)
			}
			parts = append(parts, fmt.Sprintf("%s: %s → %s", k, old, show(k, op.Attributes[k])))
		}
		detail = strings.Join(parts, ", ")
	case sdk.OpMove:
		if op.Parent != nil {
			detail = "to " + parentName(op.Parent)
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%-8s %s %s", op.Op, name, detail))
}

func parentName(r *sdk.Ref) string {
	if r.TargetID != "" && !strings.HasPrefix(r.TargetID, "(new") {
		return r.TargetID
	}
	return r.HubID
}

func attrList(a sdk.Attributes) string {
	var parts []string
	for _, k := range a.Names() {
		parts = append(parts, k+"="+show(k, a[k]))
	}
	return strings.Join(parts, ", ")
}

// show renders a value, masking what looks sensitive.
func show(name string, v sdk.Value) string {
	if engine.Sensitive(name) {
		return "******"
	}
	if v.IsNull() {
		return "∅"
	}
	return fmt.Sprintf("%q", v.String())
}
