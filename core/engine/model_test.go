package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// TestModel runs random sequences of upstream changes — hires, updates,
// moves into new or existing departments, disables, enables, leaves and
// re-hires — interleaved with random application failures (transient and
// permanent) and manual retries. At the end the application must hold
// exactly what the export says: no change lost, no object twice.
// MIDSTREAM_MODEL_SEED reproduces one run.
func TestModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if s := os.Getenv("MIDSTREAM_MODEL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{n}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed)
		})
	}
}

func runModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed*7919))
	h := newHR(40)
	for _, row := range h.rows {
		row[4] = "" // no manager chain: people may be dropped from the export
	}
	e := newEnv(t, h)
	e.opts = "max_deletion_percent = 100"
	depts := []string{"星河集团", "星河集团/研发中心", "星河集团/研发中心/平台部", "星河集团/销售部"}
	next := 1000
	ids := func() []string {
		var out []string
		for id := range h.rows {
			out = append(out, id)
		}
		// Map order is random; sort for reproducibility.
		sortStrings(out)
		return out
	}
	var log []string
	for step := range 12 {
		for range 1 + r.IntN(6) {
			all := ids()
			id := all[r.IntN(len(all))]
			row := h.rows[id]
			switch k := r.IntN(8); k {
			case 0:
				next++
				nid := fmt.Sprintf("E%05d", next)
				h.rows[nid] = []string{fmt.Sprintf("新人%d", next), depts[r.IntN(len(depts))], "在职", "实习生", ""}
				log = append(log, "hire "+nid)
			case 1:
				row[3] = fmt.Sprintf("职位%d", r.IntN(100))
				log = append(log, "update "+id)
			case 2:
				if r.IntN(3) == 0 {
					d := fmt.Sprintf("%s/新组%d", depts[r.IntN(len(depts))], r.IntN(50))
					depts = append(depts, d)
				}
				row[1] = depts[r.IntN(len(depts))]
				log = append(log, "move "+id+" to "+row[1])
			case 3:
				row[2] = "停用"
				log = append(log, "disable "+id)
			case 4:
				row[2] = "在职"
				log = append(log, "enable "+id)
			case 5:
				row[2] = "离职"
				log = append(log, "leave "+id)
			case 6:
				delete(h.rows, id)
				log = append(log, "drop "+id)
			case 7:
				row[0] = row[0] + "改"
				log = append(log, "rename "+id)
			}
		}
		for range r.IntN(4) {
			switch r.IntN(3) {
			case 0:
				e.app.FailNext(receiver.RetryLater(0, "busy"))
			case 1:
				e.app.FailNext(receiver.Reject("E42", "rejected"))
			default:
				e.app.FailNext(receiver.RetryLater(0, "down"), receiver.RetryLater(0, "down"))
			}
		}
		rep := e.sync(engine.SyncOptions{RetryWait: 3 * time.Second})
		for _, s := range rep.Sources {
			if s.Err != nil {
				t.Fatalf("step %d: source: %v", step, s.Err)
			}
		}
		if r.IntN(3) == 0 {
			retryAll(t, e)
		}
	}
	// The application recovers; the operator retries what failed.
	e.app.Recover()
	for range 3 {
		retryAll(t, e)
		e.sync(engine.SyncOptions{RetryWait: 5 * time.Second})
	}
	if diff := diffHeld(e); diff != "" {
		for _, ev := range e.events(store.Filter{Limit: 40}) {
			t.Logf("event %d %s %s %s %s attempts=%d waits=%d %s %s", ev.ID, ev.Op, ev.Kind, ev.DisplayName, ev.Status, ev.Attempts, ev.WaitsOn, ev.Reason, ev.ErrorMessage)
		}
		t.Fatalf("seed %d: after %d changes (%v):\n%s", seed, len(log), log, diff)
	}
}

func retryAll(t *testing.T, e *env) {
	t.Helper()
	st, err := store.Open(e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.RetryFailures(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
}
