// Package sdk is the stable surface Midstream connectors are written against.
//
// A connector is a Go value that implements [Connector] and at least one of
// [Source] (it reads people and organizations from a system that owns them)
// or [Target] (it applies changes to an application). Optional capabilities
// are separate interfaces — [Incremental], [TargetWithLookup],
// [ConnectionTester], [Closer] — found by type assertion and also declared
// in [Capabilities], so a host never calls what a connector lacks.
//
// # Write a Source
//
// A Source declares its configuration [Schema], is configured once with the
// decoded values, and streams a full snapshot through an [EmitFunc]:
//
//	func (c *Conn) Read(ctx context.Context, req sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
//		for _, u := range c.users {
//			if err := emit(u); err != nil {
//				return sdk.ReadResult{}, err
//			}
//		}
//		return sdk.ReadResult{}, nil
//	}
//
// Emit records one at a time or many at once; the SDK batches them on the
// wire (capped by count and bytes), so memory stays bounded however large
// the source. A source with a change feed also implements [Incremental].
//
// # Write a Target
//
// A Target applies one [Operation] at a time and must be safe for
// concurrent use: the SDK runs up to N applies at once (N is the target's
// concurrency, set by the host) but never two for the same object. Errors
// that the host should act on are returned as [*Error] with a [Category].
// A create must be idempotent: implement [TargetWithLookup] and the SDK looks
// the object up inside the create, so a re-applied create updates and links
// the existing object instead of creating a second one.
//
// # Serve it
//
// A plugin's whole main is one call to plugin.Serve (package
// github.com/midstream-io/midstream/sdk/plugin):
//
//	func main() { plugin.Serve(jsonfile.New()) }
//
// See examples/plugin-template for a complete connector.
//
// # Test it with conformance
//
// Package github.com/midstream-io/midstream/sdk/conformance holds the named
// definitions every connector passes, in process, over gRPC inside the test
// process, and as a real subprocess.
package sdk
