// Package daemon is `midstream run`: the engine on a schedule, with an
// HTTP server. Each source and target with a schedule runs on its cron
// expression; a run never overlaps itself; targets without a schedule of
// their own are delivered to right after a source run. The HTTP server
// answers /healthz and serves the hub's public signing keys at
// /.well-known/jwks.json from the start; the admin API, console, webhooks,
// SCIM and metrics join it as they are built.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/keys"
	"github.com/midstream-io/midstream/core/store"
)

// Options tune the daemon.
type Options struct {
	// Addr overrides the pipeline's http_address.
	Addr   string
	Logger *slog.Logger
	// Ready, when set, is called with the HTTP server's address once it
	// listens.
	Ready func(addr string)
}

// Parser parses the schedules a pipeline may use: five fields, or
// descriptors such as @hourly and @every 15m, with an optional CRON_TZ=
// prefix; local time otherwise.
var Parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Run runs the daemon until ctx is cancelled, then stops scheduling, lets
// running events finish and returns.
func Run(ctx context.Context, p *config.Pipeline, st *store.Store, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	addr := opts.Addr
	if addr == "" {
		addr = p.HTTPAddress
	}
	eng := engine.New(p, st, engine.Options{Logger: log})
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Close()

	d := &daemon{p: p, st: st, eng: eng, log: log, started: time.Now(), last: map[string]runInfo{}}
	// The signing keys of jws callback targets, made now so that the JWKS
	// serves them before the first signed request.
	if err := keys.Prepare(ctx, st, p); err != nil {
		log.Error("signing keys", "error", err)
	}
	c := cron.New(cron.WithParser(Parser), cron.WithChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log})))
	for _, s := range p.Sources {
		if s.Schedule != "" {
			if _, err := c.AddFunc(s.Schedule, func() { d.runSource(ctx, s, false) }); err != nil {
				return fmt.Errorf("source %s: schedule: %w", s.Name, err)
			}
		}
		if s.FullSchedule != "" {
			if _, err := c.AddFunc(s.FullSchedule, func() { d.runSource(ctx, s, true) }); err != nil {
				return fmt.Errorf("source %s: full_schedule: %w", s.Name, err)
			}
		}
	}
	for _, t := range p.Targets {
		if t.Schedule != "" {
			if _, err := c.AddFunc(t.Schedule, func() { d.runTarget(ctx, t) }); err != nil {
				return fmt.Errorf("target %s: schedule: %w", t.Name, err)
			}
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("midstream is running", "pipeline", p.Name, "http", "http://"+ln.Addr().String(), "schedules", len(c.Entries()))
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}
	c.Start()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("stopping: letting running work finish")
	<-c.Stop().Done()
	d.wg.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

type runInfo struct {
	At       time.Time `json:"at"`
	Duration string    `json:"duration"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
}

type daemon struct {
	p       *config.Pipeline
	st      *store.Store
	eng     *engine.Engine
	log     *slog.Logger
	started time.Time
	wg      sync.WaitGroup

	mu   sync.Mutex
	last map[string]runInfo
}

func (d *daemon) record(key string, at time.Time, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ri := runInfo{At: at, Duration: time.Since(at).Round(time.Millisecond).String(), OK: err == nil}
	if err != nil {
		ri.Error = err.Error()
	}
	d.last[key] = ri
}

func (d *daemon) runSource(ctx context.Context, s *config.Source, full bool) {
	if ctx.Err() != nil {
		return
	}
	d.wg.Add(1)
	defer d.wg.Done()
	at := time.Now()
	rep := d.eng.SyncSource(ctx, s, engine.SyncOptions{Full: full})
	d.record("source:"+s.Name, at, rep.Err)
	if rep.Err != nil {
		d.log.Error("source run failed", "source", s.Name, "error", rep.Err, "timings", rep.Time.String())
	} else {
		d.log.Info("source run", "source", s.Name, "mode", rep.Mode, "created", rep.Counts.Created, "updated", rep.Counts.Updated,
			"moved", rep.Counts.Moved, "disabled", rep.Counts.Disabled, "deleted", rep.Counts.Deleted, "took", rep.Duration, "timings", rep.Time.String())
	}
	// Targets without a schedule of their own follow their sources.
	for _, t := range d.p.Targets {
		if t.Schedule == "" && takes(d.p, t, s.Name) {
			d.runTarget(ctx, t)
		}
	}
}

func takes(p *config.Pipeline, t *config.Target, source string) bool {
	for _, n := range t.SourceNames(p) {
		if n == source {
			return true
		}
	}
	return false
}

func (d *daemon) runTarget(ctx context.Context, t *config.Target) {
	if ctx.Err() != nil {
		return
	}
	d.wg.Add(1)
	defer d.wg.Done()
	at := time.Now()
	rep := d.eng.Deliver(ctx, t, engine.SyncOptions{RetryWait: time.Second})
	d.record("target:"+t.Name, at, rep.Err)
	if rep.Err != nil {
		d.log.Error("delivery failed", "target", t.Name, "error", rep.Err, "timings", rep.Time.String())
		return
	}
	d.log.Info("delivery", "target", t.Name, "changes", rep.Consumed, "success", rep.Counts[store.Success],
		"failure", rep.Counts[store.Failure], "skipped", rep.Counts[store.Skipped], "left", rep.Left, "took", rep.Duration, "timings", rep.Time.String())
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		last := make(map[string]runInfo, len(d.last))
		for k, v := range d.last {
			last[k] = v
		}
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status":   "ok",
			"pipeline": d.p.Name,
			"uptime":   time.Since(d.started).Round(time.Second).String(),
			"lastRuns": last,
		})
	})
	// The hub's public signing keys, for callback receivers.
	mux.Handle("GET "+keys.JWKSPath, keys.Handler(d.st))
	return mux
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err)...)
}
