package mapping

import (
	"errors"
	"runtime"
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

// compiles counts the scripts compiled since the process started. Apply
// never compiles; the tests and BenchmarkMapping check this counter.
var compiles atomic.Int64

// compiled is a Mapping's implementation: its attributes, with their
// scripts compiled, and a pool of runtimes prepared to run them.
type compiled struct {
	kind    sdk.Kind
	attrs   []attr
	scripts int // how many attrs have a script
	timeout time.Duration

	// library installs the globals scripts see (now(), and later the
	// helper library) on a new runtime, before the scripts are loaded.
	library []func(*vm) error

	pool    chan *vm
	seeds   atomic.Uint64 // seeds each new runtime's Math.random
	created atomic.Int64  // runtimes created, for tests and benchmarks
}

// attr is one compiled output attribute.
type attr struct {
	name string
	from string        // the input attribute copied, when prog is nil
	prog *goja.Program // the wrapped script, or nil
	src  string        // the script as the user wrote it
	pos  Pos           // where src starts in the user's file
	ind  int           // columns removed from src's lines after the first
	unit string        // the program's source name, to find its stack frames
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
		attrs:   make([]attr, 0, len(spec.Attributes)),
		timeout: opts.Timeout,
		library: defaultLibrary,
		pool:    make(chan *vm, opts.PoolSize),
	}
	var errs []error
	seen := make(map[string]bool, len(spec.Attributes))
	for _, a := range spec.Attributes {
		fail := func(msg string) {
			errs = append(errs, &CompileError{Attribute: a.Name, Pos: a.Pos, Msg: msg})
		}
		switch {
		case a.Name == "":
			fail("the attribute has no name")
			continue
		case seen[a.Name]:
			fail("the attribute is declared twice")
			continue
		case a.From != "" && a.Script != "":
			fail("set one of from and script, not both")
			continue
		case a.From == "" && a.Script == "":
			fail("set one of from and script")
			continue
		}
		seen[a.Name] = true
		at := attr{name: a.Name, from: a.From, src: a.Script, pos: a.Pos, ind: max(a.Indent, 0)}
		if a.Script != "" {
			at.unit = "mapping attribute " + strconv.Quote(a.Name)
			prog, err := at.compile()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			at.prog = prog
			c.scripts++
		}
		c.attrs = append(c.attrs, at)
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, errors.Join(errs...)
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

// compile parses and compiles a's wrapped script. Source maps are off: a
// //# sourceMappingURL comment would otherwise make the parser read a file.
func (a *attr) compile() (*goja.Program, error) {
	if strings.TrimSpace(a.src) == "" {
		return nil, &CompileError{Attribute: a.name, Pos: a.pos, Msg: "the script is empty"}
	}
	src := wrapPrefix + a.src + wrapSuffix
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
	if !isWrappedExpression(prg) {
		return nil, &CompileError{Attribute: a.name, Pos: a.pos,
			Msg: "the script must be one expression; wrap statements in (function(){ ... })()"}
	}
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
	lines := splitLines(a.src)
	if line > len(lines) {
		return true
	}
	if line == len(lines) {
		off := col - 1
		if line == 1 {
			off -= len(wrapPrefix)
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
	lines := splitLines(a.src)
	if line < 1 {
		return base
	}
	if line > len(lines) {
		line = len(lines)
		col = len(lines[line-1]) + 1
		if line == 1 {
			col += len(wrapPrefix)
		}
	}
	text := lines[line-1]
	off := col - 1
	if line == 1 {
		off -= len(wrapPrefix)
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
