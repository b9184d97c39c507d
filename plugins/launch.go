package plugins

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// Ref says which connector to run: a built-in by name, or an external
// plugin binary by path with its pinned checksum.
type Ref struct {
	// Name is the connector's name (the HCL label).
	Name string
	// Path, when set, is an external plugin binary; empty means the
	// built-in named Name.
	Path string
	// SHA256 is the external binary's pinned checksum in hex. Required
	// with Path: an external plugin runs only as the exact binary the
	// pipeline's author pinned.
	SHA256 string
	// Env names host environment variables the plugin may see besides the
	// SDK's default allow-list.
	Env []string
}

// LaunchConfig returns the SDK launch configuration for r.
func (r Ref) LaunchConfig() (plugin.LaunchConfig, error) {
	if r.Path == "" {
		if _, ok := Lookup(r.Name); !ok {
			return plugin.LaunchConfig{}, fmt.Errorf("no built-in connector named %q", r.Name)
		}
		lc, err := plugin.SelfConfig(r.Name)
		lc.Env = r.Env
		return lc, err
	}
	sum, err := hex.DecodeString(strings.TrimSpace(r.SHA256))
	if err != nil || len(sum) != 32 {
		return plugin.LaunchConfig{}, fmt.Errorf("plugin %s: sha256 must be 64 hex characters", r.Name)
	}
	if _, err := os.Stat(r.Path); err != nil {
		return plugin.LaunchConfig{}, fmt.Errorf("plugin %s: %w", r.Name, err)
	}
	return plugin.LaunchConfig{Name: r.Name, Path: r.Path, SHA256: sum, Env: r.Env}, nil
}

// Policy bounds relaunching: a plugin that crashes more than MaxRestarts
// times within Window is left down, and every call fails until the window
// has passed, so a plugin that crashes at start cannot spin.
type Policy struct {
	MaxRestarts int
	Window      time.Duration
}

// DefaultPolicy allows five restarts a minute.
var DefaultPolicy = Policy{MaxRestarts: 5, Window: time.Minute}

// Managed is a connector running as a plugin that is relaunched after a
// crash. The call that met the crash fails with a retryable
// *plugin.PluginCrashedError (the work is retried by the host, nothing is
// lost); the next call relaunches the plugin and configures it again.
type Managed struct {
	ref    Ref
	lc     plugin.LaunchConfig
	policy Policy
	logger *slog.Logger

	mu          sync.Mutex
	cur         *plugin.Plugin
	configured  *sdk.ConfigureRequest
	concurrency int
	restarts    []time.Time
	closed      bool
}

// Launch starts the connector r names as a plugin.
func Launch(ctx context.Context, r Ref, policy Policy, logger *slog.Logger) (*Managed, error) {
	lc, err := r.LaunchConfig()
	if err != nil {
		return nil, err
	}
	lc.Logger = logger
	m := &Managed{ref: r, lc: lc, policy: policy, logger: logger}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	p, err := plugin.Launch(ctx, lc)
	if err != nil {
		return nil, err
	}
	m.cur = p
	return m, nil
}

// plugin returns the running plugin, relaunching a crashed one.
func (m *Managed) plugin(ctx context.Context) (*plugin.Plugin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("connector " + m.ref.Name + " is closed")
	}
	if m.cur != nil && !m.cur.Exited() {
		return m.cur, nil
	}
	now := time.Now()
	recent := m.restarts[:0]
	for _, at := range m.restarts {
		if now.Sub(at) < m.policy.Window {
			recent = append(recent, at)
		}
	}
	m.restarts = recent
	if len(m.restarts) >= m.policy.MaxRestarts {
		return nil, &sdk.Error{Category: sdk.CategoryRetryable,
			Message: fmt.Sprintf("plugin %s crashed %d times within %s; not relaunching it yet", m.ref.Name, len(m.restarts), m.policy.Window)}
	}
	m.restarts = append(m.restarts, now)
	m.logger.Warn("relaunching crashed plugin", "connector", m.ref.Name)
	p, err := plugin.Launch(ctx, m.lc)
	if err != nil {
		return nil, err
	}
	if m.concurrency > 0 {
		p.SetConcurrency(m.concurrency)
	}
	if m.configured != nil {
		var resp sdk.ConfigureResponse
		p.Configure(ctx, *m.configured, &resp)
		if err := resp.Diagnostics.Err(); err != nil {
			p.Kill()
			return nil, fmt.Errorf("reconfigure relaunched plugin %s: %w", m.ref.Name, err)
		}
	}
	m.cur = p
	return p, nil
}

// Pid returns the current plugin process id (0 when none runs).
func (m *Managed) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil {
		return 0
	}
	return m.cur.Pid()
}

// Metadata returns the plugin's metadata.
func (m *Managed) Metadata() sdk.Metadata { return m.current().Metadata() }

// Schema returns the plugin's configuration schema.
func (m *Managed) Schema() sdk.Schema { return m.current().Schema() }

// Capabilities returns what the plugin declared.
func (m *Managed) Capabilities() sdk.Capabilities { return m.current().Capabilities() }

func (m *Managed) current() *plugin.Plugin {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// MaxBatch returns the most operations the target sends in one request.
func (m *Managed) MaxBatch() int { return m.current().MaxBatch() }

// SetConcurrency sets the target's concurrency, kept across relaunches.
func (m *Managed) SetConcurrency(n int) {
	m.mu.Lock()
	m.concurrency = n
	p := m.cur
	m.mu.Unlock()
	p.SetConcurrency(n)
}

// Configure configures the plugin and remembers the request, so a
// relaunched plugin is configured the same way.
func (m *Managed) Configure(ctx context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	p, err := m.plugin(ctx)
	if err != nil {
		resp.Diagnostics.AddError(nil, "Plugin unavailable", err.Error())
		return
	}
	p.Configure(ctx, req, resp)
	if !resp.Diagnostics.HasError() {
		m.mu.Lock()
		m.configured = &req
		m.mu.Unlock()
	}
}

// TestConnection tests the plugin's connection.
func (m *Managed) TestConnection(ctx context.Context, req sdk.TestConnectionRequest, resp *sdk.TestConnectionResponse) {
	p, err := m.plugin(ctx)
	if err != nil {
		resp.Diagnostics.AddError(nil, "Plugin unavailable", err.Error())
		return
	}
	p.TestConnection(ctx, req, resp)
}

// Read reads a full snapshot through the plugin.
func (m *Managed) Read(ctx context.Context, req sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	p, err := m.plugin(ctx)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	return p.Read(ctx, req, emit)
}

// ReadChanges reads changes through the plugin.
func (m *Managed) ReadChanges(ctx context.Context, cursor string, emit sdk.ChangesFunc) error {
	p, err := m.plugin(ctx)
	if err != nil {
		return err
	}
	return p.ReadChanges(ctx, cursor, emit)
}

// Apply applies an operation through the plugin.
func (m *Managed) Apply(ctx context.Context, op sdk.Operation) (sdk.Result, error) {
	p, err := m.plugin(ctx)
	if err != nil {
		return sdk.Result{}, err
	}
	return p.Apply(ctx, op)
}

// Close closes the connector and stops its plugin.
func (m *Managed) Close() error {
	m.mu.Lock()
	p := m.cur
	m.closed = true
	m.mu.Unlock()
	if p != nil {
		p.Kill()
	}
	return nil
}

var (
	_ sdk.Incremental        = (*Managed)(nil)
	_ sdk.Target             = (*Managed)(nil)
	_ sdk.ConnectionTester   = (*Managed)(nil)
	_ sdk.Closer             = (*Managed)(nil)
	_ sdk.CapabilityReporter = (*Managed)(nil)
)
