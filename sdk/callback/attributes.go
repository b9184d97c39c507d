package callback

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Attributes holds attribute values in their JSON forms. After encoding
// or decoding, every value is one of:
//
//	nil       null: the attribute is present and empty (an update clears it)
//	string    a string, or a datetime as RFC 3339 text in UTC
//	int64     an integer (JSON number without fraction or exponent)
//	bool      a boolean
//	[]string  a list of strings
//
// Version 1 has no other forms: a fractional number, an object or a list
// holding anything but strings makes the event invalid.
type Attributes map[string]any

// FromValues converts typed attribute values to their JSON forms. A
// datetime becomes RFC 3339 text in UTC with up to nanosecond precision.
func FromValues(a sdk.Attributes) Attributes {
	if len(a) == 0 {
		return nil
	}
	out := make(Attributes, len(a))
	for k, v := range a {
		out[k] = wireValue(v)
	}
	return out
}

func wireValue(v sdk.Value) any {
	switch v.Type() {
	case sdk.TypeString:
		return v.Str()
	case sdk.TypeInt:
		return v.IntValue()
	case sdk.TypeBool:
		return v.BoolValue()
	case sdk.TypeTime:
		return v.TimeValue().UTC().Format(time.RFC3339Nano)
	case sdk.TypeStringList:
		l := v.List()
		if l == nil {
			l = []string{}
		}
		return l
	}
	return nil
}

// Values converts a to typed values by their JSON forms: strings to
// strings, integers, booleans, lists of strings and nulls to their types. A
// datetime stays a string, since JSON does not tell it apart; use
// [Attributes.Value] or [Attributes.Time] when you know an attribute's type.
func (a Attributes) Values() (sdk.Attributes, error) {
	if len(a) == 0 {
		return nil, nil
	}
	out := make(sdk.Attributes, len(a))
	for _, k := range a.Names() {
		v, err := sdk.ValueOf(a[k])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Value returns attribute name converted to type typ: a datetime is parsed
// from its RFC 3339 text. An absent or null attribute is sdk.Null(); a
// value of another form is an error.
func (a Attributes) Value(name string, typ sdk.ValueType) (sdk.Value, error) {
	x, ok := a[name]
	if !ok || x == nil {
		return sdk.Null(), nil
	}
	bad := func() (sdk.Value, error) {
		return sdk.Value{}, fmt.Errorf("attribute %q is %s, not a %s", name, formName(x), typ)
	}
	switch typ {
	case sdk.TypeString:
		if s, ok := x.(string); ok {
			return sdk.String(s), nil
		}
	case sdk.TypeInt:
		switch n := x.(type) {
		case int64:
			return sdk.Int(n), nil
		case int:
			return sdk.Int(int64(n)), nil
		}
	case sdk.TypeBool:
		if b, ok := x.(bool); ok {
			return sdk.Bool(b), nil
		}
	case sdk.TypeTime:
		switch t := x.(type) {
		case time.Time:
			return sdk.Time(t), nil
		case string:
			p, err := time.Parse(time.RFC3339Nano, t)
			if err != nil {
				return sdk.Value{}, fmt.Errorf("attribute %q: %q is not an RFC 3339 datetime", name, t)
			}
			return sdk.Time(p), nil
		}
	case sdk.TypeStringList:
		if l, ok := x.([]string); ok {
			return sdk.StringList(l...), nil
		}
	case sdk.TypeNull:
		return sdk.Null(), nil
	}
	return bad()
}

// Has reports whether attribute name is present (possibly null).
func (a Attributes) Has(name string) bool { _, ok := a[name]; return ok }

// String returns a string attribute, "" when absent, null or not a string.
func (a Attributes) String(name string) string { s, _ := a[name].(string); return s }

// Int returns an integer attribute and whether it is one.
func (a Attributes) Int(name string) (int64, bool) {
	v, err := a.Value(name, sdk.TypeInt)
	return v.IntValue(), err == nil && !v.IsNull()
}

// Bool returns a boolean attribute and whether it is one.
func (a Attributes) Bool(name string) (bool, bool) {
	b, ok := a[name].(bool)
	return b, ok
}

// Time parses a datetime attribute; the zero time when absent or null.
func (a Attributes) Time(name string) (time.Time, error) {
	v, err := a.Value(name, sdk.TypeTime)
	return v.TimeValue(), err
}

// Strings returns a copy of a string list attribute, nil when absent, null
// or not a list.
func (a Attributes) Strings(name string) []string {
	l, _ := a[name].([]string)
	return slices.Clone(l)
}

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
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		c[k] = v
	}
	return c
}

// UnmarshalJSON decodes attributes into the forms listed on [Attributes],
// rejecting any other.
func (a *Attributes) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if raw == nil {
		*a = nil
		return nil
	}
	out := make(Attributes, len(raw))
	for k, x := range raw {
		v, err := fromJSON(x)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = v
	}
	*a = out
	return nil
}

func fromJSON(x any) (any, error) {
	switch x := x.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return nil, fmt.Errorf("number %s is not a 64-bit integer", x)
		}
		return n, nil
	case []any:
		l := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list item %d is %s, not a string", i, formName(e))
			}
			l[i] = s
		}
		return l, nil
	}
	return nil, fmt.Errorf("%s is not an attribute value (string, integer, boolean, list of strings or null)", formName(x))
}

func formName(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, int, json.Number, float64:
		return "a number"
	case []string, []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", x)
}
