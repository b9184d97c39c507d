package mapping

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/midstream-io/midstream/sdk"
)

// Defaults of Options.
const (
	defaultTimeout = time.Second
	// maxCallStackSize bounds a script's call depth, so runaway recursion
	// fails with a RangeError instead of growing the Go heap.
	maxCallStackSize = 1024
)

// A script expression is compiled as the body of a function of the record
// and the object. The prefix is on the expression's first line, so positions
// on that line shift by len(wrapPrefix) and later lines keep their columns;
// the suffix starts on a new line, so a trailing // comment cannot swallow it.
const (
	wrapPrefix = "(function(record, object){ return ("
	wrapSuffix = "\n); })"
)

// A whole-object function is compiled as a parenthesized expression,
// which must be a function literal; running the program yields the
// function.
const (
	fnPrefix = "("
	fnSuffix = "\n)"
)

// compiles counts the scripts compiled since the process started. Apply
// never compiles; the tests and BenchmarkMapping check this counter.
var compiles atomic.Int64

// compiled is a Mapping's implementation: its attributes, with their
// scripts compiled, and a pool of runtimes prepared to run them.
type compiled struct {
	kind    sdk.Kind
	stage   Stage
	attrs   []attr
	index   map[string]int // attrs by name
	fn      *attr          // the whole-object function, or nil
	scripts int            // how many attrs have a script, plus the function
	timeout time.Duration

	// What the definitions ask of Run, by attrs index.
	checked    []int    // attributes with a Type, a Default or Required
	unique     []int    // unique attributes
	sensitive  []string // names of sensitive attributes
	createOnly bool     // some attribute is create_only

	// library installs the globals scripts see (now() and the helpers)
	// on a new runtime, before the scripts are loaded.
	library []func(*vm) error

	pool    chan *vm
	seeds   atomic.Uint64 // seeds each new runtime's Math.random
	created atomic.Int64  // runtimes created, for tests and benchmarks
}

// source says where an attribute's value comes from.
type source uint8

const (
	fromFunction source = iota // the whole-object function's property
	fromInput                  // an input attribute, copied
	fromValue                  // a constant
	fromScript                 // an expression
)

// attr is one compiled output attribute, or the whole-object function.
type attr struct {
	name   string
	src    source
	from   string        // the input attribute copied (fromInput)
	value  sdk.Value     // the constant, converted (fromValue)
	prog   *goja.Program // the wrapped script, or nil
	script string        // the script as the user wrote it
	pos    Pos           // where script starts in the user's file
	ind    int           // columns removed from script's lines after the first
	unit   string        // the program's source name, to find its stack frames
	prefix string        // what the wrapper puts before script on its first line
	def    Definition
}

func compile(spec Spec, opts Options) (*compiled, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = runtime.GOMAXPROCS(0)
	}
	c := &compiled{
		kind:    spec.Kind,
		stage:   spec.Stage,
		attrs:   make([]attr, 0, len(spec.Attributes)),
		index:   make(map[string]int, len(spec.Attributes)),
		timeout: opts.Timeout,
		library: defaultLibrary,
		pool:    make(chan *vm, opts.PoolSize),
	}
	if c.stage == "" {
		c.stage = Outbound
	}
	var errs []error
	if f := spec.Function; f.Script != "" || f.Pos != (Pos{}) {
		fn := &attr{script: f.Script, pos: f.Pos, ind: max(f.Indent, 0),
			unit: "mapping function", prefix: fnPrefix}
		prog, err := fn.compileFunction()
		if err != nil {
			errs = append(errs, err)
		} else {
			fn.prog = prog
			c.fn = fn
			c.scripts++
		}
	}
	hasFunction := spec.Function.Script != ""
	seen := make(map[string]bool, len(spec.Attributes))
	for _, a := range spec.Attributes {
		failIn := func(field, msg string) {
			errs = append(errs, &CompileError{Attribute: a.Name, Field: field, Pos: firstPos(a.Decl, a.Pos), Msg: msg})
		}
		fail := func(msg string) { failIn("", msg) }
		if a.Name == "" {
			fail("the attribute has no name")
			continue
		}
		if seen[a.Name] {
			fail("the attribute is declared twice")
			continue
		}
		seen[a.Name] = true
		at := attr{name: a.Name, from: a.From, script: a.Script, pos: a.Pos, ind: max(a.Indent, 0)}
		var set []string
		if a.From != "" {
			set, at.src = append(set, "from"), fromInput
		}
		if a.Value != nil {
			set, at.src = append(set, "value"), fromValue
		}
		if a.Script != "" {
			set, at.src = append(set, "script"), fromScript
		}
		switch {
		case len(set) > 1:
			fail("set one of " + strings.Join(set, " and ") + ", not both")
			continue
		case len(set) == 0 && !hasFunction:
			fail("set one of from, value and script")
			continue
		}
		def, faults := c.definition(&a)
		for _, f := range faults {
			failIn(f.field, f.msg)
		}
		ok := len(faults) == 0
		at.def = def
		if a.Value != nil && ok {
			v, err := Convert(*a.Value, def.Type, def.Options)
			if err != nil {
				failIn("value", "value: "+err.Error())
				ok = false
			}
			at.value = v
		}
		if a.Script != "" {
			// Compiled even when the definition is wrong, so that every
			// mistake is reported at once.
			at.unit = "mapping attribute " + strconv.Quote(a.Name)
			at.prefix = wrapPrefix
			prog, err := at.compile()
			if err != nil {
				errs = append(errs, err)
				ok = false
			}
			at.prog = prog
			c.scripts++
		}
		if !ok {
			continue
		}
		c.index[a.Name] = len(c.attrs)
		c.attrs = append(c.attrs, at)
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, errors.Join(errs...)
	}
	for i := range c.attrs {
		d := &c.attrs[i].def
		if d.Type != Untyped || d.Default != nil || d.Required {
			c.checked = append(c.checked, i)
		}
		if d.Unique {
			c.unique = append(c.unique, i)
		}
		if d.Sensitive {
			c.sensitive = append(c.sensitive, d.Name)
		}
		if d.Mode == ModeCreateOnly {
			c.createOnly = true
		}
	}
	if c.scripts > 0 {
		// Prepare one runtime now: the pool is warm for the first record,
		// and a runtime that cannot be set up fails here, not per record.
		v, err := c.newVM()
		if err != nil {
			return nil, err
		}
		c.pool <- v
	}
	return c, nil
}

// definition checks a's definition and returns it, with its defaults
// filled in, or says what is wrong with it.
// fault is what is wrong with one field of a definition.
type fault struct{ field, msg string }

func (c *compiled) definition(a *Attribute) (Definition, []fault) {
	d := Definition{
		Name: a.Name, Label: a.Label, Description: a.Description,
		Type: a.Type, Options: slices.Clone(a.Options),
		Required: a.Required, Unique: a.Unique, OnConflict: a.OnConflict,
		Sensitive: a.Sensitive, Mode: a.Mode, Pos: firstPos(a.Decl, a.Pos),
	}
	var msgs []fault
	add := func(field, msg string) { msgs = append(msgs, fault{field, msg}) }
	if c.stage == Inbound {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"label", a.Label != ""}, {"description", a.Description != ""},
			{"required", a.Required}, {"unique", a.Unique}, {"on_conflict", a.OnConflict != ""},
			{"sensitive", a.Sensitive}, {"mode", a.Mode != ""},
		} {
			if f.set {
				add(f.name, f.name+" is part of a target attribute's definition; an inbound mapping's attributes declare only type, options and default")
			}
		}
	}
	if !slices.Contains(Types, d.Type) && d.Type != Untyped {
		add("type", fmt.Sprintf("unknown type %q; the types are %s", d.Type, typeList()))
	}
	switch {
	case d.Type == TypeEnum && len(d.Options) == 0:
		add("type", "an enum lists its options, as in options = [\"active\", \"disabled\"]")
	case d.Type != TypeEnum && len(d.Options) > 0:
		add("options", "options are for an enum; set type = \"enum\" or remove them")
	}
	seen := map[string]bool{}
	for _, o := range d.Options {
		if seen[o] {
			add("options", fmt.Sprintf("the option %q is listed twice", o))
		}
		seen[o] = true
	}
	switch d.Mode {
	case "":
		d.Mode = ModeAlways
	case ModeAlways, ModeCreateOnly:
	default:
		add("mode", fmt.Sprintf("unknown mode %q; the modes are %q and %q", d.Mode, ModeAlways, ModeCreateOnly))
	}
	switch {
	case d.OnConflict != "" && !d.Unique:
		add("on_conflict", "on_conflict says what a unique attribute does when its value is taken; set unique = true or remove it")
	case d.OnConflict != "" && d.OnConflict != ConflictFail && d.OnConflict != ConflictSuffix:
		add("on_conflict", fmt.Sprintf("unknown on_conflict %q; use %q or %q", d.OnConflict, ConflictFail, ConflictSuffix))
	case d.Unique && d.OnConflict == "":
		d.OnConflict = ConflictFail
	}
	if d.Unique {
		switch d.Type {
		case Untyped, TypeString, TypeInteger, TypeEnum:
		default:
			add("unique", fmt.Sprintf("a %s attribute cannot be unique; unique applies to strings, integers and enums", d.Type))
		}
		if d.OnConflict == ConflictSuffix && d.Type != Untyped && d.Type != TypeString {
			add("on_conflict", fmt.Sprintf("on_conflict = %q appends a number to text; it needs type = \"string\", not %q", ConflictSuffix, d.Type))
		}
	}
	if a.Default != nil && len(msgs) == 0 {
		v, err := Convert(*a.Default, d.Type, d.Options)
		if err != nil {
			add("default", "default: "+err.Error())
		} else if isEmpty(v) {
			add("default", "the default is empty; remove it, or give a value")
		} else {
			d.Default = &v
		}
	}
	return d, msgs
}

// firstPos returns the first of ps that is known.
func firstPos(ps ...Pos) Pos {
	for _, p := range ps {
		if p != (Pos{}) {
			return p
		}
	}
	return Pos{}
}

func typeList() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = strconv.Quote(string(t))
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (d Definition) clone() Definition {
	d.Options = slices.Clone(d.Options)
	if d.Default != nil {
		v := *d.Default
		d.Default = &v
	}
	return d
}

// compile parses and compiles a's wrapped script. Source maps are off: a
// //# sourceMappingURL comment would otherwise make the parser read a file.
func (a *attr) compile() (*goja.Program, error) {
	if strings.TrimSpace(a.script) == "" {
		return nil, &CompileError{Attribute: a.name, Pos: a.pos, Msg: "the script is empty"}
	}
	prg, err := a.parse(wrapPrefix + a.script + wrapSuffix)
	if err != nil {
		return nil, err
	}
	if !isWrappedExpression(prg) {
		return nil, &CompileError{Attribute: a.name, Pos: a.pos,
			Msg: "the script must be one expression; wrap statements in (function(){ ... })()"}
	}
	return a.compileAST(prg)
}

// compileFunction parses and compiles the whole-object function.
func (a *attr) compileFunction() (*goja.Program, error) {
	if strings.TrimSpace(a.script) == "" {
		return nil, &CompileError{Pos: a.pos, Msg: "the function is empty"}
	}
	prg, err := a.parse(fnPrefix + a.script + fnSuffix)
	if err != nil {
		// Declarations before the function parse as a program, not as
		// an expression: say what is expected rather than where the
		// parenthesized form broke.
		if p, perr := parser.ParseFile(nil, a.unit, a.script, 0, parser.WithDisableSourceMaps); perr == nil {
			if msg := functionShape(p); msg != "" {
				return nil, &CompileError{Pos: a.pos, Msg: msg}
			}
		}
		return nil, err
	}
	if msg := functionShape(prg); msg != "" {
		return nil, &CompileError{Pos: a.pos, Msg: msg}
	}
	return a.compileAST(prg)
}

// parse parses the wrapped script src.
func (a *attr) parse(src string) (*ast.Program, error) {
	prg, err := parser.ParseFile(nil, a.unit, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var list parser.ErrorList
		var one *parser.Error
		switch {
		case errors.As(err, &list) && len(list) > 0:
			return nil, a.syntaxError(list[0].Position.Line, list[0].Position.Column, list[0].Message)
		case errors.As(err, &one):
			return nil, a.syntaxError(one.Position.Line, one.Position.Column, one.Message)
		}
		return nil, &CompileError{Attribute: a.name, Pos: a.pos, Msg: "syntax error: " + err.Error()}
	}
	return prg, nil
}

// compileAST compiles a parsed script, in strict mode.
func (a *attr) compileAST(prg *ast.Program) (*goja.Program, error) {
	compiles.Add(1)
	p, err := goja.CompileAST(prg, true)
	if err != nil {
		var se *goja.CompilerSyntaxError
		var re *goja.CompilerReferenceError
		switch {
		case errors.As(err, &se) && se.File != nil:
			p := se.File.Position(se.Offset)
			return nil, a.syntaxError(p.Line, p.Column, se.Message)
		case errors.As(err, &re) && re.File != nil:
			p := re.File.Position(re.Offset)
			return nil, &CompileError{Attribute: a.name, Pos: a.userPos(p.Line, p.Column), Msg: "reference error: " + re.Message}
		}
		return nil, &CompileError{Attribute: a.name, Pos: a.pos, Msg: err.Error()}
	}
	return p, nil
}

// functionShape says why prg is not one function expression, or "".
func functionShape(prg *ast.Program) string {
	const want = "the mapping function must be one function expression, such as (record, object) => ({ userName: record.email }); declare helpers inside it"
	if len(prg.Body) != 1 {
		return want
	}
	st, ok := prg.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return want
	}
	switch f := st.Expression.(type) {
	case *ast.FunctionLiteral:
		if f.Async || f.Generator {
			return "the mapping function may not be async or a generator: it returns the attributes at once"
		}
	case *ast.ArrowFunctionLiteral:
		if f.Async {
			return "the mapping function may not be async: it returns the attributes at once"
		}
	default:
		return want
	}
	return ""
}

// isWrappedExpression reports whether prg is exactly the wrapper around
// one expression, so a script such as `1); evil(` cannot escape it.
func isWrappedExpression(prg *ast.Program) bool {
	if len(prg.Body) != 1 {
		return false
	}
	st, ok := prg.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return false
	}
	fn, ok := st.Expression.(*ast.FunctionLiteral)
	if !ok || fn.Body == nil || len(fn.Body.List) != 1 {
		return false
	}
	_, ok = fn.Body.List[0].(*ast.ReturnStatement)
	return ok
}

// syntaxError is a CompileError at line and byte column of the wrapped
// script. An error in the wrapper's suffix means the expression ended too
// early; it is reported at the expression's end.
func (a *attr) syntaxError(line, col int, msg string) *CompileError {
	if a.inSuffix(line, col) {
		msg = "unexpected end of the script"
	}
	return &CompileError{Attribute: a.name, Pos: a.userPos(line, col), Msg: "syntax error: " + msg}
}

// inSuffix reports whether line and byte column of the wrapped script lie
// after the user's expression.
func (a *attr) inSuffix(line, col int) bool {
	lines := splitLines(a.script)
	if line > len(lines) {
		return true
	}
	if line == len(lines) {
		off := col - 1
		if line == 1 {
			off -= len(a.prefix)
		}
		return off >= len(lines[line-1])
	}
	return false
}

// userPos maps line and byte column of the wrapped script (1-based, as goja
// reports them) to a position in the user's file, in characters. Positions
// in the wrapper are clamped to the expression.
func (a *attr) userPos(line, col int) Pos {
	base := a.pos
	if base.Line <= 0 {
		base.Line = 1
	}
	if base.Column <= 0 {
		base.Column = 1
	}
	lines := splitLines(a.script)
	if line < 1 {
		return base
	}
	if line > len(lines) {
		line = len(lines)
		col = len(lines[line-1]) + 1
		if line == 1 {
			col += len(a.prefix)
		}
	}
	text := lines[line-1]
	off := col - 1
	if line == 1 {
		off -= len(a.prefix)
	}
	off = min(max(off, 0), len(text))
	for off > 0 && off < len(text) && !utf8.RuneStart(text[off]) {
		off--
	}
	chars := utf8.RuneCountInString(text[:off])
	if line == 1 {
		return Pos{Filename: base.Filename, Line: base.Line, Column: base.Column + chars}
	}
	return Pos{Filename: base.Filename, Line: base.Line + line - 1, Column: a.ind + chars + 1}
}

// splitLines splits s into lines the way goja counts them: at \n, \r\n,
// \r, U+2028 and U+2029.
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			start = i + n
		case '\n', '\u2028', '\u2029':
			lines = append(lines, s[start:i])
			start = i + n
		}
		i += n
	}
	return append(lines, s[start:])
}

// posString formats p as file:line:column, leaving out what is unknown.
func posString(p Pos) string {
	s := p.Filename
	if s == "" {
		s = "<mapping>"
	}
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}
