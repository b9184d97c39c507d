package hcldecode_test

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

// A connector's test decodes its example.hcl against its schema, with a
// placeholder for every environment variable so no secret is needed.
func ExampleDecodeFile() {
	s := sdk.Schema{Fields: []sdk.Field{
		{Name: "base_url", Type: sdk.FieldString, Required: true, Description: "The API's base URL."},
		{Name: "token", Type: sdk.FieldString, Required: true, Sensitive: true, Description: "The API token."},
		{Name: "timeout", Type: sdk.FieldDuration, Default: "30s", Description: "The request timeout."},
	}}
	src := []byte(`base_url = "https://api.example.com"
token    = env("SAMPLE_TOKEN")
`)
	placeholder := func(name string) (string, bool) { return "placeholder-" + name, true }
	cfg, diags := hcldecode.DecodeFile("example.hcl", src, s, hcldecode.EvalContext("", placeholder))
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	fmt.Println(cfg.String("token"), cfg.Duration("timeout"))
	// Output: placeholder-SAMPLE_TOKEN 30s
}

// Diagnostics are printed together, each with its file:line:col and a
// snippet of the file.
func ExampleDecodeFile_diagnostics() {
	s := sdk.Schema{Fields: []sdk.Field{
		{Name: "base_url", Type: sdk.FieldString, Required: true, Description: "The API's base URL."},
		{Name: "mode", Type: sdk.FieldString, Default: "full", Options: []string{"full", "incremental"}, Description: "The read mode."},
	}}
	src := []byte(`base_url = "https://api.example.com"
mdoe     = "full"
`)
	_, diags := hcldecode.DecodeFile("example.hcl", src, s, hcldecode.EvalContext("", nil))
	files := map[string]*hcl.File{"example.hcl": {Bytes: src}}
	_ = hcl.NewDiagnosticTextWriter(os.Stdout, files, 78, false).WriteDiagnostics(diags)
	// Output:
	// Error: Unsupported argument
	//
	//   on example.hcl line 2:
	//    2: mdoe     = "full"
	//
	// An argument named "mdoe" is not expected here. Did you mean "mode"?
	//
}
