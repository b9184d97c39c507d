// Package engine runs pipelines: it reads sources into the directory and
// delivers the directory's changes to targets as sync events, through
// connectors running as plugins.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/keys"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

// Options tune an engine.
type Options struct {
	// Logger receives the engine's logs; default slog.Default().
	Logger *slog.Logger
	// Progress, when set, receives progress as work is done.
	Progress func(Progress)
	// LeaseTTL is how long the executor lease lasts without renewal;
	// default 15s.
	LeaseTTL time.Duration
	// BackoffBase is the first retry's wait, doubled on each further
	// attempt; default 1s.
	BackoffBase time.Duration
	// Plan, when set, makes the engine a dry run: no application is
	// called (targets are not even launched) and Plan receives what each
	// event would do. Run a dry run on a copy of the store (Store.Copy).
	Plan func(PlannedEvent)
}

// Progress reports work done so far in a run.
type Progress struct {
	// Stage is "read" (a source) or "deliver" (a target).
	Stage string
	Name  string
	Done  int
	// Total is known for delivery (events to run), 0 when unknown.
	Total int
}

// Engine runs one pipeline against one store.
type Engine struct {
	p     *config.Pipeline
	st    *store.Store
	opts  Options
	log   *slog.Logger
	owner string
	conns map[string]sdk.Connector // by "source:NAME" / "target:NAME"
	mu    sync.Mutex
	// runLocks keep a source or a target from running twice at once
	// (a scheduled run and a manual one, say).
	runLocks map[string]*sync.Mutex
	stopHB   context.CancelFunc
	hbDone   chan struct{}
}

// New returns an engine for p on st. Call Start before running anything
// and Close when done.
func New(p *config.Pipeline, st *store.Store, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = time.Second
	}
	return &Engine{p: p, st: st, opts: opts, log: opts.Logger, owner: store.Owner(), conns: map[string]sdk.Connector{}, runLocks: map[string]*sync.Mutex{}}
}

// Start takes the store's executor lease (keeping it renewed until Close)
// and returns to the queue what a crashed executor left RUNNING.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.st.AcquireLease(ctx, e.owner, e.opts.LeaseTTL); err != nil {
		return err
	}
	n, err := e.st.RequeueRunning(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		e.log.Warn("re-queued events a previous run left running", "events", n)
	}
	hbCtx, cancel := context.WithCancel(context.Background())
	e.stopHB, e.hbDone = cancel, make(chan struct{})
	go func() {
		defer close(e.hbDone)
		t := time.NewTicker(e.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if err := e.st.AcquireLease(hbCtx, e.owner, e.opts.LeaseTTL); err != nil && hbCtx.Err() == nil {
					e.log.Error("renew executor lease", "error", err)
				}
			}
		}
	}()
	return nil
}

// Close stops the connectors and gives the lease up.
func (e *Engine) Close() error {
	e.mu.Lock()
	conns := e.conns
	e.conns = map[string]sdk.Connector{}
	e.mu.Unlock()
	for _, c := range conns {
		if cl, ok := c.(sdk.Closer); ok {
			_ = cl.Close()
		}
	}
	if e.stopHB != nil {
		e.stopHB()
		<-e.hbDone
	}
	return e.st.ReleaseLease(context.Background(), e.owner)
}

// ConfigError is a connector's configuration rejected by its plugin,
// located in the pipeline's files.
type ConfigError struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
}

func (e *ConfigError) Error() string { return e.Diags.Error() }

// connector launches (once) and configures the connector of a block.
func (e *Engine) connector(ctx context.Context, role, name string, ref plugins.Ref, cfg sdk.Config, extra map[string]any, body hcl.Body, decl hcl.Range, concurrency int) (sdk.Connector, error) {
	key := role + ":" + name
	e.mu.Lock()
	c, ok := e.conns[key]
	e.mu.Unlock()
	if ok {
		return c, nil
	}
	m, err := plugins.Launch(ctx, ref, plugins.DefaultPolicy, e.log.With(role, name))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", role, name, err)
	}
	if concurrency > 0 {
		m.SetConcurrency(concurrency)
	}
	// Values the hub supplies (a callback target's signing key) join the
	// user's configuration here, never in the pipeline's files.
	if cfg, err = keys.Merge(m.Schema(), cfg, extra); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("%s %s: %w", role, name, err)
	}
	var resp sdk.ConfigureResponse
	m.Configure(ctx, sdk.ConfigureRequest{Config: cfg, Dir: e.p.Dir}, &resp)
	for _, d := range resp.Diagnostics {
		if d.Severity == sdk.SeverityWarning {
			e.log.Warn(d.Summary, role, name, "detail", d.Detail, "attribute", d.Path.String())
		}
	}
	if resp.Diagnostics.HasError() {
		_ = m.Close()
		return nil, &ConfigError{Diags: hcldecode.LocateDiagnostics(body, resp.Diagnostics, decl), Files: e.p.Files}
	}
	e.mu.Lock()
	e.conns[key] = m
	e.mu.Unlock()
	return m, nil
}

func (e *Engine) sourceConnector(ctx context.Context, s *config.Source) (sdk.Connector, error) {
	return e.connector(ctx, "source", s.Name, s.Ref, s.Config, nil, s.Body, s.DeclRange, 0)
}

func (e *Engine) targetConnector(ctx context.Context, t *config.Target) (sdk.Connector, error) {
	extra, err := keys.TargetConfig(ctx, e.st, e.p, t)
	if err != nil {
		return nil, err // unwrapped: its Hint() reaches the user
	}
	return e.connector(ctx, "target", t.Name, t.Ref, t.Config, extra, t.Body, t.DeclRange, t.Concurrency)
}

// SyncOptions tune one pass.
type SyncOptions struct {
	// Full makes incremental sources read a full snapshot.
	Full bool
	// AllowDeletes lifts the mass-deletion guard for this pass.
	AllowDeletes bool
	// Sources and Targets restrict the pass (all when nil).
	Sources, Targets []string
	// RetryWait bounds how long the pass waits for retries that are not
	// due yet; default 1m.
	RetryWait time.Duration
	// FullTarget runs a target full sync of the targets the pass
	// delivers to; ChangedOnly does too, sending only what differs from
	// the link.
	FullTarget, ChangedOnly bool
	// Live, when set, says sources are still adding to the change log
	// until it is closed: Deliver keeps consuming it meanwhile, and
	// finishes only once it is closed and everything is delivered.
	Live <-chan struct{}
}

// Report is what a pass did.
type Report struct {
	Sources []*SourceReport
	Targets []*TargetReport
}

// Failed reports whether any run of the pass failed.
func (r *Report) Failed() bool {
	for _, s := range r.Sources {
		if s.Err != nil {
			return true
		}
	}
	for _, t := range r.Targets {
		if t.Err != nil || t.Counts[store.Failure] > 0 {
			return true
		}
	}
	return false
}

// Sync runs one pass: every source, then every target.
//
// Delivery overlaps the source runs: each target delivers the
// changes the sources commit as they find them, so a change does not wait
// for the rest of a snapshot to be read. A dry run and a target full sync
// need the directory complete, and run the targets after the sources.
func (e *Engine) Sync(ctx context.Context, o SyncOptions) *Report {
	rep := &Report{}
	var targets []*config.Target
	for _, t := range e.p.Targets {
		if o.Targets == nil || slices.Contains(o.Targets, t.Name) {
			targets = append(targets, t)
		}
	}
	runSources := func() {
		for _, s := range e.p.Sources {
			if o.Sources != nil && !slices.Contains(o.Sources, s.Name) {
				continue
			}
			rep.Sources = append(rep.Sources, e.SyncSource(ctx, s, o))
			if ctx.Err() != nil {
				return
			}
		}
	}
	if e.opts.Plan != nil || o.FullTarget || o.ChangedOnly {
		runSources()
		if ctx.Err() != nil {
			return rep
		}
		for _, t := range targets {
			rep.Targets = append(rep.Targets, e.Deliver(ctx, t, o))
			if ctx.Err() != nil {
				return rep
			}
		}
		return rep
	}
	live := make(chan struct{})
	to := o
	to.Live = live
	rep.Targets = make([]*TargetReport, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Targets[i] = e.Deliver(ctx, t, to)
		}()
	}
	runSources()
	close(live)
	wg.Wait()
	return rep
}

// PluginPid returns the process id of the plugin serving a source or
// target ("source"/"target", name), 0 when none runs.
func (e *Engine) PluginPid(role, name string) int {
	e.mu.Lock()
	c := e.conns[role+":"+name]
	e.mu.Unlock()
	if p, ok := c.(interface{ Pid() int }); ok {
		return p.Pid()
	}
	return 0
}

// lock serializes the runs of one source or target.
func (e *Engine) lock(key string) func() {
	e.mu.Lock()
	l, ok := e.runLocks[key]
	if !ok {
		l = &sync.Mutex{}
		e.runLocks[key] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// TestConnection launches and configures the connector of a source or
// target ("source"/"target", name) and asks it to test its connection.
func (e *Engine) TestConnection(ctx context.Context, role, name string) (sdk.TestConnectionResponse, error) {
	var c sdk.Connector
	var err error
	switch role {
	case "source":
		s, ok := e.p.Source(name)
		if !ok {
			return sdk.TestConnectionResponse{}, fmt.Errorf("no source named %q", name)
		}
		c, err = e.sourceConnector(ctx, s)
	case "target":
		t, ok := e.p.Target(name)
		if !ok {
			return sdk.TestConnectionResponse{}, fmt.Errorf("no target named %q", name)
		}
		c, err = e.targetConnector(ctx, t)
	default:
		return sdk.TestConnectionResponse{}, fmt.Errorf("role must be source or target, not %q", role)
	}
	if err != nil {
		return sdk.TestConnectionResponse{}, err
	}
	var resp sdk.TestConnectionResponse
	c.(sdk.ConnectionTester).TestConnection(ctx, sdk.TestConnectionRequest{}, &resp)
	return resp, nil
}
