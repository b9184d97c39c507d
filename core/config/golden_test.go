package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/midstream-io/midstream/examples/plugin-template/jsonfile"
	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.hcltest")

// separator divides a .hcltest file's pipeline from its expected output.
const separator = "----------"

// TestGolden loads each testdata/*.hcltest: the pipeline HCL, a line
// "----------", then the expected output. The output lists the
// diagnostics, one per line as "file:line:col: severity: summary" with the
// detail indented on the next line; when there is no error, the loaded
// pipeline follows as JSON. Run with -update to rewrite the expectations.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.hcltest")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata/*.hcltest: %v", err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".hcltest")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(raw), "\n"+separator+"\n")
			if !found {
				t.Fatalf("%s has no %q line", path, separator)
			}
			p, diags := load(context.Background(), "testdata", name,
				[]file{{name: name + ".hcl", src: []byte(input + "\n")}}, testResolver{})
			got := render(p, diags)
			if *update {
				if err := os.WriteFile(path, []byte(input+"\n"+separator+"\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: output mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

// render prints diagnostics and, without errors, the pipeline as JSON.
func render(p *Pipeline, diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(diagLine(d))
		b.WriteString("\n")
		if d.Detail != "" {
			b.WriteString("    " + d.Detail + "\n")
		}
	}
	if !diags.HasErrors() {
		j, err := json.MarshalIndent(normalize(p), "", "  ")
		if err != nil {
			return err.Error()
		}
		b.Write(j)
		b.WriteString("\n")
	}
	return b.String()
}

func diagLine(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	if d.Subject == nil {
		return fmt.Sprintf("%s: %s", sev, d.Summary)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", filepath.ToSlash(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column, sev, d.Summary)
}

// The normalized JSON form of a pipeline: its values without ranges.
type (
	jsonPipeline struct {
		Name           string                `json:"name"`
		HTTPAddress    string                `json:"http_address"`
		MappingTimeout string                `json:"mapping_timeout"`
		Plugins        map[string]jsonPlugin `json:"plugins,omitempty"`
		Sources        []jsonSource          `json:"sources"`
		Targets        []jsonTarget          `json:"targets"`
		Files          []string              `json:"files"`
	}
	jsonPlugin struct {
		Path   string   `json:"path"`
		SHA256 string   `json:"sha256"`
		Env    []string `json:"env,omitempty"`
	}
	jsonSource struct {
		Name               string                     `json:"name"`
		Connector          string                     `json:"connector"`
		External           bool                       `json:"external,omitempty"`
		Incremental        bool                       `json:"incremental"`
		Schedule           string                     `json:"schedule,omitempty"`
		FullSchedule       string                     `json:"full_schedule,omitempty"`
		MaxDeletionPercent float64                    `json:"max_deletion_percent"`
		MaxDeletions       int                        `json:"max_deletions"`
		Mappings           map[string][]jsonAttribute `json:"mappings,omitempty"`
		Config             map[string]any             `json:"config"`
	}
	jsonTarget struct {
		Name         string                     `json:"name"`
		Connector    string                     `json:"connector"`
		External     bool                       `json:"external,omitempty"`
		Sources      []string                   `json:"sources,omitempty"`
		Schedule     string                     `json:"schedule,omitempty"`
		FullSchedule string                     `json:"full_schedule,omitempty"`
		Concurrency  int                        `json:"concurrency"`
		MaxAttempts  int                        `json:"max_attempts"`
		RateLimit    float64                    `json:"rate_limit"`
		Policy       *Policy                    `json:"policy,omitempty"`
		Mappings     map[string][]jsonAttribute `json:"mappings,omitempty"`
		Config       map[string]any             `json:"config"`
	}
	jsonAttribute struct {
		// Name is "" for the mapping's function.
		Name     string `json:"name,omitempty"`
		From     string `json:"from,omitempty"`
		Value    any    `json:"value,omitempty"`
		Script   string `json:"script,omitempty"`
		Function string `json:"function,omitempty"`
		// At is where the script starts, as file:line:col.
		At string `json:"at,omitempty"`
		// Indent is what a <<- heredoc removed from the script's lines.
		Indent int `json:"indent,omitempty"`
		// Definition is the target attribute's definition, when it is
		// not the default one.
		Definition *jsonDefinition `json:"definition,omitempty"`
	}
	jsonDefinition struct {
		Label       string   `json:"label,omitempty"`
		Description string   `json:"description,omitempty"`
		Type        string   `json:"type,omitempty"`
		Options     []string `json:"options,omitempty"`
		Default     any      `json:"default,omitempty"`
		Required    bool     `json:"required,omitempty"`
		Unique      bool     `json:"unique,omitempty"`
		OnConflict  string   `json:"on_conflict,omitempty"`
		Sensitive   bool     `json:"sensitive,omitempty"`
		Mode        string   `json:"mode,omitempty"`
		At          string   `json:"at"`
	}
)

func normalize(p *Pipeline) jsonPipeline {
	out := jsonPipeline{
		Name:           p.Name,
		HTTPAddress:    p.HTTPAddress,
		MappingTimeout: p.MappingTimeout.String(),
		Sources:        []jsonSource{},
		Targets:        []jsonTarget{},
	}
	if len(p.Plugins) > 0 {
		out.Plugins = map[string]jsonPlugin{}
		for n, pl := range p.Plugins {
			out.Plugins[n] = jsonPlugin{Path: filepath.ToSlash(displayPath(pl.Path, p.Dir)), SHA256: pl.SHA256, Env: pl.Env}
		}
	}
	for _, s := range p.Sources {
		out.Sources = append(out.Sources, jsonSource{
			Name:               s.Name,
			Connector:          s.Connector,
			External:           s.Ref.Path != "",
			Incremental:        s.Capabilities.Incremental,
			Schedule:           s.Schedule,
			FullSchedule:       s.FullSchedule,
			MaxDeletionPercent: s.MaxDeletionPercent,
			MaxDeletions:       s.MaxDeletions,
			Mappings:           normalizeMappings(s.MappingSpecs, s.Mappings),
			Config:             s.Config.Values(),
		})
	}
	for _, t := range p.Targets {
		out.Targets = append(out.Targets, jsonTarget{
			Name:         t.Name,
			Connector:    t.Connector,
			External:     t.Ref.Path != "",
			Sources:      t.Sources,
			Schedule:     t.Schedule,
			FullSchedule: t.FullSchedule,
			Concurrency:  t.Concurrency,
			MaxAttempts:  t.MaxAttempts,
			RateLimit:    t.RateLimit,
			Policy:       nonDefaultPolicy(t.Policy),
			Mappings:     normalizeMappings(t.MappingSpecs, t.Mappings),
			Config:       t.Config.Values(),
		})
	}
	for n := range p.Files {
		out.Files = append(out.Files, filepath.ToSlash(n))
	}
	slices.Sort(out.Files)
	return out
}

func normalizeMappings(specs map[sdk.Kind]mapping.Spec, compiled map[sdk.Kind]*mapping.Mapping) map[string][]jsonAttribute {
	if len(specs) == 0 {
		return nil
	}
	at := func(p mapping.Pos) string {
		return fmt.Sprintf("%s:%d:%d", filepath.ToSlash(p.Filename), p.Line, p.Column)
	}
	out := map[string][]jsonAttribute{}
	for kind, spec := range specs {
		attrs := []jsonAttribute{}
		if f := spec.Function; f.Script != "" {
			attrs = append(attrs, jsonAttribute{Function: f.Script, At: at(f.Pos), Indent: f.Indent})
		}
		for _, a := range spec.Attributes {
			ja := jsonAttribute{Name: a.Name, From: a.From, Script: a.Script, Indent: a.Indent}
			if a.Value != nil {
				ja.Value = a.Value.Any()
			}
			if a.Script != "" {
				ja.At = at(a.Pos)
			}
			d := jsonDefinition{Label: a.Label, Description: a.Description, Type: string(a.Type), Options: a.Options,
				Required: a.Required, Unique: a.Unique, OnConflict: string(a.OnConflict), Sensitive: a.Sensitive, Mode: string(a.Mode)}
			if a.Default != nil {
				d.Default = a.Default.Any()
			}
			if !reflect.ValueOf(d).IsZero() {
				d.At = at(a.Decl)
				ja.Definition = &d
			}
			attrs = append(attrs, ja)
		}
		key := string(kind)
		if compiled[kind] == nil {
			key += " (not compiled)"
		}
		out[key] = attrs
	}
	return out
}

// testResolver resolves built-ins as DefaultResolver does and fakes the
// external plugins of testdata/bin (which are not real plugins), checking
// their checksum as the launcher would:
//
//	jsonfile  the plugin template's source connector
//	legacy    a target that declares fields named like meta settings
//	broken    a plugin that fails to start
type testResolver struct{}

func (testResolver) Resolve(ctx context.Context, ref plugins.Ref) (sdk.Schema, sdk.Capabilities, error) {
	if ref.Path == "" {
		return DefaultResolver().Resolve(ctx, ref)
	}
	b, err := os.ReadFile(ref.Path)
	if err != nil {
		return sdk.Schema{}, sdk.Capabilities{}, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != ref.SHA256 {
		return sdk.Schema{}, sdk.Capabilities{}, errors.New("checksums did not match")
	}
	switch ref.Name {
	case "jsonfile":
		c := jsonfile.New()
		return c.Schema(), sdk.CapabilitiesOf(c), nil
	case "legacy":
		return sdk.Schema{Fields: []sdk.Field{
			{Name: "url", Type: sdk.FieldString, Required: true, Description: "Where to deliver."},
			{Name: "concurrency", Type: sdk.FieldInt, Default: int64(2), Description: "Requests in flight."},
			{Name: "schedule", Type: sdk.FieldString, Description: "When to deliver."},
		}}, sdk.Capabilities{Target: true}, nil
	}
	return sdk.Schema{}, sdk.Capabilities{}, errors.New("plugin exited before completing the handshake: exit status 1")
}

// displayPath names path relative to dir when it is inside it.
func displayPath(path, dir string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func nonDefaultPolicy(p Policy) *Policy {
	if p == DefaultPolicy {
		return nil
	}
	return &p
}
