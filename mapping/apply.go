package mapping

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/midstream-io/midstream/sdk"
)

// apply is Run's attributes.
func (c *compiled) apply(ctx context.Context, in Input) (sdk.Attributes, error) {
	r, err := c.run(ctx, &in)
	return r.Attributes, err
}

func (c *compiled) run(ctx context.Context, in *Input) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, canceled(in.ID, err)
	}
	if c.kind != "" && in.Kind != "" && in.Kind != c.kind {
		return Result{}, fmt.Errorf("mapping of %s objects applied to %s %s", c.kind, in.Kind, in.ID)
	}
	out := make(sdk.Attributes, len(c.attrs))
	if c.scripts == 0 {
		for i := range c.attrs {
			a := &c.attrs[i]
			if in.Update && a.def.Mode == ModeCreateOnly {
				continue
			}
			if a.src == fromValue {
				out[a.name] = a.value
			} else {
				out[a.name] = in.Attributes[a.from]
			}
		}
	} else {
		v, err := c.get()
		if err != nil {
			return Result{}, err
		}
		broken, err := v.run(ctx, in, out)
		if broken {
			v.release()
		} else {
			c.put(v)
		}
		if err != nil {
			if errors.Is(err, errCanceled) {
				return Result{}, canceled(in.ID, ctx.Err())
			}
			return Result{}, err
		}
	}
	if len(c.checked) > 0 {
		if err := c.check(in.ID, out, in.Update); err != nil {
			return Result{}, err
		}
	}
	reserved, err := c.reserve(ctx, in, out)
	if err != nil {
		return Result{Reserved: reserved}, err
	}
	return Result{Attributes: out, Reserved: reserved}, nil
}

// maskMsg replaces a message about a sensitive attribute's value, which
// may show the value, by one that does not.
func (d *Definition) maskMsg(msg string) string {
	if d.Sensitive {
		return "the script returned a value of no attribute type (not shown: the attribute is sensitive); return a string, number, boolean, Date, array of strings or null"
	}
	return msg
}

// errCanceled marks a call stopped because its context ended.
var errCanceled = errors.New("canceled")

func canceled(id string, cause error) error {
	return fmt.Errorf("mapping %s: %w", id, cause)
}

// run computes the attributes of in into out on v: the function's, then
// each attribute's. broken reports a Go panic, after which v must not be
// reused.
func (v *vm) run(ctx context.Context, in *Input, out sdk.Attributes) (broken bool, err error) {
	c := v.c
	var cur *attr // what runs, to blame for a panic
	defer func() {
		if x := recover(); x != nil {
			broken = true
			se := &ScriptError{ID: in.ID, Msg: fmt.Sprintf("internal error: %v", x)}
			if cur != nil {
				se.Attribute, se.Pos = cur.name, cur.pos
			}
			err = se
		}
		v.end()
	}()
	v.begin(ctx, in)
	undefined := goja.Undefined()
	if c.fn != nil {
		cur = c.fn
		res, err := v.fn(undefined, v.args...)
		if err != nil {
			return false, v.scriptError(c.fn, in, err)
		}
		if err := v.functionResult(res, in, out); err != nil {
			return false, err
		}
	}
	for i := range c.attrs {
		a := &c.attrs[i]
		if in.Update && a.def.Mode == ModeCreateOnly {
			delete(out, a.name)
			continue
		}
		cur = a
		switch a.src {
		case fromInput:
			out[a.name] = in.Attributes[a.from]
		case fromValue:
			out[a.name] = a.value
		case fromFunction:
			if _, ok := out[a.name]; !ok {
				out[a.name] = sdk.Null()
			}
		case fromScript:
			res, err := v.fns[i](undefined, v.args...)
			if err != nil {
				return false, v.scriptError(a, in, err)
			}
			x, msg := fromJS(res)
			if msg != "" {
				return false, &ScriptError{Attribute: a.name, Pos: a.pos, ID: in.ID, Msg: a.def.maskMsg(msg)}
			}
			out[a.name] = x
		}
	}
	return false, nil
}

// functionResult copies the properties of the object the whole-object
// function returned into out, but those an attribute with a source
// overrides.
func (v *vm) functionResult(res goja.Value, in *Input, out sdk.Attributes) error {
	fn := v.c.fn
	o, ok := res.(*goja.Object)
	if !ok || o.ClassName() != "Object" {
		return &ScriptError{Pos: fn.pos, ID: in.ID,
			Msg: "the function returned " + describe(res) + "; return an object of attributes, such as ({ userName: record.email })"}
	}
	for _, k := range o.Keys() {
		if i, ok := v.c.index[k]; ok && v.c.attrs[i].src != fromFunction {
			continue
		}
		x, msg := fromJS(o.Get(k))
		if msg != "" {
			if i, ok := v.c.index[k]; ok {
				msg = v.c.attrs[i].def.maskMsg(msg)
			}
			return &ScriptError{Attribute: k, Pos: fn.pos, ID: in.ID, Msg: msg}
		}
		out[k] = x
	}
	return nil
}

// scriptError turns an error from running a's script into a ScriptError
// located in the user's file, or errCanceled.
func (v *vm) scriptError(a *attr, in *Input, err error) error {
	se := &ScriptError{Attribute: a.name, Pos: a.pos, ID: in.ID}
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	switch {
	case errors.As(err, &ie):
		if r, _ := ie.Value().(*interruptReason); r == interruptCanceled {
			return errCanceled
		}
		se.Timeout = true
		se.Msg = "the script timed out after " + v.c.timeout.String()
		se.Pos = a.framePos(ie.Stack())
	case errors.As(err, &so):
		se.Msg = "RangeError: maximum call stack size exceeded"
		se.Pos = a.framePos(so.Stack())
	case errors.As(err, &ex):
		se.Msg = exceptionMessage(ex)
		se.Pos = a.framePos(ex.Stack())
	default:
		se.Msg = err.Error()
	}
	return se
}

// framePos is the position of the innermost stack frame in a's script,
// or a's start when no frame is.
func (a *attr) framePos(stack []goja.StackFrame) Pos {
	for i := range stack {
		f := &stack[i]
		if f.SrcName() == a.unit {
			p := f.Position()
			return a.userPos(p.Line, p.Column)
		}
	}
	return a.pos
}

// exceptionMessage is what a script threw, as "TypeError: message". A
// thrown object's toString could itself throw; that yields a plain text.
func exceptionMessage(ex *goja.Exception) (msg string) {
	defer func() {
		if recover() != nil {
			msg = "uncaught exception"
		}
	}()
	val := ex.Value()
	if val == nil {
		return "uncaught exception"
	}
	if _, isObj := val.(*goja.Object); !isObj {
		return "uncaught exception: " + val.String()
	}
	return val.String()
}

// fromJS converts a script's result to an attribute value, or says why it
// cannot.
func fromJS(x goja.Value) (sdk.Value, string) {
	if x == nil || goja.IsUndefined(x) || goja.IsNull(x) {
		return sdk.Null(), ""
	}
	if _, ok := x.(*goja.Symbol); ok {
		return sdk.Value{}, "the script returned a Symbol; return a string, number, boolean, Date, array of strings or null"
	}
	if o, ok := x.(*goja.Object); ok {
		switch cl := o.ClassName(); cl {
		case "Date":
			t, ok := o.Export().(time.Time)
			if !ok {
				return sdk.Value{}, "the script returned an invalid Date"
			}
			return sdk.Time(t), ""
		case "Array":
			items, _ := o.Export().([]any)
			l := make([]string, len(items))
			for i, it := range items {
				s, ok := it.(string)
				if !ok {
					return sdk.Value{}, fmt.Sprintf("the script returned an array whose item %d is %s; a list holds only strings", i, describe(o.Get(strconv.Itoa(i))))
				}
				l[i] = s
			}
			return sdk.StringList(l...), ""
		case "String":
			// new String(…): use the primitive.
			return sdk.String(o.String()), ""
		case "Number", "Boolean":
			// new Number(…), new Boolean(…): Export gives the primitive.
		default:
			return sdk.Value{}, "the script returned " + describe(x) + "; return a string, number, boolean, Date, array of strings or null"
		}
	}
	switch e := x.Export().(type) {
	case string:
		return sdk.String(e), ""
	case int64:
		return sdk.Int(e), ""
	case float64:
		if e != math.Trunc(e) || math.IsInf(e, 0) {
			return sdk.Value{}, "the script returned " + describe(x) + ", which is not an integer; round it (Math.round) or convert it to a string (String(x))"
		}
		if e < math.MinInt64 || e >= math.MaxInt64 {
			return sdk.Value{}, "the script returned " + describe(x) + ", which is out of the integer range"
		}
		return sdk.Int(int64(e)), ""
	case bool:
		return sdk.Bool(e), ""
	case *big.Int:
		if !e.IsInt64() {
			return sdk.Value{}, "the script returned the BigInt " + e.String() + ", which is out of the integer range"
		}
		return sdk.Int(e.Int64()), ""
	}
	return sdk.Value{}, "the script returned " + describe(x) + "; return a string, number, boolean, Date, array of strings or null"
}

// describe names a JavaScript value for an error message.
func describe(x goja.Value) string {
	switch {
	case x == nil || goja.IsUndefined(x):
		return "undefined"
	case goja.IsNull(x):
		return "null"
	}
	if _, ok := x.(*goja.Symbol); ok {
		return "a Symbol"
	}
	if o, ok := x.(*goja.Object); ok {
		switch cl := o.ClassName(); cl {
		case "Function":
			return "a function (call it?)"
		case "Object":
			return "an object"
		default:
			return "a " + cl
		}
	}
	switch x.ExportType().Kind().String() {
	case "float64", "int64":
		return "the number " + x.String()
	case "string":
		return "the string " + strconv.Quote(x.String())
	case "bool":
		return x.String()
	}
	if goja.IsNaN(x) {
		return "NaN"
	}
	return "a " + x.ExportType().String()
}
