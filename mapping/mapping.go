package mapping

import (
	"context"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Attribute declares how one output attribute is computed. Exactly one of
// From and Script is set.
type Attribute struct {
	// Name is the output attribute's name.
	Name string
	// From names the input attribute copied as is.
	From string
	// Script is a JavaScript expression whose value becomes the attribute.
	Script string
	// Pos locates Script in the user's file, so errors point into it: the
	// position of the script's first character. Errors on the script's
	// first line are reported at Pos.Column plus their column in the
	// script; errors on later lines at Pos.Line plus the line offset and
	// their own column (plus Indent). For an HCL quoted string pass the
	// position after the opening quote; for a heredoc, its body's first
	// line, column 1 plus the indentation a "<<-" heredoc removes.
	// Positions count characters, not bytes.
	Pos Pos
	// Indent is how many columns the file's syntax removed from the start
	// of each of Script's lines after the first, such as the indentation
	// of an HCL "<<-" heredoc; errors on those lines are shifted back by
	// it. Zero for a quoted string, a plain heredoc or a .js file.
	Indent int
}

// Pos is a position in a file: where a script starts, or where it failed.
// Line and Column count from 1; zero means unknown.
type Pos struct {
	Filename     string
	Line, Column int
}

// Spec declares one mapping: the output attributes of one kind of object.
type Spec struct {
	// Kind is the kind of object mapped.
	Kind sdk.Kind
	// Attributes are computed in order.
	Attributes []Attribute
}

// Input is what a mapping sees of one object.
type Input struct {
	// Kind, ID (the external id inbound, the hub id outbound) and State of
	// the object.
	Kind  sdk.Kind
	ID    string
	State sdk.State
	// Attributes are the input attributes: the source record's inbound, the
	// hub object's outbound.
	Attributes sdk.Attributes
	// Target is the target's name (outbound) or "" (inbound).
	Target string
	// Now is the run's start time, what a script's now(), new Date() and
	// Date.now() return. Zero means the time of the call.
	Now time.Time
}

// Options tune a compiled mapping.
type Options struct {
	// Timeout bounds how long the scripts of one Apply call (one object)
	// may run, in wall-clock time; a call that runs longer fails with a
	// ScriptError whose Timeout is set. Zero or less means 1s.
	Timeout time.Duration
	// PoolSize bounds the runtimes kept for reuse between calls; more are
	// created while more calls run at once, and let go afterwards. Zero or
	// less means GOMAXPROCS.
	PoolSize int
}

// Mapping is a compiled mapping, safe for concurrent use.
type Mapping struct {
	impl *compiled
}

// Compile compiles spec's scripts. A script that does not compile is a
// *CompileError located in the user's file; when several do not, the error
// joins one *CompileError per script (errors.Join), so use errors.As, or
// Unwrap() []error to list them all.
func Compile(spec Spec, opts Options) (*Mapping, error) {
	c, err := compile(spec, opts)
	if err != nil {
		return nil, err
	}
	return &Mapping{impl: c}, nil
}

// Apply computes the output attributes for in. A script that throws, times
// out or returns a value of no attribute type fails with a *ScriptError
// naming the script's position and the object's id. When ctx ends first,
// the error wraps ctx.Err() (errors.Is(err, context.Canceled)).
func (m *Mapping) Apply(ctx context.Context, in Input) (sdk.Attributes, error) {
	return m.impl.apply(ctx, in)
}

// CompileError is a script that does not compile.
type CompileError struct {
	Attribute string
	Pos       Pos
	Msg       string
}

func (e *CompileError) Error() string {
	return posString(e.Pos) + ": attribute " + e.Attribute + ": " + e.Msg
}

// ScriptError is a script that failed for one object.
type ScriptError struct {
	Attribute string
	// Pos is where the failure happened in the user's file.
	Pos Pos
	// ID is the object's id.
	ID  string
	Msg string
	// Timeout is set when the script ran out of time.
	Timeout bool
}

func (e *ScriptError) Error() string {
	return posString(e.Pos) + ": attribute " + e.Attribute + " of " + e.ID + ": " + e.Msg
}

// Hint says how to fix a timeout.
func (e *ScriptError) Hint() string {
	if e.Timeout {
		return "the script ran longer than the mapping's timeout; simplify it or raise mapping_timeout in the pipeline"
	}
	return ""
}
