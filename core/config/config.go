package config

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
)

// Defaults of the pipeline's own settings.
const (
	// DefaultHTTPAddress is where `midstream run` serves HTTP when the
	// pipeline block sets no http_address: the loopback interface only.
	DefaultHTTPAddress = "127.0.0.1:8470"
	// DefaultMappingTimeout bounds one mapping script call when the
	// pipeline block sets no mapping_timeout.
	DefaultMappingTimeout = time.Second
	// DefaultEventRetention is how long finished sync events are kept
	// when the pipeline block sets no event_retention.
	DefaultEventRetention = 30 * 24 * time.Hour
	// DefaultMaxDeletionPercent is the mass-deletion guard of a source
	// that sets no max_deletion_percent: a full run that would delete or
	// disable more than this share of the source's objects applies none of
	// those losses.
	DefaultMaxDeletionPercent = 10.0
	// DefaultConcurrency is how many operations a target has in flight at
	// once when it sets no concurrency.
	DefaultConcurrency = 4
	// MaxConcurrency is the highest concurrency a target may set.
	MaxConcurrency = 256
	// DefaultMaxAttempts is how often a target tries an event that fails
	// with a retryable error, the first attempt included, when it sets no
	// max_attempts.
	DefaultMaxAttempts = 5
)

// Pipeline is a loaded pipeline.
type Pipeline struct {
	// Name is the pipeline block's label; without a pipeline block, the
	// directory's name, or the file's name without its extension.
	Name string
	// Dir is the absolute path of the pipeline's directory: relative paths
	// in the configuration (plugin paths, file(), a connector's files)
	// start from it.
	Dir string
	// HTTPAddress is the host:port `midstream run` serves HTTP on.
	HTTPAddress string
	// MappingTimeout bounds the CPU time of one mapping script call.
	MappingTimeout time.Duration
	// EventRetention is how long a finished sync event is kept before it
	// is pruned (the last event of each object in each target is kept
	// regardless); 0 keeps every event.
	EventRetention time.Duration
	// KeysEncryptionKey is the pipeline block's keys_encryption_key: 64
	// hex characters, the AES-256 key that encrypts the hub's signing keys
	// in the store (package core/keys); "" when unset. A secret.
	KeysEncryptionKey string
	// Plugins are the plugin blocks, by name.
	Plugins map[string]*Plugin
	// Sources and Targets are in file order (files in name order).
	Sources []*Source
	Targets []*Target
	// Files holds every file the pipeline was read from, by the name its
	// diagnostics use (and any .js file a script was read from), for
	// hcl.NewDiagnosticTextWriter.
	Files map[string]*hcl.File
}

// Source returns the source named name.
func (p *Pipeline) Source(name string) (*Source, bool) {
	for _, s := range p.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// Target returns the target named name.
func (p *Pipeline) Target(name string) (*Target, bool) {
	for _, t := range p.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// Plugin is a plugin block: an external connector binary.
type Plugin struct {
	// Name is the connector name that source and target blocks use.
	Name string
	// Path is the binary's absolute path.
	Path string
	// SHA256 is the binary's pinned checksum, 64 lowercase hex characters.
	// A binary with another checksum is refused.
	SHA256 string
	// Env names the host environment variables the plugin may see besides
	// the SDK's allow-list.
	Env       []string
	DeclRange hcl.Range
}

// Ref returns the reference that launches the plugin.
func (p *Plugin) Ref() plugins.Ref {
	return plugins.Ref{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Env: p.Env}
}

// Source is a source block: an upstream connector instance.
type Source struct {
	// Name is the source's name, unique among sources.
	Name string
	// Connector is the connector's name (the block's first label).
	Connector string
	// Ref launches the connector: a built-in, or the plugin block's binary.
	Ref plugins.Ref
	// Schedule is a cron expression for the incremental run, or for the
	// full run of a source without a change feed; "" means manual only.
	Schedule string
	// FullSchedule is a cron expression for the full run of an incremental
	// source; "" means none.
	FullSchedule string
	// MaxDeletionPercent is the mass-deletion guard (0–100): a full run
	// that would delete or disable more than this share of the source's
	// objects applies none of those losses.
	MaxDeletionPercent float64
	// MaxDeletions, when above 0, also caps the number of such losses.
	MaxDeletions int
	// Mappings are the inbound mappings, compiled, by kind; a kind without
	// one passes its attributes through.
	Mappings map[sdk.Kind]*mapping.Mapping
	// MappingSpecs are the mappings as declared.
	MappingSpecs map[sdk.Kind]mapping.Spec
	// Config is the connector's configuration, decoded against its schema.
	Config sdk.Config
	// Capabilities are what the connector declared.
	Capabilities sdk.Capabilities
	// Body is the connector's part of the block (the block without the
	// meta settings), to locate the connector's own diagnostics with
	// hcldecode.LocateDiagnostics.
	Body      hcl.Body
	DeclRange hcl.Range
}

// Target is a target block: a downstream application.
type Target struct {
	// Name is the target's name, unique among targets.
	Name string
	// Connector is the connector's name (the block's first label).
	Connector string
	// Ref launches the connector: a built-in, or the plugin block's binary.
	Ref plugins.Ref
	// Sources names the sources whose objects the target receives; nil
	// means every source.
	Sources []string
	// Schedule is a cron expression for incremental delivery; "" means
	// manual only.
	Schedule string
	// FullSchedule is a cron expression for a target full sync; "" means
	// none.
	FullSchedule string
	// Concurrency is how many operations may be in flight at once (1–256).
	Concurrency int
	// MaxAttempts is how often an event failing with a retryable error is
	// tried, the first attempt included (≥ 1).
	MaxAttempts int
	// RateLimit caps requests per second; 0 means unlimited.
	RateLimit float64
	// Policy says what happens to an application's account when its
	// object is deleted or disabled upstream.
	Policy Policy
	// Scope says which objects the target receives.
	Scope Scope
	// Mappings are the outbound mappings, compiled, by kind.
	Mappings map[sdk.Kind]*mapping.Mapping
	// MappingSpecs are the mappings as declared.
	MappingSpecs map[sdk.Kind]mapping.Spec
	// Config is the connector's configuration, decoded against its schema.
	Config sdk.Config
	// Capabilities are what the connector declared.
	Capabilities sdk.Capabilities
	// Body is the connector's part of the block, as for Source.
	Body      hcl.Body
	DeclRange hcl.Range
}

// SourceNames returns the names of the sources t receives: Sources, or
// every source of p when Sources is nil.
func (t *Target) SourceNames(p *Pipeline) []string {
	if t.Sources != nil {
		return t.Sources
	}
	names := make([]string, len(p.Sources))
	for i, s := range p.Sources {
		names[i] = s.Name
	}
	return names
}

// Resolver finds a connector's schema and capabilities.
type Resolver interface {
	// Resolve returns the schema and capabilities of the connector ref
	// names. An error means the connector cannot be used (a plugin that
	// does not start, a checksum mismatch).
	Resolve(ctx context.Context, ref plugins.Ref) (sdk.Schema, sdk.Capabilities, error)
}

// Load loads the pipeline at path: a directory (every *.hcl file in it, in
// name order) or one file. It returns every problem found, errors and
// warnings, sorted by file and position; the Pipeline is meaningful only
// when they hold no error. r resolves connectors; [DefaultResolver] is the
// engine's.
//
// Diagnostics name files as path does: a directory's files as
// filepath.Join(path, name).
func Load(ctx context.Context, path string, r Resolver) (*Pipeline, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read pipeline",
			Detail:   fmt.Sprintf("%v. Give the pipeline's directory or one of its .hcl files.", err),
		}}
	}
	var (
		dir, name string
		srcs      []file
	)
	if info.IsDir() {
		dir, name = path, filepath.Base(mustAbs(path))
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read pipeline", Detail: err.Error() + "."}}
		}
		for _, e := range entries { // ReadDir sorts by name
			if e.Type()&fs.ModeType&^fs.ModeSymlink != 0 || filepath.Ext(e.Name()) != ".hcl" {
				continue
			}
			fn := filepath.Join(path, e.Name())
			if fi, err := os.Stat(fn); err != nil || fi.IsDir() {
				continue
			}
			srcs = append(srcs, file{name: fn})
		}
		if len(srcs) == 0 {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No pipeline files",
				Detail:   fmt.Sprintf("The directory %s holds no .hcl file. Give the directory that holds the pipeline's .hcl files, or one file.", path),
			}}
		}
	} else {
		dir, name = filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		srcs = []file{{name: path}}
	}
	var diags hcl.Diagnostics
	for i := range srcs {
		b, err := os.ReadFile(srcs[i].name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read pipeline file", Detail: err.Error() + "."})
			continue
		}
		srcs[i].src = b
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return load(ctx, dir, name, srcs, r)
}

// file is one pipeline file: its name in diagnostics and its content.
type file struct {
	name string
	src  []byte
}

func mustAbs(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	return abs
}

// load loads the pipeline made of files, whose relative paths start from
// dir; name is the pipeline's name unless a pipeline block gives one.
func load(ctx context.Context, dir, name string, files []file, r Resolver) (*Pipeline, hcl.Diagnostics) {
	p := &Pipeline{
		Name:           name,
		Dir:            mustAbs(dir),
		HTTPAddress:    DefaultHTTPAddress,
		MappingTimeout: DefaultMappingTimeout,
		EventRetention: DefaultEventRetention,
		Plugins:        map[string]*Plugin{},
		Files:          map[string]*hcl.File{},
	}
	l := &loader{
		ctx:           ctx,
		r:             r,
		p:             p,
		eval:          evalContext(p.Dir),
		displayDir:    dir,
		brokenPlugins: map[string]bool{},
		pluginUsed:    map[string]bool{},
		resolved:      map[string]*resolution{},
		sourceRanges:  map[string]hcl.Range{},
		targetRanges:  map[string]hcl.Range{},
		targetSources: map[*Target]*hcl.Attribute{},
		scriptIndent:  map[mapping.Pos]int{},
	}

	var bodies []*hcl.File
	for _, f := range files {
		hf, diags := hclsyntax.ParseConfig(f.src, f.name, hcl.InitialPos)
		l.diags = append(l.diags, diags...)
		if hf == nil {
			hf = &hcl.File{Body: hcl.EmptyBody(), Bytes: f.src}
		}
		p.Files[f.name] = hf
		bodies = append(bodies, hf)
	}
	if l.diags.HasErrors() {
		// A file that does not parse is decoded in part only, which would
		// add noise (a source "missing" because its file broke off).
		return p, l.finish()
	}

	var blocks hcl.Blocks
	for _, f := range bodies {
		content, diags := f.Body.Content(rootSchema)
		l.diags = append(l.diags, diags...)
		blocks = append(blocks, content.Blocks...)
	}
	l.decode(blocks)
	return p, l.finish()
}

// finish sorts and returns the diagnostics.
func (l *loader) finish() hcl.Diagnostics {
	sortDiagnostics(l.diags)
	return l.diags
}

// sortDiagnostics orders diagnostics by file and position, those without a
// subject last (in the order found), so the output is the same every time.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Byte != b.Start.Byte:
			return a.Start.Byte < b.Start.Byte
		case diags[i].Summary != diags[j].Summary:
			return diags[i].Summary < diags[j].Summary
		}
		return diags[i].Detail < diags[j].Detail // some decoders report in map order
	})
}
