package mapping

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/midstream-io/midstream/sdk"
)

// vm is one pooled goja runtime with the mapping's scripts loaded. It runs
// one Apply at a time; only Interrupt reaches it from other goroutines.
type vm struct {
	c   *compiled
	rt  *goja.Runtime
	fns []goja.Callable // per attribute; nil for those without a script
	fn  goja.Callable   // the whole-object function, or nil

	rec     recordObject
	obj     objectObject
	org     recordObject // object.org
	mgr     recordObject // object.manager
	orgVal  goja.Value
	mgrVal  goja.Value
	args    []goja.Value // record and object, passed to every script
	dateCtr goja.Value
	now     time.Time // the current call's clock, read by now() and Date

	// Interrupt bookkeeping, guarded by mu: the timer and the context
	// watch interrupt only a call they were armed for.
	mu       sync.Mutex
	running  bool
	deadline time.Time
	timer    *time.Timer
	// The context watched: an AfterFunc stays registered on it across
	// calls that share its Done channel (an engine passes one context per
	// run), since registering it per call contends on the context's lock.
	watching <-chan struct{}
	unwatch  func() bool
}

// Interrupt values: why a call was stopped.
type interruptReason struct{ timeout bool }

var (
	interruptTimeout  = &interruptReason{timeout: true}
	interruptCanceled = &interruptReason{}
)

// newVM creates and sets up a runtime: sandbox settings, the library of
// globals, then one function per script, made from its compiled program.
func (c *compiled) newVM() (*vm, error) {
	c.created.Add(1)
	rt := goja.New()
	// eval and new Function must not read source maps from disk either.
	rt.SetParserOptions(parser.WithDisableSourceMaps)
	rt.SetMaxCallStackSize(maxCallStackSize)
	seed := c.seeds.Add(1)
	rt.SetRandSource(rand.New(rand.NewPCG(seed, 0x6d69647374726561)).Float64)
	v := &vm{c: c, rt: rt, fns: make([]goja.Callable, len(c.attrs))}
	// new Date() and Date.now() are the run's start time too, like now().
	rt.SetTimeSource(func() time.Time { return v.now })
	v.dateCtr = rt.Get("Date")
	v.rec.v, v.rec.name = v, "record"
	v.obj.v = v
	v.org.v, v.org.name = v, "object.org"
	v.mgr.v, v.mgr.name = v, "object.manager"
	recVal := rt.NewDynamicObject(&v.rec)
	objVal := rt.NewDynamicObject(&v.obj)
	v.orgVal = rt.NewDynamicObject(&v.org)
	v.mgrVal = rt.NewDynamicObject(&v.mgr)
	v.args = []goja.Value{recVal, objVal}
	for _, install := range c.library {
		if err := install(v); err != nil {
			return nil, fmt.Errorf("mapping: set up a script runtime: %w", err)
		}
	}
	if _, err := rt.RunProgram(lockdown); err != nil {
		return nil, fmt.Errorf("mapping: set up a script runtime: %w", err)
	}
	if c.fn != nil {
		f, err := rt.RunProgram(c.fn.prog)
		if err != nil {
			return nil, fmt.Errorf("mapping: load the mapping function: %w", err)
		}
		fn, ok := goja.AssertFunction(f)
		if !ok {
			return nil, fmt.Errorf("mapping: the mapping function did not load as a function")
		}
		v.fn = fn
	}
	for i := range c.attrs {
		a := &c.attrs[i]
		if a.prog == nil {
			continue
		}
		f, err := rt.RunProgram(a.prog)
		if err != nil {
			return nil, fmt.Errorf("mapping: load the script of attribute %s: %w", a.name, err)
		}
		fn, ok := goja.AssertFunction(f)
		if !ok {
			return nil, fmt.Errorf("mapping: the script of attribute %s did not load as a function", a.name)
		}
		v.fns[i] = fn
	}
	v.timer = time.AfterFunc(time.Hour, v.onTimer)
	v.timer.Stop()
	return v, nil
}

// get takes a runtime from the pool, or makes one when all are busy.
func (c *compiled) get() (*vm, error) {
	select {
	case v := <-c.pool:
		return v, nil
	default:
		return c.newVM()
	}
}

// put returns v to the pool, or lets it go when the pool is full.
func (c *compiled) put(v *vm) {
	select {
	case c.pool <- v:
	default:
		v.release()
	}
}

// begin prepares v for one call: the input, the clock and the interrupts.
func (v *vm) begin(ctx context.Context, in *Input) {
	v.rec.attrs = in.Attributes
	v.obj.in = in
	if in.Org != nil {
		v.org.attrs = in.Org.Attributes
	}
	if in.Manager != nil {
		v.mgr.attrs = in.Manager.Attributes
	}
	v.now = in.Now
	if v.now.IsZero() {
		v.now = time.Now()
	}
	done := ctx.Done()
	v.mu.Lock()
	v.running = true
	v.deadline = time.Now().Add(v.c.timeout)
	changed := done != v.watching
	v.watching = done
	v.mu.Unlock()
	v.timer.Reset(v.c.timeout)
	if changed {
		if v.unwatch != nil {
			v.unwatch()
			v.unwatch = nil
		}
		if done != nil {
			v.unwatch = context.AfterFunc(ctx, func() {
				v.mu.Lock()
				if v.running && v.watching == done {
					v.rt.Interrupt(interruptCanceled)
				}
				v.mu.Unlock()
			})
		}
	}
	// A context that ended while v was idle fired its AfterFunc then, to
	// no effect; stop the call at once.
	if done != nil && ctx.Err() != nil {
		v.rt.Interrupt(interruptCanceled)
	}
}

// end disarms the interrupts of the current call and clears any that
// fired, so the runtime can be reused.
func (v *vm) end() {
	v.timer.Stop()
	v.mu.Lock()
	v.running = false
	v.mu.Unlock()
	// No interrupt can arrive now: a late timer or AfterFunc sees running
	// false under mu.
	v.rt.ClearInterrupt()
	v.rec.attrs = nil
	v.org.attrs = nil
	v.mgr.attrs = nil
	v.obj.in = nil
}

// release lets v go: it stops watching its last context, so a context
// that outlives v does not keep it.
func (v *vm) release() {
	if v.unwatch != nil {
		v.unwatch()
		v.unwatch = nil
	}
	v.mu.Lock()
	v.watching = nil
	v.mu.Unlock()
}

// onTimer interrupts the running call if its deadline has passed. A timer
// that fires late, for a call already over, finds running false or a later
// deadline and does nothing.
func (v *vm) onTimer() {
	v.mu.Lock()
	if v.running && !time.Now().Before(v.deadline) {
		v.rt.Interrupt(interruptTimeout)
	}
	v.mu.Unlock()
}

// date returns t as a JavaScript Date (millisecond precision).
func (v *vm) date(t time.Time) goja.Value {
	d, err := v.rt.New(v.dateCtr, v.rt.ToValue(t.UnixMilli()))
	if err != nil {
		panic(err)
	}
	return d
}

// toJS converts an attribute value for a script. Strings, numbers and
// booleans are primitives; datetimes become new Date objects and string
// lists new arrays on every read, so a script cannot alter another's input.
func (v *vm) toJS(x sdk.Value) goja.Value {
	switch x.Type() {
	case sdk.TypeString:
		return v.rt.ToValue(x.Str())
	case sdk.TypeInt:
		return v.rt.ToValue(x.IntValue())
	case sdk.TypeBool:
		return v.rt.ToValue(x.BoolValue())
	case sdk.TypeTime:
		return v.date(x.TimeValue())
	case sdk.TypeStringList:
		l := x.List()
		items := make([]any, len(l))
		for i, s := range l {
			items[i] = s
		}
		return v.rt.NewArray(items...)
	}
	return goja.Null()
}

// readOnly throws the TypeError for a write to record or object.
func (v *vm) readOnly(name, key string) {
	panic(v.rt.NewTypeError(fmt.Sprintf("cannot change %s.%s: %s is read-only; copy the value into a variable", name, key, name)))
}

// recordObject is the script's `record`: the input attributes, converted
// when a script reads them. One per runtime, pointed at each call's input;
// object.org and object.manager are two more, over theirs.
type recordObject struct {
	v     *vm
	name  string // what scripts call it, for errors
	attrs sdk.Attributes
}

func (r *recordObject) Get(key string) goja.Value {
	x, ok := r.attrs[key]
	if !ok {
		return nil
	}
	return r.v.toJS(x)
}

func (r *recordObject) Has(key string) bool {
	_, ok := r.attrs[key]
	return ok
}

func (r *recordObject) Set(key string, _ goja.Value) bool {
	r.v.readOnly(r.name, key)
	return false
}

func (r *recordObject) Delete(key string) bool {
	r.v.readOnly(r.name, key)
	return false
}

func (r *recordObject) Keys() []string { return r.attrs.Names() }

// objectObject is the script's `object`: what the mapping knows of the
// object besides its attributes.
type objectObject struct {
	v  *vm
	in *Input
}

var objectKeys = []string{"id", "kind", "state", "target", "org", "orgId", "orgPath", "manager", "managerId"}

func (o *objectObject) Get(key string) goja.Value {
	in := o.in
	if in == nil {
		return nil
	}
	rt := o.v.rt
	switch key {
	case "id":
		return rt.ToValue(in.ID)
	case "kind":
		if in.Kind == "" {
			return rt.ToValue(string(o.v.c.kind))
		}
		return rt.ToValue(string(in.Kind))
	case "state":
		if in.State == "" {
			return rt.ToValue(string(sdk.StateActive))
		}
		return rt.ToValue(string(in.State))
	case "target":
		return rt.ToValue(in.Target)
	case "org":
		if in.Org == nil {
			return goja.Null()
		}
		return o.v.orgVal
	case "orgId":
		if in.Org == nil {
			return goja.Null()
		}
		return rt.ToValue(in.Org.ID)
	case "orgPath":
		items := make([]any, len(in.OrgPath))
		for i, s := range in.OrgPath {
			items[i] = s
		}
		return rt.NewArray(items...)
	case "manager":
		if in.Manager == nil {
			return goja.Null()
		}
		return o.v.mgrVal
	case "managerId":
		if in.Manager == nil {
			return goja.Null()
		}
		return rt.ToValue(in.Manager.ID)
	}
	return nil
}

func (o *objectObject) Has(key string) bool {
	return slices.Contains(objectKeys, key)
}

func (o *objectObject) Set(key string, _ goja.Value) bool {
	o.v.readOnly("object", key)
	return false
}

func (o *objectObject) Delete(key string) bool {
	o.v.readOnly("object", key)
	return false
}

func (o *objectObject) Keys() []string { return append([]string(nil), objectKeys...) }

// lockdown freezes the global object and the namespace objects once the
// library is installed, so a script cannot replace a global or keep state
// in one between objects (which would make results depend on the runtime
// that happened to run a record).
var lockdown = goja.MustCompile("mapping lockdown", `
"use strict";
Object.freeze(globalThis);
for (const name of ["Math", "JSON", "Reflect", "Atomics"]) {
	if (typeof globalThis[name] === "object") Object.freeze(globalThis[name]);
}
`, true)
