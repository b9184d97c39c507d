// Package conformance is the test kit every Midstream connector passes.
//
// A connector's test describes the connector in a [Suite] — its
// constructor, its example configuration, and a fixture that prepares a
// fresh system to read from or write to — and calls [Suite.Run]. The kit
// runs each named definition three ways:
//
//   - in process: the connector's Go value, called directly (through
//     sdk.Apply, as every host calls a target);
//   - over gRPC inside the test process, through the SDK's client adapter
//     and server, exactly the code a real plugin runs;
//   - as a real subprocess launched by the SDK's launcher, the test binary
//     re-executing itself as the plugin (the package's TestMain must call
//     plugin.TestMain with the connector's constructor).
//
// The matrix is fixed, not skipped: [SurvivesPluginCrash] kills a real
// plugin process in the subprocess mode and drops the connection in the
// gRPC mode; in process there is nothing to crash, so it is not part of
// that mode. Definitions a connector's capabilities rule out (incremental
// definitions for a full-only source) are not part of its matrix.
//
// # Definitions
//
//   - [SchemaMatchesExampleConfig]: the definition is valid (name, schema,
//     a role), the example configuration decodes against the schema without
//     a diagnostic, and the schema survives the protocol unchanged.
//   - [SourceFullRead]: a full read yields exactly the fixture's records,
//     every record valid, every referenced org present.
//   - [SourceIncrementalFromCursor]: changes made after a full read are
//     read from its cursor, in order, and nothing more from the last cursor.
//   - [SourceCursorResumesAfterRestart]: a cursor taken mid-stream and one
//     taken before a restart resume exactly where they stopped.
//   - [TargetCreateUpdateDisableDelete]: the lifecycle of an org and a user
//     reaches the application, checked through the fixture's peer.
//   - [TargetIdempotentRetry]: a re-applied create leaves one object,
//     answered as matched, holding the latest values.
//   - [TargetReportsVendorError]: the application's failures come back
//     typed: retryable, rate-limited with Retry-After, permanent with the
//     HTTP status and body excerpt.
//   - [SurvivesPluginCrash]: a plugin killed in the middle of a read or of
//     an apply stream surfaces as a retryable error (a PluginCrashedError
//     for a real process), and a relaunched plugin completes the work with
//     nothing lost and no second object at the peer.
package conformance
