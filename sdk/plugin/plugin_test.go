package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// gen is a source that generates Config "count" users, and a target that
// does nothing but count, check lanes and optionally wait.
type gen struct {
	count   int64
	delay   time.Duration
	applied atomic.Int64

	mu       sync.Mutex
	inflight map[string]bool
	overlap  atomic.Int64
	maxConc  atomic.Int64
	conc     atomic.Int64
	// batch is the MaxBatch Configure answers.
	batch int
}

func newGen() *gen { return &gen{inflight: map[string]bool{}} }

func (g *gen) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "gen", Version: "1.0.0", Description: "Generates users; applies nothing."}
}

func (g *gen) Schema() sdk.Schema {
	return sdk.Schema{Fields: []sdk.Field{
		{Name: "count", Type: sdk.FieldInt, Default: int64(10), Description: "How many users a read yields."},
		{Name: "delay", Type: sdk.FieldDuration, Default: time.Duration(0), Description: "How long each apply takes."},
	}}
}

func (g *gen) Configure(_ context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	g.count = req.Config.Int("count")
	g.delay = req.Config.Duration("delay")
	resp.MaxBatch = g.batch
}

func (g *gen) Read(ctx context.Context, _ sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	if err := emit(sdk.Record{Kind: sdk.KindOrg, ExternalID: "hq", Attributes: sdk.Attributes{"name": sdk.String("总部")}}); err != nil {
		return sdk.ReadResult{}, err
	}
	for i := range g.count {
		id := strconv.FormatInt(i, 10)
		err := emit(sdk.Record{
			Kind: sdk.KindUser, ExternalID: "u" + id, Orgs: []string{"hq"}, PrimaryOrg: "hq",
			Attributes: sdk.Attributes{
				"name":     sdk.String("用户" + id),
				"email":    sdk.String("user" + id + "@example.com"),
				"mobile":   sdk.String("+86-138" + id),
				"title":    sdk.String("Engineer"),
				"employee": sdk.Int(i),
				"active":   sdk.Bool(true),
				"groups":   sdk.StringList("staff", "rd"),
			},
		})
		if err != nil {
			return sdk.ReadResult{}, err
		}
	}
	return sdk.ReadResult{Cursor: strconv.FormatInt(g.count, 10)}, nil
}

func (g *gen) Apply(ctx context.Context, op sdk.Operation) (sdk.Result, error) {
	g.mu.Lock()
	if g.inflight[op.HubID] {
		g.overlap.Add(1)
	}
	g.inflight[op.HubID] = true
	g.mu.Unlock()
	c := g.conc.Add(1)
	for {
		m := g.maxConc.Load()
		if c <= m || g.maxConc.CompareAndSwap(m, c) {
			break
		}
	}
	if g.delay > 0 {
		select {
		case <-time.After(g.delay):
		case <-ctx.Done():
		}
	}
	g.conc.Add(-1)
	g.mu.Lock()
	delete(g.inflight, op.HubID)
	g.mu.Unlock()
	g.applied.Add(1)
	if op.Attributes["fail"].Str() == "rate" {
		return sdk.Result{}, &sdk.Error{Category: sdk.CategoryRateLimited, Code: "90018", Message: "too many requests", HTTPStatus: 429, RetryAfter: 3 * time.Second}
	}
	return sdk.Result{TargetID: "t-" + op.HubID, Status: 200}, nil
}

func TestMain(m *testing.M) {
	plugin.TestMain(m, plugin.Constructors{"gen": func() sdk.Connector { return newGen() }})
}

func launch(t testing.TB, count int64, delay time.Duration) *plugin.Plugin {
	t.Helper()
	lc, err := plugin.SelfConfig("gen")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plugin.Launch(context.Background(), lc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	cfg, diags := sdk.NewConfig(p.Schema(), map[string]any{"count": count, "delay": delay.String()})
	if diags.HasError() {
		t.Fatal(diags.Err())
	}
	var resp sdk.ConfigureResponse
	p.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
	if err := resp.Diagnostics.Err(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPluginRunsInItsOwnProcess(t *testing.T) {
	p := launch(t, 1, 0)
	if p.Pid() == 0 || p.Pid() == os.Getpid() {
		t.Fatalf("plugin pid %d, host pid %d: want a separate process", p.Pid(), os.Getpid())
	}
}

func TestPluginEnvironmentIsAllowListed(t *testing.T) {
	t.Setenv("MIDSTREAM_TEST_SECRET", "do-not-leak")
	t.Setenv("TZ", "Asia/Shanghai")
	p := launch(t, 1, 0)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid()))
	if err != nil {
		t.Fatalf("cannot read the plugin's environment: %v", err)
	}
	env := string(b)
	if strings.Contains(env, "MIDSTREAM_TEST_SECRET") {
		t.Error("a host variable outside the allow-list reached the plugin")
	}
	if !strings.Contains(env, "TZ=Asia/Shanghai") {
		t.Error("TZ, on the allow-list, did not reach the plugin")
	}
}

func TestReadStreamsEveryRecordInBatches(t *testing.T) {
	p := launch(t, 25000, 0)
	var got, batches int
	res, err := p.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		got += len(rs)
		batches++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 25001 || res.Cursor != "25000" {
		t.Fatalf("read %d records with cursor %q, want 25001 and \"25000\"", got, res.Cursor)
	}
	if batches < 25 || batches > 100 {
		t.Errorf("read arrived in %d batches, want 25–100 (batches of at most %d)", batches, plugin.DefaultMaxBatchRecords)
	}
}

func TestApplyKeepsOneOperationPerObjectInFlight(t *testing.T) {
	g := newGen()
	cl, _ := plugin.InProcess(t, g)
	g.delay = 2 * time.Millisecond
	cl.SetConcurrency(8)
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Ten objects, forty operations each.
			op := sdk.Operation{ID: fmt.Sprint(i), Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: fmt.Sprint("h", i%10), TargetID: "x"}
			if _, err := cl.Apply(context.Background(), op); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := g.overlap.Load(); n != 0 {
		t.Errorf("%d operations ran while another on the same object was in flight", n)
	}
	if m := g.maxConc.Load(); m < 2 || m > 8 {
		t.Errorf("at most %d operations ran at once, want between 2 and the concurrency 8", m)
	}
	if g.applied.Load() != 400 {
		t.Errorf("applied %d operations, want 400", g.applied.Load())
	}
}

// A batching target says how many operations it sends per request; the
// plugin then runs concurrency × that many applies at once, so its batches
// can fill.
func TestBatchingTargetGetsABatchPerRequest(t *testing.T) {
	g := newGen()
	g.batch = 25
	cl, _ := plugin.InProcess(t, g)
	cl.SetConcurrency(2)
	cfg, diags := sdk.NewConfig(g.Schema(), map[string]any{"delay": "20ms"})
	if diags.HasError() {
		t.Fatal(diags)
	}
	var resp sdk.ConfigureResponse
	cl.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
	if err := resp.Diagnostics.Err(); err != nil {
		t.Fatal(err)
	}
	if resp.MaxBatch != 25 || cl.MaxBatch() != 25 {
		t.Fatalf("MaxBatch: response %d, client %d; want 25", resp.MaxBatch, cl.MaxBatch())
	}
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := sdk.Operation{ID: fmt.Sprint(i), Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: fmt.Sprint("h", i), TargetID: "x"}
			if _, err := cl.Apply(context.Background(), op); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := g.maxConc.Load(); m <= 2 || m > 50 {
		t.Errorf("at most %d operations ran at once, want more than the concurrency 2 and at most 2 × 25", m)
	}
}

func TestApplyCarriesTypedErrors(t *testing.T) {
	p := launch(t, 1, 0)
	_, err := p.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "h", TargetID: "t",
		Attributes: sdk.Attributes{"fail": sdk.String("rate")}})
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *sdk.Error", err, err)
	}
	want := sdk.Error{Category: sdk.CategoryRateLimited, Code: "90018", Message: "too many requests", HTTPStatus: 429, RetryAfter: 3 * time.Second}
	if *e != want {
		t.Errorf("error crossed the protocol as %+v, want %+v", *e, want)
	}
	res, err := p.Apply(context.Background(), sdk.Operation{ID: "c1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "h2"})
	if err != nil || res.TargetID != "t-h2" || res.Outcome != sdk.OutcomeCreated || res.Status != 200 {
		t.Errorf("create: %+v, %v; want id t-h2, created, status 200", res, err)
	}
}

func TestPluginStartupErrorIsReported(t *testing.T) {
	lc, err := plugin.SelfConfig("nosuch")
	if err != nil {
		t.Fatal(err)
	}
	_, err = plugin.Launch(context.Background(), lc)
	if err == nil || !strings.Contains(err.Error(), `no built-in connector named "nosuch"`) {
		t.Fatalf("launch of an unknown built-in: %v, want the plugin's startup error", err)
	}
}

// BenchmarkReadStream measures a full read through a real plugin process:
// typed records per second, end to end, including the host's conversion.
func BenchmarkReadStream(b *testing.B) {
	const n = 200000
	p := launch(b, n, 0)
	b.ResetTimer()
	var total int
	for b.Loop() {
		_, err := p.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
			total += len(rs)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkApplyStream measures operations per second through a real
// plugin process against a target that does nothing.
func BenchmarkApplyStream(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			p := launch(b, 1, 0)
			p.SetConcurrency(conc)
			var next atomic.Int64
			// More callers than the plugin's concurrency keep its stream full.
			b.SetParallelism(2 * conc)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					op := sdk.Operation{ID: strconv.FormatInt(i, 10), Op: sdk.OpUpdate, Kind: sdk.KindUser,
						HubID: strconv.FormatInt(i, 10), TargetID: "t", Attributes: sdk.Attributes{"name": sdk.String("张伟")}}
					if _, err := p.Apply(context.Background(), op); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
