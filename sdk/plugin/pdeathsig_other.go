//go:build !linux

package plugin

import "os/exec"

// setParentDeathSignal is Linux-only; elsewhere the plugin's own watch of
// its parent (see Serve) ends it.
func setParentDeathSignal(*exec.Cmd) {}
