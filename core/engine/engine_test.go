package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/plugin"
	"github.com/midstream-io/midstream/sdk/receiver"
)

func TestMain(m *testing.M) { plugin.TestMain(m, plugins.Constructors()) }

// hr is an HR export under construction: rows by employee id.
type hr struct {
	rows map[string][]string // id → name, dept, state, title, manager
}

const header = "工号,姓名,部门,状态,职位,上级\n"

func (h *hr) csv() string {
	ids := make([]string, 0, len(h.rows))
	for id := range h.rows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString(header)
	for _, id := range ids {
		r := h.rows[id]
		fmt.Fprintf(&b, "%s,%s\n", id, strings.Join(r, ","))
	}
	return b.String()
}

func newHR(n int) *hr {
	h := &hr{rows: map[string][]string{}}
	depts := []string{"星河集团", "星河集团/研发中心", "星河集团/研发中心/平台部", "星河集团/研发中心/平台部/存储组", "星河集团/销售部", "星河集团/销售部/华东区"}
	for i := range n {
		id := fmt.Sprintf("E%05d", i)
		mgr := ""
		if i > 0 {
			mgr = fmt.Sprintf("E%05d", (i-1)/5)
		}
		h.rows[id] = []string{fmt.Sprintf("员工%d", i), depts[i%len(depts)], "在职", "工程师", mgr}
	}
	return h
}

type env struct {
	t      testing.TB
	dir    string
	app    *failingApp
	url    string
	st     *store.Store
	db     string
	hr     *hr
	opts   string // extra source settings
	tExtra string // extra target settings
	// mapping replaces the target's user mapping ("-" for none).
	mapping string
	// looseManagers reads the manager column as a plain column, so a row
	// may name a manager the export does not hold (as a source that is
	// not a single file can).
	looseManagers bool
}

func newEnv(t testing.TB, h *hr) *env {
	t.Helper()
	app := &failingApp{MemoryApp: receiver.NewMemoryApp()}
	hd, err := receiver.New(receiver.Options{Token: "t0ken", App: app})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hd)
	t.Cleanup(srv.Close)
	e := &env{t: t, dir: t.TempDir(), app: app, url: srv.URL, hr: h}
	e.db = filepath.Join(e.dir, "midstream.db")
	return e
}

func (e *env) write() {
	e.t.Helper()
	managers := `manager_column    = "上级"
  columns = { "姓名" = "name", "职位" = "title" }`
	if e.looseManagers {
		managers = `columns = { "姓名" = "name", "职位" = "title", "上级" = "manager" }`
	}
	pipeline := fmt.Sprintf(`
source "csv" "hr" {
  path              = "hr.csv"
  id_column         = "工号"
  department_column = "部门"
  state_column      = "状态"
  %s
  %s
}

target "callback" "app" {
  url         = %q
  token       = "t0ken"
  concurrency = 8
  max_attempts = 3
  %s
  %s
}
`, managers, e.opts, e.url+"/", e.tExtra, e.userMapping())
	if err := os.WriteFile(filepath.Join(e.dir, "pipeline.hcl"), []byte(pipeline), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "hr.csv"), []byte(e.hr.csv()), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) userMapping() string {
	switch e.mapping {
	case "":
		return `mapping "user" {
    attribute "displayName" { from = "name" }
    attribute "title"       { from = "title" }
    attribute "userName"    { script = "object.id.slice(2, 10) + '.' + record.name" }
  }`
	case "-":
		return ""
	}
	return e.mapping
}

// openEngine loads the pipeline in dir and starts an engine on the store
// db, as one `midstream sync` does; done closes both.
func openEngine(t testing.TB, dir, db string, opts engine.Options) (eng *engine.Engine, done func()) {
	t.Helper()
	p, diags := config.Load(context.Background(), dir, config.DefaultResolver())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	eng = engine.New(p, st, opts)
	if err := eng.Start(context.Background()); err != nil {
		st.Close()
		t.Fatal(err)
	}
	return eng, func() { eng.Close(); st.Close() }
}

// sync runs one pass with a fresh engine, as `midstream sync` does.
func (e *env) sync(o engine.SyncOptions) *engine.Report {
	e.t.Helper()
	e.write()
	eng, done := openEngine(e.t, e.dir, e.db, engine.Options{BackoffBase: 10 * time.Millisecond})
	defer done()
	if o.RetryWait == 0 {
		o.RetryWait = 10 * time.Second
	}
	return eng.Sync(context.Background(), o)
}

func mustSucceed(t *testing.T, rep *engine.Report) {
	t.Helper()
	for _, s := range rep.Sources {
		if s.Err != nil {
			t.Fatalf("source %s: %v", s.Name, s.Err)
		}
	}
	for _, tr := range rep.Targets {
		if tr.Err != nil || tr.Counts[store.Failure] > 0 || tr.Left > 0 {
			t.Fatalf("target %s: %v, counts %v, left %d", tr.Name, tr.Err, tr.Counts, tr.Left)
		}
	}
}

// held is the application's state in comparable form: users by name with
// department path, state and title; departments by path.
func (e *env) held() []string {
	objs := e.app.Objects()
	byID := map[string]receiver.MemoryObject{}
	for _, o := range objs {
		byID[o.ID] = o
	}
	var path func(id string) string
	path = func(id string) string {
		o, ok := byID[id]
		if !ok {
			return "?" + id
		}
		name := o.Attributes.String("name")
		if o.Parent == nil || o.Parent.TargetID == "" {
			return name
		}
		return path(o.Parent.TargetID) + "/" + name
	}
	var out []string
	for _, o := range objs {
		switch o.Kind {
		case sdk.KindOrg:
			out = append(out, "org "+path(o.ID))
		case sdk.KindUser:
			state := "active"
			if o.Disabled {
				state = "disabled"
			}
			dept := ""
			if o.Parent != nil {
				dept = path(o.Parent.TargetID)
			}
			out = append(out, fmt.Sprintf("user %s %s %s %s", o.Attributes.String("displayName"), dept, state, o.Attributes.String("title")))
		}
	}
	sort.Strings(out)
	return out
}

// want is what the application should hold for the export.
func (h *hr) want() []string {
	var out []string
	depts := map[string]bool{}
	for _, r := range h.rows {
		state := map[string]string{"在职": "active", "停用": "disabled", "离职": "deleted"}[r[2]]
		if state == "deleted" {
			continue
		}
		out = append(out, fmt.Sprintf("user %s %s %s %s", r[0], r[1], state, r[3]))
	}
	for _, r := range h.rows {
		parts := strings.Split(r[1], "/")
		for i := range parts {
			depts[strings.Join(parts[:i+1], "/")] = true
		}
	}
	for d := range depts {
		out = append(out, "org "+d)
	}
	sort.Strings(out)
	return out
}

func (e *env) check() {
	e.t.Helper()
	if diff := diffHeld(e); diff != "" {
		e.t.Fatal(diff)
	}
}

// diffHeld compares the application with the export, and checks that no
// hub object is held twice.
func diffHeld(e *env) string {
	if diff := cmp.Diff(e.hr.want(), e.held()); diff != "" {
		return "application state (-want +got):\n" + diff
	}
	seen := map[string]string{}
	for _, o := range e.app.Objects() {
		if prev, ok := seen[o.HubID]; ok {
			return fmt.Sprintf("hub object %s is held twice, as %s and %s", o.HubID, prev, o.ID)
		}
		seen[o.HubID] = o.ID
	}
	return ""
}

func sortStrings(s []string) { sort.Strings(s) }

func TestFullSyncDeliversTheExport(t *testing.T) {
	h := newHR(60)
	h.rows["E00007"][2] = "停用"
	h.rows["E00008"][2] = "离职"
	e := newEnv(t, h)
	rep := e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	e.check()
	if got := rep.Sources[0].Counts.Created; got != 59+6 {
		t.Errorf("created %d objects, want 65 (59 users, 6 departments)", got)
	}

	// A second pass with nothing changed sends nothing.
	before := len(e.app.Events())
	rep = e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	if n := len(e.app.Events()) - before; n != 0 {
		t.Errorf("an unchanged export sent %d requests", n)
	}
}

func TestChangesReachTheApplication(t *testing.T) {
	h := newHR(60)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))

	h.rows["E00001"][3] = "架构师"              // update
	h.rows["E00002"][1] = "星河集团/销售部/华东区/上海组" // move into a new department
	h.rows["E00003"][2] = "停用"               // disable
	h.rows["E00004"][2] = "离职"               // leave
	h.rows["E09999"] = []string{"新人", "星河集团/研发中心", "在职", "实习生", "E00000"}
	rep := e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	e.check()
	c := rep.Sources[0].Counts
	if c.Updated != 1 || c.Moved != 1 || c.Disabled != 1 || c.Deleted != 1 || c.Created != 2 {
		t.Errorf("counts %+v, want 1 update, 1 move, 1 disable, 1 delete, 2 creates (a user and a department)", c)
	}

	// Re-enabled and back from leave.
	h.rows["E00003"][2] = "在职"
	h.rows["E00004"][2] = "在职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

func TestMassDeletionGuard(t *testing.T) {
	for name, change := range map[string]func(h *hr){
		"30% dropped from the export": func(h *hr) {
			for i := range 30 {
				delete(h.rows, fmt.Sprintf("E%05d", 70+i))
			}
		},
		"30% marked 离职": func(h *hr) {
			for i := range 30 {
				h.rows[fmt.Sprintf("E%05d", 70+i)][2] = "离职"
			}
		},
		"30% marked 停用": func(h *hr) {
			for i := range 30 {
				h.rows[fmt.Sprintf("E%05d", 70+i)][2] = "停用"
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHR(100)
			e := newEnv(t, h)
			mustSucceed(t, e.sync(engine.SyncOptions{}))
			before := e.held()
			change(h)
			h.rows["E00001"][3] = "架构师" // an update in the same run still goes through
			rep := e.sync(engine.SyncOptions{})
			var ge *engine.GuardError
			if !errors.As(rep.Sources[0].Err, &ge) {
				t.Fatalf("source error %v, want the mass-deletion guard", rep.Sources[0].Err)
			}
			if ge.Losses != 30 || len(rep.Sources[0].Blocked) != 30 {
				t.Errorf("guard reports %d losses, lists %d; want 30", ge.Losses, len(rep.Sources[0].Blocked))
			}
			got := e.held()
			for i, line := range before {
				if strings.Contains(line, "E00001") || strings.HasPrefix(line, "user 员工1 ") {
					before[i] = strings.Replace(line, "工程师", "架构师", 1)
				}
			}
			if diff := cmp.Diff(before, got); diff != "" {
				t.Errorf("the application changed beyond the update (-before +after):\n%s", diff)
			}
			// Once explicitly allowed, the losses are applied.
			mustSucceed(t, e.sync(engine.SyncOptions{AllowDeletes: true}))
			e.check()
		})
	}
}

func TestEmptyAndTruncatedExportsChangeNothing(t *testing.T) {
	h := newHR(30)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	before := e.held()
	for name, content := range map[string]string{
		"empty":            "",
		"header only":      header,
		"truncated midrow": header + "E00000,员工0,星河集团,在职,工程师,\nE00001,员工1,星河",
	} {
		t.Run(name, func(t *testing.T) {
			e.write()
			if err := os.WriteFile(filepath.Join(e.dir, "hr.csv"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			eng, done := openEngine(t, e.dir, e.db, engine.Options{})
			defer done()
			rep := eng.Sync(context.Background(), engine.SyncOptions{AllowDeletes: true})
			if rep.Sources[0].Err == nil {
				t.Fatal("a bad export was read without error")
			}
			if diff := cmp.Diff(before, e.held()); diff != "" {
				t.Errorf("a bad export changed the application (-before +after):\n%s", diff)
			}
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	h := newHR(20)
	e := newEnv(t, h)
	e.app.FailNext(receiver.RetryLater(0, "busy"), receiver.RetryLater(0, "busy"))
	rep := e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	e.check()
}

func TestPermanentFailureIsRecorded(t *testing.T) {
	h := newHR(20)
	e := newEnv(t, h)
	e.app.FailNext(receiver.Reject("E1001", "department name too long"))
	rep := e.sync(engine.SyncOptions{})
	if rep.Targets[0].Counts[store.Failure] != 1 {
		t.Fatalf("counts %v, want one FAILURE", rep.Targets[0].Counts)
	}
	st, err := store.Open(e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), store.Filter{Statuses: []store.Status{store.Failure, store.Waiting}})
	if err != nil {
		t.Fatal(err)
	}
	var failed *store.Event
	waiting := 0
	for _, ev := range evs {
		if ev.Status == store.Failure {
			failed = ev
		} else {
			waiting++
		}
	}
	if failed == nil || failed.ErrorCategory != "permanent" || failed.ResponseStatus != 422 || !strings.Contains(failed.ErrorMessage, "department name too long") {
		t.Fatalf("failed event %+v, want a permanent 422 naming the cause", failed)
	}
	// The first event is the root department: everything below it waits.
	if failed.Kind != sdk.KindOrg || waiting == 0 {
		t.Errorf("failed %s event, %d waiting; want the root org failed and its subtree WAITING", failed.Kind, waiting)
	}
}

func TestPluginCrashLosesNothing(t *testing.T) {
	h := newHR(400)
	e := newEnv(t, h)
	killed := false
	e.write()
	var eng *engine.Engine
	eng, done := openEngine(t, e.dir, e.db, engine.Options{Progress: func(pr engine.Progress) {
		if pr.Stage == "deliver" && pr.Done >= 50 && !killed {
			killed = true
			if pid := eng.PluginPid("target", "app"); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}})
	defer done()
	rep := eng.Sync(context.Background(), engine.SyncOptions{RetryWait: 20 * time.Second})
	if !killed {
		t.Fatal("the plugin was never killed")
	}
	mustSucceed(t, rep)
	e.check()
}

func (e *env) events(f store.Filter) []*store.Event {
	e.t.Helper()
	st, err := store.Open(e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	f.Limit = 100000
	evs, err := st.Events(context.Background(), f)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestPolicyUserDeletedDisable(t *testing.T) {
	h := newHR(30)
	e := newEnv(t, h)
	e.tExtra = `policy { user_deleted = "disable" }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00005"][2] = "离职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	o, ok := findUser(e, "员工5")
	if !ok || !o.Disabled {
		t.Fatalf("user 5 after leaving with policy disable: held %v, %+v; want kept and disabled", ok, o)
	}
	// Back: the account is updated and enabled again, not created twice.
	h.rows["E00005"][2] = "在职"
	h.rows["E00005"][3] = "返聘顾问"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

func TestPolicyKeepLeavesAnOrphan(t *testing.T) {
	h := newHR(30)
	e := newEnv(t, h)
	e.tExtra = `policy {
    user_deleted  = "keep"
    user_disabled = "keep"
  }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00005"][2] = "离职"
	h.rows["E00006"][2] = "停用"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	for _, name := range []string{"员工5", "员工6"} {
		if o, ok := findUser(e, name); !ok || o.Disabled {
			t.Errorf("%s: held %v, %+v; policy keep leaves the account as it was", name, ok, o)
		}
	}
	var reasons []string
	for _, ev := range e.events(store.Filter{Statuses: []store.Status{store.Skipped}}) {
		reasons = append(reasons, ev.Op+": "+ev.Reason)
	}
	sort.Strings(reasons)
	want := []string{"delete: policy keep: the account stays, as an orphan", "disable: policy keep: the account stays enabled"}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("skipped events (-want +got):\n%s", diff)
	}
}

func findUser(e *env, name string) (receiver.MemoryObject, bool) {
	for _, o := range e.app.Objects() {
		if o.Kind == sdk.KindUser && o.Attributes.String("displayName") == name {
			return o, true
		}
	}
	return receiver.MemoryObject{}, false
}

func TestMootEventsOfADeletedObjectAreIgnored(t *testing.T) {
	t.Run("create never sent", func(t *testing.T) {
		h := newHR(10)
		e := newEnv(t, h)
		mustSucceed(t, e.sync(engine.SyncOptions{}))
		// A new hire read into the directory but not delivered yet, who
		// leaves before the next delivery.
		h.rows["E00050"] = []string{"新人", "星河集团", "在职", "工程师", "E00000"}
		mustSucceed(t, e.sync(engine.SyncOptions{Targets: []string{}}))
		// The leave is read before any delivery: a sync delivers while
		// its sources read, so the create would otherwise go out first.
		h.rows["E00050"][2] = "离职"
		mustSucceed(t, e.sync(engine.SyncOptions{Targets: []string{}}))
		mustSucceed(t, e.sync(engine.SyncOptions{Sources: []string{}}))
		checkEvents(t, e, "新人", "delete SKIPPED never created", "create IGNORED the object was deleted")
		e.check()
	})
	t.Run("create sent and failed", func(t *testing.T) {
		h := newHR(10)
		e := newEnv(t, h)
		mustSucceed(t, e.sync(engine.SyncOptions{}))
		h.rows["E00050"] = []string{"新人", "星河集团", "在职", "工程师", "E00000"}
		e.app.FailNext(receiver.RetryLater(time.Hour, "down"))
		rep := e.sync(engine.SyncOptions{RetryWait: time.Millisecond})
		if rep.Targets[0].Left != 1 {
			t.Fatalf("left %d events, want the failed create waiting for its retry", rep.Targets[0].Left)
		}
		h.rows["E00050"][2] = "离职"
		mustSucceed(t, e.sync(engine.SyncOptions{}))
		// The create may have reached the application before failing, so
		// the delete is sent (SPEC §4: "otherwise it is sent").
		checkEvents(t, e, "新人", "delete SUCCESS ", "create IGNORED the object was deleted")
		e.check()
	})
}

// checkNothingChanged runs a target sync of changed objects only and
// wants every object SKIPPED unchanged; otherwise it lists what was sent.
func (e *env) checkNothingChanged(t *testing.T, after string) {
	t.Helper()
	rep := e.sync(engine.SyncOptions{FullTarget: true, ChangedOnly: true})
	mustSucceed(t, rep)
	if rep.Targets[0].Counts[store.Skipped] == rep.Targets[0].FullSync {
		return
	}
	for _, ev := range e.events(store.Filter{Statuses: []store.Status{store.Success}}) {
		if ev.Trigger == "full" {
			t.Logf("changed-only sent: %s %s %s %s", ev.Op, ev.Kind, ev.DisplayName, ev.Request)
		}
	}
	t.Errorf("changed-only target sync %s: %v of %d; want every object SKIPPED unchanged", after, rep.Targets[0].Counts, rep.Targets[0].FullSync)
}

func checkEvents(t *testing.T, e *env, object string, want ...string) {
	t.Helper()
	var got []string
	for _, ev := range e.events(store.Filter{Object: object}) {
		got = append(got, fmt.Sprintf("%s %s %s", ev.Op, ev.Status, ev.Reason))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of %s, newest first (-want +got):\n%s", object, diff)
	}
}

func TestManualRetryReleasesWaitingDependents(t *testing.T) {
	h := newHR(20)
	e := newEnv(t, h)
	e.app.FailNext(receiver.Reject("E1001", "department name too long"))
	rep := e.sync(engine.SyncOptions{})
	if rep.Targets[0].Counts[store.Failure] != 1 || rep.Targets[0].Left == 0 {
		t.Fatalf("counts %v, left %d; want the root org FAILED and its subtree WAITING", rep.Targets[0].Counts, rep.Targets[0].Left)
	}
	st, err := store.Open(e.db)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.RetryFailures(context.Background(), "app")
	st.Close()
	if err != nil || len(ids) != 1 {
		t.Fatalf("retry failures: %v, %v; want one retry", ids, err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	// The failure stays as history, followed by its successful retry.
	evs := e.events(store.Filter{Kind: sdk.KindOrg, Ops: []string{"create"}, Object: "星河集团"})
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Trigger+" "+string(ev.Status))
	}
	if diff := cmp.Diff([]string{"retry SUCCESS", "incremental FAILURE"}, got); diff != "" {
		t.Errorf("root org's create events (-want +got):\n%s", diff)
	}
}

// retryAfterNewerState sets 员工3's status column to old, has the
// application reject the event that carries it, sets it to newer and syncs
// that, then retries the failure by hand and syncs.
func retryAfterNewerState(t *testing.T, initial, old, newer string) *env {
	t.Helper()
	h := newHR(10)
	h.rows["E00003"][2] = initial
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00003"][2] = old
	e.app.FailNext(receiver.Reject("E42", "rejected"))
	if rep := e.sync(engine.SyncOptions{}); rep.Targets[0].Counts[store.Failure] != 1 {
		t.Fatalf("counts %v; want the change to %s FAILED", rep.Targets[0].Counts, old)
	}
	h.rows["E00003"][2] = newer
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	retryAll(t, e)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	return e
}

// A failed disable retried by hand after a newer enable has succeeded
// must not disable the account again: the retry sends the object's state
// now, and here the application already holds it.
func TestManualRetryOfAnOldDisableDoesNotOvertakeTheEnable(t *testing.T) {
	e := retryAfterNewerState(t, "在职", "停用", "在职")
	var got []string
	for _, ev := range e.events(store.Filter{Kind: sdk.KindUser, Object: "员工3"}) {
		got = append(got, ev.Trigger+" "+ev.Op+" "+string(ev.Status))
	}
	want := []string{"retry update SKIPPED", "incremental enable SUCCESS", "incremental disable FAILURE", "incremental create SUCCESS"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of 员工3, newest first (-want +got):\n%s", diff)
	}
}

// A failed enable retried by hand after a newer disable has succeeded
// leaves the account disabled.
func TestManualRetryOfAnOldEnableDoesNotOvertakeTheDisable(t *testing.T) {
	e := retryAfterNewerState(t, "停用", "在职", "停用")
	if u, ok := findUser(e, "员工3"); !ok || !u.Disabled {
		t.Fatalf("员工3 held as %+v (found %v); want disabled", u, ok)
	}
}

// A failed delete retried by hand after the person was re-hired (the same
// employee id) must not remove the re-hired account: the retry is derived
// from the object's state now.
func TestManualRetryOfADeleteAfterAReHireKeepsTheAccount(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00003"][2] = "离职"
	e.app.FailNext(receiver.Reject("E42", "rejected"))
	if rep := e.sync(engine.SyncOptions{}); rep.Targets[0].Counts[store.Failure] != 1 {
		t.Fatalf("counts %v; want the delete FAILED", rep.Targets[0].Counts)
	}
	h.rows["E00003"][2] = "在职"
	h.rows["E00003"][1] = "星河集团/销售部"
	h.rows["E00003"][3] = "返聘顾问"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	retryAll(t, e)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	var got []string
	for _, ev := range e.events(store.Filter{Kind: sdk.KindUser, Object: "员工3"}) {
		got = append(got, ev.Trigger+" "+ev.Op+" "+string(ev.Status))
	}
	if got[0] != "retry update SKIPPED" {
		t.Errorf("events of 员工3, newest first: %q; want the retry SKIPPED as an update with nothing to send", got)
	}
}

// A re-hire into another department, while the application still holds
// the account (the delete failed), runs as an update and then a move. A
// transient failure of the update must not lose the move.
func TestReHireMovesAfterATransientFailure(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00003"][2] = "离职"
	e.app.FailNext(receiver.Reject("E42", "rejected"))
	e.sync(engine.SyncOptions{})
	h.rows["E00003"][2] = "在职"
	h.rows["E00003"][1] = "星河集团/销售部/华东区"
	e.app.FailNext(receiver.RetryLater(0, "busy"))
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

// Under user_deleted = "disable", a delete runs as a disable. Neither a
// transient failure (retried automatically) nor a manual retry of a
// failed one may lose it: the person's account ends disabled.
func TestDeleteRunAsDisableSurvivesFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail error
	}{
		{"transient", receiver.RetryLater(0, "busy")},
		{"retried by hand", receiver.Reject("E42", "rejected")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHR(10)
			e := newEnv(t, h)
			e.tExtra = `policy { user_deleted = "disable" }`
			mustSucceed(t, e.sync(engine.SyncOptions{}))
			h.rows["E00003"][2] = "离职"
			e.app.FailNext(tc.fail)
			e.sync(engine.SyncOptions{})
			retryAll(t, e)
			mustSucceed(t, e.sync(engine.SyncOptions{}))
			if o, ok := findUser(e, "员工3"); !ok || !o.Disabled {
				t.Fatalf("员工3 after leaving: held %v, %+v; want kept and disabled", ok, o)
			}
		})
	}
}

// drift changes what the application holds behind the hub's back.
func drift(t *testing.T, app *failingApp, op sdk.Operation) {
	t.Helper()
	ev, err := callback.NewEvent(op, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.MemoryApp.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// A target sync of changed objects leaves create_only attributes alone:
// they are sent in creates only, never cleared by an update.
func TestChangedOnlyFullSyncKeepsCreateOnlyAttributes(t *testing.T) {
	h := newHR(6)
	e := newEnv(t, h)
	e.mapping = `mapping "user" {
    attribute "displayName" { from = "name" }
    attribute "title"       { from = "title" }
    attribute "initialTitle" {
      from = "title"
      mode = "create_only"
    }
  }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00003"][3] = "经理"
	mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true, ChangedOnly: true}))
	u, _ := findUser(e, "员工3")
	if got := u.Attributes.String("initialTitle"); got != "工程师" {
		t.Errorf("initialTitle after a changed-only full sync: %q, want 工程师 (create_only: kept)", got)
	}
	if got := u.Attributes.String("title"); got != "经理" {
		t.Errorf("title after a changed-only full sync: %q, want 经理", got)
	}
}

// A create that met an account the application already held (a
// conflict) is resolved by linking the object to that account: the next
// sync brings the account to the object's values, state and department.
func TestSetLinkResolvesAConflict(t *testing.T) {
	_, e := lateHire(t, "")
	e.app.FailNext(receiver.Conflict("user name taken"))
	rep := e.sync(engine.SyncOptions{})
	if rep.Targets[0].Counts[store.Failure] != 1 {
		t.Fatalf("counts %v, want one create FAILED as a conflict", rep.Targets[0].Counts)
	}
	failed := e.events(store.Filter{Statuses: []store.Status{store.Failure}})[0]
	if failed.ErrorCategory != string(sdk.CategoryConflict) {
		t.Fatalf("failure %+v, want category conflict", failed)
	}
	// The account the application held, made outside the hub: another
	// name, no department, disabled.
	held := e.outsideAccount(sdk.KindUser, "旧账号")
	drift(t, e.app, sdk.Operation{ID: "x2", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "outside-旧账号", TargetID: held})
	if _, err := e.setLink(failed.HubID, held); err != nil {
		t.Fatal(err)
	}
	// One account, one hub object.
	other, _ := findUser(e, "员工4")
	var refused *store.ErrLinkRefused
	if _, err := e.setLink(failed.HubID, other.ID); !errors.As(err, &refused) {
		t.Errorf("linking a second account already linked to another object: %v, want refused", err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	if u, _ := findUser(e, failed.DisplayName); u.ID != held {
		t.Errorf("%s is held as %s, want the linked account %s", failed.DisplayName, u.ID, held)
	}
	checkMoved(t, e, held)
}

// checkMoved checks the application received a move of account id: an
// update does not move an account in every protocol (MemoryApp applies a
// parent an update carries, so held() alone cannot tell).
func checkMoved(t *testing.T, e *env, id string) {
	t.Helper()
	for _, ev := range e.app.Events() {
		if ev.Object != nil && ev.Object.TargetID == id && ev.Type == callback.EventUserMove {
			return
		}
	}
	t.Errorf("account %s was never moved", id)
}

// lateHire syncs an export of 10 people but 员工3 (E00003), then puts
// 员工3 back, in dept when given: the next sync creates 员工3.
func lateHire(t *testing.T, dept string) (*hr, *env) {
	t.Helper()
	h := newHR(10)
	row := h.rows["E00003"]
	delete(h.rows, "E00003")
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if dept != "" {
		row[1] = dept
	}
	h.rows["E00003"] = row
	return h, e
}

// conflictedDepartment hires 员工3 into a new department whose create
// meets a conflict, then runs a target sync, which sends 员工3 without
// the department's id; it returns 员工3's account.
func conflictedDepartment(t *testing.T) (*env, receiver.MemoryObject) {
	t.Helper()
	_, e := lateHire(t, "星河集团/新部门")
	e.app.FailNext(receiver.Conflict("department exists"))
	e.sync(engine.SyncOptions{})
	e.sync(engine.SyncOptions{FullTarget: true})
	u, held := findUser(e, "员工3")
	if !held || (u.Parent != nil && u.Parent.TargetID != "") {
		t.Fatalf("员工3 held %v under %+v; want sent without its department's id", held, u.Parent)
	}
	return e, u
}

// outsideAccount makes an account in the application as someone else
// than the hub would (another hub id), and returns its id.
func (e *env) outsideAccount(kind sdk.Kind, name string) string {
	e.t.Helper()
	attr := "displayName"
	if kind == sdk.KindOrg {
		attr = "name"
	}
	hub := "outside-" + name
	drift(e.t.(*testing.T), e.app, sdk.Operation{ID: "x-" + name, Op: sdk.OpCreate, Kind: kind, HubID: hub,
		Attributes: sdk.Attributes{attr: sdk.String(name)}})
	for _, o := range e.app.Objects() {
		if o.HubID == hub {
			return o.ID
		}
	}
	e.t.Fatalf("no account made for %s", name)
	return ""
}

// setLink links the one object name names (hub id, external id or
// display name) to account id in app, as `midstream links set` does.
func (e *env) setLink(name, id string) (store.LinkSet, error) {
	e.t.Helper()
	st, hub := e.object(name)
	defer st.Close()
	return st.SetLink(context.Background(), "app", hub, id)
}

// object opens the store and finds the hub id of the one object name
// names; the caller closes the store.
func (e *env) object(name string) (*store.Store, string) {
	e.t.Helper()
	st, err := store.Open(e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	objs, err := st.FindObjects(context.Background(), name)
	if err != nil || len(objs) != 1 {
		st.Close()
		e.t.Fatalf("%q names %d objects (%v)", name, len(objs), err)
	}
	return st, objs[0].HubID
}

// links returns the links of the one object name names.
func (e *env) links(name string) []store.LinkInfo {
	e.t.Helper()
	st, hub := e.object(name)
	defer st.Close()
	links, err := st.Links(context.Background(), hub)
	if err != nil {
		e.t.Fatal(err)
	}
	return links
}

// A link set while the object's create waits (its new department's
// create failed): the create runs as an update of the linked account, and
// the department still follows, by a move.
func TestSetLinkWhileTheCreateWaits(t *testing.T) {
	_, e := lateHire(t, "星河集团/新部门")
	e.app.FailNext(receiver.Reject("E42", "rejected")) // the department's create
	e.sync(engine.SyncOptions{})
	if w := e.events(store.Filter{Statuses: []store.Status{store.Waiting}}); len(w) != 1 || w[0].DisplayName != "员工3" {
		t.Fatalf("WAITING %v; want 员工3's create waiting on its department", w)
	}
	held := e.outsideAccount(sdk.KindUser, "旧账号")
	if _, err := e.setLink("E00003", held); err != nil {
		t.Fatal(err)
	}
	retryAll(t, e)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	checkMoved(t, e, held)
}

// A user moved to no department is moved once, and the link then knows:
// later target syncs find nothing to send.
func TestAMoveToNoDepartmentIsRecorded(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	h.rows["E00003"][1] = ""
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.checkNothingChanged(t, "after a move to no department")
}

// An account deleted in the application behind the hub's back is created
// again by the next event that addresses it (the application answers 404
// not_found), and the users it manages get its new id.
func TestAnAccountDeletedInTheApplicationIsCreatedAgain(t *testing.T) {
	h := newHR(12)
	e := newManagerEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	old, _ := findUser(e, "员工1")
	drift(t, e.app, sdk.Operation{ID: "x1", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: old.HubID, TargetID: old.ID})
	// A move: the event that finds the account gone is not a create's
	// kind of event, and what it would have sent alone is not enough.
	h.rows["E00001"][1] = "星河集团/销售部/华东区"
	h.rows["E00001"][3] = "总监"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	e.checkManagers()
	now, _ := findUser(e, "员工1")
	if now.ID == old.ID {
		t.Fatalf("员工1 is held under its old id %s: the test proves nothing", old.ID)
	}
	var got []string
	for _, ev := range e.events(store.Filter{Kind: sdk.KindUser, Object: "员工1"}) {
		got = append(got, ev.Op+" "+string(ev.Status))
	}
	// The event that met the 404 ran as a create.
	if n := slices.Index(got, "create SUCCESS"); n < 0 || !slices.Contains(got[n+1:], "create SUCCESS") {
		t.Errorf("events of 员工1, newest first: %q; want the first create and one that made the account again", got)
	}
	// A delete of an account already gone there is done.
	drift(t, e.app, sdk.Operation{ID: "x2", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: now.HubID, TargetID: now.ID})
	h.rows["E00001"][2] = "离职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

func TestTargetFullSyncRepairsDrift(t *testing.T) {
	h := newHR(30)
	h.rows["E00009"][2] = "停用"
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	u3, _ := findUser(e, "员工3")
	u9, _ := findUser(e, "员工9")
	drift(t, e.app, sdk.Operation{ID: "x1", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: u3.HubID, TargetID: u3.ID,
		Attributes: sdk.Attributes{"title": sdk.String("被改过"), "displayName": sdk.String("改名")}})
	drift(t, e.app, sdk.Operation{ID: "x2", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: u9.HubID, TargetID: u9.ID})
	// Incremental sync cannot see the drift.
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if o, _ := findUser(e, "改名"); o.ID == "" {
		t.Fatal("drift was repaired without a full sync: the test proves nothing")
	}
	// --changed-only compares with the link, which the drift did not touch.
	e.checkNothingChanged(t, "after drift")
	rep := e.sync(engine.SyncOptions{FullTarget: true})
	mustSucceed(t, rep)
	if rep.Targets[0].FullSync != 36 {
		t.Errorf("full sync recorded %d events, want 36 (30 users, 6 orgs)", rep.Targets[0].FullSync)
	}
	e.check()
}

func TestManagerIsSentAsTheApplicationsID(t *testing.T) {
	h := newHR(30)
	// Reports before their manager in the export: their creates go out
	// before the manager is linked, and follow-up updates bring its id.
	h.rows["E00000"][4] = "E00029"
	h.rows["E00029"][4] = ""
	e := newManagerEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	e.checkManagers()
}

// TestManagerReadLaterReachesItsReports: reports go out naming a manager
// the directory does not hold yet; once the manager is read and created,
// they get its id.
func TestManagerReadLaterReachesItsReports(t *testing.T) {
	h := newHR(30)
	manager := h.rows["E00001"] // manages E00006 to E00010
	delete(h.rows, "E00001")
	e := newManagerEnv(t, h)
	e.looseManagers = true
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.checkManagers()
	h.rows["E00001"] = manager
	rep := e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	e.check()
	e.checkManagers()
	// The manager's create, then one update per report: nothing else.
	if got := rep.Targets[0].Counts[store.Success]; got != 6 {
		t.Errorf("%d events succeeded, want 6 (the manager's create, an update of each of its 5 reports)", got)
	}
}

// TestManagerRehiredReachesItsReports: a manager who left is deleted in
// the application; hired again, it is created with a new id, which its
// reports then receive.
func TestManagerRehiredReachesItsReports(t *testing.T) {
	h := newHR(30)
	e := newManagerEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.checkManagers()
	old := e.idOf("员工1")
	h.rows["E00001"][2] = "离职"
	// Its reports still name it: the application holds a dead id for
	// them until it is back.
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if id := e.idOf("员工1"); id != "" {
		t.Fatalf("the manager who left is still held (%s)", id)
	}
	h.rows["E00001"][2] = "在职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if id := e.idOf("员工1"); id == "" || id == old {
		t.Fatalf("rehired manager: id %q (before leaving %q), want a new one", id, old)
	}
	e.check()
	e.checkManagers()
}

// TestManagerWaitsSurviveMigration: a store of the previous version, whose
// reports went out without their manager, learns who waits for whom when
// it is migrated.
func TestManagerWaitsSurviveMigration(t *testing.T) {
	h := newHR(30)
	manager := h.rows["E00001"]
	delete(h.rows, "E00001")
	e := newManagerEnv(t, h)
	e.looseManagers = true
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	db, err := sql.Open("sqlite3", e.db)
	if err != nil {
		t.Fatal(err)
	}
	var waiting int
	if err := db.QueryRow(`SELECT count(*) FROM manager_waits`).Scan(&waiting); err != nil || waiting != 5 {
		t.Fatalf("%d users wait for their manager (%v), want 5", waiting, err)
	}
	if _, err := db.Exec(`DROP TABLE manager_waits; UPDATE schema_version SET version = 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	h.rows["E00001"] = manager
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	e.checkManagers()
}

func newManagerEnv(t *testing.T, h *hr) *env {
	e := newEnv(t, h)
	e.mapping = `mapping "user" {
    attribute "displayName" { from = "name" }
    attribute "title"       { from = "title" }
    attribute "manager"     { from = "manager" }
  }`
	return e
}

// idOf is the application's id of the user named name ("" if not held).
func (e *env) idOf(name string) string {
	for _, o := range e.app.Objects() {
		if o.Kind == sdk.KindUser && o.Attributes.String("displayName") == name {
			return o.ID
		}
	}
	return ""
}

// checkManagers checks that every user the application holds has its
// manager's id in the application (none when the export names a manager
// it does not hold).
func (e *env) checkManagers() {
	e.t.Helper()
	byName := map[string]receiver.MemoryObject{}
	for _, o := range e.app.Objects() {
		if o.Kind == sdk.KindUser {
			byName[o.Attributes.String("displayName")] = o
		}
	}
	for id, row := range e.hr.rows {
		u, ok := byName[row[0]]
		if !ok {
			continue
		}
		want := ""
		if m, ok := e.hr.rows[row[4]]; ok && row[4] != "" {
			want = byName[m[0]].ID
		}
		if got := u.Attributes.String("manager"); got != want {
			e.t.Errorf("%s (%s): manager %q, want %q (the manager's id in the application)", row[0], id, got, want)
		}
	}
}

func TestScopeBySubtreeAndFilter(t *testing.T) {
	h := newHR(60)
	h.rows["E00001"][3] = "实习生"
	e := newEnv(t, h)
	e.tExtra = `scope {
    org_subtrees = ["星河集团/研发中心"]
    filter       = "record.title != '实习生'"
  }`
	want := func() []string {
		var out []string
		for _, line := range h.want() {
			inTree := strings.Contains(line, " 星河集团/研发中心 ") || strings.Contains(line, " 星河集团/研发中心/") || strings.HasSuffix(line, " 星河集团/研发中心") ||
				strings.HasPrefix(line, "org 星河集团/研发中心")
			if !inTree || strings.HasSuffix(line, " 实习生") {
				continue
			}
			// The subtree's root is created without its out-of-scope parent.
			out = append(out, strings.Replace(line, "星河集团/研发中心", "研发中心", 1))
		}
		sort.Strings(out)
		return out
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if diff := cmp.Diff(want(), e.held()); diff != "" {
		t.Fatalf("in scope (-want +got):\n%s", diff)
	}
	// Leaving scope, by moving out of the subtree or by the filter, is a
	// deletion under the target's policy; entering it, a create.
	h.rows["E00007"][1] = "星河集团/销售部"
	h.rows["E00013"][3] = "实习生"
	h.rows["E00004"][1] = "星河集团/研发中心"
	h.rows["E00001"][3] = "工程师"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if diff := cmp.Diff(want(), e.held()); diff != "" {
		t.Fatalf("after leaving and entering scope (-want +got):\n%s", diff)
	}
	reasons := map[string]int{}
	for _, ev := range e.events(store.Filter{Statuses: []store.Status{store.Skipped}}) {
		reasons[ev.Reason]++
	}
	if reasons["out of scope"] == 0 {
		t.Errorf("no event SKIPPED as out of scope: %v", reasons)
	}
}

func TestCoalescingKeepsTheUnionOfChanges(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	e.mapping = "-" // every hub attribute is sent
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	// Two updates of one object recorded before either runs.
	h.rows["E00003"][3] = "架构师"
	mustSucceed(t, e.sync(engine.SyncOptions{Targets: []string{}}))
	h.rows["E00003"][0] = "员工3改"
	mustSucceed(t, e.sync(engine.SyncOptions{Targets: []string{}}))
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	var got []string
	for _, ev := range e.events(store.Filter{Object: "员工3改", Ops: []string{"update"}}) {
		got = append(got, fmt.Sprintf("%s %s %v", ev.Status, ev.Reason, ev.Changed))
	}
	want := []string{"SUCCESS  [name title]", "IGNORED superseded by a newer update [title]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("update events, newest first (-want +got):\n%s", diff)
	}
	o, _ := findUserBy(e, "name", "员工3改")
	if o.Attributes.String("title") != "架构师" {
		t.Errorf("the coalesced update lost the older change: %+v", o.Attributes)
	}
}

func findUserBy(e *env, attr, value string) (receiver.MemoryObject, bool) {
	for _, o := range e.app.Objects() {
		if o.Kind == sdk.KindUser && o.Attributes.String(attr) == value {
			return o, true
		}
	}
	return receiver.MemoryObject{}, false
}

// A sync delivers while its sources read (SPEC §5): the first results are
// recorded before the source run is over.
func TestDeliveryOverlapsTheSourceRun(t *testing.T) {
	h := newHR(10000)
	e := newEnv(t, h)
	e.write()
	var mu sync.Mutex
	var firstDelivered time.Time
	progress := func(p engine.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Stage == "deliver" && p.Done > 0 && firstDelivered.IsZero() {
			firstDelivered = time.Now()
		}
	}
	eng, done := openEngine(t, e.dir, e.db, engine.Options{Progress: progress})
	defer done()
	start := time.Now()
	rep := eng.Sync(context.Background(), engine.SyncOptions{RetryWait: 10 * time.Second})
	mustSucceed(t, rep)
	sourceEnd := start.Add(rep.Sources[0].Duration)
	mu.Lock()
	defer mu.Unlock()
	if firstDelivered.IsZero() || !firstDelivered.Before(sourceEnd) {
		t.Errorf("first results recorded %v after the start, the source run ended at %v: delivery waited for the read",
			firstDelivered.Sub(start), rep.Sources[0].Duration)
	}
	e.check()
}

// A sync cancelled while it delivers (Ctrl-C) records what the calls in
// flight did before it returns: nothing the application applied is left
// RUNNING, to be sent again.
func TestCancelledSyncRecordsWhatWasSent(t *testing.T) {
	// Large enough that the cancel comes while the source still reads.
	h := newHR(12000)
	e := newEnv(t, h)
	e.write()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	progress := func(p engine.Progress) {
		if p.Stage == "deliver" && p.Done >= 200 {
			once.Do(cancel)
		}
	}
	eng, done := openEngine(t, e.dir, e.db, engine.Options{Progress: progress})
	rep := eng.Sync(ctx, engine.SyncOptions{RetryWait: 10 * time.Second})
	done()
	if len(rep.Targets) != 1 || rep.Targets[0].Counts[store.Success] == 0 {
		t.Fatalf("target reports %+v: want a delivery cut short after some successes", rep.Targets)
	}
	if running := e.events(store.Filter{Statuses: []store.Status{store.Running}}); len(running) != 0 {
		t.Errorf("%d events left RUNNING after the cancelled sync, e.g. %s %s", len(running), running[0].Op, running[0].DisplayName)
	}
	sent := len(e.app.Events())
	succeeded := len(e.events(store.Filter{Statuses: []store.Status{store.Success}}))
	if sent != succeeded {
		t.Errorf("the application handled %d events, the store recorded %d successes", sent, succeeded)
	}
	// The next sync delivers the rest.
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

// A cancel that interrupts a mapping is the run's end, not the event's
// failure: the event goes back to the queue, its attempt not counted, and
// the next sync sends it.
func TestCancelInterruptingAMappingFailsNothing(t *testing.T) {
	// The users are claimed in two batches, the first of 512. Each mapping
	// takes about a millisecond, so the cancel, once 300 have ended, comes
	// while the second batch is mapped. (A mapping's clock stands still: a
	// loop on Date.now() would run until the script timeout.)
	e := newEnv(t, newHR(700))
	e.mapping = `mapping "user" {
    attribute "displayName" { script = "(() => { let n = 0; for (let i = 0; i < 8000; i++) { n += i } return record.name })()" }
    attribute "title"       { from = "title" }
  }`
	e.write()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	progress := func(p engine.Progress) {
		if p.Stage == "deliver" && p.Done >= 300 {
			once.Do(cancel)
		}
	}
	eng, done := openEngine(t, e.dir, e.db, engine.Options{Progress: progress})
	rep := eng.Sync(ctx, engine.SyncOptions{RetryWait: 10 * time.Second})
	done()
	if len(rep.Targets) != 1 || rep.Targets[0].Counts[store.Success] == 0 || rep.Targets[0].Left == 0 {
		t.Fatalf("target reports %+v: want a delivery cut short after some successes", rep.Targets)
	}
	if failed := e.events(store.Filter{Statuses: []store.Status{store.Failure}}); len(failed) != 0 {
		t.Fatalf("%d events ended FAILURE when the sync was cancelled, e.g. %s: %s", len(failed), failed[0].DisplayName, failed[0].ErrorMessage)
	}
	for _, ev := range e.events(store.Filter{Statuses: []store.Status{store.Queuing}}) {
		if ev.Attempts != 0 {
			t.Fatalf("event %d (%s) was never sent and counts %d attempts", ev.ID, ev.DisplayName, ev.Attempts)
		}
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

// A department deleted in the application behind the hub's back is
// created again by the next event that addresses it, and the departments
// and users it held are moved into the new one.
func TestADepartmentDeletedInTheApplicationIsCreatedAgain(t *testing.T) {
	h := newHR(30)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	var org receiver.MemoryObject
	for _, o := range e.app.Objects() {
		if o.Kind == sdk.KindOrg && o.Attributes.String("name") == "平台部" {
			org = o
		}
	}
	drift(t, e.app, sdk.Operation{ID: "x1", Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: org.HubID, TargetID: org.ID})
	// A target sync of the whole directory meets it.
	mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true}))
	e.check()
	// And nothing is left to repair.
	e.checkNothingChanged(t, "after the repair")
}

// A failed move of a user who had no department, retried by hand, is
// sent: no parent is a parent the link knows.
func TestRetriedMoveFromNoDepartment(t *testing.T) {
	h := newHR(10)
	h.rows["E00003"][1] = ""
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	failAMove(t, e, h)
	retryAll(t, e)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
}

// failAMove moves E00003 to another department in the export and has
// the application reject the move.
func failAMove(t *testing.T, e *env, h *hr) {
	t.Helper()
	h.rows["E00003"][1] = "星河集团/销售部/华东区"
	e.app.FailNext(receiver.Reject("E42", "rejected"))
	if rep := e.sync(engine.SyncOptions{}); rep.Targets[0].Counts[store.Failure] != 1 {
		t.Fatalf("counts %v; want the move FAILED", rep.Targets[0].Counts)
	}
}

// A retry is planned from the object's whole state; a newer update must
// not supersede it (an update alone would not move the user).
func TestARetryIsNotSupersededByANewerUpdate(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	failAMove(t, e, h)
	retryAll(t, e)
	h.rows["E00003"][3] = "经理"
	e.sync(engine.SyncOptions{Targets: []string{}}) // read, deliver nothing
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	for _, ev := range e.events(store.Filter{Kind: sdk.KindUser, Object: "员工3"}) {
		if ev.Trigger == "retry" && ev.Status != store.Success {
			t.Errorf("the retry ended %s (%s); want it run", ev.Status, ev.Reason)
		}
	}
}

// An update already tried (it ran as a create and waits out its backoff)
// is not superseded by a newer update: that would send the create again
// at once, under another idempotency key, its attempts forgotten.
func TestAnAttemptedEventIsNotSuperseded(t *testing.T) {
	h, e := lateHire(t, "")
	e.app.FailNext(receiver.Reject("E42", "rejected"))
	e.sync(engine.SyncOptions{}) // the create FAILS
	h.rows["E00003"][3] = "经理"
	e.app.FailNext(receiver.RetryLater(time.Hour, "down"))
	e.sync(engine.SyncOptions{RetryWait: time.Millisecond}) // the update runs as a create, to be retried in an hour
	h.rows["E00003"][3] = "总监"
	e.sync(engine.SyncOptions{RetryWait: time.Millisecond})
	for _, ev := range e.events(store.Filter{Kind: sdk.KindUser, Object: "员工3", Statuses: []store.Status{store.Ignored}}) {
		if ev.Attempts > 0 {
			t.Errorf("event %d (%s, %d attempts) was superseded: %s", ev.ID, ev.Op, ev.Attempts, ev.Reason)
		}
	}
}

// Repeated target syncs do not grow the store: an object keeps one
// SKIPPED event, the latest.
func TestRepeatedTargetSyncsKeepOneSkippedPerObject(t *testing.T) {
	h := newHR(20)
	e := newEnv(t, h)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	count := func() int { return len(e.events(store.Filter{})) }
	mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true, ChangedOnly: true}))
	after := count()
	for range 2 {
		mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true, ChangedOnly: true}))
	}
	if n := count(); n != after {
		t.Errorf("%d events after two more changed-only target syncs, %d before; want no growth", n, after)
	}
}

// An object whose create met an account the application holds stays
// SKIPPED "awaiting a link" through every target sync, not created again
// every other one.
func TestAConflictAwaitsItsLinkAcrossTargetSyncs(t *testing.T) {
	_, e := lateHire(t, "")
	e.app.FailNext(receiver.Conflict("user name taken"))
	e.sync(engine.SyncOptions{})
	for i := range 2 {
		e.sync(engine.SyncOptions{FullTarget: true})
		if _, held := findUser(e, "员工3"); held {
			t.Fatalf("target sync %d created 员工3, whose create met a conflict and awaits a link", i+1)
		}
	}
}

// A link set by hand for an object out of the target's scope leaves the
// account as it is: the policy for leaving scope (delete here) is for
// accounts the hub made.
func TestSetLinkOutOfScopeLeavesTheAccount(t *testing.T) {
	h := newHR(10)
	h.rows["E00003"][3] = "实习生"
	e := newEnv(t, h)
	e.tExtra = `scope { filter = "record.title != '实习生'" }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if _, err := e.setLink("E00003", e.outsideAccount(sdk.KindUser, "旧账号")); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if _, ok := findUser(e, "旧账号"); !ok {
		t.Fatal("the account linked by hand to an object out of scope was removed")
	}
	evs := e.events(store.Filter{Object: "E00003", Statuses: []store.Status{store.Skipped}})
	if len(evs) != 1 || evs[0].Trigger != "manual" || !strings.HasPrefix(evs[0].Reason, "out of scope") {
		t.Errorf("SKIPPED events of 员工3: %+v; want the link's update SKIPPED as out of scope", evs)
	}
	if links := e.links("E00003"); len(links) != 0 {
		t.Errorf("links of 员工3 after the SKIPPED update: %+v; want none", links)
	}
}

// A department whose create met a conflict: a target sync still sends its
// users, without it; once an operator links the department, they are
// moved into it.
func TestUsersOfAConflictedDepartmentFollowItsLink(t *testing.T) {
	e, u := conflictedDepartment(t)
	// The link says where the application holds the user: nowhere.
	if links := e.links("E00003"); len(links) != 1 || links[0].SyncedParent != "none" {
		t.Errorf("员工3's links %+v; want its parent recorded as none", links)
	}
	if _, err := e.setLink("星河集团/新部门", e.outsideAccount(sdk.KindOrg, "新部门")); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	checkMoved(t, e, u.ID)
}

// rehire syncs 员工3 (E00003) leaving and coming back as E09003, a 返聘顾问,
// and returns the account the first sync made.
func rehire(t *testing.T, e *env, h *hr) receiver.MemoryObject {
	t.Helper()
	old, _ := findUser(e, "员工3")
	h.rows["E00003"][2] = "离职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	back := append([]string(nil), h.rows["E00003"]...)
	back[2], back[3] = "在职", "返聘顾问"
	h.rows["E09003"] = back
	mustSucceed(t, e.sync(engine.SyncOptions{})) // its create reserves its own unique values
	return old
}

// Someone who left (the policy kept the account, an orphan) comes back
// under a new employee id: the operator links the new object to the old
// account, which then holds the new object's values.
func TestSetLinkTakesOverAGoneObjectsAccount(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	e.tExtra = `policy { user_deleted = "keep" }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	old := rehire(t, e, h)
	set, err := e.setLink("E09003", old.ID)
	if err != nil || set.TakenFrom == "" {
		t.Fatalf("SetLink = %+v, %v; want the gone object's account taken over", set, err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	var acct receiver.MemoryObject
	for _, o := range e.app.Objects() {
		if o.ID == old.ID {
			acct = o
		}
	}
	if acct.Attributes.String("title") != "返聘顾问" {
		t.Errorf("the account taken over holds %v, want the new object's values", acct.Attributes)
	}
	// The one who left is reinstated: an account of their own, not the
	// one taken over (the application knows it by the new object now).
	h.rows["E00003"][2] = "在职"
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	if l := e.links("E00003"); len(l) != 1 || l[0].TargetID == "" || l[0].TargetID == old.ID {
		t.Errorf("the reinstated person's links %+v; want an account other than %s", l, old.ID)
	}
	if l := e.links("E09003"); len(l) != 1 || l[0].TargetID != old.ID {
		t.Errorf("the new object's links %+v; want %s still", l, old.ID)
	}
}

// Taking over a gone object's account keeps the account's unique values:
// its login name is not renamed to the one the new object reserved.
func TestSetLinkTakeOverKeepsTheAccountsName(t *testing.T) {
	h := newHR(10)
	e := newEnv(t, h)
	e.tExtra = `policy { user_deleted = "keep" }`
	e.mapping = `mapping "user" {
    attribute "displayName" { from = "name" }
    attribute "title"       { from = "title" }
    attribute "userName"    {
      script      = "'u.' + record.name"
      unique      = true
      on_conflict = "suffix"
    }
  }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	old := rehire(t, e, h) // E09003's create reserves u.员工32
	if _, err := e.setLink("E09003", old.ID); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	for _, o := range e.app.Objects() {
		if o.ID == old.ID && (o.Attributes.String("userName") != old.Attributes.String("userName") || o.Attributes.String("title") != "返聘顾问") {
			t.Errorf("the account taken over holds %v; want its userName %s kept and the new title", o.Attributes, old.Attributes.String("userName"))
		}
	}
}

// An org whose parent is out of scope is sent without one; target syncs
// do not move it there again and again.
func TestTargetSyncsDoNotRepeatMovesToNoParent(t *testing.T) {
	h := newHR(30)
	e := newEnv(t, h)
	e.tExtra = `scope { org_subtrees = ["星河集团/研发中心"] }`
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	moves := func() int {
		n := 0
		for _, ev := range e.app.Events() {
			if ev.Type == callback.EventOrgMove || ev.Type == callback.EventUserMove {
				n++
			}
		}
		return n
	}
	before := moves()
	mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true}))
	mustSucceed(t, e.sync(engine.SyncOptions{FullTarget: true, ChangedOnly: true}))
	if n := moves() - before; n != 0 {
		t.Errorf("two target syncs of an unchanged directory sent %d moves", n)
	}
}

// The users a target sync sent without their department (its create met
// a conflict) are moved into it once it is created after all (a retry).
func TestUsersFollowTheirDepartmentsLateCreate(t *testing.T) {
	e, u := conflictedDepartment(t)
	retryAll(t, e)
	mustSucceed(t, e.sync(engine.SyncOptions{}))
	e.check()
	checkMoved(t, e, u.ID)
}

// A pass says where its time went: each stage of the source run and of
// the delivery was timed, and every call the application answered was
// counted.
func TestReportsWhereTheTimeWent(t *testing.T) {
	e := newEnv(t, newHR(200))
	e.write()
	rep := e.sync(engine.SyncOptions{})
	mustSucceed(t, rep)
	s, tr := rep.Sources[0].Time, rep.Targets[0].Time
	if s.Read <= 0 || s.Diff <= 0 || s.Store <= 0 || s.Mapping <= 0 {
		t.Errorf("source timings %+v: a stage is missing", s)
	}
	if sum := s.Read + s.Mapping + s.Diff + s.Store; sum > rep.Sources[0].Duration {
		t.Errorf("the source's stages add up to %v, more than its run's %v", sum, rep.Sources[0].Duration)
	}
	if tr.Consume <= 0 || tr.Claim <= 0 || tr.Finish <= 0 || tr.Mapping <= 0 || tr.Mark <= 0 || tr.Calls <= 0 {
		t.Errorf("target timings %+v: a stage is missing", tr)
	}
	if tr.Store() > rep.Targets[0].Duration {
		t.Errorf("the loop's store time %v exceeds the run's %v", tr.Store(), rep.Targets[0].Duration)
	}
	if n := len(e.app.Events()); tr.NCalls != n {
		t.Errorf("%d calls counted, the application answered %d requests", tr.NCalls, n)
	}
	for _, want := range []string{"read ", "mapping ", "diff ", "store "} {
		if !strings.Contains(s.String(), want) {
			t.Errorf("source timings print %q, without %q", s, want)
		}
	}
	if got := tr.String(); !strings.Contains(got, fmt.Sprintf("%d calls, each ", tr.NCalls)) || !strings.Contains(got, "claim ") {
		t.Errorf("target timings print %q", got)
	}
}

// A pass whose root department is told to retry after an hour ends once
// its retry wait is over, leaving the department and what waits for it
// for a later pass: the events that wait are due but not ready, and used
// to count as the next retry, so the pass claimed again and again until
// the hour was over.
func TestAPassEndsWhenOnlyALateRetryIsLeft(t *testing.T) {
	e := newEnv(t, newHR(20))
	e.write()
	e.app.FailNext(receiver.RetryLater(time.Hour, "down"))
	done := make(chan *engine.Report, 1)
	go func() { done <- e.sync(engine.SyncOptions{RetryWait: 200 * time.Millisecond}) }()
	select {
	case rep := <-done:
		if tr := rep.Targets[0]; tr.Left < 20 || tr.Counts[store.Success] != 0 {
			t.Errorf("counts %v, left %d: want nothing delivered, the department and its people left", tr.Counts, tr.Left)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the pass did not end within 20 s with a retry wait of 200 ms")
	}
}
