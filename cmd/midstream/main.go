// Command midstream is the Midstream identity synchronization hub.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// Built-in connectors run out of process by re-executing this binary
	// as `midstream plugins serve NAME`; that must be handled before
	// anything else runs.
	plugin.ServeBuiltin(plugins.Constructors())
	defer plugin.CleanupClients()
	if os.Getenv("GOGC") == "" {
		// The engine's heap turns over with every batch of events it
		// claims, maps and records: at Go's default, collection took
		// about a tenth of its CPU in a 100,000-user sync. 200 costs
		// ~30 MB more at that size; GOGC in the environment overrides it.
		debug.SetGCPercent(200)
	}

	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		if h, ok := err.(interface{ Hint() string }); ok && h.Hint() != "" {
			fmt.Fprintln(os.Stderr, "hint:", h.Hint())
		}
		plugin.CleanupClients()
		os.Exit(1)
	}
}
