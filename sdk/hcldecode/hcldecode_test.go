package hcldecode_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

var schema = sdk.Schema{Fields: []sdk.Field{
	{Name: "base_url", Type: sdk.FieldString, Required: true, Description: "The API's base URL."},
	{Name: "token", Type: sdk.FieldString, Required: true, Sensitive: true, Description: "The API token."},
	{Name: "page_size", Type: sdk.FieldInt, Default: 100, Description: "Records per page."},
	{Name: "verify_tls", Type: sdk.FieldBool, Default: true, Description: "Whether to verify certificates."},
	{Name: "timeout", Type: sdk.FieldDuration, Default: "30s", Description: "The request timeout."},
	{Name: "mode", Type: sdk.FieldString, Default: "full", Options: []string{"full", "incremental"}, Description: "The read mode."},
	{Name: "scopes", Type: sdk.FieldStringList, Description: "The OAuth scopes."},
	{Name: "columns", Type: sdk.FieldStringMap, Description: "Column renames."},
}}

func TestSchemaIsValid(t *testing.T) {
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
}

// diagStrings formats diagnostics as "file:line:col: summary".
func diagStrings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Subject == nil {
			out = append(out, "<nil>: "+d.Summary)
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
	}
	return out
}

// checkDetails fails unless every want string appears in some detail.
func checkDetails(t *testing.T, diags hcl.Diagnostics, want []string) {
	t.Helper()
	var details []string
	for _, d := range diags {
		details = append(details, d.Detail)
	}
	all := strings.Join(details, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no diagnostic detail contains %q; details:\n%s", w, all)
		}
	}
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

const required = `base_url = "https://api.example.com"
token    = "t0k3n"
`

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "token"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	defaults := map[string]any{
		"base_url": "https://api.example.com", "token": "t0k3n",
		"page_size": int64(100), "verify_tls": true, "timeout": "30s", "mode": "full",
	}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range defaults {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	tests := []struct {
		name        string
		src         string
		env         map[string]string
		want        map[string]any // the Config's Values, checked when there is no error
		wantDiags   []string
		wantDetails []string
	}{
		{
			name: "every field type",
			src: `base_url   = "https://api.example.com"
token      = "t0k3n"
page_size  = 250
verify_tls = false
timeout    = "1m30s"
mode       = "incremental"
scopes     = ["users:read", "groups:read"]
columns    = { "工号" = "employee_id", dept = "department" }
`,
			want: map[string]any{
				"base_url": "https://api.example.com", "token": "t0k3n",
				"page_size": int64(250), "verify_tls": false, "timeout": "1m30s", "mode": "incremental",
				"scopes":  []string{"users:read", "groups:read"},
				"columns": map[string]string{"工号": "employee_id", "dept": "department"},
			},
		},
		{
			name: "defaults applied",
			src:  required,
			want: defaults,
		},
		{
			name: "null is unset",
			src:  required + "page_size = null\nscopes = null\n",
			want: defaults,
		},
		{
			name: "hcl conversions",
			src:  required + "page_size = \"42\"\nverify_tls = \"false\"\nscopes = []\n",
			want: with("page_size", int64(42), "verify_tls", false, "scopes", []string{}),
		},
		{
			name:        "missing required",
			src:         "page_size = 10\n",
			wantDiags:   []string{"example.hcl:1:1: Missing required argument", "example.hcl:1:1: Missing required argument"},
			wantDetails: []string{`The argument "base_url" is required`, `The argument "token" is required`},
		},
		{
			name:        "required set to null",
			src:         "base_url = null\ntoken = \"x\"\n",
			wantDiags:   []string{"example.hcl:1:12: Missing required argument"},
			wantDetails: []string{`"base_url" is required`},
		},
		{
			name:        "wrong type",
			src:         required + "page_size = \"many\"\n",
			wantDiags:   []string{"example.hcl:3:13: Incorrect attribute value type"},
			wantDetails: []string{`Inappropriate value for attribute "page_size": a number is required.`},
		},
		{
			name:        "wrong type in list",
			src:         required + "scopes = [\"a\", [\"b\"]]\n",
			wantDiags:   []string{"example.hcl:3:10: Incorrect attribute value type"},
			wantDetails: []string{`attribute "scopes"`},
		},
		{
			name:        "not a whole number",
			src:         required + "page_size = 1.5\n",
			wantDiags:   []string{"example.hcl:3:13: Invalid value"},
			wantDetails: []string{"The value of \"page_size\" must be a whole number"},
		},
		{
			name:        "number out of range",
			src:         required + "page_size = 1e30\n",
			wantDiags:   []string{"example.hcl:3:13: Invalid value"},
			wantDetails: []string{`"page_size" must be a whole number between`},
		},
		{
			name:        "null list element",
			src:         required + "scopes = [\"a\", null]\n",
			wantDiags:   []string{"example.hcl:3:16: Invalid value"},
			wantDetails: []string{`Element 1 of "scopes" is null`},
		},
		{
			name:        "null map value",
			src:         required + "columns = {\n  a = \"x\"\n  b = null\n}\n",
			wantDiags:   []string{"example.hcl:5:3: Invalid value"},
			wantDetails: []string{`The value of "b" in "columns" is null`},
		},
		{
			name:        "unknown argument",
			src:         required + "page_sise = 10\n",
			wantDiags:   []string{"example.hcl:3:1: Unsupported argument"},
			wantDetails: []string{`An argument named "page_sise" is not expected here. Did you mean "page_size"?`},
		},
		{
			name:        "unknown argument far from any field",
			src:         required + "colour = \"red\"\n",
			wantDiags:   []string{"example.hcl:3:1: Unsupported argument"},
			wantDetails: []string{`An argument named "colour" is not expected here.`},
		},
		{
			name:        "unknown block",
			src:         required + "scope {\n}\n",
			wantDiags:   []string{"example.hcl:3:1: Unsupported block type"},
			wantDetails: []string{`Blocks of type "scope" are not expected here.`},
		},
		{
			name:        "block for an argument",
			src:         required + "scopes {\n}\n",
			wantDiags:   []string{"example.hcl:3:1: Unsupported block type"},
			wantDetails: []string{`Did you mean to define argument "scopes"? If so, use the equals sign to assign it a value.`},
		},
		{
			name:        "option not allowed",
			src:         required + "mode = \"delta\"\n",
			wantDiags:   []string{"example.hcl:3:8: Invalid value"},
			wantDetails: []string{`The value of "mode" must be one of "full" or "incremental", not "delta".`},
		},
		{
			name:        "duration does not parse",
			src:         required + "timeout = \"30 seconds\"\n",
			wantDiags:   []string{"example.hcl:3:11: Invalid value"},
			wantDetails: []string{`The value of "timeout" must be a duration such as "30s"`},
		},
		{
			name:        "duration without unit",
			src:         required + "timeout = 30\n",
			wantDiags:   []string{"example.hcl:3:11: Invalid value"},
			wantDetails: []string{"missing unit"},
		},
		{
			name: "several errors at once",
			src: `token     = 42
page_size = "many"
mode      = "delta"
timeout   = "soon"
base_ur   = "https://api.example.com"
columns   = { a = "x" }
`,
			wantDiags: []string{
				"example.hcl:1:1: Missing required argument",
				"example.hcl:2:13: Incorrect attribute value type",
				"example.hcl:3:13: Invalid value",
				"example.hcl:4:13: Invalid value",
				"example.hcl:5:1: Unsupported argument",
			},
			wantDetails: []string{`Did you mean "base_url"?`, `"base_url" is required`},
		},
		{
			name: "env set",
			src:  "base_url = env(\"SAMPLE_URL\")\ntoken = env(\"SAMPLE_TOKEN\", \"unused\")\n",
			env:  map[string]string{"SAMPLE_URL": "https://api.example.com", "SAMPLE_TOKEN": "t0k3n"},
			want: defaults,
		},
		{
			name: "env set to empty",
			src:  "base_url = \"https://api.example.com\"\ntoken = env(\"SAMPLE_TOKEN\", \"dflt\")\n",
			env:  map[string]string{"SAMPLE_TOKEN": ""},
			want: with("token", ""),
		},
		{
			name: "env default",
			src:  "base_url = \"https://api.example.com\"\ntoken = env(\"SAMPLE_TOKEN\", \"t0k3n\")\n",
			want: defaults,
		},
		{
			name:      "env unset",
			src:       "base_url = \"https://api.example.com\"\ntoken = env(\"SAMPLE_TOKEN\")\n",
			wantDiags: []string{"example.hcl:2:14: Invalid function argument"},
			wantDetails: []string{
				`environment variable "SAMPLE_TOKEN" is not set: set it, or give a default as in env("SAMPLE_TOKEN", "value")`,
			},
		},
		{
			name: "env in a template",
			src:  "base_url = \"https://${env(\"SAMPLE_HOST\")}/api\"\ntoken = \"t0k3n\"\n",
			env:  map[string]string{"SAMPLE_HOST": "api.example.com"},
			want: with("base_url", "https://api.example.com/api"),
		},
		{
			name:        "env with too many arguments",
			src:         required + "mode = env(\"A\", \"full\", \"b\")\n",
			wantDiags:   []string{"example.hcl:3:26: Invalid function argument"},
			wantDetails: []string{"at most one default value"},
		},
		{
			name: "file relative path",
			src:  "base_url = \"https://api.example.com\"\ntoken = file(\"secrets/token\")\n",
			want: with("token", "from-file"),
		},
		{
			name:        "file missing",
			src:         "base_url = \"https://api.example.com\"\ntoken = file(\"secrets/nope\")\n",
			wantDiags:   []string{"example.hcl:2:15: Invalid function argument"},
			wantDetails: []string{filepath.Join(dir, "secrets", "nope") + " does not exist", "relative paths start from " + dir},
		},
		{
			name:      "syntax error",
			src:       required + "page_size = = 3\nbogus = 1\n",
			wantDiags: []string{"example.hcl:3:13: Invalid expression"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := hcldecode.EvalContext(dir, mapEnv(tt.env))
			cfg, diags := hcldecode.DecodeFile("example.hcl", []byte(tt.src), schema, ctx)
			if diff := cmp.Diff(tt.wantDiags, diagStrings(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall: %v", diff, diags)
			}
			checkDetails(t, diags, tt.wantDetails)
			if tt.want != nil && !diags.HasErrors() {
				if diff := cmp.Diff(tt.want, cfg.Values()); diff != "" {
					t.Errorf("config (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestDecodeBlock(t *testing.T) {
	src := `source "hr" {
  page_size = 50
}

source "crm" {
  base_url  = "https://crm.example.com"
  token     = env("CRM_TOKEN")
  timeout   = "5m"
  mode      = "incremental"
}
`
	f, diags := hclsyntax.ParseConfig([]byte(src), "pipeline.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	blocks := f.Body.(*hclsyntax.Body).Blocks
	tests := []struct {
		name      string
		block     int
		want      map[string]any
		wantDiags []string
	}{
		{
			name:  "missing required located at the block",
			block: 0,
			wantDiags: []string{
				"pipeline.hcl:1:13: Missing required argument",
				"pipeline.hcl:1:13: Missing required argument",
			},
		},
		{
			name:  "valid block",
			block: 1,
			want: map[string]any{
				"base_url": "https://crm.example.com", "token": "s3cret",
				"page_size": int64(100), "verify_tls": true, "timeout": "5m0s", "mode": "incremental",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := hcldecode.EvalContext(".", mapEnv(map[string]string{"CRM_TOKEN": "s3cret"}))
			cfg, diags := hcldecode.Decode(blocks[tt.block].Body, schema, ctx)
			if diff := cmp.Diff(tt.wantDiags, diagStrings(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, cfg.Values()); diff != "" {
					t.Errorf("config (-want +got):\n%s", diff)
				}
				if got := cfg.Duration("timeout").String(); got != "5m0s" {
					t.Errorf("Duration(timeout) = %s, want 5m0s", got)
				}
			}
		})
	}
}

func TestDecodeWithoutContext(t *testing.T) {
	_, diags := hcldecode.DecodeFile("example.hcl", []byte("base_url = \"u\"\ntoken = env(\"X\")\n"), schema, nil)
	if diff := cmp.Diff([]string{"example.hcl:2:9: Function calls not allowed"}, diagStrings(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestDecodeCallerVariables(t *testing.T) {
	ctx := hcldecode.EvalContext("", mapEnv(nil))
	ctx.Variables["var"] = cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("api.example.com")})
	cfg, diags := hcldecode.DecodeFile("example.hcl", []byte("base_url = \"https://${var.host}\"\ntoken = \"t\"\n"), schema, ctx)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.String("base_url"); got != "https://api.example.com" {
		t.Errorf("base_url = %q", got)
	}
}

func TestLocateDiagnostics(t *testing.T) {
	src := `base_url = "https://api.example.com"
token    = "t0k3n"
scopes   = ["users:read", "groups:read"]
columns  = {
  dept   = "department"
  "工号" = "employee_id"
}
`
	f, diags := hclsyntax.ParseConfig([]byte(src), "example.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defRange := hcl.Range{Filename: "pipeline.hcl", Start: hcl.Pos{Line: 7, Column: 1, Byte: 80}, End: hcl.Pos{Line: 7, Column: 13, Byte: 92}}
	tests := []struct {
		name     string
		path     sdk.Path
		fallback hcl.Range
		want     string
	}{
		{name: "attribute", path: sdk.Path{"token"}, want: "example.hcl:2:12"},
		{name: "map key", path: sdk.Path{"columns", "工号"}, want: "example.hcl:6:3"},
		{name: "identifier map key", path: sdk.Path{"columns", "dept"}, want: "example.hcl:5:3"},
		{name: "absent map key", path: sdk.Path{"columns", "nope"}, want: "example.hcl:4:12"},
		{name: "list index", path: sdk.Path{"scopes", "1"}, want: "example.hcl:3:27"},
		{name: "list index out of range", path: sdk.Path{"scopes", "2"}, want: "example.hcl:3:12"},
		{name: "path into a string", path: sdk.Path{"token", "x"}, want: "example.hcl:2:12"},
		{name: "unset attribute", path: sdk.Path{"timeout"}, want: "example.hcl:1:1"},
		{name: "no path", want: "example.hcl:1:1"},
		{name: "no path with fallback", fallback: defRange, want: "pipeline.hcl:7:1"},
		{name: "unset attribute with fallback", path: sdk.Path{"timeout"}, fallback: defRange, want: "pipeline.hcl:7:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ds sdk.Diagnostics
			ds.AddWarning(tt.path, "Deprecated value", "Use something else.")
			got := hcldecode.LocateDiagnostics(f.Body, ds, tt.fallback)
			if diff := cmp.Diff([]string{tt.want + ": Deprecated value"}, diagStrings(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got[0].Severity != hcl.DiagWarning || got[0].Detail != "Use something else." {
				t.Errorf("got severity %v, detail %q", got[0].Severity, got[0].Detail)
			}
		})
	}
}

func TestLocateDiagnosticsRange(t *testing.T) {
	src := "columns = { \"工号\" = \"employee_id\" }\n"
	f, diags := hclsyntax.ParseConfig([]byte(src), "example.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var ds sdk.Diagnostics
	ds.AddError(sdk.Path{"columns", "工号"}, "Unknown column", "The column does not exist.")
	got := hcldecode.LocateDiagnostics(f.Body, ds, hcl.Range{})
	if len(got) != 1 || got[0].Subject == nil {
		t.Fatalf("got %v", got)
	}
	subject := string(got[0].Subject.SliceBytes([]byte(src)))
	if want := `"工号" = "employee_id"`; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	if got[0].Context == nil || string(got[0].Context.SliceBytes([]byte(src))) != strings.TrimSpace(src) {
		t.Errorf("context = %v, want the whole attribute", got[0].Context)
	}
	if got[0].Severity != hcl.DiagError {
		t.Errorf("severity = %v, want error", got[0].Severity)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		content  string
		abs      bool
		want     string
		wantDiag string
	}{
		{name: "trailing newline trimmed", content: "secret\n", want: "secret"},
		{name: "trailing CRLF trimmed", content: "secret\r\n", want: "secret"},
		{name: "no trailing newline", content: "secret", want: "secret"},
		{name: "only one newline trimmed", content: "line 1\nline 2\n\n", want: "line 1\nline 2\n"},
		{name: "empty file", content: "", want: ""},
		{name: "absolute path", content: "abs\n", abs: true, want: "abs"},
		{name: "not UTF-8", content: "\xff\xfe", wantDiag: "is not UTF-8 text"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("f%d.txt", i)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			path := name
			if tt.abs {
				path = filepath.Join(dir, name)
			}
			base := dir
			if tt.abs {
				base = t.TempDir() // another directory: an absolute path ignores it
			}
			expr, diags := hclsyntax.ParseExpression([]byte(fmt.Sprintf("file(%q)", path)), "x.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v, diags := expr.Value(hcldecode.EvalContext(base, mapEnv(nil)))
			if tt.wantDiag != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantDiag) {
					t.Errorf("diagnostics %v, want one containing %q", diags, tt.wantDiag)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := v.AsString(); got != tt.want {
				t.Errorf("file() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	want := map[string]cty.Type{
		"base_url": cty.String, "token": cty.String, "page_size": cty.Number, "verify_tls": cty.Bool,
		"timeout": cty.String, "mode": cty.String, "scopes": cty.List(cty.String), "columns": cty.Map(cty.String),
	}
	spec := hcldecode.Spec(schema)
	if len(spec) != len(want) {
		t.Fatalf("spec has %d attributes, want %d", len(spec), len(want))
	}
	for _, f := range schema.Fields {
		t.Run(f.Name, func(t *testing.T) {
			as, ok := spec[f.Name].(*hcldec.AttrSpec)
			if !ok {
				t.Fatalf("spec[%q] is %T, want *hcldec.AttrSpec", f.Name, spec[f.Name])
			}
			if as.Name != f.Name || !as.Type.Equals(want[f.Name]) || as.Required != f.Required {
				t.Errorf("spec[%q] = {%s %s required=%v}, want {%s %s required=%v}",
					f.Name, as.Name, as.Type.FriendlyName(), as.Required, f.Name, want[f.Name].FriendlyName(), f.Required)
			}
		})
	}
}

// TestDecodeRemainBody decodes a connector body as the engine gets it: the
// rest of a block whose own arguments gohcl already decoded.
func TestDecodeRemainBody(t *testing.T) {
	src := `source "hr" {
  schedule = "@hourly"
  base_url = "https://hr.example.com"
  token    = "t"
  page_sise = 10
}
`
	f, diags := hclsyntax.ParseConfig([]byte(src), "pipeline.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var root struct {
		Sources []struct {
			Name     string   `hcl:"name,label"`
			Schedule string   `hcl:"schedule,optional"`
			Body     hcl.Body `hcl:",remain"`
		} `hcl:"source,block"`
	}
	if diags := gohcl.DecodeBody(f.Body, nil, &root); diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = hcldecode.Decode(root.Sources[0].Body, schema, hcldecode.EvalContext("", mapEnv(nil)))
	if diff := cmp.Diff([]string{"pipeline.hcl:5:3: Unsupported argument"}, diagStrings(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	checkDetails(t, diags, []string{`Did you mean "page_size"?`})

	var ds sdk.Diagnostics
	ds.AddError(sdk.Path{"base_url"}, "Unreachable", "Check the URL.")
	ds.AddError(sdk.Path{"schedule"}, "Not ours", "A connector cannot see the schedule.")
	got := hcldecode.LocateDiagnostics(root.Sources[0].Body, ds, hcl.Range{})
	want := []string{"pipeline.hcl:3:14: Unreachable", "pipeline.hcl:1:13: Not ours"}
	if diff := cmp.Diff(want, diagStrings(got)); diff != "" {
		t.Errorf("located (-want +got):\n%s", diff)
	}
}
