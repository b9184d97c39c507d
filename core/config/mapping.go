package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

const (
	attributeBlock = "attribute"
	fromAttr       = "from"
	scriptAttr     = "script"
)

var mappingSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: attributeBlock, LabelNames: []string{"name"}},
}}

var attributeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: fromAttr},
	{Name: scriptAttr},
}}

// mapping decodes one mapping block; false when it has errors.
func (l *loader) mapping(kind sdk.Kind, b *hcl.Block) (mapping.Spec, bool) {
	spec := mapping.Spec{Kind: kind}
	content, diags := b.Body.Content(mappingSchema)
	l.diags = append(l.diags, diags...)
	ok := !diags.HasErrors()
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
		attr, aok := l.mappingAttribute(name, ab)
		if !aok {
			ok = false
			continue
		}
		spec.Attributes = append(spec.Attributes, attr)
	}
	if ok && len(content.Blocks) == 0 {
		l.warnf(b.DefRange, "Empty mapping",
			"This mapping computes no attribute, so every %s gets no attributes at all. Add attribute blocks, or remove the mapping to pass attributes through unchanged.", kind)
	}
	return spec, ok
}

func (l *loader) mappingAttribute(name string, b *hcl.Block) (mapping.Attribute, bool) {
	attr := mapping.Attribute{Name: name}
	content, diags := b.Body.Content(attributeSchema)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return attr, false
	}
	from, script := content.Attributes[fromAttr], content.Attributes[scriptAttr]
	switch {
	case from != nil && script != nil:
		first, second := from, script
		if second.Range.Start.Byte < first.Range.Start.Byte {
			first, second = second, first
		}
		l.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Both from and script set",
			Detail:   fmt.Sprintf("The attribute %q sets both from and script. Set from to copy an input attribute as is, or script to compute the value with a JavaScript expression, not both.", name),
			Subject:  second.NameRange.Ptr(),
			Context:  hcl.RangeBetween(first.Range, second.Range).Ptr(),
		})
		return attr, false
	case from == nil && script == nil:
		l.errorf(b.DefRange, "Missing from or script",
			"The attribute %q says neither where its value comes from nor how to compute it. Set from = \"input_attribute\" to copy an input attribute, or script = \"...\" to compute it with a JavaScript expression such as record.email.toLowerCase().", name)
		return attr, false
	case from != nil:
		s, ok := l.stringValue(from)
		if !ok {
			return attr, false
		}
		if s == "" {
			l.errorf(from.Expr.Range(), "Empty from", "from names the input attribute whose value %q copies; it is empty.", name)
			return attr, false
		}
		attr.From = s
		return attr, true
	}
	s, pos, ok := l.scriptValue(script)
	if !ok {
		return attr, false
	}
	if strings.TrimSpace(s) == "" {
		l.errorf(script.Expr.Range(), "Empty script", "The script of %q is empty; write a JavaScript expression such as record.email.toLowerCase().", name)
		return attr, false
	}
	attr.Script, attr.Pos = s, pos
	return attr, true
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
// (mapping.Compile returns them all, joined).
func (l *loader) compile(spec mapping.Spec, b *hcl.Block) *mapping.Mapping {
	m, err := mapping.Compile(spec, mapping.Options{Timeout: l.p.MappingTimeout})
	if err == nil {
		return m
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, err := range errs {
		l.compileError(err, spec, b)
	}
	return nil
}

func (l *loader) compileError(err error, spec mapping.Spec, b *hcl.Block) {
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
	var a mapping.Attribute
	for _, sa := range spec.Attributes {
		if sa.Name == ce.Attribute {
			a = sa
		}
	}
	at := ce.Pos
	if indent := l.scriptIndent[a.Pos]; indent > 0 && at.Line > a.Pos.Line {
		at.Column += indent
	}
	if r, ok := l.pointRange(at); ok {
		d.Subject = r.Ptr()
	} else if r, ok := l.pointRange(a.Pos); ok {
		d.Subject = r.Ptr()
	}
	d.Detail = fmt.Sprintf("The script of attribute %q is not a valid JavaScript expression: %s (at line %d, column %d).",
		ce.Attribute, trimPeriod(ce.Msg), d.Subject.Start.Line, d.Subject.Start.Column)
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
