package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// percentile returns the p-th percentile of sorted (nearest rank), NaN
// for none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// maxOf returns the largest of l, NaN for none.
func maxOf(l []float64) float64 {
	if len(l) == 0 {
		return math.NaN()
	}
	return slices.Max(l)
}

// median returns the median of l (the mean of the middle two for an even
// count), NaN for none.
func median(l []float64) float64 {
	if len(l) == 0 {
		return math.NaN()
	}
	s := slices.Clone(l)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// figures flattens a repetition into named figures; a dot in a name
// nests it in the JSON output. Requests are HTTP requests; with batches,
// events (one per object and change) are what compares with the raw
// sender.
func figures(r *repResult) map[string]float64 {
	f := map[string]float64{}
	if r.full.wall == 0 {
		return f
	}
	wall := r.full.wall.Seconds()
	f["full_sync_seconds"] = wall
	f["objects"] = float64(r.objects)
	f["full_sync_objects_per_sec"] = float64(r.objects) / wall
	f["requests"] = float64(r.requests)
	f["full_sync_requests_per_sec"] = float64(r.requests) / wall
	f["events"] = float64(r.events)
	f["full_sync_events_per_sec"] = float64(r.events) / wall
	f["peak_rss_mb"] = mb(r.peakRSS)
	f["full_sync_peak_rss_mb"] = mb(r.full.peakRSS)

	fs := "stages.full_sync."
	f[fs+"wall_s"] = wall
	f[fs+"source_run_s"] = r.fullSource.Seconds()
	f[fs+"target_run_s"] = r.fullTarget.Seconds()
	f[fs+"printed_source_s"] = r.fullTimers.source.Seconds()
	f[fs+"printed_target_s"] = r.fullTimers.target.Seconds()
	f[fs+"process_overhead_s"] = wall - r.fullRuns.Seconds()
	total := r.recvCPUFull
	for name, c := range r.full.cpu {
		f[fs+"cpu_s."+strings.ReplaceAll(name, ":", "_")] = c
		total += c
	}
	f[fs+"cpu_s.receiver"] = r.recvCPUFull
	f[fs+"cpu_s.total"] = total
	f[fs+"cpu_utilization"] = total / (wall * float64(runtime.NumCPU()))
	if r.requests > 0 {
		f[fs+"hub_cpu_us_per_request"] = r.full.cpuTotal / float64(r.requests) * 1e6
		f[fs+"receiver_cpu_us_per_request"] = r.recvCPUFull / float64(r.requests) * 1e6
	}
	if r.events > 0 {
		f[fs+"hub_cpu_us_per_event"] = r.full.cpuTotal / float64(r.events) * 1e6
		f[fs+"receiver_cpu_us_per_event"] = r.recvCPUFull / float64(r.events) * 1e6
	}
	// The engine's own stages (sync --timings): seconds, and µs per
	// event, the figure to compare with the CPU per event.
	for run, stages := range map[string]map[string]time.Duration{"source": r.fullTimers.sourceStages, "target": r.fullTimers.targetStages} {
		for name, d := range stages {
			if name == "each" {
				continue // a call's mean time: call_ms_mean
			}
			k := fs + "engine." + run + "." + name
			f[k+"_s"] = d.Seconds()
			if r.events > 0 {
				f[k+"_us_per_event"] = d.Seconds() / float64(r.events) * 1e6
			}
		}
	}
	if n := r.fullTimers.calls; n > 0 {
		// A call's time runs from when its claim queued it (after the
		// rate limit) to the answer: waiting for one of the target's
		// concurrent turns included.
		f[fs+"engine.target.calls_n"] = float64(n)
		f[fs+"engine.target.call_ms_mean"] = r.fullTimers.targetStages["each"].Seconds() * 1e3
	}

	if r.raw.wall > 0 {
		rw := r.raw.wall.Seconds()
		f["raw_requests"] = float64(r.raw.requests)
		f["raw_events"] = float64(r.raw.events)
		// Events per second, which requests per second are without
		// batches: the engine and the raw sender may fill their batches
		// differently, but deliver the same events.
		f["raw_delivery_per_sec"] = float64(r.raw.events) / rw
		f["raw_requests_per_sec"] = float64(r.raw.requests) / rw
		f["ratio_to_raw"] = f["full_sync_events_per_sec"] / f["raw_delivery_per_sec"]
		rs := "stages.raw."
		f[rs+"wall_s"] = rw
		f[rs+"cpu_s.sender"] = r.raw.cpu
		f[rs+"cpu_s.receiver"] = r.recvCPURaw
		f[rs+"cpu_utilization"] = (r.raw.cpu + r.recvCPURaw) / (rw * float64(runtime.NumCPU()))
		if r.raw.requests > 0 {
			f[rs+"sender_cpu_us_per_request"] = r.raw.cpu / float64(r.raw.requests) * 1e6
			f[rs+"receiver_cpu_us_per_request"] = r.recvCPURaw / float64(r.raw.requests) * 1e6
		}
		if r.raw.events > 0 {
			f[rs+"sender_cpu_us_per_event"] = r.raw.cpu / float64(r.raw.events) * 1e6
			f[rs+"receiver_cpu_us_per_event"] = r.recvCPURaw / float64(r.raw.events) * 1e6
		}
	}

	if in := r.inc; in != nil {
		f["incremental_p50_ms"] = percentile(in.latencies, 50)
		f["incremental_p99_ms"] = percentile(in.latencies, 99)
		f["incremental_max_ms"] = percentile(in.latencies, 100)
		f["incremental_changes"] = float64(in.changes)
		f["incremental_delivered"] = float64(len(in.latencies))
		f["incremental_coalesced"] = float64(in.coalesced)
		f["incremental_skipped"] = float64(in.skipped)
		f["incremental_lost"] = float64(in.lost)
		f["incremental_requests"] = float64(in.requests)
		f["read_diff_ms_p50"] = median(in.readDiff)
		f["read_diff_ms_max"] = maxOf(in.readDiff)
		is := "stages.incremental."
		f[is+"read_diff_ms_p50"] = median(in.readDiff)
		f[is+"target_run_ms_p50"] = median(in.targetRun)
		f[is+"sync_wall_ms_p50"] = median(in.syncWall)
		f[is+"cpu_s_per_sync_p50"] = median(in.engineCPU)
		f[is+"peak_rss_mb"] = mb(in.processRSS)
	}
	return f
}

// summary is the run's result: medians over the repetitions.
type summary struct {
	o        options
	secure   bool
	conc     int
	reps     int
	verified bool
	med      map[string]float64
	min, max map[string]float64
	failures []string
	// readDiff is each revision's read and diff time, in ms: the median
	// over the repetitions, revision by revision.
	readDiff []float64
}

func summarize(o options, b *bench, reps []*repResult) *summary {
	s := &summary{o: o, secure: b.secure, conc: b.conc, reps: len(reps), verified: len(reps) > 0,
		med: map[string]float64{}, min: map[string]float64{}, max: map[string]float64{}}
	all := map[string][]float64{}
	for i, r := range reps {
		if !r.verified {
			s.verified = false
			why := r.failure
			if why == "" && len(r.diffs) > 0 {
				why = fmt.Sprintf("%d difference(s), first: %s", len(r.diffs), r.diffs[0])
			}
			s.failures = append(s.failures, fmt.Sprintf("repetition %d: %s", i+1, trimErr(why)))
		}
		for k, v := range figures(r) {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				all[k] = append(all[k], v)
			}
		}
	}
	for i := 0; ; i++ {
		var l []float64
		for _, r := range reps {
			if r.inc != nil && i < len(r.inc.readDiff) {
				l = append(l, r.inc.readDiff[i])
			}
		}
		if len(l) == 0 {
			break
		}
		s.readDiff = append(s.readDiff, median(l))
	}
	for k, l := range all {
		s.med[k] = median(l)
		s.min[k] = slices.Min(l)
		s.max[k] = slices.Max(l)
	}
	// ratio_to_raw is defined on the medians.
	if fr, rr := s.med["full_sync_events_per_sec"], s.med["raw_delivery_per_sec"]; rr > 0 {
		s.med["ratio_to_raw"] = fr / rr
	}
	return s
}

// row is a line of the table.
type row struct {
	label, key, unit string
	digits           int
}

var tableRows = []row{
	{"full sync", "full_sync_seconds", "s", 2},
	{"  objects held (users + departments)", "objects", "", 0},
	{"  objects / s", "full_sync_objects_per_sec", "", 0},
	{"  requests", "requests", "", 0},
	{"  requests / s", "full_sync_requests_per_sec", "", 0},
	{"  events (answered)", "events", "", 0},
	{"  events / s", "full_sync_events_per_sec", "", 0},
	{"raw delivery, events / s", "raw_delivery_per_sec", "", 0},
	{"  raw requests / s", "raw_requests_per_sec", "", 0},
	{"ratio to raw", "ratio_to_raw", "", 2},
	{"incremental latency p50", "incremental_p50_ms", "ms", 1},
	{"incremental latency p99", "incremental_p99_ms", "ms", 1},
	{"  changes (change-log rows)", "incremental_changes", "", 0},
	{"  coalesced / skipped / lost", "", "", 0},
	{"  read + diff per revision (p50)", "read_diff_ms_p50", "ms", 0},
	{"  read + diff per revision (max)", "read_diff_ms_max", "ms", 0},
	{"  sync process per revision (p50)", "stages.incremental.sync_wall_ms_p50", "ms", 0},
	{"peak RSS, engine + plugins", "peak_rss_mb", "MB", 0},
	{"stages of the full sync", "", "", 0},
	{"  source run: read, diff, store", "stages.full_sync.source_run_s", "s", 2},
	{"  target run (overlaps it): mapping, store, delivery", "stages.full_sync.target_run_s", "s", 2},
	{"  process start, plugin launch, exit", "stages.full_sync.process_overhead_s", "s", 2},
	{"  CPU engine", "stages.full_sync.cpu_s.engine", "s", 2},
	{"  CPU csv plugin", "stages.full_sync.cpu_s.plugin_csv", "s", 2},
	{"  CPU callback plugin", "stages.full_sync.cpu_s.plugin_callback", "s", 2},
	{"  CPU receiver", "stages.full_sync.cpu_s.receiver", "s", 2},
	{"  CPU utilization of the machine", "stages.full_sync.cpu_utilization", "", 2},
	{"  hub CPU per request", "stages.full_sync.hub_cpu_us_per_request", "µs", 0},
	{"  receiver CPU per request", "stages.full_sync.receiver_cpu_us_per_request", "µs", 0},
	{"  hub CPU per event", "stages.full_sync.hub_cpu_us_per_event", "µs", 0},
	{"  receiver CPU per event", "stages.full_sync.receiver_cpu_us_per_event", "µs", 0},
	{"engine's own timers, wall time per event (full sync)", "", "", 0},
	{"  source: waiting for the connector's records", "stages.full_sync.engine.source.read_us_per_event", "µs", 1},
	{"  source: inbound mapping", "stages.full_sync.engine.source.mapping_us_per_event", "µs", 1},
	{"  source: reading the directory to diff", "stages.full_sync.engine.source.diff_us_per_event", "µs", 1},
	{"  source: store (writes, losses)", "stages.full_sync.engine.source.store_us_per_event", "µs", 1},
	{"  target: store, in all", "stages.full_sync.engine.target.store_us_per_event", "µs", 1},
	{"    consume (change log to events)", "stages.full_sync.engine.target.consume_us_per_event", "µs", 1},
	{"    claim", "stages.full_sync.engine.target.claim_us_per_event", "µs", 1},
	{"    finish (results, links)", "stages.full_sync.engine.target.finish_us_per_event", "µs", 1},
	{"  target, beside it: outbound mapping", "stages.full_sync.engine.target.mapping_us_per_event", "µs", 1},
	{"  target, beside it: marking creates (store waits included)", "stages.full_sync.engine.target.mark_us_per_event", "µs", 1},
	{"  target: a call, queued to answered (mean)", "stages.full_sync.engine.target.call_ms_mean", "ms", 1},
	{"stages of the raw delivery", "", "", 0},
	{"  CPU sender", "stages.raw.cpu_s.sender", "s", 2},
	{"  CPU receiver", "stages.raw.cpu_s.receiver", "s", 2},
	{"  sender CPU per request", "stages.raw.sender_cpu_us_per_request", "µs", 0},
	{"  receiver CPU per request", "stages.raw.receiver_cpu_us_per_request", "µs", 0},
	{"  sender CPU per event", "stages.raw.sender_cpu_us_per_event", "µs", 0},
	{"  receiver CPU per event", "stages.raw.receiver_cpu_us_per_event", "µs", 0},
}

func printTable(w io.Writer, s *summary, reps []*repResult) {
	fmt.Fprintf(w, "midstream-bench: %d users, %d departments, concurrency %d, batch %d, security %s, %d repetition(s); %d CPUs, %s\n",
		s.o.users, s.o.orgs, s.conc, s.o.batch, securityName(s.secure), s.reps, runtime.NumCPU(), runtime.Version())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tmedian\tmin\tmax\t")
	for _, r := range tableRows {
		if r.key == "" {
			if strings.HasPrefix(r.label, "  coalesced") {
				c, sk, l := s.med["incremental_coalesced"], s.med["incremental_skipped"], s.med["incremental_lost"]
				if _, ok := s.med["incremental_changes"]; ok {
					fmt.Fprintf(tw, "%s\t%.0f / %.0f / %.0f\t\t\t\n", r.label, c, sk, l)
				}
				continue
			}
			if strings.HasPrefix(r.label, "engine's own timers") {
				if _, ok := s.med["stages.full_sync.engine.target.store_s"]; !ok {
					continue // a binary without sync --timings
				}
			}
			fmt.Fprintf(tw, "%s\t\t\t\t\n", r.label)
			continue
		}
		v, ok := s.med[r.key]
		if !ok {
			continue
		}
		unit := ""
		if r.unit != "" {
			unit = " " + r.unit
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\t\n", r.label, num(v, r.digits), unit, num(s.min[r.key], r.digits), num(s.max[r.key], r.digits))
	}
	tw.Flush()
	if s.verified {
		fmt.Fprintln(w, "verified: every repetition's application held exactly the expected departments and users")
	} else {
		fmt.Fprintln(w, "NOT VERIFIED:")
		for _, f := range s.failures {
			fmt.Fprintln(w, "  "+f)
		}
	}
}

func num(v float64, digits int) string { return fmt.Sprintf("%.*f", digits, v) }

// printJSON prints the summary as one JSON object on one line: the
// medians, nested by the dots in their names, with users, orgs, verified
// and the settings, and the min and max of the main figures in "spread".
func printJSON(w io.Writer, s *summary) {
	out := map[string]any{
		"users":       s.o.users,
		"orgs":        s.o.orgs,
		"repeat":      s.reps,
		"concurrency": s.conc,
		"batch":       s.o.batch,
		"security":    securityName(s.secure),
		"revisions":   s.o.revisions,
		"changes_per_revision": func() int {
			if s.o.skipIncremental {
				return 0
			}
			return s.o.changes
		}(),
		"manager_reference": !s.o.noManager,
		"verified":          s.verified,
		"cpus":              runtime.NumCPU(),
		"go":                runtime.Version(),
	}
	if len(s.failures) > 0 {
		out["failures"] = s.failures
	}
	keys := make([]string, 0, len(s.med))
	for k := range s.med {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	spread := map[string][2]float64{}
	for _, k := range keys {
		v := round(s.med[k])
		parts := strings.Split(k, ".")
		node := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = v
		if !strings.Contains(k, ".") {
			spread[k] = [2]float64{round(s.min[k]), round(s.max[k])}
		}
	}
	out["spread"] = spread
	if len(s.readDiff) > 0 {
		out["read_diff_ms"] = s.readDiff
	}
	for _, k := range []string{"objects", "requests", "events", "incremental_changes", "incremental_delivered", "incremental_coalesced", "incremental_skipped", "incremental_lost", "incremental_requests", "raw_requests", "raw_events"} {
		if v, ok := s.med[k]; ok {
			out[k] = int64(math.Round(v))
		}
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(w, string(b))
}

// round keeps 3 significant decimals for small numbers, 1 for large.
func round(v float64) float64 {
	switch a := math.Abs(v); {
	case a >= 1000:
		return math.Round(v)
	case a >= 10:
		return math.Round(v*10) / 10
	default:
		return math.Round(v*1000) / 1000
	}
}
