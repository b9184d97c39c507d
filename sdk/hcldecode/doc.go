// Package hcldecode decodes a connector's HCL configuration block against
// the connector's [sdk.Schema].
//
// The engine's configuration loader, a connector's own tests and the
// conformance kit all use this package, so a connector's block is checked
// the same way everywhere, with the same file:line:col diagnostics, whether
// the connector is built in or an external plugin.
//
// # Decode a connector block
//
// [Decode] takes the body of a connector block (the attribute lines between
// its braces), decodes it with the schema turned into an hcldec spec by
// [Spec], and returns an [sdk.Config] holding plain Go values with defaults
// applied. Every problem is reported at once, each located in the file:
//
//   - a missing required argument, at the block's opening brace;
//   - an unknown argument or block, with "Did you mean …?" when a declared
//     argument has a close name;
//   - a value of the wrong type, an option not in the field's Options, a
//     duration that does not parse, at the value.
//
// [DecodeFile] parses a whole file as such a body, as a connector's
// example.hcl is written, and decodes it.
//
// # Functions
//
// [EvalContext] provides two functions to configuration expressions:
//
//   - env("NAME") is the value of the environment variable NAME. When NAME
//     is not set the configuration is invalid, and the diagnostic names the
//     variable; env("NAME", "default") returns "default" instead. A variable
//     set to the empty string is set: env returns "".
//   - file("path") is the text of a file, relative to the directory of the
//     configuration file unless absolute. One trailing newline ("\n" or
//     "\r\n") is removed, because secret files written by editors, echo, or
//     Kubernetes and Docker secrets end with one that is never part of the
//     secret; write "${file("path")}\n" to keep it. The file must be UTF-8
//     text.
//
// The returned context's Functions and Variables maps are the caller's to
// extend; [Functions] returns the same functions for a context built
// elsewhere.
//
// # Secrets
//
// Values of fields marked Sensitive are decoded like any other: the
// [sdk.Config] holds the resolved secret. Write them with env() or file()
// rather than literally, so the secret stays out of the configuration file:
//
//	token = env("SAMPLE_TOKEN")
//	key   = file("secrets/sample.key")
//
// # Diagnostics from a connector
//
// A connector's Configure may report problems by attribute path (an
// [sdk.Diagnostics] whose entries carry a [sdk.Path]). [LocateDiagnostics]
// maps those paths back to ranges in the block's body, down to a map key or
// a list element, as Terraform does for provider diagnostics.
package hcldecode
