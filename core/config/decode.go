package config

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

// Block types and meta attribute names.
const (
	pipelineBlock = "pipeline"
	pluginBlock   = "plugin"
	sourceBlock   = "source"
	targetBlock   = "target"
	mappingBlock  = "mapping"

	httpAddressAttr    = "http_address"
	mappingTimeoutAttr = "mapping_timeout"
	eventRetentionAttr = "event_retention"

	pathAttr   = "path"
	sha256Attr = "sha256"
	envAttr    = "env"

	scheduleAttr           = "schedule"
	fullScheduleAttr       = "full_schedule"
	maxDeletionPercentAttr = "max_deletion_percent"
	maxDeletionsAttr       = "max_deletions"
	sourcesAttr            = "sources"
	concurrencyAttr        = "concurrency"
	maxAttemptsAttr        = "max_attempts"
	rateLimitAttr          = "rate_limit"
)

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: pipelineBlock, LabelNames: []string{"name"}},
	{Type: pluginBlock, LabelNames: []string{"name"}},
	{Type: sourceBlock, LabelNames: []string{"connector", "name"}},
	{Type: targetBlock, LabelNames: []string{"connector", "name"}},
}}

var pipelineSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: httpAddressAttr},
	{Name: mappingTimeoutAttr},
	{Name: eventRetentionAttr},
	{Name: keysEncryptionKeyAttr},
}}

var pluginSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: pathAttr, Required: true},
	{Name: sha256Attr, Required: true},
	{Name: envAttr},
}}

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: scheduleAttr},
		{Name: fullScheduleAttr},
		{Name: maxDeletionPercentAttr},
		{Name: maxDeletionsAttr},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: mappingBlock, LabelNames: []string{"kind"}}},
}

var targetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: sourcesAttr},
		{Name: scheduleAttr},
		{Name: fullScheduleAttr},
		{Name: concurrencyAttr},
		{Name: maxAttemptsAttr},
		{Name: rateLimitAttr},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: mappingBlock, LabelNames: []string{"kind"}}, {Type: policyBlock}, {Type: scopeBlock}},
}

// reservedNames are the names of a source or target block's own settings,
// which no connector field may use.
var reservedNames = []string{
	concurrencyAttr, fullScheduleAttr, mappingBlock, maxAttemptsAttr, maxDeletionPercentAttr,
	maxDeletionsAttr, policyBlock, rateLimitAttr, scheduleAttr, scopeBlock, sourcesAttr,
}

var (
	instanceNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
	pluginNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sha256RE       = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

type loader struct {
	ctx        context.Context
	r          Resolver
	p          *Pipeline
	eval       *hcl.EvalContext
	displayDir string // the directory as the user named it, for file names in diagnostics
	diags      hcl.Diagnostics

	pipelineRange *hcl.Range
	brokenPlugins map[string]bool // plugin blocks with errors: not launched
	pluginUsed    map[string]bool
	resolved      map[string]*resolution // by connector name
	sourceRanges  map[string]hcl.Range
	targetRanges  map[string]hcl.Range
	targetSources map[*Target]*hcl.Attribute
	scriptIndent  map[mapping.Pos]int // indentation removed from flush heredoc scripts
}

// resolution is a resolved connector.
type resolution struct {
	ref    plugins.Ref
	schema sdk.Schema
	caps   sdk.Capabilities
	ok     bool // usable: known, resolved, schema valid
}

func evalContext(dir string) *hcl.EvalContext {
	return hcldecode.EvalContext(dir, os.LookupEnv)
}

func (l *loader) add(d *hcl.Diagnostic) { l.diags = append(l.diags, d) }

func (l *loader) errorf(subject hcl.Range, summary, detail string, args ...any) {
	l.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: subject.Ptr()})
}

func (l *loader) warnf(subject hcl.Range, summary, detail string, args ...any) {
	l.add(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: subject.Ptr()})
}

// decode decodes the top-level blocks of every file.
func (l *loader) decode(blocks hcl.Blocks) {
	// The pipeline block first (its mapping_timeout compiles scripts), then
	// plugins (which sources and targets use), whatever the file order.
	for _, b := range blocks {
		if b.Type == pipelineBlock {
			l.pipeline(b)
		}
	}
	for _, b := range blocks {
		if b.Type == pluginBlock {
			l.plugin(b)
		}
	}
	for _, b := range blocks {
		switch b.Type {
		case sourceBlock:
			if s := l.source(b); s != nil {
				l.p.Sources = append(l.p.Sources, s)
			}
		case targetBlock:
			if t := l.target(b); t != nil {
				l.p.Targets = append(l.p.Targets, t)
			}
		}
	}
	l.checkTargetSources()
	l.checkPluginsUsed()
	l.checkSomethingToSync()
}

func (l *loader) pipeline(b *hcl.Block) {
	if l.pipelineRange != nil {
		l.errorf(b.DefRange, "Duplicate pipeline block",
			"The pipeline block is already declared at %s. A pipeline has at most one pipeline block: merge the two.", posString(l.pipelineRange.Start, l.pipelineRange.Filename))
		return
	}
	l.pipelineRange = b.DefRange.Ptr()
	l.p.Name = b.Labels[0]
	if b.Labels[0] == "" {
		l.errorf(b.LabelRanges[0], "Invalid pipeline name", "The pipeline's name is empty. Name the pipeline, as in pipeline \"hr-sync\" { ... }.")
	}
	content, diags := b.Body.Content(pipelineSchema)
	l.diags = append(l.diags, diags...)
	if a := content.Attributes[httpAddressAttr]; a != nil {
		if s, ok := l.stringValue(a); ok {
			if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
				l.errorf(a.Expr.Range(), "Invalid HTTP address",
					"http_address must be a host and port such as \"127.0.0.1:8470\" or \":8470\" (every interface), not %q.", s)
			} else {
				l.p.HTTPAddress = s
			}
		}
	}
	l.keysEncryptionKey(content.Attributes[keysEncryptionKeyAttr])
	if a := content.Attributes[eventRetentionAttr]; a != nil {
		if d, ok := l.retentionValue(a); ok {
			l.p.EventRetention = d
		}
	}
	if a := content.Attributes[mappingTimeoutAttr]; a != nil {
		if d, ok := l.durationValue(a); ok {
			if d <= 0 {
				l.errorf(a.Expr.Range(), "Invalid mapping timeout",
					"mapping_timeout bounds the CPU time of one script call and must be positive, such as \"1s\" or \"500ms\".")
			} else {
				l.p.MappingTimeout = d
			}
		}
	}
}

func (l *loader) plugin(b *hcl.Block) {
	name := b.Labels[0]
	content, diags := b.Body.Content(pluginSchema)
	l.diags = append(l.diags, diags...)
	broken := diags.HasErrors()
	if prev, dup := l.p.Plugins[name]; dup {
		l.errorf(b.LabelRanges[0], "Duplicate plugin block",
			"A plugin named %q is already declared at %s. Remove one of the two blocks, or give this one another name.", name, rangeString(prev.DeclRange))
		return
	}
	pl := &Plugin{Name: name, DeclRange: b.DefRange}
	switch {
	case !pluginNameRE.MatchString(name):
		l.errorf(b.LabelRanges[0], "Invalid plugin name",
			"A plugin's name is the connector name its source and target blocks use: a lowercase letter, then lowercase letters, digits, \"_\" or \"-\", as in plugin \"jsonfile\" { ... }.")
	case isBuiltin(name):
		l.errorf(b.LabelRanges[0], "Plugin name taken by a built-in connector",
			"%q is the name of a built-in connector, so source and target blocks could not tell the two apart. Give the plugin another name, and use that name in the blocks meant to run it.", name)
	default:
		// Only a plugin with a usable name is registered: blocks naming a
		// built-in keep meaning the built-in.
		l.p.Plugins[name] = pl
	}

	if a := content.Attributes[pathAttr]; a != nil {
		if !l.required(a, `path = "plugins/`+name+`-plugin"`) {
			broken = true
		} else if s, ok := l.stringValue(a); ok {
			pl.Path = s
			if !filepath.IsAbs(s) {
				pl.Path = filepath.Join(l.p.Dir, s)
			}
			if info, err := os.Stat(pl.Path); err != nil {
				l.errorf(a.Expr.Range(), "Plugin binary not found",
					"%s. Build the plugin, or correct path: a relative path starts from the pipeline's directory, %s.", statError(err, l.display(pl.Path)), l.display(l.p.Dir))
				broken = true
			} else if info.IsDir() {
				l.errorf(a.Expr.Range(), "Plugin path is a directory",
					"%s is a directory; path must name the plugin's executable file.", l.display(pl.Path))
				broken = true
			}
		} else {
			broken = true
		}
	}
	if a := content.Attributes[sha256Attr]; a != nil {
		if !l.required(a, `sha256 = "…" (the output of sha256sum)`) {
			broken = true
		} else if s, ok := l.stringValue(a); ok && sha256RE.MatchString(strings.TrimSpace(s)) {
			pl.SHA256 = strings.ToLower(strings.TrimSpace(s))
		} else {
			if ok {
				what := fmt.Sprintf("this value has %d characters", utf8.RuneCountInString(strings.TrimSpace(s)))
				if len(strings.TrimSpace(s)) == 64 {
					what = "this value holds characters other than 0-9 and a-f"
				}
				l.errorf(a.Expr.Range(), "Invalid plugin checksum",
					"sha256 must be the SHA-256 checksum of the plugin binary, 64 hexadecimal characters as printed by `sha256sum %s`; %s.", l.display(pl.Path), what)
			}
			broken = true
		}
	}
	if a := content.Attributes[envAttr]; a != nil {
		if env, ranges, ok := l.stringListValue(a); ok {
			for i, e := range env {
				if !envNameRE.MatchString(e) {
					l.errorf(ranges[i], "Invalid environment variable name",
						"%q is not an environment variable name: env lists names (letters, digits and \"_\", not starting with a digit), such as \"JSONFILE_TOKEN\", never values.", e)
					broken = true
				}
			}
			pl.Env = env
		}
	}
	if broken {
		l.brokenPlugins[name] = true
	}
}

func statError(err error, path string) string {
	if os.IsNotExist(err) {
		return path + " does not exist"
	}
	if pe, ok := err.(*os.PathError); ok {
		return path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// display names a path inside the pipeline's directory as the user would:
// from the directory as they named it ("." for the directory itself).
func (l *loader) display(path string) string {
	if path == "" {
		return "PATH"
	}
	rel, err := filepath.Rel(l.p.Dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return filepath.Join(l.displayDir, rel)
}

func isBuiltin(name string) bool {
	_, ok := plugins.Lookup(name)
	return ok
}

// header checks a source or target block's labels.
func (l *loader) header(b *hcl.Block, role sdk.Role, seen map[string]hcl.Range) bool {
	name := b.Labels[1]
	if !instanceNameRE.MatchString(name) {
		l.errorf(b.LabelRanges[1], fmt.Sprintf("Invalid %s name", role),
			"%q cannot name a %s: a name starts with a letter and holds only letters, digits, \"_\" and \"-\" (at most 63 characters), because it names the %s in the store, on the command line and in URLs.", name, role, role)
		return false
	}
	if prev, dup := seen[name]; dup {
		l.errorf(b.LabelRanges[1], fmt.Sprintf("Duplicate %s name", role),
			"A %s named %q is already declared at %s. Each %s needs its own name: rename one of them.", role, name, rangeString(prev), role)
		return false
	}
	seen[name] = b.DefRange
	return true
}

func (l *loader) source(b *hcl.Block) *Source {
	ok := l.header(b, sdk.RoleSource, l.sourceRanges)
	s := &Source{
		Name:               b.Labels[1],
		Connector:          b.Labels[0],
		MaxDeletionPercent: DefaultMaxDeletionPercent,
		DeclRange:          b.DefRange,
	}
	content, remain, diags := b.Body.PartialContent(sourceSchema)
	l.diags = append(l.diags, diags...)
	s.Body = remain

	s.Schedule = l.schedule(content.Attributes[scheduleAttr])
	s.FullSchedule = l.schedule(content.Attributes[fullScheduleAttr])
	if a := content.Attributes[maxDeletionPercentAttr]; a != nil {
		if v, ok := l.numberValue(a); ok {
			if v < 0 || v > 100 {
				l.errorf(a.Expr.Range(), "Value out of range",
					"max_deletion_percent is the share of the source's objects a full run may delete or disable: between 0 and 100, not %v. The default is %v.", v, DefaultMaxDeletionPercent)
			} else {
				s.MaxDeletionPercent = v
			}
		}
	}
	if a := content.Attributes[maxDeletionsAttr]; a != nil {
		if v, ok := l.intValue(a); ok {
			if v < 0 {
				l.errorf(a.Expr.Range(), "Value out of range",
					"max_deletions caps how many objects a full run may delete or disable; it must be 0 (no cap besides max_deletion_percent) or more, not %d.", v)
			} else {
				s.MaxDeletions = v
			}
		}
	}
	s.MappingSpecs, s.Mappings = l.mappings(content.Blocks, mapping.Inbound)

	res := l.resolve(b, sdk.RoleSource)
	if res != nil {
		s.Ref, s.Capabilities = res.ref, res.caps
		if res.ok {
			s.Config = l.connectorConfig(b, remain, res, sourceSchema)
		}
		if a := content.Attributes[fullScheduleAttr]; a != nil && s.FullSchedule != "" && res.ok && !res.caps.Incremental {
			l.warnf(a.NameRange, "Full schedule of a full-only source",
				"The %s connector has no change feed, so every run of this source is a full read and schedule already sets when it runs; full_schedule adds more full reads. Remove full_schedule, or fold it into schedule.", s.Connector)
		}
	}
	if !ok {
		return nil
	}
	return s
}

func (l *loader) target(b *hcl.Block) *Target {
	ok := l.header(b, sdk.RoleTarget, l.targetRanges)
	t := &Target{
		Name:        b.Labels[1],
		Connector:   b.Labels[0],
		Concurrency: DefaultConcurrency,
		MaxAttempts: DefaultMaxAttempts,
		DeclRange:   b.DefRange,
	}
	content, remain, diags := b.Body.PartialContent(targetSchema)
	l.diags = append(l.diags, diags...)
	t.Body = remain

	if a := content.Attributes[sourcesAttr]; a != nil {
		if names, _, ok := l.stringListValue(a); ok {
			if names == nil {
				names = []string{}
			}
			t.Sources = names
			l.targetSources[t] = a
		}
	}
	t.Schedule = l.schedule(content.Attributes[scheduleAttr])
	t.FullSchedule = l.schedule(content.Attributes[fullScheduleAttr])
	if a := content.Attributes[concurrencyAttr]; a != nil {
		if v, ok := l.intValue(a); ok {
			if v < 1 || v > MaxConcurrency {
				l.errorf(a.Expr.Range(), "Value out of range",
					"concurrency is how many operations the target has in flight at once: between 1 and %d, not %d. The default is %d.", MaxConcurrency, v, DefaultConcurrency)
			} else {
				t.Concurrency = v
			}
		}
	}
	if a := content.Attributes[maxAttemptsAttr]; a != nil {
		if v, ok := l.intValue(a); ok {
			if v < 1 {
				l.errorf(a.Expr.Range(), "Value out of range",
					"max_attempts counts every attempt of an event, the first included, so it is at least 1 (no retry), not %d. The default is %d.", v, DefaultMaxAttempts)
			} else {
				t.MaxAttempts = v
			}
		}
	}
	if a := content.Attributes[rateLimitAttr]; a != nil {
		if v, ok := l.numberValue(a); ok {
			if v < 0 {
				l.errorf(a.Expr.Range(), "Value out of range",
					"rate_limit caps the operations per second sent to the application (events, whether or not a target batches them); it is 0 (unlimited) or more, not %v.", v)
			} else {
				t.RateLimit = v
			}
		}
	}
	t.MappingSpecs, t.Mappings = l.mappings(content.Blocks, mapping.Outbound)
	t.Policy = l.policy(content.Blocks)
	t.Scope = l.scope(content.Blocks)

	if res := l.resolve(b, sdk.RoleTarget); res != nil {
		t.Ref, t.Capabilities = res.ref, res.caps
		if res.ok {
			t.Config = l.connectorConfig(b, remain, res, targetSchema)
		}
	}
	if !ok {
		return nil
	}
	return t
}

// resolve finds the connector of a source or target block and checks that
// it can play role. It returns nil for an unknown connector; a resolution
// that is not ok when the connector is unusable (its problem reported once).
func (l *loader) resolve(b *hcl.Block, role sdk.Role) *resolution {
	name, at := b.Labels[0], b.LabelRanges[0]
	res := l.lookup(name)
	if res == nil {
		l.unknownConnector(name, at)
		return nil
	}
	if res.ok {
		switch {
		case role == sdk.RoleSource && !res.caps.Source:
			l.errorf(at, "Connector cannot be a source",
				"%s cannot be a source: %s. Use a connector that reads from the system that owns the data%s, or declare this block as a target.",
				name, roleDescription(res.caps), l.connectorsWithRole(sdk.RoleSource))
			return &resolution{ref: res.ref, caps: res.caps}
		case role == sdk.RoleTarget && !res.caps.Target:
			l.errorf(at, "Connector cannot be a target",
				"%s cannot be a target: %s. Use a connector that delivers to applications%s, or declare this block as a source.",
				name, roleDescription(res.caps), l.connectorsWithRole(sdk.RoleTarget))
			return &resolution{ref: res.ref, caps: res.caps}
		}
	}
	return res
}

func roleDescription(c sdk.Capabilities) string {
	switch {
	case c.Source && !c.Target:
		return "it is a source-only connector"
	case c.Target && !c.Source:
		return "it is a target-only connector"
	}
	return "it declares neither role"
}

// connectorsWithRole lists the known connectors that can play role, as
// " (callback, scim)", or "".
func (l *loader) connectorsWithRole(role sdk.Role) string {
	var names []string
	for _, n := range l.connectorNames() {
		if res := l.lookup(n); res != nil && res.ok && slices.Contains(res.caps.Roles(), role) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// connectorNames returns the built-in names and the plugin blocks' names,
// sorted.
func (l *loader) connectorNames() []string {
	names := plugins.Names()
	for n := range l.p.Plugins {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func (l *loader) unknownConnector(name string, at hcl.Range) {
	detail := fmt.Sprintf("There is no built-in connector named %q and no plugin block declares one.", name)
	if s := Suggest(name, l.connectorNames()); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	detail += fmt.Sprintf(" The built-in connectors are %s (see `midstream plugins`); for an external connector, add a block plugin %q { path = \"...\", sha256 = \"...\" }.",
		strings.Join(plugins.Names(), ", "), name)
	l.errorf(at, "Unknown connector", "%s", detail)
}

// lookup resolves connector name once: nil when it is neither a plugin
// block nor a built-in.
func (l *loader) lookup(name string) *resolution {
	if res, ok := l.resolved[name]; ok {
		return res
	}
	var res *resolution
	if pl, ok := l.p.Plugins[name]; ok {
		l.pluginUsed[name] = true
		res = &resolution{ref: pl.Ref()}
		if !l.brokenPlugins[name] { // its block's errors are reported already
			res.schema, res.caps, res.ok = l.resolveRef(res.ref, pl.DeclRange)
		}
	} else if isBuiltin(name) {
		res = &resolution{ref: plugins.Ref{Name: name}}
		res.schema, res.caps, res.ok = l.resolveRef(res.ref, hcl.Range{})
	}
	l.resolved[name] = res
	return res
}

// resolveRef asks the resolver for ref's schema and checks it, reporting a
// failure at the plugin block (at, for an external plugin) or without a
// location (a built-in's failure is Midstream's bug).
func (l *loader) resolveRef(ref plugins.Ref, at hcl.Range) (sdk.Schema, sdk.Capabilities, bool) {
	report := func(summary, detail string) {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
		if at != (hcl.Range{}) {
			d.Subject = at.Ptr()
		}
		l.add(d)
	}
	schema, caps, err := l.r.Resolve(l.ctx, ref)
	if err != nil {
		if ref.Path != "" {
			report("Cannot load plugin", fmt.Sprintf("Midstream could not run plugin %q to read its configuration schema: %v. Check that path names the plugin's executable, built for this system, and that sha256 is its checksum (`sha256sum %s`).",
				ref.Name, trimPeriod(err.Error()), l.display(ref.Path)))
		} else {
			report("Cannot load connector", fmt.Sprintf("The built-in connector %q could not be loaded: %v. This is a bug in Midstream; please report it.", ref.Name, trimPeriod(err.Error())))
		}
		return schema, caps, false
	}
	if err := schema.Validate(); err != nil {
		report("Invalid connector schema", fmt.Sprintf("The connector %q declares an invalid configuration schema: %v. This is a bug in the connector; its author must fix it.", ref.Name, err))
		return schema, caps, false
	}
	return schema, caps, true
}

func trimPeriod(s string) string { return strings.TrimSuffix(s, ".") }

// connectorConfig decodes the connector's part of block b.
func (l *loader) connectorConfig(b *hcl.Block, remain hcl.Body, res *resolution, meta *hcl.BodySchema) sdk.Config {
	schema := sdk.Schema{Fields: make([]sdk.Field, 0, len(res.schema.Fields))}
	for _, f := range res.schema.Fields {
		if slices.Contains(reservedNames, f.Name) {
			l.errorf(b.DefRange, "Connector field uses a reserved name",
				"The %s connector declares the configuration field %q, a name the pipeline reserves for its own settings (%s), so that field cannot be set here. This is a bug in the connector: its author must rename the field.",
				res.ref.Name, f.Name, strings.Join(reservedNames, ", "))
			continue
		}
		schema.Fields = append(schema.Fields, f)
	}
	cfg, diags := hcldecode.Decode(remain, schema, l.eval)
	suggestMeta(diags, b.Body, meta)
	l.diags = append(l.diags, diags...)
	return cfg
}

// suggestMeta adds "Did you mean …?" to the connector decoder's unknown
// argument and block diagnostics whose name is close to a meta setting,
// which the connector's schema does not know.
func suggestMeta(diags hcl.Diagnostics, body hcl.Body, meta *hcl.BodySchema) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	var attrNames, blockNames []string
	for _, a := range meta.Attributes {
		attrNames = append(attrNames, a.Name)
	}
	for _, b := range meta.Blocks {
		blockNames = append(blockNames, b.Type)
	}
	for _, d := range diags {
		if d.Subject == nil || strings.Contains(d.Detail, "Did you mean") {
			continue
		}
		switch d.Summary {
		case "Unsupported argument":
			for name, a := range sb.Attributes {
				if a.NameRange == *d.Subject {
					if s := Suggest(name, attrNames); s != "" {
						d.Detail += fmt.Sprintf(" Did you mean %q?", s)
					}
				}
			}
		case "Unsupported block type":
			for _, b := range sb.Blocks {
				if b.TypeRange == *d.Subject {
					if s := Suggest(b.Type, blockNames); s != "" {
						d.Detail += fmt.Sprintf(" Did you mean %q?", s)
					}
				}
			}
		}
	}
}

// checkTargetSources checks every target's sources list and warns when a
// target receives more than one source.
func (l *loader) checkTargetSources() {
	var names []string
	for _, s := range l.p.Sources {
		names = append(names, s.Name)
	}
	for _, t := range l.p.Targets {
		a := l.targetSources[t]
		if a != nil {
			elems := listElementRanges(a)
			seen := map[string]bool{}
			for i, n := range t.Sources {
				at := a.Expr.Range()
				if i < len(elems) {
					at = elems[i]
				}
				switch {
				case seen[n]:
					l.warnf(at, "Duplicate source", "The source %q is listed twice in sources; remove one.", n)
				case !slices.Contains(names, n):
					detail := fmt.Sprintf("No source block is named %q.", n)
					if s := Suggest(n, names); s != "" {
						detail += fmt.Sprintf(" Did you mean %q?", s)
					}
					if len(names) > 0 {
						detail += fmt.Sprintf(" The sources are %s.", quoteList(names))
					} else {
						detail += " The pipeline declares no source."
					}
					l.errorf(at, "Unknown source", "%s", detail)
				}
				seen[n] = true
			}
			if len(t.Sources) == 0 {
				l.warnf(a.Expr.Range(), "Target receives no source",
					"sources is empty, so target %q receives nothing. Name the sources it should receive, or remove sources to receive every source.", t.Name)
			}
		}
		var fed []string // distinct declared sources
		for _, n := range t.SourceNames(l.p) {
			if slices.Contains(names, n) && !slices.Contains(fed, n) {
				fed = append(fed, n)
			}
		}
		if len(fed) > 1 && t.Capabilities.Target { // no noise about a block that is wrong anyway
			at := t.DeclRange
			if a != nil {
				at = a.Expr.Range()
			}
			l.warnf(at, "Target fed by several sources",
				"Target %q receives the sources %s. Until cross-source correlation exists, Midstream treats the sources as disjoint populations: a person who is in two of them becomes two accounts in %s. Set sources to the one source that owns these people, unless the sources never overlap.",
				t.Name, quoteList(fed), t.Name)
		}
	}
}

// listElementRanges returns the ranges of a literal list's elements, or nil.
func listElementRanges(a *hcl.Attribute) []hcl.Range {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		return nil
	}
	out := make([]hcl.Range, len(exprs))
	for i, e := range exprs {
		out[i] = e.Range()
	}
	return out
}

func (l *loader) checkPluginsUsed() {
	for _, name := range sortedKeys(l.p.Plugins) {
		if !l.pluginUsed[name] && !l.brokenPlugins[name] {
			pl := l.p.Plugins[name]
			l.warnf(pl.DeclRange, "Unused plugin",
				"No source or target block uses the plugin %q. Use it as source %q \"NAME\" { ... } or target %q \"NAME\" { ... }, or remove the block.", name, name, name)
		}
	}
}

func (l *loader) checkSomethingToSync() {
	var detail string
	switch {
	case len(l.p.Sources) == 0 && len(l.p.Targets) == 0:
		detail = "The pipeline declares no source and no target. Add a source block to read people and organizations from, and a target block to deliver them to."
	case len(l.p.Sources) == 0:
		detail = "The pipeline declares no source, so its targets receive nothing. Add a source block."
	case len(l.p.Targets) == 0:
		detail = "The pipeline declares no target: sources fill Midstream's directory, but nothing is delivered to any application. Add a target block."
	default:
		return
	}
	if l.diags.HasErrors() {
		return // probably a consequence of the errors
	}
	l.add(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Nothing to sync", Detail: detail})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rangeString formats where r starts as file:line:col.
func rangeString(r hcl.Range) string { return posString(r.Start, r.Filename) }

func posString(p hcl.Pos, filename string) string {
	return fmt.Sprintf("%s:%d:%d", filename, p.Line, p.Column)
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
