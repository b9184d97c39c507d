package plugin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/midstream-io/midstream/sdk"
)

// DefaultEnv lists the host environment variables every plugin receives
// (when set): time zone, CA certificates, proxies and the temp directory.
// Nothing else of the host's environment reaches a plugin unless its
// LaunchConfig names it.
var DefaultEnv = []string{
	"TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"TMPDIR",
}

// LaunchConfig says how to start a plugin process.
type LaunchConfig struct {
	// Name names the connector in logs and errors.
	Name string
	// Path is the plugin executable; Args its arguments.
	Path string
	Args []string
	// SHA256, when set, is the checksum the executable must have; a
	// mismatch refuses to start it. Built-ins (the host re-executing
	// itself) need none.
	SHA256 []byte
	// Env names host environment variables passed in addition to
	// DefaultEnv (those the connector's configuration reads).
	Env []string
	// StartTimeout bounds the plugin's start; default 30s.
	StartTimeout time.Duration
	// Logger receives the plugin's log lines; default slog.Default().
	Logger *slog.Logger
	// StderrLines is how many of the plugin's last stderr lines a
	// PluginCrashedError carries; default 40.
	StderrLines int
}

// SelfConfig returns the launch configuration of a built-in connector: the
// running executable re-executed as `plugins serve NAME` (see ServeBuiltin).
func SelfConfig(name string) (LaunchConfig, error) {
	exe, err := os.Executable()
	if err != nil {
		return LaunchConfig{}, fmt.Errorf("find own executable to serve built-in %s: %w", name, err)
	}
	return LaunchConfig{Name: name, Path: exe, Args: []string{"plugins", "serve", name}}, nil
}

// Plugin is a launched plugin process and its client adapter.
type Plugin struct {
	*Client
	name   string
	client *goplugin.Client
	cmd    *exec.Cmd
	stderr *ringBuffer

	exitOnce sync.Once
	exitErr  error
}

// PluginCrashedError reports a plugin process that died. It is retryable:
// the host relaunches the plugin and the work is done again.
type PluginCrashedError struct {
	// Connector is the connector's name.
	Connector string
	// ExitStatus describes how the process ended ("signal: killed",
	// "exit status 2").
	ExitStatus string
	// Stderr holds the plugin's last stderr lines.
	Stderr []string
}

func (e *PluginCrashedError) Error() string {
	s := fmt.Sprintf("plugin %s crashed (%s)", e.Connector, e.ExitStatus)
	if n := len(e.Stderr); n > 0 {
		s += "; last stderr lines:\n  " + strings.Join(e.Stderr, "\n  ")
	}
	return s
}

// Retryable reports true: the work is retried after a relaunch.
func (e *PluginCrashedError) Retryable() bool { return true }

// Launch starts a plugin process and connects to it: go-plugin with the
// versioned handshake, AutoMTLS, gRPC only, no host environment beyond the
// allow-list, a start timeout, the parent-death signal, the plugin's
// stderr kept in a ring buffer and its logs bridged to slog.
func Launch(ctx context.Context, cfg LaunchConfig) (*Plugin, error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StderrLines == 0 {
		cfg.StderrLines = 40
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = allowedEnv(append(slices.Clone(DefaultEnv), cfg.Env...))
	setParentDeathSignal(cmd)

	p := &Plugin{name: cfg.Name, cmd: cmd, stderr: newRingBuffer(cfg.StderrLines)}
	var secure *goplugin.SecureConfig
	if len(cfg.SHA256) > 0 {
		secure = &goplugin.SecureConfig{Checksum: cfg.SHA256, Hash: sha256.New()}
	}
	logger := cfg.Logger.With("connector", cfg.Name)
	p.client = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		SkipHostEnv:      true,
		StartTimeout:     cfg.StartTimeout,
		Stderr:           p.stderr,
		Logger:           hclogToSlog(logger),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
		},
	})
	rpc, err := p.client.Client()
	if err != nil {
		p.client.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("plugin %s: %s does not match its pinned sha256; refusing to run it", cfg.Name, cfg.Path)
		}
		return nil, p.startError(err)
	}
	if _, err := rpc.Dispense(pluginName); err != nil {
		p.client.Kill()
		return nil, p.startError(err)
	}
	conn := rpc.(*goplugin.GRPCClient).Conn
	c, err := NewClient(ctx, conn)
	if err != nil {
		p.client.Kill()
		return nil, p.startError(err)
	}
	c.broken = p.translate
	p.Client = c
	return p, nil
}

func (p *Plugin) startError(err error) error {
	for _, l := range p.stderr.Lines() {
		if i := strings.Index(l, StartupErrorPrefix); i >= 0 {
			return fmt.Errorf("plugin %s failed to start: %s", p.name, l[i+len(StartupErrorPrefix):])
		}
	}
	if p.client.Exited() {
		return p.crashed()
	}
	return fmt.Errorf("start plugin %s: %w", p.name, err)
}

// translate turns a transport error into a PluginCrashedError when the
// process has died, and a retryable error otherwise.
func (p *Plugin) translate(err error) error {
	// The process may still be exiting when the connection drops: give it
	// a moment so the error says how it ended.
	deadline := time.Now().Add(2 * time.Second)
	for !p.client.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.client.Exited() {
		return p.crashed()
	}
	return p.Client.lostConnection(err)
}

func (p *Plugin) crashed() *PluginCrashedError {
	status := "exited"
	if ps := p.cmd.ProcessState; ps != nil {
		status = ps.String()
	}
	return &PluginCrashedError{Connector: p.name, ExitStatus: status, Stderr: p.stderr.Lines()}
}

// Pid returns the plugin's process id.
func (p *Plugin) Pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Stderr returns the plugin's last stderr lines.
func (p *Plugin) Stderr() []string { return p.stderr.Lines() }

// Kill closes the connector and stops the plugin process: gracefully, then
// forcefully after a few seconds.
func (p *Plugin) Kill() {
	if p.Client != nil && !p.client.Exited() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		done := make(chan struct{})
		go func() { _ = p.Client.Close(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		cancel()
	}
	p.client.Kill()
}

// allowedEnv returns the named variables of the host's environment.
func allowedEnv(names []string) []string {
	var env []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env = append(env, n+"="+v)
		}
	}
	return env
}

// CleanupClients kills every plugin still running; a host calls it (with
// defer) in main.
func CleanupClients() { goplugin.CleanupClients() }

var _ sdk.Incremental = (*Plugin)(nil)
