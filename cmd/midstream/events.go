package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
)

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List and show sync events",
	}
	var (
		f                  store.Filter
		statuses, ops      []string
		kind, since, until string
		output             string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List sync events, newest first",
		Example: `  midstream events list --status FAILURE --target app
  midstream events list --object zhang.wei@example.com --since 24h
  midstream events list --op create,delete --kind user --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			for _, s := range statuses {
				st := store.Status(strings.ToUpper(s))
				if !validStatus(st) {
					return fmt.Errorf("--status: unknown status %q (one of %s)", s, statusNames())
				}
				f.Statuses = append(f.Statuses, st)
			}
			for _, op := range ops {
				if !sdk.Op(op).Valid() {
					return fmt.Errorf("--op: unknown operation %q (create, update, delete, disable, enable, move, password)", op)
				}
				f.Ops = append(f.Ops, op)
			}
			if kind != "" {
				if !sdk.Kind(kind).Valid() {
					return fmt.Errorf("--kind: must be user or org, not %q", kind)
				}
				f.Kind = sdk.Kind(kind)
			}
			if f.Since, err = parseWhen(since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if f.Until, err = parseWhen(until); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			evs, err := st.Events(cmd.Context(), f)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				return writeEventsJSON(cmd.OutOrStdout(), evs)
			case "table", "":
				return writeEventsTable(cmd.OutOrStdout(), evs)
			}
			return fmt.Errorf("--output: table or json, not %q", output)
		},
	}
	list.Flags().StringSliceVar(&statuses, "status", nil, "statuses: "+statusNames())
	list.Flags().StringSliceVar(&ops, "op", nil, "operations: create, update, delete, disable, enable, move, password")
	list.Flags().StringVar(&kind, "kind", "", "object kind: user or org")
	list.Flags().StringVar(&f.Target, "target", "", "target name")
	list.Flags().StringVar(&f.Object, "object", "", "object: hub id, external id or display name")
	list.Flags().StringVar(&since, "since", "", "events created at or after: RFC 3339 time, or a duration ago such as 24h")
	list.Flags().StringVar(&until, "until", "", "events created before: RFC 3339 time, or a duration ago")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many events")
	list.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one event in full: request, response, error, what it waits on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("event id must be a number, not %q", args[0])
			}
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			ev, err := st.GetEvent(cmd.Context(), id)
			if err != nil {
				return err
			}
			return writeEventDetail(cmd.OutOrStdout(), ev)
		},
	})
	var retryTarget, retryStatus string
	retry := &cobra.Command{
		Use:   "retry [ID] [--target T --status FAILURE]",
		Short: "Queue a manual retry of a failed event, or of every failure of a target",
		Long: `retry queues a new event at the end of the object's lane; what it sends is derived
from the object's current state when it runs, so an old disable can never overtake a
newer enable. The failed event stays as history. Events waiting on the failed one wait
on the retry and are released when it succeeds or needs no call. The retry runs with the next
` + "`midstream sync`" + ` or the daemon's next delivery to that target.`,
		Example: `  midstream events retry 1042
  midstream events retry --target app --status FAILURE`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			switch {
			case len(args) == 1 && retryTarget == "":
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("event id must be a number, not %q", args[0])
				}
				n, err := st.Retry(cmd.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "event %d queued as event %d; it runs with the next sync of its target\n", id, n)
				return nil
			case len(args) == 0 && retryTarget != "":
				if !strings.EqualFold(retryStatus, string(store.Failure)) {
					return fmt.Errorf("--status: only FAILURE events are retried")
				}
				ids, err := st.RetryFailures(cmd.Context(), retryTarget)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%d failed event(s) of target %s queued for retry; they run with the next sync of the target\n", len(ids), retryTarget)
				return nil
			}
			return fmt.Errorf("give an event id, or --target T --status FAILURE")
		},
	}
	retry.Flags().StringVar(&retryTarget, "target", "", "retry the failures of this target")
	retry.Flags().StringVar(&retryStatus, "status", "FAILURE", "with --target: the status to retry (FAILURE)")
	cmd.AddCommand(retry)
	return cmd
}

func validStatus(s store.Status) bool {
	for _, st := range store.Statuses {
		if st == s {
			return true
		}
	}
	return false
}

func statusNames() string {
	var n []string
	for _, st := range store.Statuses {
		n = append(n, string(st))
	}
	return strings.Join(n, ", ")
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2026-11-23T08:00:00+08:00, 2026-11-23) nor a duration (24h)", s)
}

func writeEventsTable(w io.Writer, evs []*store.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tTARGET\tKIND\tOBJECT\tOP\tSTATUS\tATTEMPTS\tDETAIL")
	for _, e := range evs {
		detail := e.ErrorMessage
		if e.Status == store.Skipped || e.Status == store.Ignored {
			detail = e.Reason
		}
		if e.Status == store.Success && e.ResponseID != "" {
			detail = "id " + e.ResponseID
			if e.Outcome == string(sdk.OutcomeMatched) || e.Outcome == string(sdk.OutcomeMatchedStale) {
				detail += " (matched)"
			}
		}
		if e.Status == store.Waiting {
			detail = fmt.Sprintf("waits on event %d", e.WaitsOn)
		}
		if len(detail) > 80 {
			detail = detail[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.ID, e.CreatedAt.Format("2006-01-02 15:04:05"), e.Target, e.Kind,
			e.DisplayName, e.Op, e.Status, e.Attempts, strings.ReplaceAll(detail, "\n", " "))
	}
	return tw.Flush()
}

// eventJSON is the stable JSON form of an event.
type eventJSON struct {
	ID              int64           `json:"id"`
	Target          string          `json:"target"`
	HubID           string          `json:"hubId"`
	Kind            string          `json:"kind"`
	DisplayName     string          `json:"displayName"`
	Op              string          `json:"op"`
	Trigger         string          `json:"trigger"`
	Status          string          `json:"status"`
	Changed         []string        `json:"changed"`
	Seqs            []int64         `json:"seqs"`
	Attempts        int             `json:"attempts"`
	NextAttemptAt   *time.Time      `json:"nextAttemptAt,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	StartedAt       *time.Time      `json:"startedAt,omitempty"`
	FinishedAt      *time.Time      `json:"finishedAt,omitempty"`
	Request         json.RawMessage `json:"request,omitempty"`
	ResponseStatus  int             `json:"responseStatus,omitempty"`
	ResponseID      string          `json:"responseId,omitempty"`
	ResponseExcerpt string          `json:"responseExcerpt,omitempty"`
	Outcome         string          `json:"outcome,omitempty"`
	ErrorCategory   string          `json:"errorCategory,omitempty"`
	ErrorCode       string          `json:"errorCode,omitempty"`
	ErrorMessage    string          `json:"errorMessage,omitempty"`
	Reason          string          `json:"reason,omitempty"`
	RunID           int64           `json:"runId"`
	WaitsOn         int64           `json:"waitsOn,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(e *store.Event) eventJSON {
	j := eventJSON{
		ID: e.ID, Target: e.Target, HubID: e.HubID, Kind: string(e.Kind), DisplayName: e.DisplayName, Op: e.Op,
		Trigger: e.Trigger, Status: string(e.Status), Changed: e.Changed, Seqs: e.Seqs, Attempts: e.Attempts,
		NextAttemptAt: timePtr(e.NextAttemptAt), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		StartedAt: timePtr(e.StartedAt), FinishedAt: timePtr(e.FinishedAt), ResponseStatus: e.ResponseStatus,
		ResponseID: e.ResponseID, ResponseExcerpt: e.ResponseExcerpt, Outcome: e.Outcome, ErrorCategory: e.ErrorCategory,
		ErrorCode: e.ErrorCode, ErrorMessage: e.ErrorMessage, Reason: e.Reason, RunID: e.RunID, WaitsOn: e.WaitsOn,
	}
	if e.Request != "" {
		j.Request = json.RawMessage(e.Request)
	}
	if j.Changed == nil {
		j.Changed = []string{}
	}
	return j
}

func writeEventsJSON(w io.Writer, evs []*store.Event) error {
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = toJSON(e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeEventDetail(w io.Writer, e *store.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) {
		if s := fmt.Sprint(v); s != "" && s != "0" && s != "[]" {
			fmt.Fprintf(tw, "%s\t%s\n", k, s)
		}
	}
	row("event", e.ID)
	row("target", e.Target)
	row("object", fmt.Sprintf("%s %s (%s)", e.Kind, e.DisplayName, e.HubID))
	row("operation", e.Op)
	row("trigger", e.Trigger)
	row("status", e.Status)
	row("changed", strings.Join(e.Changed, ", "))
	row("change log", fmt.Sprint(e.Seqs))
	row("attempts", e.Attempts)
	row("created", e.CreatedAt.Format(time.RFC3339Nano))
	if !e.StartedAt.IsZero() {
		row("started", e.StartedAt.Format(time.RFC3339Nano))
	}
	if !e.FinishedAt.IsZero() {
		row("finished", e.FinishedAt.Format(time.RFC3339Nano))
	}
	if e.Status == store.Queuing && !e.NextAttemptAt.IsZero() {
		row("next attempt", e.NextAttemptAt.Format(time.RFC3339))
	}
	row("waits on event", e.WaitsOn)
	row("request", e.Request)
	row("response status", e.ResponseStatus)
	row("response id", e.ResponseID)
	row("outcome", e.Outcome)
	row("response", e.ResponseExcerpt)
	if e.ErrorMessage != "" {
		row("error", fmt.Sprintf("%s: %s", e.ErrorCategory, e.ErrorMessage))
	}
	row("error code", e.ErrorCode)
	row("reason", e.Reason)
	row("run", e.RunID)
	return tw.Flush()
}
