package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/internal/jsonstr"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

// TargetReport is what one delivery run of a target did.
type TargetReport struct {
	Name     string
	RunID    int64
	Consumed int
	// Counts are the statuses of the events this run finished, plus
	// QUEUING for those left waiting for a retry.
	Counts   map[store.Status]int
	Duration time.Duration
	// Left is how many events remain unfinished (retries not yet due).
	Left int
	// FullSync is how many events a target full sync recorded.
	FullSync int
	// Time is where the run's time went.
	Time TargetTimings
	Err  error
}

// consumeBatch is how many changes one transaction turns into events.
const consumeBatch = 5000

// Deliver consumes the change log into target t's events and runs every
// runnable event, retrying transient failures while they fall due within
// o.RetryWait.
func (e *Engine) Deliver(ctx context.Context, t *config.Target, o SyncOptions) *TargetReport {
	defer e.lock("target:" + t.Name)()
	start := time.Now()
	rep := &TargetReport{Name: t.Name, Counts: map[store.Status]int{}}
	defer func() { rep.Duration = time.Since(start) }()
	var err error
	mode := "incremental"
	if o.FullTarget || o.ChangedOnly {
		mode = "full"
	}
	if rep.RunID, err = e.st.StartRun(ctx, "target", t.Name, mode); err != nil {
		rep.Err = err
		return rep
	}
	defer func() {
		outcome, msg := "success", ""
		if rep.Err != nil {
			outcome, msg = "failure", rep.Err.Error()
		} else if rep.Counts[store.Failure] > 0 {
			outcome = "failure"
		}
		counts := map[string]int{"consumed": rep.Consumed, "left": rep.Left}
		for st, n := range rep.Counts {
			counts[string(st)] = n
		}
		_ = e.st.FinishRun(context.WithoutCancel(ctx), rep.RunID, outcome, counts, msg)
	}()
	ex := &executor{e: e, t: t, rep: rep, retryWait: o.RetryWait, mapsManager: mapsManager(t), sources: t.SourceNames(e.p), live: o.Live}
	if _, err := ex.consume(ctx); err != nil {
		rep.Err = err
		return rep
	}
	if o.FullTarget || o.ChangedOnly {
		t0 := time.Now()
		n, err := e.st.FullSync(ctx, t.Name, ex.sources, o.ChangedOnly, rep.RunID)
		rep.Time.Consume += time.Since(t0)
		if err != nil {
			rep.Err = err
			return rep
		}
		rep.FullSync = n
	}
	// A dry run calls no application (the target is not even launched):
	// every operation "succeeds", so what depends on it is planned too.
	var conn sdk.Connector = planTarget{}
	if e.opts.Plan == nil {
		if conn, err = e.targetConnector(ctx, t); err != nil {
			rep.Err = err
			return rep
		}
	}
	tgt, ok := conn.(sdk.Target)
	if !ok {
		rep.Err = fmt.Errorf("target %s: connector %s is not a target", t.Name, t.Connector)
		return rep
	}
	ex.conn = tgt
	if ex.retryWait == 0 {
		ex.retryWait = time.Minute
	}
	if t.RateLimit > 0 {
		ex.limiter = rate.NewLimiter(rate.Limit(t.RateLimit), max(1, int(t.RateLimit)))
	}
	rep.Err = ex.run(ctx)
	rep.Time.Mapping = time.Duration(ex.mapping.Load())
	rep.Time.Mark = time.Duration(ex.mark.Load())
	rep.Time.Calls, rep.Time.NCalls = time.Duration(ex.calls.Load()), int(ex.ncalls.Load())
	counts, err := e.st.StatusCounts(context.WithoutCancel(ctx), t.Name)
	if err == nil {
		rep.Left = counts[store.Queuing] + counts[store.Pending] + counts[store.Waiting] + counts[store.Running]
	}
	if e.p.EventRetention > 0 && e.opts.Plan == nil && ctx.Err() == nil {
		// Housekeeping: a failure is logged, not the delivery's.
		if n, err := e.st.PruneEvents(ctx, t.Name, e.st.Now().Add(-e.p.EventRetention), pruneEvery); err != nil {
			slog.Warn("pruning old events failed; the next delivery tries again", "target", t.Name, "err", err)
		} else if n > 0 {
			slog.Info("pruned old events", "target", t.Name, "events", n, "retention", e.p.EventRetention)
		}
	}
	return rep
}

type executor struct {
	// mapsManager is set when the target receives users' managers, so a
	// user's create is followed by updates of the users it manages.
	mapsManager bool
	e           *Engine
	t           *config.Target
	conn        sdk.Target
	rep         *TargetReport
	limiter     *rate.Limiter
	retryWait   time.Duration
	sources     []string
	// live is open while sources may still add changes (SyncOptions.Live).
	live        <-chan struct{}
	lastConsume time.Time
	// What planning, marking and calls took, summed (in nanoseconds)
	// by the goroutines that run them beside the loop.
	mapping, mark, calls, ncalls atomic.Int64
}

// consume turns the changes after the target's position into events.
func (x *executor) consume(ctx context.Context) (int, error) {
	x.lastConsume = time.Now()
	defer func() { x.rep.Time.Consume += time.Since(x.lastConsume) }()
	total := 0
	for {
		n, err := x.e.st.Consume(ctx, x.t.Name, x.sources, x.rep.RunID, consumeBatch)
		total += n
		x.rep.Consumed += n
		if err != nil || n < consumeBatch {
			return total, err
		}
	}
}

// run claims ready events, runs them at the target's concurrency and
// records their results in batches, until nothing is runnable and no retry
// falls due within the retry wait.
//
// The store is the serial part of delivery, and a transaction's fixed
// cost (its commit above all) is paid per batch: results are recorded
// once a batch is full, once finishBatchWait has passed, or when nothing
// more can be claimed without them (their lanes' next events, the creates
// others wait on). An event whose result is not yet recorded stays
// RUNNING in the store, and a crashed run requeues it: it is sent again
// with the same idempotency key, never lost.
func (x *executor) run(ctx context.Context) error {
	conc := x.t.Concurrency
	// A wide window: fewer, larger claim and result transactions; the
	// plugin still applies at most the target's concurrency at once. A
	// batching target needs a batch per request it may have in flight,
	// twice over so the next batches fill while these are out.
	batch := 1
	if b, ok := x.conn.(interface{ MaxBatch() int }); ok {
		batch = max(1, b.MaxBatch())
	}
	window := max(conc*4, claimWindow, 2*conc*batch)
	finishBatch := max(finishBatch, window/2)
	results := make(chan store.Result, window)
	busy := map[string]bool{}
	// The events claims found waiting for another object's event: passed
	// over until a result of that object is recorded.
	waits := store.NewWaits()
	// reset is set once the waits were forgotten for want of anything
	// else to claim, and cleared by the next claim that takes something;
	// lastReset bounds how long a wait is trusted (the waiting object may
	// change, and no result says so).
	reset := false
	lastReset := time.Now()
	// claimedAt is the store's time of the last claim.
	var claimedAt time.Time
	inflight := 0
	deadline := time.Now().Add(x.retryWait)
	var pending []store.Result
	lastFlush := time.Now()
	flush := func() error {
		lastFlush = time.Now()
		if len(pending) == 0 {
			return nil
		}
		t0 := time.Now()
		err := x.e.st.Finish(context.WithoutCancel(ctx), pending)
		x.rep.Time.Finish += time.Since(t0)
		for _, r := range pending {
			x.rep.Counts[r.Status]++
			delete(busy, r.HubID)
			waits.Release(r.HubID)
		}
		pending = pending[:0]
		if x.e.opts.Progress != nil {
			done := 0
			for st, n := range x.rep.Counts {
				if st.Finished() {
					done += n
				}
			}
			// Follow-up events (a manager's id once it is linked) add to
			// what the change log brought.
			x.e.opts.Progress(Progress{Stage: "deliver", Name: x.t.Name, Done: done, Total: max(done, x.rep.Consumed+x.rep.FullSync)})
		}
		return err
	}
	// receive takes what results have arrived; with block, it waits for
	// at least one, then lingers up to linger for more.
	receive := func(block bool, linger time.Duration) {
		if block && inflight > 0 {
			pending = append(pending, <-results)
			inflight--
			if linger > 0 {
				t := time.NewTimer(linger)
			gather:
				for inflight > 0 && len(pending) < finishBatch {
					select {
					case r := <-results:
						pending = append(pending, r)
						inflight--
					case <-t.C:
						break gather
					}
				}
				t.Stop()
			}
		}
		for {
			select {
			case r := <-results:
				pending = append(pending, r)
				inflight--
				continue
			default:
			}
			return
		}
	}
	// starved is set when a claim found nothing: the store only changes
	// when results are recorded, so claiming again before that is waste.
	starved := false
	liveOpen := x.live != nil
	for {
		if liveOpen && ctx.Err() == nil {
			// While sources run, what they commit is consumed every
			// consumeEvery, and once more when they are done. (Cancelled,
			// the loop only drains what is in flight and records it.)
			closed := false
			select {
			case <-x.live:
				closed, liveOpen = true, false
				// The retry wait counts from the end of the read.
				deadline = time.Now().Add(x.retryWait)
			default:
			}
			if closed || time.Since(x.lastConsume) >= consumeEvery {
				n, err := x.consume(ctx)
				if err != nil {
					return err
				}
				if n > 0 || closed {
					starved = false
				}
			}
		}
		receive(false, 0)
		if len(pending) >= finishBatch || (len(pending) > 0 && time.Since(lastFlush) >= finishBatchWait) {
			if err := flush(); err != nil {
				return err
			}
			starved = false
		}
		if ctx.Err() == nil && !starved && inflight <= window/2 {
			if time.Since(lastReset) >= waitsTrusted {
				waits.Reset()
				lastReset = time.Now()
			}
			t0 := time.Now()
			claimedAt = x.e.st.Now()
			released := waits.Released()
			claimed, err := x.e.st.Claim(ctx, x.t.Name, x.e.owner, window-inflight, busy,
				store.ClaimOptions{Chains: len(x.t.Scope.OrgSubtrees) > 0, AwaitParents: liveOpen, Waits: waits})
			x.rep.Time.Claim += time.Since(t0)
			if err != nil && ctx.Err() == nil {
				return err
			}
			if len(claimed) > 0 {
				reset = false
				for _, c := range claimed {
					busy[c.Event.HubID] = true
				}
				// Every claimed event yields one result, a call's or a
				// decision's. Planning (mapping above all) runs beside
				// this loop, whose store work is the serial part of
				// delivery; a dry run plans in order.
				inflight += len(claimed)
				if x.e.opts.Plan != nil {
					x.dispatch(ctx, claimed, results)
				} else {
					go x.dispatch(ctx, claimed, results)
				}
				continue
			}
			if waits.Released() != released {
				// The claim marked an event WAITING, which released what
				// waited for it after the listing had passed it over.
				continue
			}
			if inflight == 0 && len(pending) == 0 && waits.Len() > 0 && !reset {
				// Nothing in flight will release them: they wait for an
				// event in backoff, or for an object that changed since.
				// Decide them all again, once.
				waits.Reset()
				lastReset = time.Now()
				reset = true
				continue
			}
			starved = true
		}
		if starved && len(pending) > 0 {
			// What would make more events runnable is in pending.
			if err := flush(); err != nil {
				return err
			}
			starved = false
			continue
		}
		if inflight > 0 {
			// While starved, gather results briefly so their transaction
			// is not one per result.
			linger := time.Duration(0)
			if starved {
				linger = 2 * time.Millisecond
			}
			receive(true, linger)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !starved {
			continue
		}
		if liveOpen {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-x.live:
			case <-time.After(consumeEvery):
			}
			// Claim again: a retry may have fallen due, a parent may have
			// been read.
			starved = false
			continue
		}
		// Nothing runnable now: wait for a retry that falls due in time.
		next, ok, err := x.e.st.NextRetry(ctx, x.t.Name, claimedAt)
		if err != nil {
			return err
		}
		if !ok || next.After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next) + 5*time.Millisecond):
		}
		starved = false
	}
}

const (
	// pruneEvery is how often a target's old events are pruned.
	pruneEvery = 24 * time.Hour
	// claimWindow is how many events may be claimed and unrecorded at once.
	claimWindow = 512
	// finishBatch and finishBatchWait bound how many results wait to be
	// recorded, and for how long.
	finishBatch     = 256
	finishBatchWait = 50 * time.Millisecond
	// consumeEvery is how often the change log is read while sources run.
	consumeEvery = 10 * time.Millisecond
	// waitsTrusted is how long a claim's remembered waits are kept: an
	// object changed by its source meanwhile may not wait any more, and
	// what nothing else releases is decided again this often.
	waitsTrusted = 30 * time.Second
)

// dispatch plans each claimed event and starts the calls. An event
// decided without a call (SKIPPED, a mapping failure) sends its result
// at once.
func (x *executor) dispatch(ctx context.Context, claimed []*store.Claimed, results chan<- store.Result) {
	type call struct {
		c   *store.Claimed
		op  sdk.Operation
		res store.Result
		syn sdk.Attributes
	}
	var calls []call
	var creates []string
	t0 := time.Now()
	for _, c := range claimed {
		op, res, synced, ok := x.plan(ctx, c)
		if x.e.opts.Plan != nil {
			planned := PlannedEvent{Target: x.t.Name, Event: c.Event, Object: c.Object, Link: c.Link, Result: res}
			if ok {
				planned.Op = &op
			}
			x.e.opts.Plan(planned)
		}
		if !ok {
			results <- res
			continue
		}
		if op.Op == sdk.OpCreate {
			creates = append(creates, c.Event.HubID)
		}
		calls = append(calls, call{c, op, res, synced})
	}
	t1 := time.Now()
	x.mapping.Add(int64(t1.Sub(t0)))
	err := x.e.st.MarkCreateSent(context.WithoutCancel(ctx), x.t.Name, creates)
	x.mark.Add(int64(time.Since(t1)))
	if err != nil {
		// The creates are not sent: they are tried again shortly, which
		// is the store's failure, not the application's, so it does not
		// end in FAILURE. The other calls need no such record.
		kept := calls[:0]
		for _, cl := range calls {
			if cl.op.Op != sdk.OpCreate {
				kept = append(kept, cl)
				continue
			}
			res := cl.res
			res.Status = store.Queuing
			res.RetryAt = time.Now().Add(backoff(x.e.opts.BackoffBase, 1, 0))
			res.ErrCategory, res.ErrMessage = string(sdk.CategoryRetryable), "record the create about to be sent: "+err.Error()
			results <- res
		}
		calls = kept
	}
	for _, cl := range calls {
		go func() {
			if x.limiter != nil {
				if err := x.limiter.Wait(ctx); err != nil {
					// Only a cancelled run stops the wait: the context
					// has no deadline.
					results <- unattempted(cl.res)
					return
				}
			}
			callCtx := context.WithoutCancel(ctx)
			t0 := time.Now()
			r, err := x.conn.Apply(callCtx, cl.op)
			x.calls.Add(int64(time.Since(t0)))
			x.ncalls.Add(1)
			if err != nil {
				results <- x.failed(cl.c, cl.res, err)
				return
			}
			res := cl.res
			res.Status = store.Success
			res.FollowReports = x.mapsManager
			if x.mapsManager && cl.c.ManagerExt != "" && (cl.c.Manager == nil || cl.c.Manager.TargetID == "") && cl.op.Op != sdk.OpDelete {
				// Sent without its manager's id: it gets it once the
				// manager is linked.
				res.ManagerWait = cl.c.ManagerExt
			}
			res.Outcome = string(r.Outcome)
			res.TargetID = r.TargetID
			res.RespID = r.TargetID
			res.RespStatus = r.Status
			res.Excerpt = r.BodyExcerpt
			res.Synced = cl.syn
			if r.Outcome == sdk.OutcomeMatchedStale {
				res.Synced, res.MergeSync, res.ClearSynced = nil, false, true
			}
			res.Encode()
			results <- res
		}()
	}
}

// failed classifies a failed call: retried with backoff while attempts
// remain and the error is transient, else FAILURE.
func (x *executor) failed(c *store.Claimed, res store.Result, err error) store.Result {
	se := sdk.AsError(err)
	res.ErrCategory, res.ErrCode = string(se.Category), se.Code
	res.ErrMessage = se.Error()
	res.RespStatus, res.Excerpt = se.HTTPStatus, se.BodyExcerpt
	if se.Category == sdk.CategoryNotFound && res.Op != string(sdk.OpCreate) {
		if res.Op == string(sdk.OpDelete) || res.Orphan {
			// A delete, or the policy's disable of an object deleted in
			// the hub or out of scope: the account is gone already.
			res.Status, res.Unlink, res.FollowReports = store.Success, true, x.mapsManager
			res.Orphan, res.SyncedState = false, ""
			return res
		}
		// Deleted in the application behind the hub's back: forget the
		// link, and the event runs again at once, as a create.
		res.Status, res.Forget, res.FollowReports = store.Queuing, true, x.mapsManager
		res.RetryAt = time.Now()
		return res
	}
	if se.Category.Retryable() && c.Event.Attempts < x.t.MaxAttempts {
		res.Status = store.Queuing
		res.RetryAt = time.Now().Add(backoff(x.e.opts.BackoffBase, c.Event.Attempts, se.RetryAfter))
		return res
	}
	res.Status = store.Failure
	return res
}

// unattempted is the result of an event the run stopped before it was
// sent: it goes back to the queue as it was, for the next run.
func unattempted(res store.Result) store.Result {
	res.Status, res.Unattempted = store.Queuing, true
	return res
}

// backoff is the wait before attempt n+1: exponential from base, capped
// at 5 minutes, with ±20% jitter, and never less than the application's
// Retry-After.
func backoff(base time.Duration, attempts int, retryAfter time.Duration) time.Duration {
	d := base << min(attempts-1, 9)
	d = min(d, 5*time.Minute)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, retryAfter)
}

// plan decides what running event c means now (payloads are
// computed when an event runs). ok is false when no call is needed, and
// res then says why.
func (x *executor) plan(ctx context.Context, c *store.Claimed) (op sdk.Operation, res store.Result, synced sdk.Attributes, ok bool) {
	ev, obj := c.Event, c.Object
	res = store.Result{EventID: ev.ID, Target: x.t.Name, HubID: ev.HubID, Op: ev.Op, Kind: obj.Kind, Source: obj.Source, ExternalID: obj.ExternalID}
	evOp := store.PlannedOp(ev, obj.State)
	op = sdk.Operation{
		ID: eventKey(ev.ID), Kind: ev.Kind, HubID: ev.HubID, TargetID: c.Link.TargetID,
		DisplayName: obj.DisplayName, Parent: c.Parent, Orgs: c.Orgs,
	}
	skip := func(reason string) (sdk.Operation, store.Result, sdk.Attributes, bool) {
		res.Status, res.Reason = store.Skipped, reason
		return op, res, nil, false
	}
	linked := c.Link.TargetID != ""
	everSent := linked || c.Link.CreateSent
	pol := x.t.Policy
	deletedPolicy, disabledPolicy := pol.UserDeleted, pol.UserDisabled
	if ev.Kind == sdk.KindOrg {
		deletedPolicy, disabledPolicy = pol.OrgDeleted, pol.OrgDisabled
	}
	// parentHub is where the object belongs; sentParent where an
	// operation puts it: nowhere when the parent is not linked (its
	// create ended in a conflict awaiting a link, or it is out of scope).
	parentHub, sentParent := "", ""
	if c.Parent != nil {
		parentHub = c.Parent.HubID
		if c.Parent.TargetID != "" {
			sentParent = parentHub
		}
	}
	inScope := true
	if x.t.Scope.Limited() && evOp != "delete" && obj.State != sdk.StateDeleted {
		in, err := x.t.Scope.Contains(ctx, obj.Kind, obj.ExternalID, c.Chain, obj.Attributes)
		if err != nil && ctx.Err() != nil {
			return op, unattempted(res), nil, false
		}
		if err != nil {
			res.Status = store.Failure
			res.ErrCategory = string(sdk.CategoryPermanent)
			res.ErrMessage = err.Error()
			return op, res, nil, false
		}
		inScope = in
	}
	switch {
	case !inScope && ev.Trigger == "manual":
		// A link set by hand to an account of an object out of scope: the
		// policy for leaving scope is not for an account the hub never
		// held. It stays as it is, unlinked.
		res.Unlink = true
		return skip("out of scope: the account is left as it is, and unlinked")
	case !inScope && !everSent:
		return skip("out of scope")
	case !inScope || evOp == "delete":
		// Leaving scope is handled like a deletion, by the policy.
		if !everSent {
			return skip("never created")
		}
		switch deletedPolicy {
		case "keep":
			res.Orphan = true
			return skip("policy keep: the account stays, as an orphan")
		case "disable":
			if c.Link.Orphan && c.Link.SyncedState == string(sdk.StateDisabled) {
				return skip("already disabled")
			}
			op.Op = sdk.OpDisable
			res.Orphan = true
			res.SyncedState = string(sdk.StateDisabled)
		default:
			op.Op = sdk.OpDelete
			res.Unlink = true
		}
	case obj.State == sdk.StateDeleted:
		return skip("the object was deleted since")
	case (evOp == "disable" || evOp == "enable") && linked:
		// The state to send is the object's now, not the one recorded: a
		// manual retry of an old disable runs after a newer enable, and
		// must not disable the account again.
		want := sdk.OpEnable
		if obj.State == sdk.StateDisabled {
			want = sdk.OpDisable
		}
		if string(want) != evOp && c.Link.SyncedState == string(obj.State) {
			return skip("the application already holds the object's current state")
		}
		if want == sdk.OpDisable && disabledPolicy == "keep" {
			return skip("policy keep: the account stays enabled")
		}
		op.Op = want
		res.SyncedState = string(obj.State)
	default:
		// An update leaves create_only attributes alone, and so does the
		// full update of a link set by hand: the hub did not make the
		// account.
		mapped, err := x.outbound(ctx, c, linked && (evOp != "full" || ev.Trigger == "manual"))
		if err != nil && ctx.Err() != nil {
			// The mapping was interrupted, not wrong.
			return op, unattempted(res), nil, false
		}
		if err != nil {
			res.Status = store.Failure
			res.ErrCategory = string(sdk.CategoryPermanent)
			res.ErrMessage = err.Error()
			return op, res, nil, false
		}
		res.SyncedParent = store.SyncedParentOf(sentParent)
		full := evOp == "full" || evOp == "changed"
		switch {
		case full && linked:
			// A target full sync: all mapped attributes (or the changed ones),
			// plus what the application's state and parent lack.
			var follow []string
			switch {
			case obj.State == sdk.StateDisabled && disabledPolicy != "keep" &&
				(evOp == "full" || c.Link.SyncedState != string(sdk.StateDisabled)):
				// A full sync disables every disabled account again, even one
				// the link says is disabled: an account re-enabled behind the
				// hub's back is the drift that matters most.
				follow = append(follow, "disable")
			case obj.State == sdk.StateActive && c.Link.SyncedState != string(sdk.StateActive):
				// Disabled, or unknown: a link set by hand to an account
				// the hub did not make.
				follow = append(follow, "enable")
			}
			if sentParent != c.Link.SyncedParent {
				// Also to or from no parent, and for a link that does not
				// know it (store.ParentUnknown). A parent that cannot be
				// linked (out of scope, a conflict awaiting its link) is
				// no parent: moving there again would change nothing.
				follow = append(follow, "move")
			}
			attrs := mapped
			if evOp == "changed" && c.Link.Synced != nil {
				attrs = changedAttributes(c.Link.Synced, mapped, x.t.Mappings[obj.Kind])
				res.MergeSync = true
			}
			if len(attrs) == 0 {
				if len(follow) == 0 {
					return skip("unchanged")
				}
				// Nothing to update: run the first state or parent change now.
				op.Op = sdk.Op(follow[0])
				res.FollowUp = follow[1:]
				res.Op = string(op.Op)
				res.Request = requestJSON(op, x.t.Mappings[ev.Kind])
				res.SyncedParent = ""
				switch op.Op {
				case sdk.OpMove:
					res.SyncedParent = store.SyncedParentOf(sentParent)
				case sdk.OpDisable, sdk.OpEnable:
					res.SyncedState = string(obj.State)
				}
				return op, res, nil, true
			}
			op.Op = sdk.OpUpdate
			op.Attributes = attrs
			synced = attrs
			res.FollowUp = follow
			res.SyncedParent = ""
		case !linked:
			op.Op = sdk.OpCreate
			op.Attributes = mapped
			synced = mapped
			res.SyncedState = string(sdk.StateActive)
			// Not for an org's first create (what it holds was not sent
			// before it), which would cost every first sync ~5 µs an
			// event; an org read after its users were delivered, or
			// brought into scope by a change, has them moved by the next
			// target sync.
			res.MoveChildren = obj.Kind == sdk.KindOrg && ev.Trigger != "incremental"
			if obj.State == sdk.StateDisabled && evOp != "create" && disabledPolicy != "keep" {
				// Also what a disable of an object the application does not
				// hold yet becomes: derived afresh, a create, then the disable.
				// The create carries no state: a disabled object created
				// outside its create event is disabled right after.
				res.FollowUp = append(res.FollowUp, "disable")
			}
		case evOp == "move":
			op.Op = sdk.OpMove
		case evOp == "create" || c.Link.Synced == nil:
			op.Op = sdk.OpUpdate
			op.Attributes = mapped
			synced = mapped
			if c.Link.Orphan && c.Link.SyncedState == string(sdk.StateDisabled) && obj.State == sdk.StateActive {
				// Back after a delete the policy turned into a disable.
				res.FollowUp = append(res.FollowUp, "enable")
			}
			if sentParent != c.Link.SyncedParent {
				// Recorded by the move when it has run.
				res.FollowUp = append(res.FollowUp, "move")
				res.SyncedParent = ""
			}
		default:
			changed := changedAttributes(c.Link.Synced, mapped, x.t.Mappings[obj.Kind])
			if len(changed) == 0 {
				return skip("no mapped attribute changed")
			}
			op.Op = sdk.OpUpdate
			op.Attributes = changed
			synced = changed
			res.MergeSync = true
			res.SyncedParent = ""
		}
	}
	res.Op = string(op.Op)
	res.Request = requestJSON(op, x.t.Mappings[ev.Kind])
	return op, res, synced, true
}

// changedAttributes is what an update sends: the mapped values that differ
// from the last synced ones, and null for an attribute gone from the
// mapping's output (a create_only attribute is only left out of updates).
func changedAttributes(synced, mapped sdk.Attributes, m *mapping.Mapping) sdk.Attributes {
	out := sdk.Attributes{}
	for _, name := range store.ChangedNames(synced, mapped) {
		if v, ok := mapped[name]; ok {
			out[name] = v
		} else if m == nil || !m.CreateOnly(name) {
			out[name] = sdk.Null()
		}
	}
	return out
}

// outbound maps a hub object to the target's attributes; a kind without a
// mapping sends the hub attributes as they are.
//
// A user's manager is a reference: the mapping sees, and the application
// receives, the manager's id in the application — null until the manager
// is linked there, when a follow-up update sends it.
func (x *executor) outbound(ctx context.Context, c *store.Claimed, update bool) (sdk.Attributes, error) {
	o, manager := c.Object, c.Manager
	attrs := o.Attributes
	if _, ok := attrs[sdk.ManagerAttribute]; ok && o.Kind == sdk.KindUser {
		attrs = attrs.Clone()
		if manager != nil && manager.TargetID != "" {
			attrs[sdk.ManagerAttribute] = sdk.String(manager.TargetID)
		} else {
			attrs[sdk.ManagerAttribute] = sdk.Null()
		}
	}
	m := x.t.Mappings[o.Kind]
	if m == nil {
		return attrs, nil
	}
	in := mapping.Input{
		Kind: o.Kind, ID: o.HubID, State: o.State, Attributes: attrs, Target: x.t.Name, Now: time.Now(),
		Uniqueness: uniqueness{x.e.st}, Reserved: c.Link.Reserved, Update: update,
	}
	if c.Parent != nil {
		in.Org = &mapping.Related{ID: c.Parent.HubID}
	}
	if manager != nil {
		in.Manager = &mapping.Related{ID: manager.HubID}
	}
	res, err := m.Run(ctx, in)
	// Reserved values are kept even when the mapping failed after
	// reserving them: a retry reuses them.
	if !maps.Equal(res.Reserved, c.Link.Reserved) && (res.Reserved != nil || c.Link.Reserved != nil) {
		if serr := x.e.st.SaveReserved(ctx, x.t.Name, o.Kind, o.HubID, res.Reserved); serr != nil && err == nil {
			err = serr
		}
	}
	return res.Attributes, err
}

// uniqueness reserves unique attribute values in the store.
type uniqueness struct{ st *store.Store }

func (u uniqueness) Reserve(ctx context.Context, r mapping.Reservation) (string, error) {
	return u.st.Reserve(ctx, r.Target, r.Kind, r.Attribute, r.Value, r.ID)
}

// eventKey is an event's idempotency key, the same on every attempt.
func eventKey(id int64) string {
	b, _ := json.Marshal(id)
	return "evt-" + string(b)
}

// sensitiveName matches attribute names whose values are never shown:
// until target attribute definitions declare sensitivity, names tell.
var sensitiveName = regexp.MustCompile(`(?i)pass(word)?|secret|token|credential|private`)

// requestJSON renders what is sent for the event record, sensitive values
// masked: what json.Marshal makes of {op, targetId, parent, attributes}
// (keys sorted, empty ones left out), written directly: through a map and
// reflection it was a tenth of what the engine allocated.
func requestJSON(op sdk.Operation, m *mapping.Mapping) string {
	var b bytes.Buffer
	b.Grow(64 + 48*len(op.Attributes))
	b.WriteString(`{"op":`)
	jsonstr.Write(&b, string(op.Op))
	if op.TargetID != "" {
		b.WriteString(`,"targetId":`)
		jsonstr.Write(&b, op.TargetID)
	}
	if op.Parent != nil {
		b.WriteString(`,"parent":{"hubId":`)
		jsonstr.Write(&b, op.Parent.HubID)
		if op.Parent.TargetID != "" {
			b.WriteString(`,"targetId":`)
			jsonstr.Write(&b, op.Parent.TargetID)
		}
		b.WriteByte('}')
	}
	if len(op.Attributes) > 0 {
		b.WriteString(`,"attributes":{`)
		for i, k := range op.Attributes.Names() {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonstr.Write(&b, k)
			b.WriteByte(':')
			v := op.Attributes[k]
			switch {
			case Sensitive(k) || (m != nil && m.Sensitive(k)):
				b.WriteString(`"******"`)
			case v.Type() == sdk.TypeString:
				jsonstr.Write(&b, v.Str())
			default:
				// Numbers, booleans, null, lists and times are rare.
				enc, _ := json.Marshal(v.Any())
				b.Write(enc)
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.String()
}

// PlannedEvent is what a dry run found an event would do.
type PlannedEvent struct {
	Target string
	Event  *store.Event
	Object *store.StoredObject
	// Link is what the application held, as the hub knows it.
	Link store.Link
	// Op is the operation that would be sent; nil when none would (then
	// Result says why: SKIPPED with a reason, or a FAILURE).
	Op     *sdk.Operation
	Result store.Result
}

// planTarget stands in for every target in a dry run.
type planTarget struct{}

func (planTarget) Metadata() sdk.Metadata { return sdk.Metadata{Name: "plan"} }
func (planTarget) Schema() sdk.Schema     { return sdk.Schema{} }
func (planTarget) Configure(context.Context, sdk.ConfigureRequest, *sdk.ConfigureResponse) {
}

func (planTarget) Apply(_ context.Context, op sdk.Operation) (sdk.Result, error) {
	id := op.TargetID
	if id == "" {
		id = "(new " + op.HubID + ")"
	}
	return sdk.Result{TargetID: id}, nil
}

// Sensitive reports whether an attribute's values are never shown.
func Sensitive(name string) bool {
	// Asked for every attribute of every event: the answers are kept (an
	// application's attribute names are few).
	if v, ok := sensitiveNames.Load(name); ok {
		return v.(bool)
	}
	yes := sensitiveName.MatchString(name)
	sensitiveNames.Store(name, yes)
	return yes
}

var sensitiveNames sync.Map

// mapsManager reports whether target t sends users' managers: it has no
// user mapping (attributes pass through), or one that reads the manager.
func mapsManager(t *config.Target) bool {
	spec, ok := t.MappingSpecs[sdk.KindUser]
	if !ok {
		return true
	}
	for _, a := range spec.Attributes {
		if a.From == sdk.ManagerAttribute || strings.Contains(a.Script, sdk.ManagerAttribute) {
			return true
		}
	}
	return false
}
