// Command plugin-template is an out-of-tree Midstream connector: copy this
// folder to start your own. Build it, pin its SHA-256 in the pipeline, and
// midstream runs it as a plugin:
//
//	go build -o jsonfile-plugin ./examples/plugin-template
//	sha256sum jsonfile-plugin
package main

import (
	"github.com/midstream-io/midstream/examples/plugin-template/jsonfile"
	"github.com/midstream-io/midstream/sdk/plugin"
)

func main() { plugin.Serve(jsonfile.New()) }
