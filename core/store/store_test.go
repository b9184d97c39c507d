package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
)

func TestCanonicalEncoding(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 30, 0, 123, time.FixedZone("CST", 8*3600))
	a := sdk.Attributes{
		"name": sdk.String("张伟 \"Zhang\""), "level": sdk.Int(-7), "admin": sdk.Bool(true),
		"hired": sdk.Time(at), "groups": sdk.StringList("a", "b"), "empty": sdk.Null(),
	}
	enc := store.EncodeAttributes(a)
	want := `{"admin":true,"empty":null,"groups":["a","b"],"hired":{"t":"2026-11-23T00:30:00.000000123Z"},"level":-7,"name":"张伟 \"Zhang\""}`
	if string(enc) != want {
		t.Fatalf("encoding\n got %s\nwant %s", enc, want)
	}
	back, err := store.DecodeAttributes(enc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, back, cmp.Comparer(func(x, y sdk.Value) bool { return x.Equal(y) })); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	// Equal values encode to equal bytes, whatever the map order.
	b := sdk.Attributes{}
	for _, k := range []string{"name", "level", "admin", "hired", "groups", "empty"} {
		b[k] = a[k]
	}
	if !bytes.Equal(enc, store.EncodeAttributes(b)) {
		t.Fatal("equal attributes encoded differently")
	}
}

func TestChangedNames(t *testing.T) {
	a := sdk.Attributes{"x": sdk.String("1"), "y": sdk.Int(2), "gone": sdk.String("z")}
	b := sdk.Attributes{"x": sdk.String("1"), "y": sdk.Int(3), "new": sdk.Bool(false)}
	if diff := cmp.Diff([]string{"gone", "new", "y"}, store.ChangedNames(a, b)); diff != "" {
		t.Fatal(diff)
	}
}

func TestLeaseIsExclusive(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.AcquireLease(ctx, "host/1/a", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Another owner on another host must wait for expiry.
	var held *store.ErrLeaseHeld
	if err := st.AcquireLease(ctx, "other/2/b", time.Minute); !errors.As(err, &held) || held.Owner != "host/1/a" {
		t.Fatalf("second owner: %v, want the lease held by host/1/a", err)
	}
	// Renewal by the holder works; release frees it.
	if err := st.AcquireLease(ctx, "host/1/a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseLease(ctx, "host/1/a"); err != nil {
		t.Fatal(err)
	}
	if err := st.AcquireLease(ctx, "other/2/b", time.Minute); err != nil {
		t.Fatalf("after release: %v", err)
	}
	// An expired lease is taken over.
	st.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := st.AcquireLease(ctx, "host/1/a", time.Minute); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestLeaseOfADeadProcessIsTakenOver(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	host, _, _ := strings.Cut(store.Owner(), "/")
	// The same host, the pid of a process that has exited.
	dead := host + "/" + strconv.Itoa(cmd.Process.Pid) + "/1"
	ctx := context.Background()
	if err := st.AcquireLease(ctx, dead, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.AcquireLease(ctx, store.Owner(), time.Minute); err != nil {
		t.Fatalf("lease of an exited process: %v, want it taken over", err)
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for range 2 {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
}

// While sources read, an event whose department is not in the directory
// yet waits for it (a source may yield a user before its department);
// once they are done, it goes without (the department is out of reach).
// A department read but not yet consumed is waited for too.
func TestClaimAwaitsParentsWhileSourcesRead(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apply := func(objs ...store.Object) {
		t.Helper()
		runID, err := st.StartRun(ctx, "source", "hr", "full")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.BeginSourceRun("hr", runID, true).Apply(ctx, objs, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Consume(ctx, "app", nil, runID, 100); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(await bool) []string {
		t.Helper()
		got, err := st.Claim(ctx, "app", "test", 10, map[string]bool{}, store.ClaimOptions{AwaitParents: await})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.Object.ExternalID)
		}
		return ids
	}
	user := store.Object{Kind: sdk.KindUser, ExternalID: "u1", State: sdk.StateActive, ParentExt: "d1", Orgs: []string{"d1"},
		Attributes: sdk.Attributes{"name": sdk.String("张伟")}}
	apply(user)
	if got := claim(true); len(got) != 0 {
		t.Fatalf("claimed %v while its department is not read yet", got)
	}
	// Read, but its change not yet consumed: the department has no event
	// yet, which once the sources are done means it is out of scope.
	dept := store.Object{Kind: sdk.KindOrg, ExternalID: "d1", State: sdk.StateActive, Attributes: sdk.Attributes{}}
	runID, err := st.StartRun(ctx, "source", "hr", "full")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.BeginSourceRun("hr", runID, true).Apply(ctx, []store.Object{dept}, ""); err != nil {
		t.Fatal(err)
	}
	if got := claim(true); len(got) != 0 {
		t.Fatalf("claimed %v while its department is read but has no event yet", got)
	}
	if _, err := st.Consume(ctx, "app", nil, runID, 100); err != nil {
		t.Fatal(err)
	}
	if got := claim(true); !slices.Equal(got, []string{"d1"}) {
		t.Fatalf("claimed %v, want the department first (the user waits for its create)", got)
	}
	st2, err := store.Open(filepath.Join(t.TempDir(), "m2.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	st = st2
	apply(user)
	if got := claim(false); !slices.Equal(got, []string{"u1"}) {
		t.Fatalf("claimed %v once the sources are done, want the user", got)
	}
}

// A report recorded as sent without its manager's id, and the manager's
// create, in one batch of results: the report still gets an update
// carrying the id.
func TestReportLearnsItsManagerInTheSameBatch(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runID, err := st.StartRun(ctx, "source", "hr", "full")
	if err != nil {
		t.Fatal(err)
	}
	// The report first: its create does not wait for the manager's.
	report := store.Object{Kind: sdk.KindUser, ExternalID: "u1", State: sdk.StateActive,
		Attributes: sdk.Attributes{"name": sdk.String("李雷"), "manager": sdk.String("m1")}}
	manager := store.Object{Kind: sdk.KindUser, ExternalID: "m1", State: sdk.StateActive,
		Attributes: sdk.Attributes{"name": sdk.String("韩梅梅")}}
	if _, err := st.BeginSourceRun("hr", runID, true).Apply(ctx, []store.Object{report, manager}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Consume(ctx, "app", nil, runID, 100); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.Claim(ctx, "app", "test", 10, map[string]bool{}, store.ClaimOptions{})
	if err != nil || len(claimed) != 2 || claimed[0].Object.ExternalID != "u1" {
		t.Fatalf("claimed %d events (%v), want both creates, the report's first", len(claimed), err)
	}
	var results []store.Result
	reportHub := ""
	for _, c := range claimed {
		r := store.Result{EventID: c.Event.ID, Target: "app", HubID: c.Event.HubID, Kind: sdk.KindUser, Source: "hr",
			ExternalID: c.Object.ExternalID, Op: "create", Status: store.Success, TargetID: "t-" + c.Object.ExternalID, FollowReports: true}
		if c.Object.ExternalID == "u1" {
			if c.ManagerExt != "m1" || (c.Manager != nil && c.Manager.TargetID != "") {
				t.Fatalf("report claimed with manager %q %+v, want m1 not linked", c.ManagerExt, c.Manager)
			}
			r.ManagerWait = "m1"
			reportHub = c.Event.HubID
		}
		results = append(results, r)
	}
	if err := st.Finish(ctx, results); err != nil {
		t.Fatal(err)
	}
	updates, err := st.Events(ctx, store.Filter{Ops: []string{"update"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != 1 || updates[0].HubID != reportHub || !slices.Equal(updates[0].Changed, []string{"manager"}) {
		t.Fatalf("updates recorded: %+v; want one of the report (%s), carrying its manager", updates, reportHub)
	}
}

// fixture is a store with the steps of a delivery, for tests that drive
// events through their states by hand.
type fixture struct {
	t   *testing.T
	ctx context.Context
	st  *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, ctx: context.Background(), st: st}
}

// apply reads objs from source "hr" (an incremental run) and records
// their changes as events of target "app".
func (f *fixture) apply(objs ...store.Object) {
	f.t.Helper()
	run, err := f.st.StartRun(f.ctx, "source", "hr", "incremental")
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.BeginSourceRun("hr", run, false).Apply(f.ctx, objs, ""); err != nil {
		f.t.Fatal(err)
	}
	for {
		n, err := f.st.Consume(f.ctx, "app", nil, run, 100)
		if err != nil {
			f.t.Fatal(err)
		}
		if n < 100 {
			return
		}
	}
}

// claim claims what is ready, by external id.
func (f *fixture) claim() map[string]*store.Claimed {
	f.t.Helper()
	return f.claimWith(store.ClaimOptions{})
}

// claimWith claims what is ready with options o, by external id.
func (f *fixture) claimWith(o store.ClaimOptions) map[string]*store.Claimed {
	f.t.Helper()
	got, err := f.st.Claim(f.ctx, "app", "test", 10, map[string]bool{}, o)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]*store.Claimed{}
	for _, c := range got {
		out[c.Object.ExternalID] = c
	}
	return out
}

// finish records c's result; a SUCCESS links it as "x-" and its external
// id.
func (f *fixture) finish(c *store.Claimed, status store.Status, category string) {
	f.t.Helper()
	r := store.Result{EventID: c.Event.ID, Target: "app", HubID: c.Event.HubID, Op: c.Event.Op, Kind: c.Object.Kind, Status: status, ErrCategory: category}
	if status == store.Success {
		r.TargetID = "x-" + c.Object.ExternalID
	}
	if err := f.st.Finish(f.ctx, []store.Result{r}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) events(statuses ...store.Status) []*store.Event {
	f.t.Helper()
	evs, err := f.st.Events(f.ctx, store.Filter{Statuses: statuses, Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func org(ext string, attrs sdk.Attributes) store.Object {
	return store.Object{Kind: sdk.KindOrg, ExternalID: ext, State: sdk.StateActive, Attributes: attrs}
}

func user(ext, dept, v string) store.Object {
	o := store.Object{Kind: sdk.KindUser, ExternalID: ext, State: sdk.StateActive, Attributes: sdk.Attributes{"v": sdk.String(v)}}
	if dept != "" {
		o.ParentExt, o.Orgs = dept, []string{dept}
	}
	return o
}

// What waits on an object is re-evaluated when the object's event ends
// SKIPPED, not only when one succeeds: a retry of a failed department
// that needed no call must not leave its users WAITING for ever.
func TestASkippedEventReleasesWhatWaitsOnIt(t *testing.T) {
	f := newFixture(t)
	f.apply(org("d1", sdk.Attributes{}), user("u1", "d1", "a"))
	got := f.claim()
	if len(got) != 1 || got["d1"] == nil {
		t.Fatalf("claimed %d events, want the department's alone", len(got))
	}
	failed := got["d1"].Event.ID
	f.finish(got["d1"], store.Failure, "")
	if got := f.claim(); len(got) != 0 {
		t.Fatalf("claimed %d events while the department's create failed", len(got))
	}
	if w := len(f.events(store.Waiting)); w != 1 {
		t.Fatalf("%d events WAITING, want the user's", w)
	}
	if _, err := f.st.Retry(f.ctx, failed); err != nil {
		t.Fatal(err)
	}
	got = f.claim()
	if len(got) != 1 || got["d1"] == nil {
		t.Fatalf("claimed %d events, want the department's retry", len(got))
	}
	f.finish(got["d1"], store.Skipped, "")
	if got := f.claim(); len(got) != 1 || got["u1"] == nil {
		t.Fatalf("claimed %d events after the department's retry was SKIPPED; want the user's, re-evaluated", len(got))
	}
}

// Pruning deletes finished events older than the cutoff, but keeps each
// object's last event, what is unfinished, and a FAILURE something waits
// on.
func TestPruneEvents(t *testing.T) {
	f := newFixture(t)
	f.apply(org("d1", sdk.Attributes{}), user("u1", "d1", "a"), user("u2", "", "a"))
	// d1 fails (u1 waits on it); u2 succeeds, then is updated twice.
	for _, c := range f.claim() {
		if c.Object.ExternalID == "d1" {
			f.finish(c, store.Failure, "")
		} else {
			f.finish(c, store.Success, "")
		}
	}
	f.claim() // u1 now WAITING on d1's failure
	for _, v := range []string{"b", "c"} {
		f.apply(user("u2", "", v))
		f.finish(f.claim()["u2"], store.Success, "")
	}
	// A newer event of d1: its failure is no longer the last of its
	// lane, but u1 still waits on it.
	f.apply(org("d1", sdk.Attributes{"n": sdk.String("renamed")}))
	before := len(f.events())
	// Nothing is older than a cutoff an hour ago.
	if n, err := f.st.PruneEvents(f.ctx, "app", time.Now().Add(-time.Hour), 0); n != 0 || err != nil {
		t.Fatalf("pruned %d (%v) with nothing old enough", n, err)
	}
	n, err := f.st.PruneEvents(f.ctx, "app", time.Now().Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, ev := range f.events() {
		left = append(left, ev.Op+" "+string(ev.Status))
	}
	// u2's create and first update go; its last update stays, as do d1's
	// failure (u1 waits on it), u1's WAITING create and d1's update.
	slices.Sort(left)
	if n != 2 || len(left) != before-2 || !slices.Equal(left, []string{"create FAILURE", "create WAITING", "update QUEUING", "update SUCCESS"}) {
		t.Errorf("pruned %d of %d events, left %q; want u2's two older events pruned", n, before, left)
	}
}

// A link is not set by hand while the object's event runs (its answer
// would replace it), and an account held by a live object is not taken.
func TestSetLinkRefusals(t *testing.T) {
	f := newFixture(t)
	f.apply(user("u1", "", "a"), user("u2", "", "a"))
	claimed := f.claim()
	var refused *store.ErrLinkRefused
	_, err := f.st.SetLink(f.ctx, "app", claimed["u1"].Event.HubID, "acct-1")
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "running") {
		t.Fatalf("SetLink while the create runs: %v, want refused as running", err)
	}
	f.finish(claimed["u1"], store.Success, "")
	f.finish(claimed["u2"], store.Success, "")
	_, err = f.st.SetLink(f.ctx, "app", claimed["u1"].Event.HubID, "x-u2")
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "already linked") {
		t.Fatalf("SetLink to the account of another live object: %v, want refused as already linked", err)
	}
	set, err := f.st.SetLink(f.ctx, "app", claimed["u1"].Event.HubID, "acct-9")
	if err != nil || set.Previous != "x-u1" || set.EventID == 0 {
		t.Fatalf("SetLink = %+v, %v; want x-u1 as the previous id and a queued event", set, err)
	}
}

// What pruning keeps although old: the FAILURE of a conflict later
// SKIPPED (a target sync finds the conflict by it), and an event that
// finished after the cutoff however old its creation.
func TestPruneKeepsWhatStillSaysSomething(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.st.Now = func() time.Time { return now.Add(-60 * 24 * time.Hour) }
	f.apply(user("conflicted", "", "a"), user("slow", "", "a"), user("done", "", "a"))
	c := f.claim()
	f.finish(c["conflicted"], store.Failure, "conflict")
	f.finish(c["done"], store.Success, "")
	failed := c["conflicted"].Event.ID
	if _, err := f.st.Retry(f.ctx, failed); err != nil {
		t.Fatal(err)
	}
	f.finish(f.claim()["conflicted"], store.Skipped, "")
	f.apply(user("done", "", "b"))
	f.finish(f.claim()["done"], store.Success, "")
	f.st.Now = func() time.Time { return now }
	f.finish(c["slow"], store.Success, "") // created 60 days ago, finished now
	f.apply(user("slow", "", "b"))
	f.finish(f.claim()["slow"], store.Success, "")

	n, err := f.st.PruneEvents(f.ctx, "app", now.Add(-30*24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, ev := range f.events() {
		left = append(left, fmt.Sprintf("%d %s", ev.ID, ev.Status))
	}
	if n != 1 {
		t.Fatalf("pruned %d events, left %q; want only done's first create", n, left)
	}
	if _, err := f.st.GetEvent(f.ctx, failed); err != nil {
		t.Errorf("the conflict's FAILURE was pruned: %v", err)
	}
	// Not again within a day.
	f.st.Now = func() time.Time { return now.Add(time.Hour) }
	f.apply(user("done", "", "c"))
	f.finish(f.claim()["done"], store.Success, "")
	if n, err := f.st.PruneEvents(f.ctx, "app", now.Add(time.Hour), 24*time.Hour); n != 0 || err != nil {
		t.Errorf("a second pass within a day pruned %d (%v)", n, err)
	}
}

// A retry that ended SKIPPED is kept when a later SKIPPED replaces the
// object's others: it says its FAILURE was retried, which is not
// retried again.
func TestASkippedRetryIsKept(t *testing.T) {
	f := newFixture(t)
	f.apply(user("u1", "", "a"))
	c := f.claim()["u1"]
	f.finish(c, store.Failure, "")
	if _, err := f.st.Retry(f.ctx, c.Event.ID); err != nil {
		t.Fatal(err)
	}
	f.finish(f.claim()["u1"], store.Skipped, "")
	f.apply(user("u1", "", "b"))
	f.finish(f.claim()["u1"], store.Skipped, "")
	ids, err := f.st.RetryFailures(f.ctx, "app")
	if err != nil || len(ids) != 0 {
		t.Errorf("RetryFailures = %v, %v; want the failure, retried already, not retried again", ids, err)
	}
}

// A create answered with the account another live object is linked to is
// a conflict, not a second link to that account.
func TestACreateAnsweredWithAnotherObjectsAccountIsAConflict(t *testing.T) {
	f := newFixture(t)
	f.apply(user("u1", "", "a"), user("u2", "", "a"))
	c := f.claim()
	f.finish(c["u1"], store.Success, "")
	r := store.Result{EventID: c["u2"].Event.ID, Target: "app", HubID: c["u2"].Event.HubID, Op: "create", Kind: sdk.KindUser,
		Status: store.Success, TargetID: "x-u1"}
	if err := f.st.Finish(f.ctx, []store.Result{r}); err != nil {
		t.Fatal(err)
	}
	ev, err := f.st.GetEvent(f.ctx, r.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != store.Failure || ev.ErrorCategory != string(sdk.CategoryConflict) {
		t.Errorf("u2's create answered with u1's account ended %s (%s: %s); want a FAILURE, conflict", ev.Status, ev.ErrorCategory, ev.ErrorMessage)
	}
	links, err := f.st.Links(f.ctx, r.HubID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.TargetID != "" {
			t.Errorf("u2 is linked to %s; want no link to u1's account", l.TargetID)
		}
	}
	// Two creates answered with one account in one batch.
	f.apply(user("u3", "", "a"), user("u4", "", "a"))
	c = f.claim()
	var rs []store.Result
	for _, ext := range []string{"u3", "u4"} {
		rs = append(rs, store.Result{EventID: c[ext].Event.ID, Target: "app", HubID: c[ext].Event.HubID, Op: "create", Kind: sdk.KindUser,
			Status: store.Success, TargetID: "x-same"})
	}
	if err := f.st.Finish(f.ctx, rs); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(store.Failure)); n != 2 {
		t.Errorf("%d FAILUREs after two creates answered with one account in a batch; want 2 (u2's and the second of these)", n)
	}
}

// A claim remembers the events it found waiting for another object's
// event (a user for its department's create, a report for its manager's)
// and later claims pass over them, without reading them, until that
// object is released; then they are candidates again.
func TestClaimPassesOverRememberedWaits(t *testing.T) {
	f := newFixture(t)
	manager := user("m1", "d1", "a")
	report := user("r1", "d1", "b")
	report.Attributes["manager"] = sdk.String("m1")
	f.apply(org("d1", sdk.Attributes{}), user("u1", "d1", "c"), manager, report)
	waits := store.NewWaits()
	claim := func() map[string]*store.Claimed { return f.claimWith(store.ClaimOptions{Waits: waits}) }
	got := claim()
	if len(got) != 1 || got["d1"] == nil {
		t.Fatalf("claimed %v, want the department's create alone", keys(got))
	}
	if waits.Len() != 3 {
		t.Fatalf("%d events remembered as waiting, want the three users'", waits.Len())
	}
	dept := got["d1"].Event.HubID
	f.finish(got["d1"], store.Success, "")
	// The department is linked now, but nothing released its users.
	if got := claim(); len(got) != 0 {
		t.Fatalf("claimed %v: the remembered waits were read again", keys(got))
	}
	waits.Release(dept)
	got = claim()
	if len(got) != 2 || got["u1"] == nil || got["m1"] == nil {
		t.Fatalf("claimed %v after the department's release, want u1 and m1 (r1 waits for its manager's create)", keys(got))
	}
	if waits.Len() != 1 {
		t.Fatalf("%d events remembered as waiting, want the report's", waits.Len())
	}
	f.finish(got["m1"], store.Success, "")
	f.finish(got["u1"], store.Success, "")
	if got := claim(); len(got) != 0 {
		t.Fatalf("claimed %v before the manager's release", keys(got))
	}
	waits.Release(got["m1"].Event.HubID)
	if got := claim(); len(got) != 1 || got["r1"] == nil || got["r1"].Manager == nil || got["r1"].Manager.TargetID != "x-m1" {
		t.Fatalf("claimed %v after the manager's release, want r1 with its manager's id", keys(got))
	}
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// A manager whose create cannot go (its department failed, so it becomes
// WAITING) releases the reports that waited for it: they go without it.
func TestAWaitingManagerReleasesItsReports(t *testing.T) {
	f := newFixture(t)
	manager := user("m1", "d1", "a")
	report := user("r1", "d2", "b")
	report.Attributes["manager"] = sdk.String("m1")
	f.apply(org("d1", sdk.Attributes{}), org("d2", sdk.Attributes{}), manager, report)
	waits := store.NewWaits()
	claim := func() map[string]*store.Claimed { return f.claimWith(store.ClaimOptions{Waits: waits}) }
	got := claim()
	if len(got) != 2 || got["d1"] == nil || got["d2"] == nil || waits.Len() != 2 {
		t.Fatalf("claimed %v with %d waits, want both departments and two waits", keys(got), waits.Len())
	}
	f.finish(got["d1"], store.Failure, "permanent")
	f.finish(got["d2"], store.Success, "")
	waits.Release(got["d1"].Event.HubID)
	waits.Release(got["d2"].Event.HubID)
	// m1 becomes WAITING on its department's failure; r1 was passed over.
	if got := claim(); len(got) != 0 {
		t.Fatalf("claimed %v", keys(got))
	}
	if w := f.events(store.Waiting); len(w) != 1 {
		t.Fatalf("%d events WAITING, want the manager's", len(w))
	}
	if got := claim(); len(got) != 1 || got["r1"] == nil {
		t.Fatalf("claimed %v, want the report, released by its manager's WAITING", keys(got))
	}
}

// However many events wait at the head of the queue for a department
// queued behind them, a claim reaches the department: the waits it finds
// and remembers do not count against its bound, so it reads each once.
func TestClaimsReachWhatManyWaitFor(t *testing.T) {
	f := newFixture(t)
	var people []store.Object
	for i := range 300 {
		people = append(people, user(fmt.Sprintf("u%03d", i), "d1", "a"))
	}
	// The people first: the department, read after them, is queued
	// behind.
	f.apply(append(people, org("d1", sdk.Attributes{}))...)
	waits := store.NewWaits()
	if got := f.claimWith(store.ClaimOptions{Waits: waits}); len(got) != 1 || got["d1"] == nil {
		t.Fatalf("claimed %v, want the department behind 300 waiting people", keys(got))
	}
	if waits.Len() != 300 {
		t.Fatalf("%d remembered waits, want the 300 people", waits.Len())
	}
}

// A claim hands each event the objects it names, with their ids in the
// application: the parent, every membership and the manager, looked up
// once for all the candidates that share them; one the directory does
// not hold is left out (a membership) or nil (a manager).
func TestClaimResolvesWhatEventsName(t *testing.T) {
	f := newFixture(t)
	f.apply(org("d1", sdk.Attributes{}), org("d2", sdk.Attributes{}), user("m1", "d1", "a"))
	linked := map[string]sdk.Ref{}
	for got := f.claim(); len(got) > 0; got = f.claim() {
		for ext, c := range got {
			f.finish(c, store.Success, "")
			linked[ext] = sdk.Ref{HubID: c.Event.HubID, TargetID: "x-" + ext}
		}
	}
	// d3 is in the directory but not in the application yet; nobody is d9
	// or m9.
	var people []store.Object
	// u3 names a department as its manager: no user has that id.
	for i, mgr := range []string{"m1", "m1", "m9", "d2"} {
		u := user(fmt.Sprint("u", i), "d1", "x")
		u.Orgs = []string{"d1", "d2", "d3", "d9"}
		u.Attributes["manager"] = sdk.String(mgr)
		people = append(people, u)
	}
	f.apply(append(people, org("d3", sdk.Attributes{}))...)
	got := f.claim()
	if len(got) != 5 || got["d3"] == nil {
		t.Fatalf("claimed %v, want d3 and the four people", keys(got))
	}
	d1, d2, m1 := linked["d1"], linked["d2"], linked["m1"]
	d3 := sdk.Ref{HubID: got["d3"].Event.HubID}
	type named struct {
		Parent  *sdk.Ref
		Orgs    []sdk.Ref
		Manager *sdk.Ref
		Ext     string
	}
	want := map[string]named{
		"u0": {Parent: &d1, Orgs: []sdk.Ref{d1, d2, d3}, Manager: &m1, Ext: "m1"},
		"u1": {Parent: &d1, Orgs: []sdk.Ref{d1, d2, d3}, Manager: &m1, Ext: "m1"},
		"u2": {Parent: &d1, Orgs: []sdk.Ref{d1, d2, d3}, Manager: nil, Ext: "m9"},
		"u3": {Parent: &d1, Orgs: []sdk.Ref{d1, d2, d3}, Manager: nil, Ext: "d2"},
	}
	if got["u0"].Manager == got["u1"].Manager {
		t.Error("u0 and u1 share one manager reference: changing one event's would change the other's")
	}
	for ext, w := range want {
		c := got[ext]
		if c == nil {
			t.Fatalf("claimed %v, want %s", keys(got), ext)
		}
		if diff := cmp.Diff(w, named{Parent: c.Parent, Orgs: c.Orgs, Manager: c.Manager, Ext: c.ManagerExt}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ext, diff)
		}
	}
}
