package config

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
)

// DefaultResolver returns the engine's resolver. A built-in connector is
// asked in process (its constructor from the built-in table, no plugin
// process); an external plugin is launched as the engine would run it,
// checksum checked, asked for its schema and capabilities, and stopped, so
// its block gets the same diagnostics as a built-in's.
func DefaultResolver() Resolver { return defaultResolver{} }

type defaultResolver struct{}

func (defaultResolver) Resolve(ctx context.Context, ref plugins.Ref) (sdk.Schema, sdk.Capabilities, error) {
	if ref.Path == "" {
		b, ok := plugins.Lookup(ref.Name)
		if !ok {
			return sdk.Schema{}, sdk.Capabilities{}, fmt.Errorf("no built-in connector named %q", ref.Name)
		}
		c := b.New()
		return c.Schema(), sdk.CapabilitiesOf(c), nil
	}
	// The plugin's logs are dropped: a failure comes back as the error
	// (with the plugin's last stderr lines), which Load reports at the
	// plugin block.
	m, err := plugins.Launch(ctx, ref, plugins.DefaultPolicy, slog.New(slog.DiscardHandler))
	if err != nil {
		return sdk.Schema{}, sdk.Capabilities{}, err
	}
	defer m.Close()
	return m.Schema(), m.Capabilities(), nil
}
