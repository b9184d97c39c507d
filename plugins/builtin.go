package plugins

import (
	"fmt"
	"slices"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/connectors/csv"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// Builtin is one built-in connector.
type Builtin struct {
	// Name is the registered name and HCL label.
	Name string
	// New returns a fresh connector.
	New func() sdk.Connector
	// Example is the connector's example.hcl, printed by
	// `midstream plugins sample NAME`.
	Example string
}

// builtins is the table of built-in connectors, one line each.
var builtins = mustTable(
	Builtin{"callback", func() sdk.Connector { return callback.New() }, callback.Example},
	Builtin{"csv", func() sdk.Connector { return csv.New() }, csv.Example},
)

// mustTable checks the table once, at start-up: a bad entry is a bug that
// must not wait for a user to configure that connector.
func mustTable(entries ...Builtin) []Builtin {
	seen := map[string]bool{}
	for i, b := range entries {
		switch {
		case b.Name == "":
			panic(fmt.Sprintf("plugins: built-in %d has no name", i))
		case seen[b.Name]:
			panic(fmt.Sprintf("plugins: built-in %q registered twice", b.Name))
		case b.New == nil:
			panic(fmt.Sprintf("plugins: built-in %q has no constructor", b.Name))
		}
		if got := b.New().Metadata().Name; got != b.Name {
			panic(fmt.Sprintf("plugins: built-in %q calls itself %q", b.Name, got))
		}
		seen[b.Name] = true
	}
	slices.SortFunc(entries, func(a, b Builtin) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return entries
}

// Builtins returns the built-in connectors, sorted by name.
func Builtins() []Builtin { return slices.Clone(builtins) }

// Lookup returns the built-in named name.
func Lookup(name string) (Builtin, bool) {
	for _, b := range builtins {
		if b.Name == name {
			return b, true
		}
	}
	return Builtin{}, false
}

// Names returns the built-in connectors' names, sorted.
func Names() []string {
	out := make([]string, len(builtins))
	for i, b := range builtins {
		out[i] = b.Name
	}
	return out
}

// Constructors returns the table in the form plugin.ServeBuiltin and
// plugin.TestMain take.
func Constructors() plugin.Constructors {
	m := make(plugin.Constructors, len(builtins))
	for _, b := range builtins {
		m[b.Name] = b.New
	}
	return m
}
