package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/midstream-io/midstream/sdk"
)

// StartupErrorPrefix starts the one stderr line a plugin prints when it
// cannot start (a broken schema, a panic while starting); the launcher
// looks for it to report the cause instead of a bare timeout.
const StartupErrorPrefix = "midstream plugin startup error: "

// Serve serves c as a plugin and never returns. It is a plugin's whole main:
//
//	func main() { plugin.Serve(myconnector.New()) }
//
// Serve checks the connector's definition first, routes log/slog output to
// the host (which logs it under the connector's name), and exits when the
// host goes away, cancelling in-flight reads and applies, so a plugin never
// outlives its host. Unless the environment sets them, a plugin runs
// with GOGC=200 and on half the machine's CPUs (GOMAXPROCS).
func Serve(c sdk.Connector) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "%spanic: %v\n", StartupErrorPrefix, r)
			os.Exit(1)
		}
	}()
	if err := CheckDefinition(c); err != nil {
		fmt.Fprintf(os.Stderr, "%s%v\n", StartupErrorPrefix, err)
		os.Exit(1)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "This is a Midstream connector plugin (%s). It is started by midstream, not by hand.\n", c.Metadata().Name)
		os.Exit(1)
	}
	slog.SetDefault(slog.New(newHCLogHandler(os.Stderr)))
	if os.Getenv("GOGC") == "" {
		// A plugin's heap is small and turns over with every batch and
		// operation: at Go's default a collection runs every few
		// megabytes, and it cost a target ~17 % of its CPU. 200, not
		// more: a source holds what it has read (the csv its id set).
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// A plugin shares the machine with its host and the other
		// plugins, and mostly waits on the network: with every CPU its
		// idle threads spin looking for work. Half of them cut a callback
		// target's CPU by 15 % on 2 CPUs.
		// Half of what the runtime chose, which follows a container's
		// CPU quota.
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/2))
	}

	ctx, cancel := context.WithCancel(context.Background())
	go watchHost(cancel)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versionedPluginsCtx(ctx, c),
		GRPCServer:       goplugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: c.Metadata().Name, Output: os.Stderr, JSONFormat: true, Level: hclog.Info,
		}),
	})
	os.Exit(0)
}

// CheckDefinition checks what a connector declares about itself: a valid
// name, a valid schema, and at least one role.
func CheckDefinition(c sdk.Connector) error {
	md := c.Metadata()
	if !connectorNameRE.MatchString(md.Name) {
		return fmt.Errorf("connector name %q must be one lowercase word", md.Name)
	}
	if err := c.Schema().Validate(); err != nil {
		return fmt.Errorf("connector %s: schema: %w", md.Name, err)
	}
	caps := sdk.CapabilitiesOf(c)
	if !caps.Source && !caps.Target {
		return fmt.Errorf("connector %s is neither a Source nor a Target", md.Name)
	}
	return nil
}

// watchHost exits the plugin when its host is gone. The launcher also sets
// the parent-death signal on Linux; this covers other systems and a host
// that died before the signal was armed.
func watchHost(cancel context.CancelFunc) {
	ppid := os.Getppid()
	for range time.Tick(200 * time.Millisecond) {
		if os.Getppid() != ppid {
			cancel()
			fmt.Fprintln(os.Stderr, "host process is gone; exiting")
			os.Exit(3)
		}
	}
}

func versionedPluginsCtx(ctx context.Context, impl sdk.Connector) map[int]goplugin.PluginSet {
	vp := versionedPlugins(impl)
	for _, set := range vp {
		for _, p := range set {
			p.(*grpcPlugin).ctx = ctx
		}
	}
	return vp
}
