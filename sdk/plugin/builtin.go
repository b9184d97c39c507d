package plugin

import (
	"context"
	"fmt"
	"os"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/midstream-io/midstream/sdk"
)

// Constructors maps built-in connector names to their constructors.
type Constructors map[string]func() sdk.Connector

// ServeBuiltin serves a built-in connector when the process was started as
// `EXE plugins serve NAME`, and otherwise returns. Any binary that hosts
// the engine calls it first thing in main, because built-ins run out of
// process by re-executing that binary (see SelfConfig).
func ServeBuiltin(builtins Constructors) {
	if len(os.Args) < 4 || os.Args[1] != "plugins" || os.Args[2] != "serve" {
		return
	}
	name := os.Args[3]
	newc, ok := builtins[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "%sno built-in connector named %q\n", StartupErrorPrefix, name)
		os.Exit(1)
	}
	Serve(newc())
}

// TestMain lets a test binary serve built-ins as plugins, so tests launch
// real plugin processes exactly as the midstream binary does:
//
//	func TestMain(m *testing.M) { plugin.TestMain(m, plugin.Constructors{"csv": ...}) }
func TestMain(m *testing.M, builtins Constructors) {
	ServeBuiltin(builtins)
	code := m.Run()
	CleanupClients()
	os.Exit(code)
}

// InProcess serves c over gRPC inside the test process and returns its
// client adapter, as the conformance kit's second mode does. Stop drops
// the connection, as a crashed plugin would.
func InProcess(t testing.TB, c sdk.Connector) (client *Client, stop func()) {
	t.Helper()
	gc, gs := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		pluginName: &grpcPlugin{impl: c},
	})
	cl, err := NewClient(context.Background(), gc.Conn)
	if err != nil {
		t.Fatalf("in-process plugin client: %v", err)
	}
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			gs.Stop()
			_ = gc.Close()
		}
	}
	t.Cleanup(stop)
	return cl, stop
}
