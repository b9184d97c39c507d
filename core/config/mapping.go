package config

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

const (
	attributeBlock  = "attribute"
	functionAttr    = "function"
	fromAttr        = "from"
	valueAttr       = "value"
	scriptAttr      = "script"
	labelAttr       = "label"
	descriptionAttr = "description"
	typeAttr        = "type"
	optionsAttr     = "options"
	defaultAttr     = "default"
	requiredAttr    = "required"
	uniqueAttr      = "unique"
	onConflictAttr  = "on_conflict"
	sensitiveAttr   = "sensitive"
	modeAttr        = "mode"
)

var mappingSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: functionAttr}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: attributeBlock, LabelNames: []string{"name"}}},
}

var attributeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: fromAttr}, {Name: valueAttr}, {Name: scriptAttr},
	{Name: labelAttr}, {Name: descriptionAttr}, {Name: typeAttr}, {Name: optionsAttr}, {Name: defaultAttr},
	{Name: requiredAttr}, {Name: uniqueAttr}, {Name: onConflictAttr}, {Name: sensitiveAttr}, {Name: modeAttr},
}}

// targetOnly are the definition settings a source's mapping may not use:
// the hub's attributes have no labels, uniqueness or execution modes.
var targetOnly = []string{labelAttr, descriptionAttr, requiredAttr, uniqueAttr, onConflictAttr, sensitiveAttr, modeAttr}

// mappings decodes the mapping blocks of a source (inbound) or a target
// (outbound).
func (l *loader) mappings(blocks hcl.Blocks, stage mapping.Stage) (map[sdk.Kind]mapping.Spec, map[sdk.Kind]*mapping.Mapping) {
	specs := map[sdk.Kind]mapping.Spec{}
	compiled := map[sdk.Kind]*mapping.Mapping{}
	seen := map[sdk.Kind]hcl.Range{}
	for _, b := range blocks {
		if b.Type != mappingBlock {
			continue
		}
		kind := sdk.Kind(b.Labels[0])
		if !kind.Valid() {
			detail := fmt.Sprintf("A mapping maps one kind of object, \"user\" or \"org\", not %q.", kind)
			if s := Suggest(string(kind), []string{string(sdk.KindUser), string(sdk.KindOrg)}); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			l.errorf(b.LabelRanges[0], "Unknown object kind", "%s", detail)
			continue
		}
		if prev, dup := seen[kind]; dup {
			l.errorf(b.LabelRanges[0], "Duplicate mapping",
				"A mapping for %q is already declared at %s. Merge the two mapping blocks into one.", kind, rangeString(prev))
			continue
		}
		seen[kind] = b.DefRange
		spec, fields, ok, compilable := l.mapping(kind, stage, b)
		if !compilable {
			continue
		}
		// The attributes that decoded are compiled even when others did
		// not, so their scripts' and definitions' mistakes show too.
		m := l.compile(spec, b, fields)
		if ok {
			specs[kind] = spec
			if m != nil {
				compiled[kind] = m
			}
		}
	}
	return specs, compiled
}

// fieldRanges locates the settings of each attribute block, by attribute
// and setting name; "" is the block itself.
type fieldRanges map[string]map[string]hcl.Range

// mapping decodes one mapping block: ok is false when it has errors;
// compilable when the attributes that decoded can be compiled for their
// diagnostics (the mapping block and its function decoded).
func (l *loader) mapping(kind sdk.Kind, stage mapping.Stage, b *hcl.Block) (spec mapping.Spec, fields fieldRanges, ok, compilable bool) {
	spec = mapping.Spec{Kind: kind, Stage: stage}
	fields = fieldRanges{}
	content, diags := b.Body.Content(mappingSchema)
	l.diags = append(l.diags, diags...)
	ok = !diags.HasErrors()
	compilable = ok
	if fa := content.Attributes[functionAttr]; fa != nil {
		s, pos, sok := l.scriptValue(fa)
		switch {
		case !sok:
			ok, compilable = false, false
		case strings.TrimSpace(s) == "":
			l.errorf(fa.Expr.Range(), "Empty function",
				"The mapping's function is empty; write a JavaScript function such as (record, object) => ({ userName: record.email }), or remove it.")
			ok, compilable = false, false
		default:
			spec.Function = mapping.Function{Script: s, Pos: pos, Indent: l.scriptIndent[pos]}
		}
	}
	hasFunction := content.Attributes[functionAttr] != nil
	seen := map[string]hcl.Range{}
	for _, ab := range content.Blocks {
		name := ab.Labels[0]
		if name == "" {
			l.errorf(ab.LabelRanges[0], "Invalid attribute name", "An attribute block names the attribute it computes, as in attribute \"email\" { ... }; the name is empty.")
			ok = false
			continue
		}
		if prev, dup := seen[name]; dup {
			l.errorf(ab.LabelRanges[0], "Duplicate mapping attribute",
				"The attribute %q is already mapped at %s. Each attribute is computed once: remove one of the two blocks.", name, rangeString(prev))
			ok = false
			continue
		}
		seen[name] = ab.DefRange
		attr, ranges, aok := l.mappingAttribute(name, ab, stage, hasFunction)
		fields[name] = ranges
		if !aok {
			ok = false
			continue
		}
		spec.Attributes = append(spec.Attributes, attr)
	}
	if ok && len(content.Blocks) == 0 && !hasFunction {
		l.warnf(b.DefRange, "Empty mapping",
			"This mapping computes no attribute, so every %s gets no attributes at all. Add attribute blocks, or remove the mapping to pass attributes through unchanged.", kind)
	}
	return spec, fields, ok, compilable
}

func (l *loader) mappingAttribute(name string, b *hcl.Block, stage mapping.Stage, hasFunction bool) (mapping.Attribute, map[string]hcl.Range, bool) {
	attr := mapping.Attribute{Name: name, Decl: mapping.Pos{Filename: b.DefRange.Filename, Line: b.DefRange.Start.Line, Column: b.DefRange.Start.Column}}
	ranges := map[string]hcl.Range{"": b.DefRange}
	content, diags := b.Body.Content(attributeSchema)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return attr, ranges, false
	}
	for n, a := range content.Attributes {
		ranges[n] = a.Expr.Range()
	}
	ok := true
	if stage == mapping.Inbound {
		for _, n := range targetOnly {
			if a := content.Attributes[n]; a != nil {
				l.errorf(a.NameRange, "Target attribute setting in a source mapping",
					"%s is part of a target attribute's definition. A source's mapping computes the hub's attributes, which declare only type, options and default: remove %s, or move it to the target's mapping.", n, n)
				ok = false
			}
		}
	}
	if !l.attributeSource(name, b, content, hasFunction, &attr) {
		ok = false
	}
	if !l.attributeDefinition(content, &attr) {
		ok = false
	}
	return attr, ranges, ok
}

// attributeSource decodes where the attribute's value comes from: from,
// value or script.
func (l *loader) attributeSource(name string, b *hcl.Block, content *hcl.BodyContent, hasFunction bool, attr *mapping.Attribute) bool {
	var set []*hcl.Attribute
	for _, n := range []string{fromAttr, valueAttr, scriptAttr} {
		if a := content.Attributes[n]; a != nil {
			set = append(set, a)
		}
	}
	switch {
	case len(set) > 1:
		slices.SortFunc(set, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
		first, second := set[0], set[1]
		l.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Both %s and %s set", first.Name, second.Name),
			Detail:   fmt.Sprintf("The attribute %q sets both %s and %s. Set one: from to copy an input attribute as is, value for a constant, or script to compute the value with a JavaScript expression.", name, first.Name, second.Name),
			Subject:  second.NameRange.Ptr(),
			Context:  hcl.RangeBetween(first.Range, second.Range).Ptr(),
		})
		return false
	case len(set) == 0 && hasFunction:
		return true // the function computes it; the block declares its definition
	case len(set) == 0:
		l.errorf(b.DefRange, "Missing from, value or script",
			"The attribute %q says neither where its value comes from nor how to compute it. Set from = \"input_attribute\" to copy an input attribute, value = \"...\" for a constant, or script = \"...\" to compute it with a JavaScript expression such as record.email.toLowerCase().", name)
		return false
	}
	switch a := set[0]; a.Name {
	case fromAttr:
		s, ok := l.stringValue(a)
		if !ok {
			return false
		}
		if s == "" {
			l.errorf(a.Expr.Range(), "Empty from", "from names the input attribute whose value %q copies; it is empty.", name)
			return false
		}
		attr.From = s
	case valueAttr:
		v, ok := l.constValue(a)
		if !ok {
			return false
		}
		attr.Value = &v
	case scriptAttr:
		s, pos, ok := l.scriptValue(a)
		if !ok {
			return false
		}
		if strings.TrimSpace(s) == "" {
			l.errorf(a.Expr.Range(), "Empty script", "The script of %q is empty; write a JavaScript expression such as record.email.toLowerCase().", name)
			return false
		}
		attr.Script, attr.Pos, attr.Indent = s, pos, l.scriptIndent[pos]
	}
	return true
}

// attributeDefinition decodes the attribute's definition settings; the
// mapping checks how they combine.
func (l *loader) attributeDefinition(content *hcl.BodyContent, attr *mapping.Attribute) bool {
	ok := true
	str := func(n string, dst *string) {
		if a := content.Attributes[n]; a != nil {
			if s, sok := l.stringValue(a); sok {
				*dst = s
			} else {
				ok = false
			}
		}
	}
	flag := func(n string, dst *bool) {
		if a := content.Attributes[n]; a != nil {
			if v, vok := l.value(a, cty.Bool, "true or false"); vok {
				*dst = v.True()
			} else {
				ok = false
			}
		}
	}
	// oneOf decodes a string that must be one of choices.
	oneOf := func(n string, choices []string, dst func(string)) {
		a := content.Attributes[n]
		if a == nil {
			return
		}
		s, sok := l.stringValue(a)
		if !sok {
			ok = false
			return
		}
		if !slices.Contains(choices, s) {
			detail := fmt.Sprintf("%s is one of %s, not %q.", n, quoteList(choices), s)
			sug := Suggest(s, choices)
			for _, c := range choices {
				if sug == "" && s != "" && strings.HasPrefix(c, strings.ToLower(s)) {
					sug = c
				}
			}
			if sug != "" {
				detail += fmt.Sprintf(" Did you mean %q?", sug)
			}
			l.errorf(a.Expr.Range(), "Invalid "+strings.ReplaceAll(n, "_", " "), "%s", detail)
			ok = false
			return
		}
		dst(s)
	}
	str(labelAttr, &attr.Label)
	str(descriptionAttr, &attr.Description)
	types := make([]string, len(mapping.Types))
	for i, t := range mapping.Types {
		types[i] = string(t)
	}
	oneOf(typeAttr, types, func(s string) { attr.Type = mapping.Type(s) })
	if a := content.Attributes[optionsAttr]; a != nil {
		if opts, _, lok := l.stringListValue(a); lok {
			attr.Options = opts
		} else {
			ok = false
		}
	}
	if a := content.Attributes[defaultAttr]; a != nil {
		if v, vok := l.constValue(a); vok {
			attr.Default = &v
		} else {
			ok = false
		}
	}
	flag(requiredAttr, &attr.Required)
	flag(uniqueAttr, &attr.Unique)
	flag(sensitiveAttr, &attr.Sensitive)
	oneOf(onConflictAttr, []string{string(mapping.ConflictFail), string(mapping.ConflictSuffix)}, func(s string) { attr.OnConflict = mapping.Conflict(s) })
	oneOf(modeAttr, []string{string(mapping.ModeAlways), string(mapping.ModeCreateOnly)}, func(s string) { attr.Mode = mapping.Mode(s) })
	return ok
}

// constValue evaluates a constant attribute value: a string, a whole
// number, a boolean or a list of strings.
func (l *loader) constValue(a *hcl.Attribute) (sdk.Value, bool) {
	v, diags := a.Expr.Value(l.eval)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return sdk.Value{}, false
	}
	v, _ = v.UnmarkDeep()
	bad := func() (sdk.Value, bool) {
		l.errorf(a.Expr.Range(), "Incorrect attribute value type",
			"The value of %q must be a string, a whole number, true or false, or a list of strings.", a.Name)
		return sdk.Value{}, false
	}
	switch t := v.Type(); {
	case v.IsNull():
		l.errorf(a.Expr.Range(), "Null value", "%s may not be null; remove it instead.", a.Name)
		return sdk.Value{}, false
	case !v.IsWhollyKnown():
		return bad()
	case t == cty.String:
		return sdk.String(v.AsString()), true
	case t == cty.Bool:
		return sdk.Bool(v.True()), true
	case t == cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact {
			l.errorf(a.Expr.Range(), "Incorrect attribute value type",
				"The value of %q must be a whole number, not %s: attributes have no fractions.", a.Name, bf.Text('g', -1))
			return sdk.Value{}, false
		}
		return sdk.Int(i), true
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		lv, err := convert.Convert(v, cty.List(cty.String))
		if err != nil {
			return bad()
		}
		var items []string
		for it := lv.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return bad()
			}
			items = append(items, e.AsString())
		}
		return sdk.StringList(items...), true
	}
	return bad()
}

// scriptValue evaluates a script attribute and finds where the script's
// text starts: inside the quotes of a string, on the line after a
// heredoc's opening marker, or at the start of the .js file file() reads.
func (l *loader) scriptValue(a *hcl.Attribute) (string, mapping.Pos, bool) {
	rng := a.Expr.Range()
	v, diags := a.Expr.Value(l.eval)
	if diags.HasErrors() {
		if src := l.sourceText(rng); strings.Contains(src, "${") {
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					d.Detail = strings.TrimSpace(d.Detail + " In an HCL string, \"${\" starts an HCL interpolation: write \"$${\" for a JavaScript template literal's \"${\".")
				}
			}
		}
	}
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return "", mapping.Pos{}, false
	}
	v, _ = v.UnmarkDeep()
	if !v.Type().Equals(cty.String) {
		l.errorf(rng, "Incorrect attribute value type", "The value of %q must be a string: a JavaScript expression.", a.Name)
		return "", mapping.Pos{}, false
	}
	return v.AsString(), l.scriptPos(a.Expr), true
}

// sourceText returns the text of rng in its file.
func (l *loader) sourceText(rng hcl.Range) string {
	f := l.p.Files[rng.Filename]
	if f == nil || rng.End.Byte > len(f.Bytes) || rng.Start.Byte > rng.End.Byte {
		return ""
	}
	return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
}

func (l *loader) scriptPos(expr hcl.Expression) mapping.Pos {
	rng := expr.Range()
	pos := mapping.Pos{Filename: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column}
	if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "file" && len(call.Args) == 1 {
		if p, diags := call.Args[0].Value(nil); !diags.HasErrors() && p.Type() == cty.String && p.IsKnown() && !p.IsNull() {
			if name, ok := l.addScriptFile(p.AsString()); ok {
				return mapping.Pos{Filename: name, Line: 1, Column: 1}
			}
		}
		return pos
	}
	src := l.sourceText(rng)
	switch {
	case strings.HasPrefix(src, `"`):
		pos.Column++
	case strings.HasPrefix(src, "<<"):
		pos.Line++
		pos.Column = 1
		if strings.HasPrefix(src, "<<-") {
			// HCL removes the indentation from every line; the mapping
			// shifts only the first line's columns, so compileError puts
			// it back on the others.
			indent := heredocIndent(src)
			pos.Column += indent
			l.scriptIndent[pos] = indent
		}
	}
	return pos
}

// heredocIndent returns the indentation a flush heredoc (<<-) removes: the
// least leading white space of its non-blank content lines.
func heredocIndent(src string) int {
	lines := strings.Split(src, "\n")
	if len(lines) < 3 {
		return 0
	}
	indent := -1
	for _, line := range lines[1 : len(lines)-1] { // between the markers
		if strings.TrimSpace(line) == "" {
			continue
		}
		n := len(line) - len(strings.TrimLeft(line, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	return max(indent, 0)
}

// addScriptFile records a .js file read by file(), so diagnostics in it
// print with a snippet, and returns its name in diagnostics.
func (l *loader) addScriptFile(p string) (string, bool) {
	full, name := p, p
	if !filepath.IsAbs(p) {
		full = filepath.Join(l.p.Dir, p)
		name = filepath.Join(l.displayDir, p)
	}
	if f, ok := l.p.Files[name]; ok && f != nil {
		return name, true
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return "", false
	}
	l.p.Files[name] = &hcl.File{Body: hcl.EmptyBody(), Bytes: b}
	return name, true
}

// compile compiles spec, reporting every script that does not compile
// and every definition that is wrong (mapping.Compile returns them all,
// joined).
func (l *loader) compile(spec mapping.Spec, b *hcl.Block, fields fieldRanges) *mapping.Mapping {
	m, err := mapping.Compile(spec, mapping.Options{Timeout: l.p.MappingTimeout})
	if err == nil {
		return m
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		l.compileError(err, spec, b, fields)
	}
	return nil
}

func (l *loader) compileError(err error, spec mapping.Spec, b *hcl.Block, fields fieldRanges) {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Script does not compile",
		Subject:  b.DefRange.Ptr(),
	}
	var ce *mapping.CompileError
	if !errors.As(err, &ce) {
		d.Detail = fmt.Sprintf("The mapping does not compile: %v.", trimPeriod(err.Error()))
		l.add(d)
		return
	}
	start, what := spec.Function.Pos, "The mapping function does not compile"
	if ce.Attribute != "" {
		start = mapping.Pos{}
		for _, sa := range spec.Attributes {
			if sa.Name == ce.Attribute {
				start = sa.Pos
			}
		}
		what = fmt.Sprintf("The script of attribute %q is not a valid JavaScript expression", ce.Attribute)
		if ce.Field != "" || start == (mapping.Pos{}) {
			// A definition, not a script.
			d.Summary = "Invalid attribute definition"
			if r, ok := fields[ce.Attribute][ce.Field]; ok {
				d.Subject = r.Ptr()
			} else if r, ok := fields[ce.Attribute][""]; ok {
				d.Subject = r.Ptr()
			}
			d.Detail = fmt.Sprintf("The attribute %q: %s.", ce.Attribute, trimPeriod(ce.Msg))
			l.add(d)
			return
		}
	}
	if r, ok := l.pointRange(ce.Pos); ok {
		d.Subject = r.Ptr()
	} else if r, ok := l.pointRange(start); ok {
		d.Subject = r.Ptr()
	}
	d.Detail = fmt.Sprintf("%s: %s (at line %d, column %d).", what, trimPeriod(ce.Msg), d.Subject.Start.Line, d.Subject.Start.Column)
	l.add(d)
}

// pointRange returns the range of the character at p, when p is in one of
// the pipeline's files. Columns count characters, from 1.
func (l *loader) pointRange(p mapping.Pos) (hcl.Range, bool) {
	f := l.p.Files[p.Filename]
	if f == nil || p.Line < 1 {
		return hcl.Range{}, false
	}
	src := f.Bytes
	off := 0
	for line := 1; line < p.Line; line++ {
		i := strings.IndexByte(string(src[off:]), '\n')
		if i < 0 {
			return hcl.Range{}, false
		}
		off += i + 1
	}
	col := 1
	for col < p.Column && off < len(src) && src[off] != '\n' {
		_, size := utf8.DecodeRune(src[off:])
		off += size
		col++
	}
	start := hcl.Pos{Line: p.Line, Column: col, Byte: off}
	end := start
	if off < len(src) && src[off] != '\n' && src[off] != '\r' {
		_, size := utf8.DecodeRune(src[off:])
		end = hcl.Pos{Line: p.Line, Column: col + 1, Byte: off + size}
	}
	return hcl.Range{Filename: p.Filename, Start: start, End: end}, true
}
