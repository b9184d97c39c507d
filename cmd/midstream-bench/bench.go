package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
)

// bench is one run of the tool.
type bench struct {
	o      options
	bin    string // midstream
	self   string // this binary, for the receiver
	secure bool
	// timings is set when the engine prints its stages (sync --timings).
	timings bool
	conc    int
	logf    func(string, ...any)
}

// repResult is what one repetition measured.
type repResult struct {
	verified bool
	failure  string
	diffs    []string

	objects  int // what the application holds after the full sync
	requests int // HTTP requests the full sync made
	events   int // events the application answered in them

	full       syncRun
	fullTimers syncTimers
	fullSource time.Duration // the source run (read, diff, store), from the runs table
	fullTarget time.Duration // the target run (mapping, store, delivery)
	// fullRuns is from the first run's start to the last one's end: the
	// target run overlaps the source run.
	fullRuns    time.Duration
	recvCPUFull float64

	inc *incResult

	raw        rawResult
	recvCPURaw float64

	peakRSS int64
}

// incResult is what the incremental phase measured.
type incResult struct {
	revisions  int
	changes    int       // change-log rows the revisions made
	latencies  []float64 // ms, one per delivered change
	coalesced  int       // changes delivered in an event carrying others
	skipped    int       // changes whose event was SKIPPED
	lost       int       // changes never acknowledged
	lostWhy    map[string]int
	readDiff   []float64 // ms, each revision's source run
	targetRun  []float64 // ms, each revision's target run
	syncWall   []float64 // ms, each revision's `midstream sync` process
	engineCPU  []float64 // s, each revision's engine + plugins
	requests   int
	processRSS int64
}

// receiverProc is the application process.
type receiverProc struct {
	cmd  *exec.Cmd
	addr string
	pid  int
}

func (b *bench) startReceiver(ctx context.Context, s secrets, logPath string) (*receiverProc, error) {
	cmd := exec.CommandContext(ctx, b.self, "receiver", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), s.env()...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				line <- a
				break
			}
		}
		close(line)
		for sc.Scan() {
		}
	}()
	select {
	case a, ok := <-line:
		if !ok {
			_ = cmd.Wait()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the receiver did not start: %s", b)
		}
		return &receiverProc{cmd: cmd, addr: a, pid: cmd.Process.Pid}, nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, errors.New("the receiver did not listen within 20s")
	}
}

func (r *receiverProc) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

func (r *receiverProc) cpu() float64 {
	st, _ := readStat(r.pid)
	return st.cpu
}

func (r *receiverProc) url(path string) string { return "http://" + r.addr + path }

func (r *receiverProc) get(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url(path), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (r *receiverProc) post(ctx context.Context, path string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url(path), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// repetition runs one repetition in the fresh work folder dir.
func (b *bench) repetition(ctx context.Context, i int, dir string) (*repResult, error) {
	o := b.o
	res := &repResult{}
	pipeDir := filepath.Join(dir, "pipeline")
	if err := os.MkdirAll(pipeDir, 0o755); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "m.db")
	syncLog, err := os.Create(filepath.Join(dir, "sync.log"))
	if err != nil {
		return nil, err
	}
	defer syncLog.Close()

	b.logf("repetition %d/%d in %s: generating %d people in %d departments", i+1, o.repeat, dir, o.users, o.orgs)
	m := generate(o.users, o.orgs, o.seed+uint64(i))
	csvPath := filepath.Join(pipeDir, "hr.csv")
	if err := m.writeCSV(csvPath); err != nil {
		return nil, err
	}
	sec := newSecrets(b.secure)
	recv, err := b.startReceiver(ctx, sec, filepath.Join(dir, "receiver.log"))
	if err != nil {
		return nil, err
	}
	defer recv.stop()
	if err := writePipeline(pipeDir, recv.url(callbackPath), o.concurrency, o.batch, b.secure, !o.noManager); err != nil {
		return nil, err
	}
	env := sec.env()

	// The full sync.
	var extra []string
	if b.timings {
		extra = append(extra, "--timings")
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return nil, err
		}
		extra = append(extra, "--cpuprofile", filepath.Join(o.profile, fmt.Sprintf("engine-%d.pprof", i+1)),
			"--memprofile", filepath.Join(o.profile, fmt.Sprintf("engine-%d.allocs.pprof", i+1)))
	}
	cpu0 := recv.cpu()
	res.full = runSync(ctx, b.bin, db, pipeDir, env, syncLog, extra...)
	res.recvCPUFull = recv.cpu() - cpu0
	if res.full.err != nil {
		return res, res.full.err
	}
	res.fullTimers = parseTimers(res.full.out)
	res.peakRSS = res.full.peakRSS
	var acks ackLog
	if err := recv.get(ctx, "/bench/acks", &acks); err != nil {
		return res, err
	}
	res.requests, res.events = acks.Requests, len(acks.Acks)
	if err := recv.post(ctx, "/bench/capture?on=0"); err != nil {
		return res, err
	}
	st, err := openStore(db)
	if err != nil {
		return res, err
	}
	defer st.Close()
	pos, err := st.position(ctx)
	if err != nil {
		return res, err
	}
	runs, err := st.runs(ctx)
	if err != nil {
		return res, err
	}
	var first, last int64
	for i, r := range runs {
		d := time.Duration(r.endedMs-r.startedMs) * time.Millisecond
		if r.kind == "source" && res.fullSource == 0 {
			res.fullSource = d
		}
		if r.kind == "target" && res.fullTarget == 0 {
			res.fullTarget = d
		}
		if i == 0 || r.startedMs < first {
			first = r.startedMs
		}
		last = max(last, r.endedMs)
	}
	res.fullRuns = time.Duration(last-first) * time.Millisecond
	diffs, objects, err := b.check(ctx, m, st, recv)
	if err != nil {
		return res, err
	}
	res.objects = objects
	if len(diffs) > 0 {
		res.diffs = append(res.diffs, prefix("after the full sync: ", diffs)...)
	}
	b.logf("  full sync: %s, %d objects, %d events in %d requests (%.0f events/s), peak RSS %.0f MB",
		res.full.wall.Round(time.Millisecond), objects, res.events, res.requests, float64(res.events)/res.full.wall.Seconds(), mb(res.full.peakRSS))

	// Incremental latency.
	if !o.skipIncremental {
		inc, err := b.incremental(ctx, m, csvPath, db, pipeDir, env, syncLog, pos, len(runs), st, recv, res)
		if err != nil {
			return res, err
		}
		res.inc = inc
		diffs, _, err := b.check(ctx, m, st, recv)
		if err != nil {
			return res, err
		}
		if len(diffs) > 0 {
			res.diffs = append(res.diffs, prefix("after the revisions: ", diffs)...)
		}
	}

	// The raw delivery limit: the full sync's requests again, with no
	// engine, against a fresh application in the same process.
	var events []*callback.Event
	if err := recv.get(ctx, "/bench/events", &events); err != nil {
		return res, err
	}
	if len(events) != res.events {
		b.logf("  note: the application decoded %d of the full sync's %d events; the raw sender sends those", len(events), res.events)
	}
	if err := recv.post(ctx, "/bench/reset"); err != nil {
		return res, err
	}
	cpu0 = recv.cpu()
	res.raw, err = sendRaw(ctx, recv.url(callbackPath), sec, b.conc, o.batch, events)
	res.recvCPURaw = recv.cpu() - cpu0
	if err != nil {
		return res, err
	}
	if res.raw.failed > 0 {
		res.diffs = append(res.diffs, fmt.Sprintf("raw sender: %d of %d events failed, first: %s", res.raw.failed, res.raw.events, res.raw.firstErr))
	}
	b.logf("  raw delivery: %d events in %d requests in %s (%.0f events/s)", res.raw.events, res.raw.requests, res.raw.wall.Round(time.Millisecond),
		float64(res.raw.events)/res.raw.wall.Seconds())

	res.verified = len(res.diffs) == 0
	if !res.verified {
		b.logf("  NOT VERIFIED: %d difference(s):", len(res.diffs))
		for j, d := range res.diffs {
			if j == 20 {
				b.logf("    … and %d more", len(res.diffs)-20)
				break
			}
			b.logf("    %s", d)
		}
	}
	return res, nil
}

// check compares the application's state with the model.
func (b *bench) check(ctx context.Context, m *model, st *storeReader, recv *receiverProc) (diffs []string, held int, err error) {
	hub, err := st.hubIDs(ctx)
	if err != nil {
		return nil, 0, err
	}
	var state []*heldObject
	if err := recv.get(ctx, "/bench/state", &state); err != nil {
		return nil, 0, err
	}
	return verify(m, hub, state, !b.o.noManager), len(state), nil
}

func prefix(p string, l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = p + s
	}
	return out
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// incremental runs the revisions and measures each change's latency.
func (b *bench) incremental(ctx context.Context, m *model, csvPath, db, pipeDir string, env []string, syncLog *os.File,
	pos position, fullRuns int, st *storeReader, recv *receiverProc, res *repResult) (*incResult, error) {
	o := b.o
	inc := &incResult{revisions: o.revisions, lostWhy: map[string]int{}}
	for r := range o.revisions {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.revise(o.changes)
		if err := m.writeCSV(csvPath); err != nil {
			return nil, err
		}
		sr := runSync(ctx, b.bin, db, pipeDir, env, syncLog)
		if sr.err != nil {
			return nil, fmt.Errorf("revision %d: %w", r+1, sr.err)
		}
		inc.syncWall = append(inc.syncWall, ms(sr.wall))
		inc.engineCPU = append(inc.engineCPU, sr.cpuTotal)
		inc.processRSS = max(inc.processRSS, sr.peakRSS)
		res.peakRSS = max(res.peakRSS, sr.peakRSS)
		if (r+1)%10 == 0 || r+1 == o.revisions {
			b.logf("  revision %d/%d: sync %s", r+1, o.revisions, sr.wall.Round(time.Millisecond))
		}
	}
	runs, err := st.runs(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range runs[min(fullRuns, len(runs)):] {
		d := float64(r.endedMs - r.startedMs)
		switch r.kind {
		case "source":
			inc.readDiff = append(inc.readDiff, d)
		case "target":
			inc.targetRun = append(inc.targetRun, d)
		}
	}
	changes, err := st.changesAfter(ctx, pos.seq)
	if err != nil {
		return nil, err
	}
	events, err := st.eventsAfter(ctx, pos.event)
	if err != nil {
		return nil, err
	}
	var acks ackLog
	if err := recv.get(ctx, "/bench/acks", &acks); err != nil {
		return nil, err
	}
	inc.requests = acks.Requests - res.requests
	acked := map[string]int64{}
	for _, a := range acks.Acks[min(res.events, len(acks.Acks)):] {
		if a.Status/100 != 2 {
			continue
		}
		if _, ok := acked[a.Key]; !ok {
			acked[a.Key] = a.AtUs
		}
	}
	// The event that carried each change: the last one holding its seq
	// that was not superseded (IGNORED).
	carrier := map[int64]eventRow{}
	for _, e := range events {
		for _, s := range e.seqs {
			if prev, ok := carrier[s]; ok && e.status == "IGNORED" && prev.status != "IGNORED" {
				continue
			}
			carrier[s] = e
		}
	}
	inc.changes = len(changes)
	for _, c := range changes {
		e, ok := carrier[c.seq]
		switch {
		case !ok:
			inc.lost++
			inc.lostWhy["no event"]++
		case e.status == "SKIPPED":
			inc.skipped++
		case e.status == "SUCCESS":
			at, ok := acked[fmt.Sprintf("evt-%d", e.id)]
			if !ok {
				inc.lost++
				inc.lostWhy["no acknowledgement"]++
				continue
			}
			if len(e.seqs) > 1 {
				inc.coalesced++
			}
			inc.latencies = append(inc.latencies, float64(at-c.atUs)/1000)
		default:
			inc.lost++
			inc.lostWhy[e.status]++
		}
	}
	slices.Sort(inc.latencies)
	if want := o.revisions * o.changes; inc.changes != want {
		b.logf("  note: %d revisions of %d changes made %d change-log rows", o.revisions, o.changes, inc.changes)
	}
	if inc.lost > 0 {
		res.diffs = append(res.diffs, fmt.Sprintf("incremental: %d of %d changes never acknowledged (%v)", inc.lost, inc.changes, inc.lostWhy))
	}
	b.logf("  incremental: %d changes, p50 %.1f ms, p99 %.1f ms, %d coalesced, %d skipped; read+diff p50 %.0f ms",
		inc.changes, percentile(inc.latencies, 50), percentile(inc.latencies, 99), inc.coalesced, inc.skipped, median(inc.readDiff))
	return inc, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
