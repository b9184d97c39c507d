// Package plugins is the host side of Midstream's connector plugins: the
// table of built-in connectors (the one place that imports connectors/),
// launching built-ins by re-executing the running binary, external plugin
// binaries pinned by SHA-256, and the relaunch policy that restarts a
// crashed plugin.
//
// Launching itself — go-plugin's configuration, AutoMTLS, the environment
// allow-list, PluginCrashedError — is the SDK's (package sdk/plugin), so
// the conformance kit launches plugins exactly as the engine does.
package plugins
