package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
)

// TestMain lets the test binary serve as the receiver process, as the
// midstream-bench binary does when it re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "receiver" {
		os.Exit(receiverMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// runBench runs the whole tool at a tiny size — a real midstream process
// with its plugins, the receiver process, the revisions and the raw sender —
// with args added, and returns its JSON line and its standard output.
func runBench(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("MIDSTREAM_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("go is not on PATH; the bench builds cmd/midstream with it")
		}
		t.Skip("go is not on PATH; the bench builds cmd/midstream with it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--users", "300", "--orgs", "30", "--repeat", "1", "--revisions", "3", "--changes", "5", "--json", "--work", t.TempDir()}, args...)
	code := run(ctx, args, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("the last line is not a JSON object: %v\n%s", err, stdout.String())
	}
	return got, stdout.String()
}

// number returns the figure k of a JSON line.
func number(t *testing.T, got map[string]any, k string) float64 {
	t.Helper()
	v, ok := got[k].(float64)
	if !ok {
		t.Fatalf("%s = %#v, want a number\n%v", k, got[k], got)
	}
	return v
}

// TestBench runs the tool at a tiny size and checks that it verified the
// application's state and printed sane figures. Timings are never
// asserted.
func TestBench(t *testing.T) {
	got, stdout := runBench(t)
	num := func(k string) float64 { t.Helper(); return number(t, got, k) }
	if got["verified"] != true {
		t.Errorf("verified = %v", got["verified"])
	}
	if num("users") != 300 || num("orgs") != 30 {
		t.Errorf("users, orgs = %v, %v", got["users"], got["orgs"])
	}
	// Every department, and every person who has not left (about 1% have).
	if o := num("objects"); o < 30+280 || o > 330 {
		t.Errorf("objects = %v, want 310..330", o)
	}
	if r, o := num("requests"), num("objects"); r < o {
		t.Errorf("requests = %v, fewer than the %v objects", r, o)
	}
	if num("raw_requests") != num("requests") {
		t.Errorf("the raw sender sent %v requests, the engine %v", got["raw_requests"], got["requests"])
	}
	for _, k := range []string{"full_sync_seconds", "full_sync_objects_per_sec", "full_sync_requests_per_sec", "raw_delivery_per_sec", "ratio_to_raw", "peak_rss_mb", "incremental_p50_ms", "incremental_p99_ms"} {
		if v := num(k); v <= 0 {
			t.Errorf("%s = %v, want > 0", k, v)
		}
	}
	if p50, p99 := num("incremental_p50_ms"), num("incremental_p99_ms"); p99 < p50 {
		t.Errorf("incremental p99 %v < p50 %v", p99, p50)
	}
	if c := num("incremental_changes"); c != 15 {
		t.Errorf("incremental_changes = %v, want 3 revisions × 5", c)
	}
	if l := num("incremental_lost"); l != 0 {
		t.Errorf("incremental_lost = %v", l)
	}
	stages, _ := got["stages"].(map[string]any)
	full, _ := stages["full_sync"].(map[string]any)
	cpu, _ := full["cpu_s"].(map[string]any)
	for _, k := range []string{"engine", "plugin_csv", "plugin_callback", "receiver"} {
		if _, ok := cpu[k].(float64); !ok {
			t.Errorf("stages.full_sync.cpu_s.%s missing: %v", k, full)
		}
	}
	// The engine's own timers (sync --timings).
	eng, _ := full["engine"].(map[string]any)
	src, _ := eng["source"].(map[string]any)
	tgt, _ := eng["target"].(map[string]any)
	for _, k := range []string{"read_s", "diff_s", "store_s"} {
		if v, _ := src[k].(float64); v <= 0 {
			t.Errorf("stages.full_sync.engine.source.%s = %v, want > 0", k, src[k])
		}
	}
	for _, k := range []string{"store_s", "consume_s", "claim_s", "finish_s", "mapping_s", "mark_s", "store_us_per_event", "call_ms_mean"} {
		if v, _ := tgt[k].(float64); v <= 0 {
			t.Errorf("stages.full_sync.engine.target.%s = %v, want > 0", k, tgt[k])
		}
	}
	if n, _ := tgt["calls_n"].(float64); n != num("requests") {
		t.Errorf("the engine counted %v calls, the application %v requests", tgt["calls_n"], got["requests"])
	}
	if got["security"] == "none" {
		t.Logf("the callback target does not encrypt yet: measured plain requests")
	}
	if !strings.Contains(stdout, "ratio to raw") {
		t.Errorf("no table:\n%s", stdout)
	}
	if num("batch") != 1 || num("events") != num("requests") {
		t.Errorf("batch = %v, events = %v, requests = %v: without batches, one event per request", got["batch"], got["events"], got["requests"])
	}
}

// TestBenchBatch runs the tool with batches: the callback target and the
// raw sender carry up to 10 events per request, the receiver answers each,
// and the figures count requests and events apart.
func TestBenchBatch(t *testing.T) {
	got, stdout := runBench(t, "--batch", "10", "--revisions", "2")
	num := func(k string) float64 { t.Helper(); return number(t, got, k) }
	if got["verified"] != true {
		t.Fatalf("verified = %v\n%s", got["verified"], stdout)
	}
	if num("batch") != 10 || !strings.Contains(stdout, "batch 10") {
		t.Errorf("batch = %v, want 10 in the JSON and the table", got["batch"])
	}
	events, requests := num("events"), num("requests")
	if events < num("objects") {
		t.Errorf("events = %v, fewer than the %v objects", events, num("objects"))
	}
	// The engine sent batches: far fewer requests than events.
	if requests > events/2 {
		t.Errorf("%v requests for %v events in batches of 10", requests, events)
	}
	// The raw sender sent the same events, in batches of 10 but at the
	// ends of its lanes.
	if num("raw_events") != events {
		t.Errorf("the raw sender sent %v events, the engine %v", got["raw_events"], events)
	}
	if rr, re := num("raw_requests"), num("raw_events"); rr > re/5 || rr < re/10 {
		t.Errorf("the raw sender sent %v events in %v requests, want batches of up to 10, mostly full", re, rr)
	}
	// Objects per second and the ratio to raw count events, not requests.
	if v := num("ratio_to_raw"); v <= 0 {
		t.Errorf("ratio_to_raw = %v", v)
	}
	if v, w := num("full_sync_objects_per_sec"), num("objects")/num("full_sync_seconds"); v < w*0.99 || v > w*1.01 {
		t.Errorf("full_sync_objects_per_sec = %v, want objects / seconds = %v", v, w)
	}
	if l := num("incremental_lost"); l != 0 {
		t.Errorf("incremental_lost = %v: changes sent in batches were not acknowledged", l)
	}
	if c := num("incremental_changes"); c != 10 {
		t.Errorf("incremental_changes = %v, want 2 revisions × 5", c)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--users", "10", "--orgs", "20"},
		{"--repeat", "0"},
		{"--concurrency", "1000"},
		{"--batch", "0"},
		{"--batch", "1001"},
		{"extra"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 2 {
			t.Errorf("%v: exit code %d, want 2\n%s", args, code, out.String())
		}
	}
}

func TestGenerate(t *testing.T) {
	m := generate(2000, 150, 7)
	if len(m.users) != 2000 || len(m.orgs) != 150 {
		t.Fatalf("%d users, %d orgs", len(m.users), len(m.orgs))
	}
	paths, ids, emails := map[string]bool{}, map[string]bool{}, map[string]bool{}
	latin, deep := 0, 0
	for i, o := range m.orgs {
		if paths[o.path] {
			t.Errorf("department path %q twice", o.path)
		}
		paths[o.path] = true
		if h := m.users[o.head]; !h.head || h.org != i || h.state != stateActive {
			t.Errorf("department %s: head %+v", o.path, h)
		}
		if o.parent >= 0 && m.orgs[o.parent].path+"/"+o.name != o.path {
			t.Errorf("department %s: parent %s", o.path, m.orgs[o.parent].path)
		}
		deep = max(deep, o.depth)
	}
	for _, u := range m.users {
		if ids[u.id] || emails[u.email] {
			t.Errorf("user %s: id or e-mail %s repeated", u.id, u.email)
		}
		ids[u.id], emails[u.email] = true, true
		if !strings.ContainsFunc(u.name, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			latin++
		}
		if u.manager < 0 && u.org != 0 {
			t.Errorf("user %s has no manager", u.id)
		}
	}
	if latin == 0 || latin > 400 || deep < 3 {
		t.Errorf("%d Latin names of 2000, departments %d deep", latin, deep)
	}
	before := append([]user(nil), m.users...)
	seen := map[int]bool{}
	for range 20 {
		cs := m.revise(10)
		if len(cs) != 10 {
			t.Fatalf("revise made %d changes", len(cs))
		}
		revision := map[int]bool{}
		for _, c := range cs {
			if revision[c.user] || m.users[c.user].head {
				t.Errorf("change %+v: a head, or a person changed twice in a revision", c)
			}
			revision[c.user] = true
			seen[c.user] = true
			u, was := m.users[c.user], before[c.user]
			switch c.what {
			case "title":
				if u.title == was.title {
					t.Errorf("%+v: title unchanged", c)
				}
			case "mobile":
				if u.mobile == was.mobile {
					t.Errorf("%+v: mobile unchanged", c)
				}
			case "move":
				if u.org == was.org {
					t.Errorf("%+v: department unchanged", c)
				}
			case "leave":
				if u.state != stateLeft {
					t.Errorf("%+v: state %s", c, u.state)
				}
			}
			before[c.user] = u
		}
	}
}

func TestVerify(t *testing.T) {
	m := generate(40, 4, 3)
	for i := range m.users {
		m.users[i].state = stateActive
	}
	m.users[len(m.users)-1].state = stateDisabled
	m.users[len(m.users)-2].state = stateLeft
	hub := map[string]string{}
	var held []*heldObject
	for i, o := range m.orgs {
		hub["org\x00"+o.path] = "o" + o.path
		held = append(held, &heldObject{Kind: sdk.KindOrg, HubID: "o" + o.path, DisplayName: o.name, Attributes: map[string]any{"name": o.name}})
		if o.parent >= 0 {
			held[i].Parent = "o" + m.orgs[o.parent].path
		}
	}
	for _, u := range m.users {
		hub["user\x00"+u.id] = "u" + u.id
	}
	for _, u := range m.users {
		if u.state == stateLeft {
			continue
		}
		attrs := map[string]any{"employeeNo": u.id, "title": u.title, "mobile": strings.ReplaceAll(u.mobile, " ", "")}
		if u.manager >= 0 {
			attrs["manager"] = appID(sdk.KindUser, "u"+m.users[u.manager].id)
		}
		held = append(held, &heldObject{Kind: sdk.KindUser, HubID: "u" + u.id, DisplayName: u.name, Parent: "o" + m.orgs[u.org].path,
			Disabled: u.state == stateDisabled, Attributes: attrs})
	}
	if d := verify(m, hub, held, true); len(d) != 0 {
		t.Fatalf("differences in a matching state: %v", d)
	}
	held[len(held)-1].Disabled = false                                                            // the disabled user
	held[len(m.orgs)].Attributes["title"] = "x"                                                   // a title
	held = append(held, &heldObject{Kind: sdk.KindUser, HubID: "u" + m.users[len(m.users)-2].id}) // the leaver
	d := verify(m, hub, held, true)
	if len(d) != 3 {
		t.Errorf("got %d differences, want 3: %v", len(d), d)
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 8 0 12345 123456789 3000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	st, ok := parseStat(4242, line)
	if !ok || st.ppid != 1 || st.cpu != 3 || st.rss != 3000*pageSize {
		t.Errorf("parseStat = %+v, %t", st, ok)
	}
	if st, ok := readStat(os.Getpid()); !ok || st.rss <= 0 {
		t.Errorf("readStat(self) = %+v, %t", st, ok)
	}
}

func TestPercentile(t *testing.T) {
	l := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(l, 50); p != 5 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(l, 99); p != 10 {
		t.Errorf("p99 = %v", p)
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}

func TestParseTimers(t *testing.T) {
	out := "source hr (full read, 16.401s): 104065 seen, 104065 created, 0 updated, 0 moved, 0 enabled, 0 disabled, 0 deleted, 0 unchanged\n" +
		"target app (1m44.71s): 105104 changes, events: 105104 success\n" +
		"done in 2m1.158s\n"
	got := parseTimers(out)
	if got.source.Milliseconds() != 16401 || got.target.Milliseconds() != 104710 || got.total.Milliseconds() != 121158 {
		t.Errorf("parseTimers = %+v", got)
	}
	if got.sourceStages != nil || got.targetStages != nil {
		t.Errorf("stages without --timings: %+v", got)
	}

	// With --timings, as sync prints it.
	out = "source hr (full read, 1.772s): 31500 seen, 31189 created, 0 updated, 0 moved, 0 enabled, 0 disabled, 0 deleted, 311 unchanged\n" +
		"  time: read 218ms, mapping 13.17ms, diff 173.2ms, store 1.326s\n" +
		"target app (6.627s): 31507 changes, events: 31507 success\n" +
		"  time: store 4.291s (consume 916.3ms, claim 1.737s, finish 1.638s); beside it: mapping 1.26s, mark 667.1ms; 31507 calls, each 36.5ms from queued to answered\n" +
		"done in 6.627s\n"
	got = parseTimers(out)
	ms := func(m map[string]time.Duration) map[string]float64 {
		out := map[string]float64{}
		for k, d := range m {
			out[k] = float64(d.Microseconds()) / 1000
		}
		return out
	}
	wantSource := map[string]float64{"read": 218, "mapping": 13.17, "diff": 173.2, "store": 1326}
	wantTarget := map[string]float64{"store": 4291, "consume": 916.3, "claim": 1737, "finish": 1638, "mapping": 1260, "mark": 667.1, "each": 36.5}
	if diff := cmp.Diff(wantSource, ms(got.sourceStages)); diff != "" {
		t.Errorf("source stages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTarget, ms(got.targetStages)); diff != "" {
		t.Errorf("target stages (-want +got):\n%s", diff)
	}
	if got.calls != 31507 {
		t.Errorf("calls = %d", got.calls)
	}

	// Several runs: the first of each kind counts; a run without a time
	// line is passed over, not read from the next run's.
	out = "source hr (full read, 2s): 10 seen, 10 created, 0 updated, 0 moved, 0 enabled, 0 disabled, 0 deleted, 0 unchanged\n" +
		"  error: boom\n" +
		"source ldap (full read, 3s): 5 seen, 5 created, 0 updated, 0 moved, 0 enabled, 0 disabled, 0 deleted, 0 unchanged\n" +
		"  time: read 1m2.5s, mapping 850µs, diff 0s, store 5ns\n" +
		"target app (4s): 15 changes, events: 15 success\n" +
		"  time: store 1s (consume 1ms, claim 2ms, finish 3ms); beside it: mapping 4ms, mark 5ms; 15 calls, each 6ms from queued to answered\n" +
		"target other (4s): 15 changes, events: 15 success\n" +
		"  time: store 9s (consume 9ms, claim 9ms, finish 9ms); beside it: mapping 9ms, mark 9ms; 99 calls, each 9ms from queued to answered\n"
	got = parseTimers(out)
	wantSource = map[string]float64{"read": 62500, "mapping": 0.85, "diff": 0, "store": 0}
	if diff := cmp.Diff(wantSource, ms(got.sourceStages)); diff != "" {
		t.Errorf("source stages of several runs (-want +got):\n%s", diff)
	}
	if got.targetStages["claim"] != 2*time.Millisecond || got.calls != 15 {
		t.Errorf("target stages of several runs = %v, %d calls: want the first target's", got.targetStages, got.calls)
	}
}
