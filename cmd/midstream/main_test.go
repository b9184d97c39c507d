package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// asMidstream makes the test binary run as the midstream command, so tests
// drive the real CLI in its own process (and its plugins in theirs).
const asMidstream = "MIDSTREAM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMidstream) == "1" {
		main()
		os.Exit(0)
	}
	plugin.TestMain(m, plugins.Constructors())
}

// midstream returns a command running the CLI with args.
func midstream(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asMidstream+"=1")
	return cmd
}

// crashPeer is an application that can stop the world at its n-th request.
type crashPeer struct {
	app      *receiver.MemoryApp
	requests atomic.Int64
	mu       sync.Mutex
	at       int64
	hook     func()
}

func (p *crashPeer) ServeHTTP(w http.ResponseWriter, r *http.Request, h http.Handler) {
	n := p.requests.Add(1)
	p.mu.Lock()
	hook := p.hook
	if n == p.at && hook != nil {
		p.hook = nil
	} else {
		hook = nil
	}
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	h.ServeHTTP(w, r)
}

func writeExport(t *testing.T, dir string, users int, url string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("工号,姓名,部门,状态\n")
	depts := []string{"集团", "集团/研发", "集团/研发/平台", "集团/研发/平台/存储", "集团/销售", "集团/销售/华东"}
	for i := range users {
		state := "在职"
		if i%50 == 7 {
			state = "停用"
		}
		fmt.Fprintf(&b, "E%06d,员工%d,%s,%s\n", i, i, depts[i%len(depts)], state)
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pipeline := fmt.Sprintf(`
source "csv" "hr" {
  path              = "hr.csv"
  id_column         = "工号"
  department_column = "部门"
  state_column      = "状态"
  columns           = { "姓名" = "name" }
}

target "callback" "app" {
  url         = %q
  token       = "t0ken"
  concurrency = 8
}
`, url)
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(pipeline), 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkApp checks the application holds exactly the export: every user
// once, with its state, and six departments.
func checkApp(t *testing.T, app *receiver.MemoryApp, users int) {
	t.Helper()
	byHub := map[string]int{}
	var nUsers, nOrgs, disabled int
	for _, o := range app.Objects() {
		byHub[o.HubID]++
		switch o.Kind {
		case sdk.KindUser:
			nUsers++
			if o.Disabled {
				disabled++
			}
		case sdk.KindOrg:
			nOrgs++
		}
	}
	var dup []string
	for h, n := range byHub {
		if n > 1 {
			dup = append(dup, h)
		}
	}
	sort.Strings(dup)
	wantDisabled := 0
	for i := range users {
		if i%50 == 7 {
			wantDisabled++
		}
	}
	if nUsers != users || nOrgs != 6 || disabled != wantDisabled || len(dup) > 0 {
		t.Fatalf("application holds %d users (%d disabled) and %d departments, %d held twice; want %d users (%d disabled), 6 departments, none twice",
			nUsers, disabled, nOrgs, len(dup), users, wantDisabled)
	}
}

func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesized command name: state, ppid.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func TestSyncSurvivesSIGKILL(t *testing.T) {
	const users = 3000
	for name, victim := range map[string]string{"engine": "engine", "plugin": "plugin"} {
		t.Run(name, func(t *testing.T) {
			app := receiver.NewMemoryApp()
			h, err := receiver.New(receiver.Options{Token: "t0ken", App: app})
			if err != nil {
				t.Fatal(err)
			}
			peer := &crashPeer{app: app, at: 700}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { peer.ServeHTTP(w, r, h) }))
			defer srv.Close()
			dir := t.TempDir()
			writeExport(t, dir, users, srv.URL)
			db := filepath.Join(dir, "midstream.db")

			first := midstream(t, "sync", "--db", db, "--retry-wait", "30s", dir)
			var out bytes.Buffer
			first.Stdout, first.Stderr = &out, &out
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			killed := make(chan []int, 1)
			var plugins []int
			peer.mu.Lock()
			peer.hook = func() {
				var pids []int
				plugins = children(first.Process.Pid)
				if victim == "engine" {
					pids = []int{first.Process.Pid}
				} else {
					pids = children(first.Process.Pid)
				}
				for _, p := range pids {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				killed <- pids
			}
			peer.mu.Unlock()
			err = first.Wait()
			var pids []int
			select {
			case pids = <-killed:
			case <-time.After(time.Second):
				t.Fatalf("the sync finished before the %s was killed:\n%s", victim, out.String())
			}
			if len(pids) == 0 {
				t.Fatalf("nothing to kill: the %s had no process", victim)
			}
			switch victim {
			case "engine":
				if err == nil {
					t.Fatal("the killed sync exited cleanly")
				}
			case "plugin":
				// The engine relaunches the plugin and finishes the pass.
				if err != nil {
					t.Fatalf("sync with a killed plugin: %v\n%s", err, out.String())
				}
			}
			if victim == "engine" {
				// A killed engine leaves no plugin behind.
				if len(plugins) == 0 {
					t.Fatal("the engine had no plugin processes when it was killed")
				}
				deadline := time.Now().Add(3 * time.Second)
				for _, p := range plugins {
					for alive(p) && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
					if alive(p) {
						t.Errorf("plugin %d outlived its SIGKILLed engine", p)
					}
				}
			}
			second := midstream(t, "sync", "--db", db, dir)
			if b, err := second.CombinedOutput(); err != nil {
				t.Fatalf("sync after the crash: %v\n%s", err, b)
			}
			checkApp(t, app, users)
		})
	}
}

// TestCrashAtSeveralPoints SIGKILLs the engine again and again while it
// delivers 20,000 users, then lets a last sync finish: the application
// must hold exactly the export, and no create may have made a second
// object (every id the application ever gave is an object it holds).
func TestCrashAtSeveralPoints(t *testing.T) {
	users := 20000
	if testing.Short() {
		users = 3000
	}
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: "t0ken", App: app})
	if err != nil {
		t.Fatal(err)
	}
	peer := &crashPeer{app: app}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { peer.ServeHTTP(w, r, h) }))
	defer srv.Close()
	dir := t.TempDir()
	writeExport(t, dir, users, srv.URL)
	db := filepath.Join(dir, "midstream.db")

	for i, at := range []int64{int64(users) / 20, int64(users) * 2 / 5, int64(users) * 3 / 4} {
		run := midstream(t, "sync", "--db", db, dir)
		var out bytes.Buffer
		run.Stdout, run.Stderr = &out, &out
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
		killed := make(chan struct{})
		peer.mu.Lock()
		peer.at = at
		peer.hook = func() {
			_ = syscall.Kill(run.Process.Pid, syscall.SIGKILL)
			close(killed)
		}
		peer.mu.Unlock()
		err := run.Wait()
		// The hook signals after the kill: Wait can return first.
		select {
		case <-killed:
		case <-time.After(2 * time.Second):
			t.Fatalf("crash %d: the sync ended (%v) before request %d:\n%s", i+1, err, at, out.String())
		}
	}
	last := midstream(t, "sync", "--db", db, dir)
	if b, err := last.CombinedOutput(); err != nil {
		t.Fatalf("sync after the crashes: %v\n%s", err, b)
	}
	checkApp(t, app, users)
	maxID := 0
	for _, o := range app.Objects() {
		_, n, _ := strings.Cut(o.ID, "-")
		if v, _ := strconv.Atoi(n); v > maxID {
			maxID = v
		}
	}
	if held := len(app.Objects()); maxID != held {
		t.Errorf("the application gave %d ids but holds %d objects: a create was applied twice", maxID, held)
	}
	t.Logf("%d requests for %d objects across 3 crashes", peer.requests.Load(), len(app.Objects()))
}
