package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
)

// valueEq compares attribute values by type and value.
var valueEq = cmp.Comparer(func(a, b sdk.Value) bool { return a.Equal(b) })

var (
	hired = time.Date(2019, 3, 4, 9, 30, 0, 0, time.UTC)
	runAt = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
)

// testInput is a user with one attribute of every type.
func testInput() Input {
	return Input{
		Kind:  sdk.KindUser,
		ID:    "u-1001",
		State: sdk.StateActive,
		Attributes: sdk.Attributes{
			"name":    sdk.String("张伟"),
			"email":   sdk.String("Wei.Zhang@Example.com"),
			"number":  sdk.Int(1001),
			"active":  sdk.Bool(true),
			"hired":   sdk.Time(hired),
			"groups":  sdk.StringList("dev", "运维"),
			"manager": sdk.Null(),
		},
		Target: "wecom",
		Now:    runAt,
	}
}

// script is a one-attribute spec whose script starts at line 10, column 12
// of mapping.hcl.
func script(src string) Spec {
	return Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "out", Script: src, Pos: Pos{Filename: "mapping.hcl", Line: 10, Column: 12}},
	}}
}

func mustCompile(t testing.TB, spec Spec, opts Options) *Mapping {
	t.Helper()
	m, err := Compile(spec, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func TestFrom(t *testing.T) {
	t.Parallel()
	in := testInput()
	var attrs []Attribute
	want := sdk.Attributes{}
	for _, name := range append(in.Attributes.Names(), "missing") {
		attrs = append(attrs, Attribute{Name: "copy_" + name, From: name})
		want["copy_"+name] = in.Attributes[name] // missing: the zero Value, null
	}
	m := mustCompile(t, Spec{Kind: sdk.KindUser, Attributes: attrs}, Options{})
	got, err := m.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, valueEq); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
}

// TestValuesIn checks what scripts see of each attribute type and of the
// object.
func TestValuesIn(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		script string
		want   sdk.Value
	}{
		"string":             {`typeof record.name + ":" + record.name`, sdk.String("string:张伟")},
		"string methods":     {`record.email.toLowerCase()`, sdk.String("wei.zhang@example.com")},
		"integer":            {`typeof record.number + ":" + (record.number + 1)`, sdk.String("number:1002")},
		"boolean":            {`record.active === true`, sdk.Bool(true)},
		"datetime is a Date": {`record.hired instanceof Date && record.hired.toISOString()`, sdk.String("2019-03-04T09:30:00.000Z")},
		"list is an array":   {`Array.isArray(record.groups) && record.groups.join("|")`, sdk.String("dev|运维")},
		"list length":        {`record.groups.length`, sdk.Int(2)},
		"null":               {`record.manager === null`, sdk.Bool(true)},
		"missing":            {`record.missing === undefined && !("missing" in record) && "name" in record`, sdk.Bool(true)},
		"keys":               {`Object.keys(record).join(",")`, sdk.String("active,email,groups,hired,manager,name,number")},
		"a list is a copy":   {`(function(){ record.groups.push("x"); return record.groups.length })()`, sdk.Int(2)},
		"object":             {`[object.id, object.kind, object.state, object.target].join(" ")`, sdk.String("u-1001 user active wecom")},
		"now":                {`now().toISOString()`, sdk.String("2026-05-06T07:08:09.000Z")},
		"new Date":           {`new Date().getTime() === now().getTime() && Date.now() === now().getTime()`, sdk.Bool(true)},
		"template":           {"`${record.name}<${record.email}>`", sdk.String("张伟<Wei.Zhang@Example.com>")},
		"optional chaining":  {`record.manager?.toLowerCase() ?? "none"`, sdk.String("none")},
		"iife":               {"(function () {\n  const n = record.number;\n  return n > 1000 ? \"big\" : \"small\";\n})()", sdk.String("big")},
		"trailing comment":   {`record.number // the employee number`, sdk.Int(1001)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, script(tt.script), Options{})
			got, err := m.Apply(context.Background(), testInput())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got["out"], valueEq); diff != "" {
				t.Errorf("out (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValuesOut checks how script results become attribute values.
func TestValuesOut(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		script  string
		want    sdk.Value
		wantErr string // a substring of ScriptError.Msg
	}{
		"string":            {script: `"a" + "b"`, want: sdk.String("ab")},
		"String object":     {script: `new String("s")`, want: sdk.String("s")},
		"integer":           {script: `6 * 7`, want: sdk.Int(42)},
		"integral float":    {script: `10 / 2`, want: sdk.Int(5)},
		"negative":          {script: `-3`, want: sdk.Int(-3)},
		"large integer":     {script: `2 ** 53`, want: sdk.Int(1 << 53)},
		"BigInt":            {script: `2n ** 60n`, want: sdk.Int(1 << 60)},
		"boolean":           {script: `1 < 2`, want: sdk.Bool(true)},
		"Date":              {script: `new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6))`, want: sdk.Time(time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC))},
		"datetime through":  {script: `record.hired`, want: sdk.Time(hired)},
		"string array":      {script: `["a", "b"]`, want: sdk.StringList("a", "b")},
		"empty array":       {script: `[]`, want: sdk.StringList()},
		"list through":      {script: `record.groups`, want: sdk.StringList("dev", "运维")},
		"null":              {script: `null`, want: sdk.Null()},
		"undefined":         {script: `undefined`, want: sdk.Null()},
		"missing attribute": {script: `record.missing`, want: sdk.Null()},
		"fraction":          {script: `1.5`, wantErr: "the script returned the number 1.5, which is not an integer"},
		"NaN":               {script: `0 / 0`, wantErr: "the script returned the number NaN, which is not an integer"},
		"Infinity":          {script: `1 / 0`, wantErr: "not an integer"},
		"too large":         {script: `2 ** 64`, wantErr: "out of the integer range"},
		"BigInt too large":  {script: `2n ** 64n`, wantErr: "out of the integer range"},
		"object":            {script: `({a: 1})`, wantErr: "the script returned an object; return a string, number, boolean, Date, array of strings or null"},
		"function":          {script: `(function () {})`, wantErr: "the script returned a function (call it?)"},
		"array of numbers":  {script: `["a", 1]`, wantErr: "item 1 is the number 1; a list holds only strings"},
		"invalid Date":      {script: `new Date(NaN)`, wantErr: "the script returned an invalid Date"},
		"Symbol":            {script: `Symbol("s")`, wantErr: "the script returned a Symbol"},
		"RegExp":            {script: `/x/`, wantErr: "the script returned a RegExp"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, script(tt.script), Options{})
			got, err := m.Apply(context.Background(), testInput())
			if tt.wantErr != "" {
				var se *ScriptError
				if !errors.As(err, &se) {
					t.Fatalf("Apply = %v, %v; want a *ScriptError", got, err)
				}
				if !strings.Contains(se.Msg, tt.wantErr) {
					t.Errorf("Msg = %q, want it to contain %q", se.Msg, tt.wantErr)
				}
				if se.Attribute != "out" || se.ID != "u-1001" || se.Pos != (Pos{"mapping.hcl", 10, 12}) {
					t.Errorf("error = %+v, want attribute out, id u-1001, mapping.hcl:10:12", se)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got["out"], valueEq); diff != "" {
				t.Errorf("out (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	at := func(line, col int) Pos { return Pos{Filename: "mapping.hcl", Line: line, Column: col} }
	tests := map[string]struct {
		attrs []Attribute
		want  []*CompileError
	}{
		"syntax error": {
			attrs: []Attribute{{Name: "a", Script: `record.name.(x)`, Pos: at(10, 12)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(10, 24), Msg: "syntax error: Unexpected token ("}},
		},
		"syntax error after Chinese text": {
			// Columns count characters, not bytes: 名字 is 6 bytes, 2 columns.
			attrs: []Attribute{{Name: "a", Script: `"名字" + + )`, Pos: at(3, 5)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(3, 14), Msg: "syntax error: Unexpected token )"}},
		},
		"syntax error on a later line": {
			attrs: []Attribute{{Name: "a", Script: "(function () {\n  const x = ;\n  return x;\n})()", Pos: at(20, 14)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(21, 13), Msg: "syntax error: Unexpected token ;"}},
		},
		"unexpected end": {
			attrs: []Attribute{{Name: "a", Script: `record.name +`, Pos: at(10, 12)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(10, 25), Msg: "syntax error: unexpected end of the script"}},
		},
		"strict mode": {
			attrs: []Attribute{{Name: "a", Script: `(function () { let a = 1; let a = 2; return a })()`, Pos: at(10, 12)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(10, 42), Msg: "syntax error: Identifier 'a' has already been declared"}},
		},
		"statements after the expression": {
			attrs: []Attribute{{Name: "a", Script: `1); globalThis.x = (2`, Pos: at(10, 12)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(10, 12), Msg: "the script must be one expression; wrap statements in (function(){ ... })()"}},
		},
		"empty script": {
			attrs: []Attribute{{Name: "a", Script: "  \n ", Pos: at(10, 12)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(10, 12), Msg: "the script is empty"}},
		},
		"indented heredoc": {
			// HCL removed 4 columns from each line of a <<- heredoc.
			attrs: []Attribute{{Name: "a", Script: "(function () {\n  const x = ;\n})()", Pos: at(20, 5), Indent: 4}},
			want:  []*CompileError{{Attribute: "a", Pos: at(21, 17), Msg: "syntax error: Unexpected token ;"}},
		},
		"no position": {
			attrs: []Attribute{{Name: "a", Script: "1 +\n  * 2"}},
			want:  []*CompileError{{Attribute: "a", Pos: Pos{Line: 2, Column: 3}, Msg: "syntax error: Unexpected token *"}},
		},
		"from and script": {
			attrs: []Attribute{{Name: "a", From: "x", Script: "1", Pos: at(4, 3)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(4, 3), Msg: "set one of from and script, not both"}},
		},
		"neither": {
			attrs: []Attribute{{Name: "a", Pos: at(4, 3)}},
			want:  []*CompileError{{Attribute: "a", Pos: at(4, 3), Msg: "set one of from, value and script"}},
		},
		"every error": {
			attrs: []Attribute{
				{Name: "a", Script: "(", Pos: at(1, 10)},
				{Name: "ok", From: "x"},
				{Name: "ok", From: "y", Pos: at(3, 1)},
				{Name: "c", Script: "1 2", Pos: at(5, 10)},
			},
			want: []*CompileError{
				{Attribute: "a", Pos: at(1, 11), Msg: "syntax error: unexpected end of the script"},
				{Attribute: "ok", Pos: at(3, 1), Msg: "the attribute is declared twice"},
				{Attribute: "c", Pos: at(5, 12), Msg: "syntax error: Unexpected number"},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Compile(Spec{Kind: sdk.KindUser, Attributes: tt.attrs}, Options{})
			if err == nil {
				t.Fatalf("Compile = %v, nil; want an error", m)
			}
			var got []*CompileError
			if multi, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range multi.Unwrap() {
					got = append(got, e.(*CompileError))
				}
			} else {
				got = append(got, err.(*CompileError))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileErrorString(t *testing.T) {
	t.Parallel()
	_, err := Compile(script("record.name +"), Options{})
	if got, want := fmt.Sprint(err), "mapping.hcl:10:25: attribute out: syntax error: unexpected end of the script"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		script string
		pos    Pos
		indent int
		want   *ScriptError
	}{
		"missing attribute": {
			script: `record.nickname.trim()`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 19}, ID: "u-1001",
				Msg: "TypeError: Cannot read property 'trim' of undefined or null"},
		},
		"on a later line": {
			script: "(function () {\n  const n = record.name;\n  return n + record.nickname.trim();\n})()",
			pos:    Pos{"pipeline.hcl", 40, 14},
			want: &ScriptError{Attribute: "out", Pos: Pos{"pipeline.hcl", 42, 21}, ID: "u-1001",
				Msg: "TypeError: Cannot read property 'trim' of undefined or null"},
		},
		"in an indented heredoc": {
			script: "(function () {\n  return record.nickname.trim();\n})()",
			pos:    Pos{"pipeline.hcl", 40, 5},
			indent: 4,
			want: &ScriptError{Attribute: "out", Pos: Pos{"pipeline.hcl", 41, 21}, ID: "u-1001",
				Msg: "TypeError: Cannot read property 'trim' of undefined or null"},
		},
		"after Chinese text": {
			script: `"名字" + record.nickname.trim()`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 26}, ID: "u-1001",
				Msg: "TypeError: Cannot read property 'trim' of undefined or null"},
		},
		"thrown Error": {
			script: `record.number > 1000 ? (function () { throw new Error("too big") })() : 0`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 56}, ID: "u-1001",
				Msg: "Error: too big"},
		},
		"thrown string": {
			script: `(function () { throw "no" })()`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 27}, ID: "u-1001",
				Msg: "uncaught exception: no"},
		},
		"undefined variable": {
			script: `nmae`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 12}, ID: "u-1001",
				Msg: "ReferenceError: nmae is not defined"},
		},
		"record is read-only": {
			script: `record.name = "x"`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 19}, ID: "u-1001",
				Msg: "TypeError: cannot change record.name: record is read-only; copy the value into a variable"},
		},
		"globals are frozen": {
			script: `globalThis.counter = 1`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 23}, ID: "u-1001",
				Msg: "TypeError: Cannot add property counter, object is not extensible"},
		},
		"runaway recursion": {
			script: `(function f(n) { return f(n + 1) })(0)`,
			pos:    Pos{"mapping.hcl", 10, 12},
			want: &ScriptError{Attribute: "out", Pos: Pos{"mapping.hcl", 10, 37}, ID: "u-1001",
				Msg: "RangeError: maximum call stack size exceeded"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := Spec{Kind: sdk.KindUser, Attributes: []Attribute{
				{Name: "first", From: "name"},
				{Name: "out", Script: tt.script, Pos: tt.pos, Indent: tt.indent},
			}}
			m := mustCompile(t, spec, Options{})
			got, err := m.Apply(context.Background(), testInput())
			var se *ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("Apply = %v, %v; want a *ScriptError", got, err)
			}
			if diff := cmp.Diff(tt.want, se); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if se.Hint() != "" {
				t.Errorf("Hint = %q, want none", se.Hint())
			}
		})
	}
}

func TestScriptErrorString(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, script("record.nickname.trim()"), Options{})
	_, err := m.Apply(context.Background(), testInput())
	want := "mapping.hcl:10:19: attribute out of u-1001: TypeError: Cannot read property 'trim' of undefined or null"
	if got := fmt.Sprint(err); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// compiledOf returns m's implementation, for tests that look inside.
func compiledOf(m *Mapping) *compiled { return m.impl }

func TestTimeout(t *testing.T) {
	t.Parallel()
	spec := Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "out", Script: `record.number === 0 ? (function(){while(true){}})() : record.number`, Pos: Pos{"mapping.hcl", 7, 11}},
	}}
	m := mustCompile(t, spec, Options{Timeout: 50 * time.Millisecond, PoolSize: 1})
	loop := testInput()
	loop.Attributes = sdk.Attributes{"number": sdk.Int(0)}

	start := time.Now()
	_, err := m.Apply(context.Background(), loop)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Apply took %v with a 50ms timeout", d)
	}
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply error = %v, want a *ScriptError", err)
	}
	if !se.Timeout || se.Attribute != "out" || se.ID != "u-1001" || se.Pos.Filename != "mapping.hcl" || se.Pos.Line != 7 {
		t.Errorf("error = %+v, want a timeout of attribute out of u-1001 in mapping.hcl:7", se)
	}
	if !strings.Contains(se.Hint(), "raise mapping_timeout") {
		t.Errorf("Hint = %q, want it to say to raise the setting", se.Hint())
	}

	// The same runtime runs the next call: its interrupt was cleared.
	for range 3 {
		got, err := m.Apply(context.Background(), testInput())
		if err != nil {
			t.Fatalf("Apply after a timeout: %v", err)
		}
		if !got["out"].Equal(sdk.Int(1001)) {
			t.Errorf("out = %#v, want 1001", got["out"])
		}
	}
	if n := compiledOf(m).created.Load(); n != 1 {
		t.Errorf("%d runtimes created, want 1 (reused after the timeout)", n)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, script(`record.number === 0 ? (function(){while(true){}})() : record.number`),
		Options{Timeout: time.Minute, PoolSize: 1})
	loop := testInput()
	loop.Attributes = sdk.Attributes{"number": sdk.Int(0)}

	t.Run("while running", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := m.Apply(ctx, loop)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Apply error = %v, want context.Canceled", err)
		}
		var se *ScriptError
		if errors.As(err, &se) {
			t.Errorf("Apply error is a ScriptError (%v); a cancellation is not the script's fault", se)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := m.Apply(ctx, loop)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Apply error = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := m.Apply(ctx, testInput())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Apply error = %v, want context.Canceled", err)
		}
	})
	t.Run("an earlier context", func(t *testing.T) {
		// The runtime still watches ctxA when a call under ctxB runs;
		// ending ctxA must not stop that call.
		ctxA, cancelA := context.WithCancel(context.Background())
		ctxB, cancelB := context.WithCancel(context.Background())
		defer cancelB()
		busy := testInput()
		busy.Attributes = sdk.Attributes{"number": sdk.Int(-1)}
		slow := mustCompile(t, script(`(function () { let x = 0; for (let i = 0; i < 1e6; i++) { x += i % 7 } return x > 0 })()`),
			Options{Timeout: time.Minute, PoolSize: 1})
		if _, err := slow.Apply(ctxA, testInput()); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(5*time.Millisecond, cancelA)
		got, err := slow.Apply(ctxB, busy)
		if err != nil || !got["out"].Equal(sdk.Bool(true)) {
			t.Errorf("Apply under ctxB = %v, %v; want out true", got, err)
		}
	})
	t.Run("reusable afterwards", func(t *testing.T) {
		got, err := m.Apply(context.Background(), testInput())
		if err != nil || !got["out"].Equal(sdk.Int(1001)) {
			t.Errorf("Apply = %v, %v; want out 1001", got, err)
		}
		if n := compiledOf(m).created.Load(); n != 1 {
			t.Errorf("%d runtimes created, want 1", n)
		}
	})
}

// TestNow checks that now() follows each call's Input.Now on one pooled
// runtime, never a clock kept from an earlier call.
func TestNow(t *testing.T) {
	t.Parallel()
	spec := Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "now", Script: `now()`},
		{Name: "date", Script: `new Date()`},
		{Name: "ms", Script: `Date.now()`},
	}}
	m := mustCompile(t, spec, Options{PoolSize: 1})
	for _, at := range []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		in := testInput()
		in.Now = at
		got, err := m.Apply(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		want := sdk.Attributes{"now": sdk.Time(at), "date": sdk.Time(at), "ms": sdk.Int(at.UnixMilli())}
		if diff := cmp.Diff(want, got, valueEq); diff != "" {
			t.Errorf("Now %v (-want +got):\n%s", at, diff)
		}
	}
	if n := compiledOf(m).created.Load(); n != 1 {
		t.Errorf("%d runtimes created, want 1", n)
	}
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"no require":       `typeof require`,
		"no console":       `typeof console`,
		"no process":       `typeof process`,
		"no module":        `typeof module`,
		"no fetch":         `typeof fetch`,
		"no timers":        `typeof setTimeout`,
		"now is read-only": `(function () { try { now = null } catch (e) { return "undefined" } return "assigned" })()`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, script(src), Options{})
			got, err := m.Apply(context.Background(), testInput())
			if err != nil {
				t.Fatal(err)
			}
			if !got["out"].Equal(sdk.String("undefined")) {
				t.Errorf("out = %#v, want undefined", got["out"])
			}
		})
	}
	t.Run("globals", func(t *testing.T) {
		t.Parallel()
		// The globals are ECMAScript's plus now; now is named now, and no
		// Go function shows its Go name.
		m := mustCompile(t, script(`Object.getOwnPropertyNames(globalThis).filter(function (n) {
			var v = globalThis[n];
			return typeof v === "function" && /native code/.test(String(v)) && !/^function [A-Za-z_$][\w$]*\(\)/.test(String(v));
		}).concat([now.name])`), Options{})
		got, err := m.Apply(context.Background(), testInput())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sdk.StringList("now"), got["out"], valueEq); diff != "" {
			t.Errorf("odd globals (-want +got):\n%s", diff)
		}
	})
}

// TestConcurrent runs many Apply calls at once; run it with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	spec := Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "id", Script: `object.id`},
		{Name: "mail", Script: `record.email.toLowerCase()`},
		{Name: "n", From: "number"},
		{Name: "at", Script: `now()`},
	}}
	m := mustCompile(t, spec, Options{PoolSize: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				in := testInput()
				in.ID = fmt.Sprintf("u-%d-%d", g, i)
				in.Attributes = sdk.Attributes{"email": sdk.String(fmt.Sprintf("U%d@X.ORG", i)), "number": sdk.Int(int64(i))}
				in.Now = runAt.Add(time.Duration(g) * time.Hour)
				got, err := m.Apply(context.Background(), in)
				if err != nil {
					errs <- err
					return
				}
				want := sdk.Attributes{
					"id":   sdk.String(in.ID),
					"mail": sdk.String(fmt.Sprintf("u%d@x.org", i)),
					"n":    sdk.Int(int64(i)),
					"at":   sdk.Time(in.Now),
				}
				if diff := cmp.Diff(want, got, valueEq); diff != "" {
					errs <- fmt.Errorf("%s (-want +got):\n%s", in.ID, diff)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPanic checks that a Go panic in a library function fails the call
// and that the runtime it hit is dropped, not reused.
func TestPanic(t *testing.T) {
	t.Parallel()
	c, err := compile(script(`record.number === 0 ? explode() : record.number`), Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	<-c.pool // the runtime prepared at compile, without explode
	c.library = append(c.library, func(v *vm) error {
		return v.defineFunc("explode", func(goja.FunctionCall) goja.Value { panic("boom") })
	})
	created := c.created.Load()

	in := testInput()
	in.Attributes = sdk.Attributes{"number": sdk.Int(0)}
	_, err = c.apply(context.Background(), in)
	var se *ScriptError
	if !errors.As(err, &se) || se.Msg != "internal error: boom" || se.ID != "u-1001" || se.Attribute != "out" {
		t.Fatalf("apply error = %v, want a ScriptError: internal error: boom", err)
	}
	if n := len(c.pool); n != 0 {
		t.Errorf("%d runtimes in the pool after a panic, want 0", n)
	}
	got, err := c.apply(context.Background(), testInput())
	if err != nil || !got["out"].Equal(sdk.Int(1001)) {
		t.Fatalf("apply after a panic = %v, %v; want out 1001", got, err)
	}
	if n := c.created.Load() - created; n != 2 {
		t.Errorf("%d runtimes created, want 2: one that panicked, one new", n)
	}
}

// TestNoCompilePerRecord checks that Apply runs compiled programs only,
// and reuses its runtimes. It is not parallel: it reads a global counter.
func TestNoCompilePerRecord(t *testing.T) {
	m := mustCompile(t, benchSpec(), Options{PoolSize: 2})
	before := compiles.Load()
	recs := benchRecords(100)
	for i := range 1000 {
		if _, err := m.Apply(context.Background(), recs[i%len(recs)]); err != nil {
			t.Fatal(err)
		}
	}
	if n := compiles.Load() - before; n != 0 {
		t.Errorf("%d scripts compiled by Apply, want 0", n)
	}
	if n := compiledOf(m).created.Load(); n != 1 {
		t.Errorf("%d runtimes created for one goroutine, want 1", n)
	}
}

func TestKindMismatch(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Spec{Kind: sdk.KindOrg, Attributes: []Attribute{{Name: "n", From: "name"}}}, Options{})
	if _, err := m.Apply(context.Background(), testInput()); err == nil {
		t.Error("Apply of an org mapping to a user succeeded")
	}
}

func TestPosString(t *testing.T) {
	t.Parallel()
	tests := map[Pos]string{
		{Filename: "a.hcl", Line: 3, Column: 7}: "a.hcl:3:7",
		{Filename: "a.hcl", Line: 3}:            "a.hcl:3",
		{Filename: "a.hcl"}:                     "a.hcl",
		{Line: 3, Column: 7}:                    "<mapping>:3:7",
	}
	for pos, want := range tests {
		if got := posString(pos); got != want {
			t.Errorf("posString(%+v) = %q, want %q", pos, got, want)
		}
	}
}
