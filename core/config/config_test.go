package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

// writeFiles writes name → content into a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// diagLines renders diagnostics as "file:line:col: severity: summary",
// with file names relative to dir.
func diagLines(dir string, diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		line := diagLine(d)
		out = append(out, strings.TrimPrefix(line, dir+string(filepath.Separator)))
	}
	return out
}

const sourceFile = `
pipeline "split" {
  mapping_timeout = "2s"
}

source "csv" "hr" {
  schedule = "@hourly"
  mapping "user" {
    attribute "email" { script = "record.email.toLowerCase()" }
  }
  path      = "hr.csv"
  id_column = "id"
}
`

const targetFile = `
target "callback" "app" {
  sources = ["hr"]
  url     = "http://127.0.0.1:8471/callback"
  token   = env("MIDSTREAM_CONFIG_TEST_UNSET", "t0ken")
}
`

func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		files     map[string]string
		wantDiags []string
		check     func(t *testing.T, p *Pipeline)
	}{
		"source and target in separate files": {
			files: map[string]string{
				"10-sources.hcl": sourceFile,
				"20-targets.hcl": targetFile,
				"README.md":      "not a pipeline file",
				"old.hcl.bak":    "garbage {",
				"sub.hcl/x.hcl":  "garbage {",
			},
			check: func(t *testing.T, p *Pipeline) {
				if p.Name != "split" || p.MappingTimeout != 2*time.Second {
					t.Errorf("pipeline settings: got %q, %s", p.Name, p.MappingTimeout)
				}
				s, ok := p.Source("hr")
				if !ok || s.Mappings[sdk.KindUser] == nil || s.Config.String("path") != "hr.csv" {
					t.Fatalf("source hr not loaded: %+v", s)
				}
				tg, ok := p.Target("app")
				if !ok || tg.Config.String("token") != "t0ken" {
					t.Fatalf("target app not loaded: %+v", tg)
				}
				if diff := cmp.Diff([]string{"hr"}, tg.SourceNames(p)); diff != "" {
					t.Errorf("SourceNames (-want +got):\n%s", diff)
				}
				var files []string
				for name := range p.Files {
					files = append(files, filepath.Base(name))
				}
				if diff := cmp.Diff([]string{"10-sources.hcl", "20-targets.hcl"}, sortedStrings(files)); diff != "" {
					t.Errorf("files (-want +got):\n%s", diff)
				}
			},
		},
		"a target naming a source of another file that has a typo": {
			files: map[string]string{
				"a.hcl": `source "csv" "hr" {
  path      = "hr.csv"
  id_column = "id"
}
`,
				"b.hcl": `target "callback" "app" {
  sources = ["hrr"]
  url     = "http://127.0.0.1:8471/callback"
  token   = "x"
}
`,
				"c.hcl": `source "cvs" "ldap" {}
`,
			},
			wantDiags: []string{
				"b.hcl:2:14: error: Unknown source",
				"c.hcl:1:8: error: Unknown connector",
			},
		},
		"syntax errors in several files are all reported": {
			files: map[string]string{
				"a.hcl": "source \"csv\" \"hr\" {\n",
				"b.hcl": "target \"callback\" \"app\" {\n  url = \n}\n",
			},
			wantDiags: []string{
				"a.hcl:1:19: error: Unclosed configuration block",
				"b.hcl:2:9: error: Invalid expression",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tc.files)
			p, diags := Load(context.Background(), dir, DefaultResolver())
			if diff := cmp.Diff(tc.wantDiags, diagLines(dir, diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if p != nil && p.Dir != dir {
				t.Errorf("Dir = %q, want %q", p.Dir, dir)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestLoadPath(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"one/hr-sync.hcl": sourceFile + targetFile,
		"empty/notes.txt": "",
		"noblock/x.hcl":   sourceFile[strings.Index(sourceFile, "source"):] + targetFile,
	})
	tests := map[string]struct {
		path      string
		wantName  string
		wantDir   string
		wantDiags []string
	}{
		"one file":                           {path: "one/hr-sync.hcl", wantName: "split", wantDir: "one"},
		"a directory":                        {path: "one", wantName: "split", wantDir: "one"},
		"a file without pipeline block":      {path: "noblock/x.hcl", wantName: "x", wantDir: "noblock"},
		"a directory without pipeline block": {path: "noblock", wantName: "noblock", wantDir: "noblock"},
		"a missing path":                     {path: "nope", wantDiags: []string{"error: Cannot read pipeline"}},
		"a directory without .hcl files":     {path: "empty", wantDiags: []string{"error: No pipeline files"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, diags := Load(context.Background(), filepath.Join(dir, tc.path), DefaultResolver())
			if diff := cmp.Diff(tc.wantDiags, diagLines(dir, diags)); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", diff)
			}
			if tc.wantDiags != nil {
				return
			}
			if p.Name != tc.wantName || p.Dir != filepath.Join(dir, tc.wantDir) {
				t.Errorf("got name %q dir %q, want %q %q", p.Name, p.Dir, tc.wantName, filepath.Join(dir, tc.wantDir))
			}
			for name, f := range p.Files {
				if !strings.HasPrefix(name, filepath.Join(dir, tc.wantDir)) || f == nil {
					t.Errorf("file %q is not named from the path given", name)
				}
			}
		})
	}
}

// TestLoadBuiltins loads a quickstart pipeline with the engine's resolver.
func TestLoadBuiltins(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"pipeline.hcl": `
pipeline "quickstart" {}

source "csv" "hr" {
  schedule = "@every 15m"
  mapping "user" {
    attribute "display_name" { from = "name" }
    attribute "email"        { script = "record.email.toLowerCase()" }
  }
  path      = "hr.csv"
  id_column = "工号"
}

target "callback" "app" {
  sources  = ["hr"]
  schedule = "@every 1m"
  mapping "user" {
    attribute "userName" { from = "employee_id" }
  }
  url   = "http://127.0.0.1:8471/callback"
  token = env("MIDSTREAM_CONFIG_TEST_UNSET", "quickstart-token")
}
`})
	p, diags := Load(context.Background(), dir, DefaultResolver())
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	s, tg := p.Sources[0], p.Targets[0]
	type summary struct {
		Source, Target                 plugins.Ref
		SourceCaps, TargetCaps         sdk.Capabilities
		HTTPAddress                    string
		Concurrency, MaxAttempts       int
		MaxDeletionPercent             float64
		SourceSchedule, TargetSchedule string
		IDColumn, Token                string
	}
	got := summary{
		Source: s.Ref, Target: tg.Ref, SourceCaps: s.Capabilities, TargetCaps: tg.Capabilities,
		HTTPAddress: p.HTTPAddress, Concurrency: tg.Concurrency, MaxAttempts: tg.MaxAttempts,
		MaxDeletionPercent: s.MaxDeletionPercent, SourceSchedule: s.Schedule, TargetSchedule: tg.Schedule,
		IDColumn: s.Config.String("id_column"), Token: tg.Config.String("token"),
	}
	want := summary{
		Source: plugins.Ref{Name: "csv"}, Target: plugins.Ref{Name: "callback"},
		SourceCaps:  sdk.Capabilities{Source: true, ConnectionTester: true},
		TargetCaps:  sdk.Capabilities{Target: true, ConnectionTester: true, Closer: true},
		HTTPAddress: DefaultHTTPAddress, Concurrency: DefaultConcurrency, MaxAttempts: DefaultMaxAttempts,
		MaxDeletionPercent: DefaultMaxDeletionPercent, SourceSchedule: "@every 15m", TargetSchedule: "@every 1m",
		IDColumn: "工号", Token: "quickstart-token",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded pipeline (-want +got):\n%s", diff)
	}

	// The mappings are compiled and run.
	out, err := s.Mappings[sdk.KindUser].Apply(context.Background(), mappingInput("Ada@Example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(out["email"]); !strings.Contains(got, "ada@example.com") {
		t.Errorf("mapped email = %s", got)
	}

	// Body locates a connector's own diagnostics in the block.
	located := hcldecode.LocateDiagnostics(s.Body, sdk.Diagnostics{{
		Severity: sdk.SeverityError, Summary: "No such column", Path: sdk.Path{"id_column"},
	}}, hcl.Range{})
	if len(located) != 1 || located[0].Subject.Start.Line != 11 || located[0].Subject.Start.Column != 15 {
		t.Errorf("located at %v, want pipeline.hcl:11:15", located[0].Subject)
	}
}

// TestLoadExternalPlugin builds the plugin template and checks its block
// with the schema the running plugin reports, as `midstream validate` does.
func TestLoadExternalPlugin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jsonfile-plugin")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/midstream-io/midstream/examples/plugin-template")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the plugin template: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)

	pipeline := func(checksum string) string {
		return fmt.Sprintf(`plugin "jsonfile" {
  path   = "jsonfile-plugin"
  sha256 = %q
}

source "jsonfile" "directory" {
  path    = "directory.json"
  jornal  = "changes.jsonl"
}

target "callback" "app" {
  url   = "http://127.0.0.1:8471/callback"
  token = "x"
}
`, checksum)
	}
	tests := map[string]struct {
		checksum  string
		wantDiags []string
	}{
		"the pinned binary": {
			checksum:  hex.EncodeToString(sum[:]),
			wantDiags: []string{"good.hcl:8:3: error: Unsupported argument"},
		},
		"another binary": {
			checksum:  strings.Repeat("0", 64),
			wantDiags: []string{"bad.hcl:1:1: error: Cannot load plugin"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := "good.hcl"
			if tc.checksum != hex.EncodeToString(sum[:]) {
				file = "bad.hcl"
			}
			path := filepath.Join(dir, file)
			if err := os.WriteFile(path, []byte(pipeline(tc.checksum)), 0o644); err != nil {
				t.Fatal(err)
			}
			p, diags := Load(context.Background(), path, DefaultResolver())
			if diff := cmp.Diff(tc.wantDiags, diagLines(dir, diags)); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", diff)
			}
			if file == "good.hcl" {
				if !strings.Contains(diags[0].Detail, `Did you mean "journal"?`) {
					t.Errorf("no suggestion from the plugin's schema: %s", diags[0].Detail)
				}
				if s := p.Sources[0]; !s.Capabilities.Incremental || s.Ref.Path != bin {
					t.Errorf("source: %+v", s)
				}
			}
		})
	}
}

func TestReservedNamesUnusedByBuiltins(t *testing.T) {
	t.Parallel()
	for _, b := range plugins.Builtins() {
		for _, f := range b.New().Schema().Fields {
			for _, r := range reservedNames {
				if f.Name == r {
					t.Errorf("built-in %s declares the reserved field %q", b.Name, f.Name)
				}
			}
		}
	}
}

func mappingInput(email string) mapping.Input {
	return mapping.Input{
		Kind:       sdk.KindUser,
		ID:         "1001",
		State:      sdk.StateActive,
		Attributes: sdk.Attributes{"email": sdk.String(email), "name": sdk.String("Ada")},
		Now:        time.Now(),
	}
}
