package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildMidstream builds cmd/midstream from the module's source into dir.
func buildMidstream(ctx context.Context, dir string) (string, error) {
	src, err := moduleDir(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "midstream")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/midstream")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/midstream in %s: %v\n%s", src, err, out)
	}
	return bin, nil
}

// moduleDir finds the midstream module's source: the module of the
// working directory, as `go run ./cmd/midstream-bench` and `go test` have it.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is Go on PATH? or pass --midstream)", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the midstream module: run from the repository, or pass --midstream PATH")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte("module github.com/midstream-io/midstream\n")) {
		return "", fmt.Errorf("%s is not the midstream module: run from the repository, or pass --midstream PATH", gomod)
	}
	return filepath.Dir(gomod), nil
}

// syncRun is one `midstream sync` process.
type syncRun struct {
	wall time.Duration
	// cpuTotal is the CPU time of the engine and its plugins (the
	// rusage of the waited process, which counts its waited children).
	cpuTotal float64
	// cpu is CPU seconds by process: "engine", "plugin:csv", ...
	cpu     map[string]float64
	peakRSS int64
	out     string
	err     error
}

// runSync runs `midstream sync --db db dir`, sampling the process tree.
func runSync(ctx context.Context, bin, db, dir string, env []string, logf *os.File, extra ...string) syncRun {
	cmd := exec.CommandContext(ctx, bin, append([]string{"sync", "--db", db, dir}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return syncRun{err: err}
	}
	smp := sampleTree(cmd.Process.Pid, 100*time.Millisecond)
	err := cmd.Wait()
	r := syncRun{wall: time.Since(start), out: out.String()}
	children, peak := smp.finish()
	r.peakRSS = peak
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpuTotal = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	r.cpu = children
	var kids float64
	for _, c := range children {
		kids += c
	}
	r.cpu["engine"] = max(0, r.cpuTotal-kids)
	if logf != nil {
		fmt.Fprintf(logf, "$ %s sync --db %s %s\n%s\n", bin, db, dir, r.out)
	}
	if err != nil {
		r.err = fmt.Errorf("midstream sync: %v\n%s", err, tail(r.out, 40))
	}
	return r
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// syncTimers are the engine's own timers, as sync prints them.
type syncTimers struct {
	source, target, total time.Duration
	// sourceStages and targetStages are the stages `sync --timings`
	// prints under the first source and target lines, by name (read,
	// mapping, diff, store; store, consume, claim, finish, mapping, mark,
	// and "each", a call's mean time); calls counts the target's calls.
	sourceStages, targetStages map[string]time.Duration
	calls                      int
}

var (
	sourceLine = regexp.MustCompile(`(?m)^source \S+ \([a-z]+ read, ([0-9][0-9a-zµ.]*)\)`)
	targetLine = regexp.MustCompile(`(?m)^target \S+ \(([0-9][0-9a-zµ.]*)\)`)
	doneLine   = regexp.MustCompile(`(?m)^done in ([0-9][0-9a-zµ.]*)`)
	// timeLine is the line `sync --timings` prints under a run's line,
	// stage is one of its "name duration" pairs.
	timeLine  = regexp.MustCompile(`(?m)^(source|target) .*\n  time: (.*)$`)
	stage     = regexp.MustCompile(`([a-z]+) ([0-9][0-9a-zµ.]*)`)
	callCount = regexp.MustCompile(`([0-9]+) calls, `)
)

// parseTimers reads the durations sync prints; those it does not find
// stay 0.
func parseTimers(out string) syncTimers {
	var t syncTimers
	get := func(re *regexp.Regexp) time.Duration {
		if m := re.FindStringSubmatch(out); m != nil {
			d, _ := time.ParseDuration(m[1])
			return d
		}
		return 0
	}
	t.source, t.target, t.total = get(sourceLine), get(targetLine), get(doneLine)
	for _, m := range timeLine.FindAllStringSubmatch(out, -1) {
		stages := map[string]time.Duration{}
		for _, p := range stage.FindAllStringSubmatch(m[2], -1) {
			if d, err := time.ParseDuration(p[2]); err == nil {
				stages[p[1]] = d
			}
		}
		switch {
		case m[1] == "source" && t.sourceStages == nil:
			t.sourceStages = stages
		case m[1] == "target" && t.targetStages == nil:
			t.targetStages = stages
			if c := callCount.FindStringSubmatch(m[2]); c != nil {
				t.calls, _ = strconv.Atoi(c[1])
			}
		}
	}
	return t
}

// supportsTimings reports whether bin's sync takes --timings (a binary
// built before it did is measured without the engine's stages).
func supportsTimings(ctx context.Context, bin string) bool {
	out, err := exec.CommandContext(ctx, bin, "sync", "--help").CombinedOutput()
	return err == nil && bytes.Contains(out, []byte("--timings"))
}

// supportsSecurity reports whether the callback target of bin takes
// encryption_key and signature_key.
func supportsSecurity(ctx context.Context, bin string) bool {
	out, err := exec.CommandContext(ctx, bin, "plugins", "sample", "callback").CombinedOutput()
	if err != nil {
		return false
	}
	return bytes.Contains(out, []byte("encryption_key")) && bytes.Contains(out, []byte("signature_key"))
}
