//go:build unix

package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
)

// BenchmarkLifecycle measures the store's share of a first full sync, with
// no plugin, mapping or network: a source run applies 5,000 users in 250
// departments (each user naming its department's head as manager), the
// changes are consumed as events, and the events are claimed and finished
// as successes with their links, as the executor does, one claim of 64 at a
// time. µs/event is the store's wall time per delivered event; the
// per-phase figures (apply, consume, claim, mark, finish) and the process's
// user and system CPU per event say where it goes.
func BenchmarkLifecycle(b *testing.B) {
	const users, orgs = 5000, 250
	objs := lifecycleOrg(users, orgs)
	ctx := context.Background()
	events := 0
	phases := map[string]time.Duration{}
	timed := func(phase string, f func()) {
		t0 := time.Now()
		f()
		phases[phase] += time.Since(t0)
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	store.StatementProfile() // what earlier runs left
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st, err := store.Open(filepath.Join(b.TempDir(), "m.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		runID, err := st.StartRun(ctx, "source", "hr", "full")
		if err != nil {
			b.Fatal(err)
		}
		run := st.BeginSourceRun("hr", runID, true)
		timed("apply", func() {
			for i := 0; i < len(objs) && err == nil; i += 256 {
				_, err = run.Apply(ctx, objs[i:min(i+256, len(objs))], "")
			}
		})
		for n := 1; n > 0 && err == nil; {
			timed("consume", func() { n, err = st.Consume(ctx, "app", nil, runID, 512) })
		}
		if err != nil {
			b.Fatal(err)
		}
		done := 0
		for {
			var claimed []*store.Claimed
			timed("claim", func() { claimed, err = st.Claim(ctx, "app", "bench", 64, map[string]bool{}, store.ClaimOptions{}) })
			if err != nil {
				b.Fatal(err)
			}
			if len(claimed) == 0 {
				break
			}
			var creates []string
			for _, c := range claimed {
				if c.Link.TargetID == "" {
					creates = append(creates, c.Event.HubID)
				}
			}
			timed("mark", func() { err = st.MarkCreateSent(ctx, "app", creates) })
			results := make([]store.Result, 0, len(claimed))
			for _, c := range claimed {
				results = append(results, lifecycleResult(c))
			}
			if err == nil {
				timed("finish", func() { err = st.Finish(ctx, results) })
			}
			if err != nil {
				b.Fatal(err)
			}
			done += len(claimed)
		}
		b.StopTimer()
		counts, err := st.StatusCounts(ctx, "app")
		if err != nil {
			b.Fatal(err)
		}
		if done < len(objs) || counts[store.Success] != done {
			b.Fatalf("%d events done, %d of them SUCCESS (%v), want every one of the %d objects delivered", done, counts[store.Success], counts, len(objs))
		}
		events += done
		st.Close()
		b.StartTimer()
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(events), "µs/event")
	b.ReportMetric(float64(ru1.Utime.Nano()-ru0.Utime.Nano())/1e3/float64(events), "user-µs/event")
	b.ReportMetric(float64(ru1.Stime.Nano()-ru0.Stime.Nano())/1e3/float64(events), "sys-µs/event")
	for phase, d := range phases {
		b.ReportMetric(float64(d.Microseconds())/float64(events), phase+"-µs/event")
	}
	logStatements(b, events)
}

// logStatements prints the statements that ran longest, with -tags
// sqlite_trace (nothing otherwise). On stderr, not in the benchmark's log:
// the testing package keeps the first ten lines of its log over all runs,
// which are those of the calibration run with b.N = 1.
func logStatements(b *testing.B, events int) {
	prof := store.StatementProfile()
	if len(prof) == 0 {
		return
	}
	var sb strings.Builder
	var total time.Duration
	for _, st := range prof {
		total += st.Time
	}
	fmt.Fprintf(&sb, "%s, b.N = %d: statements ran %.1f µs per event (%d events); the longest:\n", b.Name(), b.N, float64(total.Microseconds())/float64(events), events)
	for _, st := range prof[:min(len(prof), 15)] {
		q := st.SQL
		if len(q) > 120 {
			q = q[:120] + "…"
		}
		fmt.Fprintf(&sb, "%8.2f µs/event %9d runs  %s\n", float64(st.Time.Nanoseconds())/1e3/float64(events), st.Runs, q)
	}
	fmt.Fprint(os.Stderr, sb.String())
}

// lifecycleResult is the success the executor would record for c.
func lifecycleResult(c *store.Claimed) store.Result {
	o := c.Object
	r := store.Result{EventID: c.Event.ID, Target: "app", HubID: c.Event.HubID, Kind: o.Kind, Source: o.Source,
		ExternalID: o.ExternalID, Op: c.Event.Op, Status: store.Success, TargetID: c.Link.TargetID,
		Synced: o.Attributes, SyncedState: string(o.State), Outcome: string(sdk.OutcomeApplied), RespStatus: 200}
	if r.TargetID == "" {
		r.Op, r.TargetID, r.Outcome = "create", "app-"+o.ExternalID, string(sdk.OutcomeCreated)
	}
	if c.Parent != nil {
		r.SyncedParent = store.SyncedParentOf(c.Parent.HubID)
	}
	if o.Kind == sdk.KindUser {
		r.FollowReports = true
		if c.ManagerExt != "" && (c.Manager == nil || c.Manager.TargetID == "") {
			r.ManagerWait = c.ManagerExt
		}
	}
	var req strings.Builder
	req.WriteString(`{"op":"` + r.Op + `","hub_id":"` + r.HubID + `","attributes":{`)
	for _, n := range o.Attributes.Names() {
		fmt.Fprintf(&req, "%q:%q,", n, o.Attributes[n].String())
	}
	req.WriteString(`"_":""}}`)
	r.Request = req.String()
	r.Encode()
	return r
}

// lifecycleOrg is departments under one root, then users, each department's
// first user its head and the manager of the others.
func lifecycleOrg(users, orgs int) []store.Object {
	var objs []store.Object
	for d := range orgs {
		parent := ""
		if d > 0 {
			parent = fmt.Sprintf("d%d", (d-1)/10)
		}
		objs = append(objs, store.Object{Kind: sdk.KindOrg, ExternalID: fmt.Sprintf("d%d", d), State: sdk.StateActive, ParentExt: parent,
			DisplayName: fmt.Sprintf("研发中心第%d部", d), Attributes: sdk.Attributes{"name": sdk.String(fmt.Sprintf("研发中心第%d部", d)), "code": sdk.String(fmt.Sprintf("RD-%04d", d))}})
	}
	for u := range users {
		d := u % orgs
		dept := fmt.Sprintf("d%d", d)
		attrs := sdk.Attributes{
			"name":        sdk.String(fmt.Sprintf("张伟%d", u)),
			"given_name":  sdk.String("伟"),
			"family_name": sdk.String("张"),
			"email":       sdk.String(fmt.Sprintf("wei.zhang.%d@example.com", u)),
			"mobile":      sdk.String(fmt.Sprintf("+86-138%08d", u)),
			"employee_no": sdk.String(fmt.Sprintf("E%07d", u)),
			"title":       sdk.String("高级软件工程师"),
			"city":        sdk.String("杭州"),
			"hired_at":    sdk.String("2021-03-15"),
			"cost_center": sdk.String(fmt.Sprintf("CC-%04d", d)),
			"locale":      sdk.String("zh-CN"),
		}
		if u >= orgs {
			attrs["manager"] = sdk.String(fmt.Sprintf("u%d", d))
		}
		objs = append(objs, store.Object{Kind: sdk.KindUser, ExternalID: fmt.Sprintf("u%d", u), State: sdk.StateActive, ParentExt: dept,
			Orgs: []string{dept}, DisplayName: fmt.Sprintf("张伟%d", u), Attributes: attrs})
	}
	return objs
}
