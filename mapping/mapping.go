package mapping

import (
	"context"
	"errors"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Stage says which side of the hub a mapping is on.
type Stage string

// The two stages.
const (
	// Inbound maps a source record to a hub object. Its attributes may
	// declare a Type, Options and a Default, not the rest of a
	// definition: the hub's attributes have no labels, uniqueness or
	// execution modes.
	Inbound Stage = "inbound"
	// Outbound maps a hub object to a target's account or organization;
	// its attributes are the target's attribute definitions.
	Outbound Stage = "outbound"
)

// Type is the declared type of an attribute. Values are converted to it
// after the mapping computes them (see [Convert]).
type Type string

// The attribute types (OneAccess tables 2 and 4).
const (
	// Untyped is an attribute that declares no type: the value is kept
	// as the mapping computes it, of whatever type.
	Untyped Type = ""
	// TypeString is text. Integers and booleans are formatted, datetimes
	// become RFC 3339 text; a string list is an error.
	TypeString Type = "string"
	// TypeInteger is a whole number. Text is parsed ("42", " -7 ");
	// booleans, datetimes and lists are errors.
	TypeInteger Type = "integer"
	// TypeBoolean is true or false. Text "true"/"false", "yes"/"no",
	// "1"/"0" (any case) and the integers 1 and 0 convert.
	TypeBoolean Type = "boolean"
	// TypeDatetime is an instant. Text in RFC 3339, "2006-01-02 15:04:05",
	// "2006-01-02T15:04:05" (both UTC) or "2006-01-02" (midnight UTC)
	// converts.
	TypeDatetime Type = "datetime"
	// TypeEnum is one of the definition's Options, as a string; integers
	// are formatted before they are looked up.
	TypeEnum Type = "enum"
	// TypeStringList is a list of strings; a string becomes a list of one.
	TypeStringList Type = "string_list"
)

// Types lists the types an attribute may declare, for messages and docs.
var Types = []Type{TypeString, TypeInteger, TypeBoolean, TypeDatetime, TypeEnum, TypeStringList}

// Mode is when a target attribute is sent.
type Mode string

// The execution modes.
const (
	// ModeAlways sends the attribute in creates and updates (the default).
	ModeAlways Mode = "always"
	// ModeCreateOnly sends the attribute only when the account or
	// organization is created, such as an initial password or an account
	// name the application's users may change. Apply leaves it out when
	// Input.Update is set.
	ModeCreateOnly Mode = "create_only"
)

// Conflict is what a unique attribute does when its value is taken.
type Conflict string

// The conflict policies.
const (
	// ConflictFail fails the object's event, naming the object that holds
	// the value (the default).
	ConflictFail Conflict = "fail"
	// ConflictSuffix tries the value with a number appended, from 2 up:
	// zhang.wei, zhang.wei2, zhang.wei3…; for an e-mail address the
	// number goes before the "@" (zhang.wei2@example.com). See
	// [Candidate].
	ConflictSuffix Conflict = "suffix"
)

// MaxSuffix is the highest number ConflictSuffix tries before it fails.
const MaxSuffix = 99

// Masked replaces a sensitive value wherever it is shown or stored.
const Masked = "******"

// Attribute declares one output attribute: where its value comes from
// (From, Value or Script, exactly one; or none, when the mapping's
// Function computes it) and, for a target, its definition.
type Attribute struct {
	// Name is the output attribute's name (the definition's id).
	Name string
	// From names the input attribute copied as is.
	From string
	// Value is a constant.
	Value *sdk.Value
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
	// Decl is where the attribute is declared (its HCL block), named by
	// errors about its value rather than its script.
	Decl Pos

	// Label and Description tell people what the attribute is; the
	// mapping does not use them.
	Label, Description string
	// Type is the value's type; Untyped keeps values as computed.
	Type Type
	// Options are the values an enum may take.
	Options []string
	// Default replaces an empty value (null, "" or an empty list); it is
	// converted to Type when the mapping is compiled.
	Default *sdk.Value
	// Required fails an object whose value is empty after Default.
	Required bool
	// Unique makes each value held by one object of the kind in the
	// target (Input.Uniqueness checks it); OnConflict says what happens
	// when it is taken.
	Unique     bool
	OnConflict Conflict
	// Sensitive values are masked wherever they are shown or stored:
	// see [Mapping.Mask].
	Sensitive bool
	// Mode is when the attribute is sent; "" means ModeAlways.
	Mode Mode
}

// Function is a whole-object function: a JavaScript function expression
// such as (record, object) => ({ ... }), whose returned object's
// properties become attributes. Attributes with a source (From, Value or
// Script) override the properties of the same name.
type Function struct {
	// Script is the function expression.
	Script string
	// Pos and Indent locate Script, as for Attribute.
	Pos    Pos
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
	// Stage is the mapping's side. Inbound allows no definition besides
	// Type, Options and Default; "" is as Outbound.
	Stage Stage
	// Function, when its Script is set, computes attributes as a whole;
	// Attributes then may also declare only a definition for one of them.
	Function Function
	// Attributes are computed in order, after Function.
	Attributes []Attribute
}

// Definition is a target attribute's definition (OneAccess tables 2 and
// 4), as declared on its mapping attribute.
type Definition struct {
	// Name is the attribute's id in the target.
	Name               string
	Label, Description string
	// Type is Untyped when the attribute declares none.
	Type    Type
	Options []string
	// Default is nil when there is none.
	Default    *sdk.Value
	Required   bool
	Unique     bool
	OnConflict Conflict // ConflictFail or ConflictSuffix when Unique; "" otherwise
	Sensitive  bool
	Mode       Mode // ModeAlways or ModeCreateOnly
	// Pos is where the attribute is declared.
	Pos Pos
}

// Related is an object related to the one mapped: its org or its manager.
type Related struct {
	// ID is the object's id: the external id inbound, the hub id
	// outbound.
	ID string
	// Attributes are its attributes (hub attributes outbound); nil when
	// unknown.
	Attributes sdk.Attributes
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

	// Org is a user's primary org, or an org's parent; nil for none.
	Org *Related
	// OrgPath names the orgs from the root down to Org, included.
	OrgPath []string
	// Manager is a user's manager; nil for none.
	Manager *Related

	// Uniqueness checks and reserves the values of unique attributes;
	// nil checks nothing.
	Uniqueness Uniqueness
	// Reserved are the values of unique attributes the object already
	// holds (an earlier attempt's Result.Reserved, kept by the caller):
	// a value the attribute would take anyway, or one of its suffixed
	// candidates, is kept without calling Uniqueness again, so a retry or
	// an update does not rename an account.
	Reserved map[string]string
	// Update says the object exists in the target already: create_only
	// attributes are left out (not computed, checked, reserved nor
	// returned).
	Update bool
}

// Uniqueness reserves the values of unique attributes. The engine
// implements it over the target's links (and the values its accounts hold
// already); `midstream mapping test` over a fixture's "taken" values.
//
// Run calls Reserve only once every other check has passed, only for
// values the object does not hold already (Input.Reserved), and for
// on_conflict = "suffix" once per candidate until one is free. Values the
// object held before and no longer holds (they are missing from
// Result.Reserved) are the caller's to release, as are an object's values
// when it leaves the target.
type Uniqueness interface {
	// Reserve claims r.Value of r.Attribute for the object r.ID, among
	// the objects of r.Kind in r.Target, unless another object holds it.
	// It returns "" when the object holds the value now (or held it
	// already: Reserve must be idempotent), or the id of the object that
	// holds it, reserving nothing. An error fails the Apply call as is
	// (not as a *ValueError), so the caller can retry it.
	Reserve(ctx context.Context, r Reservation) (holder string, err error)
}

// Reservation is one value a unique attribute would take.
type Reservation struct {
	Target    string
	Kind      sdk.Kind
	ID        string // the object's id (Input.ID)
	Attribute string
	Value     string
}

// Result is the outcome of Run.
type Result struct {
	// Attributes are the output attributes, converted to their types.
	Attributes sdk.Attributes
	// Reserved holds the value of each unique attribute the object now
	// holds (reserved by this call or kept from Input.Reserved), by
	// attribute; nil without Input.Uniqueness. Keep it with the object's
	// link and pass it back as Input.Reserved.
	Reserved map[string]string
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

// Compile compiles spec's scripts and checks its definitions. A script
// that does not compile, or an attribute declared wrongly, is a
// *CompileError located in the user's file; when there are several, the
// error joins one *CompileError each (errors.Join), so use errors.As, or
// Unwrap() []error to list them all.
func Compile(spec Spec, opts Options) (*Mapping, error) {
	c, err := compile(spec, opts)
	if err != nil {
		return nil, err
	}
	return &Mapping{impl: c}, nil
}

// Apply computes the output attributes for in: Run's Attributes.
func (m *Mapping) Apply(ctx context.Context, in Input) (sdk.Attributes, error) {
	return m.impl.apply(ctx, in)
}

// Run computes the output attributes for in, in this order: the Function,
// then each attribute's From, Value or Script; conversion to the declared
// Type; Default for an empty value; the Required check; and last, the
// reservation of each unique value through in.Uniqueness, in attribute
// order.
//
// A script that throws, times out or returns a value of no attribute type
// fails with a *ScriptError naming the script's position and the object's
// id. A value that does not convert, a required attribute left empty and a
// unique value held by another object fail with a *ValueError
// (errors.Is ErrInvalid, ErrRequired or ErrTaken). When ctx ends first, the
// error wraps ctx.Err() (errors.Is(err, context.Canceled)). When a
// reservation fails, the Result's Reserved still lists the values this
// call reserved before it, for the caller to keep or release.
func (m *Mapping) Run(ctx context.Context, in Input) (Result, error) {
	return m.impl.run(ctx, &in)
}

// Kind is the kind of object the mapping maps.
func (m *Mapping) Kind() sdk.Kind { return m.impl.kind }

// Stage is the mapping's side.
func (m *Mapping) Stage() Stage { return m.impl.stage }

// Definitions returns the definition of every declared attribute, in
// declaration order; attributes only the Function computes have none.
func (m *Mapping) Definitions() []Definition {
	out := make([]Definition, len(m.impl.attrs))
	for i := range m.impl.attrs {
		out[i] = m.impl.attrs[i].def.clone()
	}
	return out
}

// Definition returns the definition of the attribute name.
func (m *Mapping) Definition(name string) (Definition, bool) {
	if i, ok := m.impl.index[name]; ok {
		return m.impl.attrs[i].def.clone(), true
	}
	return Definition{}, false
}

// Check applies the definitions to attrs, the full output attributes of
// the object id (as Apply returns them): Default for empty values,
// conversion to the declared types, and the Required check. It returns a
// new map; attributes without a definition are kept as they are. Apply
// and Run already check their result: call Check on attributes from
// elsewhere, such as a value an operator sets by hand.
func (m *Mapping) Check(id string, attrs sdk.Attributes) (sdk.Attributes, error) {
	out := make(sdk.Attributes, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	if err := m.impl.check(id, out, false); err != nil {
		return nil, err
	}
	return out, nil
}

// Sensitive reports whether the attribute name is declared sensitive.
func (m *Mapping) Sensitive(name string) bool {
	i, ok := m.impl.index[name]
	return ok && m.impl.attrs[i].def.Sensitive
}

// CreateOnly reports whether the attribute name is sent only in creates
// (Mode create_only).
func (m *Mapping) CreateOnly(name string) bool {
	i, ok := m.impl.index[name]
	return ok && m.impl.attrs[i].def.Mode == ModeCreateOnly
}

// Mask returns attrs with the value of each sensitive attribute that is
// not null replaced by the string Masked; attrs itself is not changed,
// and is returned as is when nothing is masked.
func (m *Mapping) Mask(attrs sdk.Attributes) sdk.Attributes {
	if len(m.impl.sensitive) == 0 {
		return attrs
	}
	var out sdk.Attributes
	for _, name := range m.impl.sensitive {
		if v, ok := attrs[name]; ok && !v.IsNull() {
			if out == nil {
				out = make(sdk.Attributes, len(attrs))
				for k, v := range attrs {
					out[k] = v
				}
			}
			out[name] = sdk.String(Masked)
		}
	}
	if out == nil {
		return attrs
	}
	return out
}

// CompileError is a script that does not compile, or an attribute declared
// wrongly. Attribute is "" for the mapping's Function.
type CompileError struct {
	Attribute string
	// Field is the attribute's setting at fault when it is not the
	// script: "value", "type", "options", "default", "unique",
	// "on_conflict", "mode", or another definition's field; "" for the
	// script, or for the attribute as a whole.
	Field string
	Pos   Pos
	Msg   string
}

func (e *CompileError) Error() string {
	if e.Attribute == "" {
		return posString(e.Pos) + ": mapping function: " + e.Msg
	}
	return posString(e.Pos) + ": attribute " + e.Attribute + ": " + e.Msg
}

// ScriptError is a script that failed for one object. Attribute is "" when
// the mapping's Function failed; when it returned a property of no
// attribute type, Attribute is the property and Pos the Function's start.
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
	if e.Attribute == "" {
		return posString(e.Pos) + ": mapping function of " + e.ID + ": " + e.Msg
	}
	return posString(e.Pos) + ": attribute " + e.Attribute + " of " + e.ID + ": " + e.Msg
}

// Hint says how to fix a timeout.
func (e *ScriptError) Hint() string {
	if e.Timeout {
		return "the script ran longer than the mapping's timeout; simplify it or raise mapping_timeout in the pipeline"
	}
	return ""
}

// The reasons for a ValueError, for errors.Is.
var (
	// ErrInvalid is a value that does not convert to its attribute's type.
	ErrInvalid = errors.New("invalid attribute value")
	// ErrRequired is a required attribute left empty.
	ErrRequired = errors.New("required attribute is empty")
	// ErrTaken is a unique value another object holds.
	ErrTaken = errors.New("unique value taken")
)

// ValueError is an attribute value its definition refuses, for one object.
// A sensitive attribute's value is never part of Msg.
type ValueError struct {
	Attribute string
	// Pos is where the attribute is declared (Attribute.Decl).
	Pos Pos
	// ID is the object's id.
	ID  string
	Msg string
	// Holder is the object that holds a taken value (ErrTaken).
	Holder string
	// Err is ErrInvalid, ErrRequired or ErrTaken.
	Err error
}

func (e *ValueError) Error() string {
	s := "attribute " + e.Attribute + " of " + e.ID + ": " + e.Msg
	if e.Pos != (Pos{}) {
		s = posString(e.Pos) + ": " + s
	}
	return s
}

func (e *ValueError) Unwrap() error { return e.Err }
