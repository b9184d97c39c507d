package sdk

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kind is what an object is: a person's account or an organization.
type Kind string

// The kinds of object Midstream synchronizes.
const (
	KindUser Kind = "user"
	KindOrg  Kind = "org"
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k == KindUser || k == KindOrg }

// State is an object's lifecycle state.
//
// An incremental source reports a deletion as a record in StateDeleted; it
// needs only its Kind and ExternalID. A full snapshot may also carry records
// in StateDisabled or StateDeleted (an HR export's 停用 and 离职 rows); the
// engine holds such losses back until the snapshot is complete.
type State string

// The lifecycle states of an object.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
	StateDeleted  State = "deleted"
)

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	return s == StateActive || s == StateDisabled || s == StateDeleted
}

// Record is one person or organization as a source system holds it.
//
// Records are keyed by (source, ExternalID); the external id must be stable
// for the life of the object in its system (an employee number, a DingTalk
// userid, an LDAP entryUUID), not a display value that can change.
type Record struct {
	// Kind says whether this is a user or an org.
	Kind Kind
	// ExternalID is the object's stable id in the source system.
	ExternalID string
	// State is active, disabled or deleted. The zero value means active.
	State State
	// Parent is an org's parent org, by external id; empty for a root org.
	// Unused for users.
	Parent string
	// Orgs lists a user's org memberships by external id. The primary org
	// is PrimaryOrg, which is also listed here. Unused for orgs.
	Orgs []string
	// PrimaryOrg is a user's primary org by external id (where it appears in
	// the tree); empty when the user belongs to no org.
	PrimaryOrg string
	// Attributes holds the object's typed attribute values.
	Attributes Attributes
}

// Validate reports the first structural problem of r: an unknown kind or
// state, an empty external id, or a primary org missing from Orgs.
func (r *Record) Validate() error {
	if !r.Kind.Valid() {
		return fmt.Errorf("record %q: unknown kind %q", r.ExternalID, r.Kind)
	}
	if r.ExternalID == "" {
		return fmt.Errorf("%s record without an external id", r.Kind)
	}
	if r.State != "" && !r.State.Valid() {
		return fmt.Errorf("%s %q: unknown state %q", r.Kind, r.ExternalID, r.State)
	}
	if r.Kind == KindUser && r.PrimaryOrg != "" && !slices.Contains(r.Orgs, r.PrimaryOrg) {
		return fmt.Errorf("user %q: primary org %q is not among its orgs", r.ExternalID, r.PrimaryOrg)
	}
	if r.Kind == KindOrg && r.Parent == r.ExternalID {
		return fmt.Errorf("org %q is its own parent", r.ExternalID)
	}
	return nil
}

// ManagerAttribute is the attribute holding a user's manager: the external
// id of another user of the same source. It is a reference: the engine
// sends it to each target as the manager's id in that application, and
// updates the user once the manager is created there.
const ManagerAttribute = "manager"

// Attributes maps attribute names to typed values.
type Attributes map[string]Value

// Names returns the attribute names in sorted order.
func (a Attributes) Names() []string {
	return slices.Sorted(maps.Keys(a))
}

// Clone returns a deep copy of a.
func (a Attributes) Clone() Attributes {
	if a == nil {
		return nil
	}
	c := make(Attributes, len(a))
	for k, v := range a {
		c[k] = v.clone()
	}
	return c
}

// ValueType is the type of an attribute value.
type ValueType uint8

// The attribute value types. TypeNull is the zero Value: an attribute that
// is present but empty.
const (
	TypeNull ValueType = iota
	TypeString
	TypeInt
	TypeBool
	TypeTime
	TypeStringList
)

func (t ValueType) String() string {
	switch t {
	case TypeNull:
		return "null"
	case TypeString:
		return "string"
	case TypeInt:
		return "integer"
	case TypeBool:
		return "boolean"
	case TypeTime:
		return "datetime"
	case TypeStringList:
		return "string list"
	}
	return fmt.Sprintf("ValueType(%d)", t)
}

// Value is a typed attribute value. The zero Value is null. Values are
// immutable: constructors copy what they are given.
type Value struct {
	typ  ValueType
	b    bool
	i    int64
	s    string
	t    time.Time
	list []string
}

// String returns a string value.
func String(s string) Value { return Value{typ: TypeString, s: s} }

// Int returns an integer value.
func Int(i int64) Value { return Value{typ: TypeInt, i: i} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{typ: TypeBool, b: b} }

// Time returns a datetime value, kept in UTC with nanosecond precision.
func Time(t time.Time) Value { return Value{typ: TypeTime, t: t.UTC()} }

// StringList returns a string list value.
func StringList(l ...string) Value { return Value{typ: TypeStringList, list: slices.Clone(l)} }

// Null returns the null value.
func Null() Value { return Value{} }

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.typ == TypeNull }

// Str returns a string value's string, or "" for other types.
func (v Value) Str() string { return v.s }

// IntValue returns an integer value's integer, or 0 for other types.
func (v Value) IntValue() int64 { return v.i }

// BoolValue returns a boolean value's boolean, or false for other types.
func (v Value) BoolValue() bool { return v.b }

// TimeValue returns a datetime value's time, or the zero time.
func (v Value) TimeValue() time.Time { return v.t }

// List returns a copy of a string list value's items, or nil.
func (v Value) List() []string { return slices.Clone(v.list) }

// Len returns the number of items of a string list value.
func (v Value) Len() int { return len(v.list) }

// Equal reports whether v and w have the same type and value.
func (v Value) Equal(w Value) bool {
	if v.typ != w.typ {
		return false
	}
	switch v.typ {
	case TypeString:
		return v.s == w.s
	case TypeInt:
		return v.i == w.i
	case TypeBool:
		return v.b == w.b
	case TypeTime:
		return v.t.Equal(w.t)
	case TypeStringList:
		return slices.Equal(v.list, w.list)
	}
	return true
}

// Any returns v as a plain Go value: nil, string, int64, bool, time.Time or
// []string.
func (v Value) Any() any {
	switch v.typ {
	case TypeString:
		return v.s
	case TypeInt:
		return v.i
	case TypeBool:
		return v.b
	case TypeTime:
		return v.t
	case TypeStringList:
		return slices.Clone(v.list)
	}
	return nil
}

// GoString formats v for debugging and test failure messages.
func (v Value) GoString() string {
	switch v.typ {
	case TypeString:
		return fmt.Sprintf("sdk.String(%q)", v.s)
	case TypeInt:
		return fmt.Sprintf("sdk.Int(%d)", v.i)
	case TypeBool:
		return fmt.Sprintf("sdk.Bool(%t)", v.b)
	case TypeTime:
		return fmt.Sprintf("sdk.Time(%s)", v.t.Format(time.RFC3339Nano))
	case TypeStringList:
		return fmt.Sprintf("sdk.StringList(%q)", strings.Join(v.list, `", "`))
	}
	return "sdk.Null()"
}

// String formats v for people: strings as they are, lists joined by ", ".
func (v Value) String() string {
	switch v.typ {
	case TypeString:
		return v.s
	case TypeInt:
		return fmt.Sprint(v.i)
	case TypeBool:
		return fmt.Sprint(v.b)
	case TypeTime:
		return v.t.Format(time.RFC3339Nano)
	case TypeStringList:
		return strings.Join(v.list, ", ")
	}
	return ""
}

// ValueOf converts a plain Go value (nil, string, bool, any integer type,
// time.Time, []string or []any of strings) to a Value.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Null(), nil
	case Value:
		return x, nil
	case string:
		return String(x), nil
	case bool:
		return Bool(x), nil
	case int:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint32:
		return Int(int64(x)), nil
	case float64:
		if x != float64(int64(x)) {
			return Value{}, fmt.Errorf("number %v is not an integer", x)
		}
		return Int(int64(x)), nil
	case time.Time:
		return Time(x), nil
	case []string:
		return StringList(x...), nil
	case []any:
		l := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return Value{}, fmt.Errorf("list item %d is %T, not a string", i, e)
			}
			l[i] = s
		}
		return Value{typ: TypeStringList, list: l}, nil
	}
	return Value{}, fmt.Errorf("unsupported attribute value type %T", x)
}

func (v Value) clone() Value {
	v.list = slices.Clone(v.list)
	return v
}
