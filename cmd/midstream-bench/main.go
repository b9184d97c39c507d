// Command midstream-bench measures the whole Midstream pipeline against
// this machine's limits, in one run:
//
//  1. it generates a synthetic organization (by default 100,000 people in
//     5,000 nested departments, Chinese and Latin names, realistic
//     attribute sizes) as an HR export for the csv source, and a pipeline
//     with a 12-attribute JavaScript mapping to a callback application;
//  2. runs a full sync through the real machinery — a `midstream sync`
//     process with the csv source and the callback target as plugin
//     processes, the SQLite store — to an application in its own process
//     (this binary, re-executed as `midstream-bench receiver`, built on
//     sdk/receiver) that verifies the token, signature and timestamp and
//     decrypts every request; then checks that the application holds
//     exactly the expected departments and people;
//  3. measures incremental latency: revisions of the export, each with a
//     few random changes (updates of mapped attributes, moves, leaves),
//     each followed by a sync; a change's latency runs from the commit of
//     its change-log row to the application's answer to the request that
//     carried it;
//  4. measures the raw delivery limit: the full sync's events replayed by
//     plain Go code (sdk/callback's Encoder, the same sealer, concurrency
//     and batch size), to the same application process, with no engine;
//  5. repeats this in fresh work folders and reports the median (min–max)
//     of each figure, as a table and, with --json, one JSON object on the
//     last line.
//
// It exits non-zero when any repetition's final state did not match.
//
// With --batch N the callback target sends batches of up to N events per
// request (its batch_size), and so does the raw sender; "requests" then
// counts HTTP requests, while objects/s and the ratio to raw count events.
//
//	go run ./cmd/midstream-bench [--users 100000] [--orgs 5000] [--repeat 3] [--batch 1] [--json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/sdk/callback"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "receiver" {
		os.Exit(receiverMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line's.
type options struct {
	users, orgs, concurrency, repeat int
	batch                            int
	revisions, changes               int
	json, keep, plain, noManager     bool
	skipIncremental                  bool
	work, midstream, profile         string
	seed                             uint64
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("midstream-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: midstream-bench [flags]\n\nMeasures a full sync, incremental latency and the raw delivery limit of the whole pipeline.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.users, "users", 100000, "people in the synthetic organization")
	fs.IntVar(&o.orgs, "orgs", 5000, "departments (each has a head, so at most --users)")
	fs.IntVar(&o.concurrency, "concurrency", 0, fmt.Sprintf("the target's concurrency, also the raw sender's (0: the target's default, %d)", config.DefaultConcurrency))
	fs.IntVar(&o.batch, "batch", 1, fmt.Sprintf("events per request: the callback target's batch_size, also the raw sender's (1: one request per event; at most %d)", callback.MaxBatchEvents))
	fs.IntVar(&o.repeat, "repeat", 3, "repetitions, each in a fresh work folder; figures are medians")
	fs.IntVar(&o.revisions, "revisions", 100, "revisions of the export in the incremental phase")
	fs.IntVar(&o.changes, "changes", 10, "random changes per revision")
	fs.BoolVar(&o.skipIncremental, "skip-incremental", false, "skip the incremental phase")
	fs.BoolVar(&o.json, "json", false, "print one JSON object with every figure on the last line")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folders (the export, pipeline, store and logs)")
	fs.BoolVar(&o.plain, "plain", false, "neither encrypt nor sign requests (by default both, when the callback target supports them)")
	fs.BoolVar(&o.noManager, "no-manager", false, "map a plain attribute instead of the manager reference (a reference the engine resolves, with follow-up updates)")
	fs.StringVar(&o.work, "work", "", "where to put the work folders (default: a new temporary directory)")
	fs.StringVar(&o.midstream, "midstream", "", "the midstream binary to measure (default: built from this module with go build)")
	fs.StringVar(&o.profile, "profile", "", "write CPU and allocation profiles of each full sync's engine process into this folder (engine-N.pprof, engine-N.allocs.pprof)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the synthetic organization and its changes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.orgs < 1 || o.users < o.orgs:
		return o, fmt.Errorf("--orgs must be at least 1 and --users at least --orgs (every department has a head): got %d users, %d orgs", o.users, o.orgs)
	case o.repeat < 1:
		return o, errors.New("--repeat must be at least 1")
	case o.concurrency < 0 || o.concurrency > config.MaxConcurrency:
		return o, fmt.Errorf("--concurrency must be between 0 and %d", config.MaxConcurrency)
	case o.batch < 1 || o.batch > callback.MaxBatchEvents:
		return o, fmt.Errorf("--batch must be between 1 and %d", callback.MaxBatchEvents)
	case o.revisions < 0 || o.changes < 0:
		return o, errors.New("--revisions and --changes must not be negative")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "midstream-bench:", err)
		return 2
	}
	if o.revisions == 0 || o.changes == 0 {
		o.skipIncremental = true
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	base := o.work
	if base == "" {
		if base, err = os.MkdirTemp("", "midstream-bench-"); err != nil {
			fmt.Fprintln(stderr, "midstream-bench:", err)
			return 1
		}
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		fmt.Fprintln(stderr, "midstream-bench:", err)
		return 1
	}
	if !o.keep && o.work == "" {
		defer os.RemoveAll(base)
	}
	bin := o.midstream
	if bin == "" {
		logf("building midstream into %s", base)
		if bin, err = buildMidstream(ctx, base); err != nil {
			fmt.Fprintln(stderr, "midstream-bench:", err)
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "midstream-bench:", err)
		return 1
	}
	secure := !o.plain && supportsSecurity(ctx, bin)
	conc := o.concurrency
	if conc == 0 {
		conc = config.DefaultConcurrency
	}
	b := &bench{o: o, bin: bin, self: self, secure: secure, timings: supportsTimings(ctx, bin), conc: conc, logf: logf}
	var reps []*repResult
	for i := range o.repeat {
		dir := filepath.Join(base, fmt.Sprintf("rep-%d", i+1))
		r, err := b.repetition(ctx, i, dir)
		if err != nil {
			logf("repetition %d: %v", i+1, err)
			if r == nil {
				r = &repResult{}
			}
			r.verified = false
			r.failure = err.Error()
		}
		reps = append(reps, r)
		if !o.keep {
			_ = os.RemoveAll(dir)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if o.keep {
		logf("work folders kept in %s", base)
	}
	rep := summarize(o, b, reps)
	printTable(stdout, rep, reps)
	if o.json {
		printJSON(stdout, rep)
	}
	if !rep.verified {
		return 1
	}
	return 0
}

// securityName says how requests are protected.
func securityName(secure bool) string {
	if secure {
		return "aes-256-gcm+hmac-sha256"
	}
	return "none"
}

func trimErr(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}
