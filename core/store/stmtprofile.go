//go:build sqlite_trace

package store

import (
	"slices"
	"strings"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Built with -tags sqlite_trace (go-sqlite3's trace API), the store
// records how long each statement ran, so that whoever tunes the store
// sees which statements cost what; the benchmarks print it
// (BenchmarkLifecycle). SQLite times a statement from its first step to
// its reset, on a clock that counts milliseconds: a run reads 0 or 1 ms,
// so a figure is an estimate that holds over thousands of runs, and the
// Go work done between the rows of a query counts towards it.
var profile = struct {
	sync.Mutex
	text map[uintptr]string // statement handle → its SQL
	runs map[string]*StatementTime
}{text: map[uintptr]string{}, runs: map[string]*StatementTime{}}

func profileStatements(c *sqlite3.SQLiteConn) error {
	return c.SetTrace(&sqlite3.TraceConfig{EventMask: sqlite3.TraceStmt | sqlite3.TraceProfile, Callback: func(info sqlite3.TraceInfo) int {
		profile.Lock()
		defer profile.Unlock()
		if info.EventCode == sqlite3.TraceStmt {
			// A trigger's statements come as comments: they count
			// towards the statement that fired them.
			if !strings.HasPrefix(info.StmtOrTrigger, "--") {
				profile.text[info.StmtHandle] = strings.Join(strings.Fields(info.StmtOrTrigger), " ")
			}
			return 0
		}
		q := profile.text[info.StmtHandle]
		r := profile.runs[q]
		if r == nil {
			r = &StatementTime{SQL: q}
			profile.runs[q] = r
		}
		r.Runs++
		r.Time += time.Duration(info.RunTimeNanosec)
		return 0
	}})
}

func statementProfile() []StatementTime {
	profile.Lock()
	defer profile.Unlock()
	out := make([]StatementTime, 0, len(profile.runs))
	for _, r := range profile.runs {
		out = append(out, *r)
	}
	clear(profile.runs)
	slices.SortFunc(out, func(a, b StatementTime) int { return int(b.Time - a.Time) })
	return out
}
