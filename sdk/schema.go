package sdk

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldType is the type of a configuration attribute.
type FieldType string

// The configuration attribute types, as written in HCL.
const (
	FieldString     FieldType = "string"
	FieldInt        FieldType = "number"
	FieldBool       FieldType = "bool"
	FieldDuration   FieldType = "duration" // a string such as "30s", parsed by time.ParseDuration
	FieldStringList FieldType = "list(string)"
	FieldStringMap  FieldType = "map(string)"
)

// Field declares one attribute of a connector's configuration block.
type Field struct {
	// Name is the HCL attribute name: lowercase words joined by "_".
	Name string
	Type FieldType
	// Required fields must be set; others take Default when unset.
	Required bool
	// Default is the value of an unset optional field: a string, int64,
	// bool, time.Duration, []string or map[string]string matching Type, or
	// nil for none.
	Default any
	// Sensitive values (tokens, keys) are masked wherever shown and never
	// logged; set them from env() or file() in HCL.
	Sensitive bool
	// Options, when set, lists the only values a string field accepts.
	Options []string
	// Description becomes the connector's README: full sentences saying
	// the effect, the default, limits and interactions.
	Description string
	// Example is a value shown in generated docs.
	Example string
}

// Schema declares a connector's configuration block.
type Schema struct {
	Fields []Field
}

// Field returns the field named name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks the schema itself: names well formed and unique, known
// types, defaults of the field's type, descriptions present.
func (s Schema) Validate() error {
	seen := map[string]bool{}
	for i, f := range s.Fields {
		switch {
		case !fieldNameRE.MatchString(f.Name):
			return fmt.Errorf("field %d: name %q must be lowercase words joined by _", i, f.Name)
		case seen[f.Name]:
			return fmt.Errorf("field %q declared twice", f.Name)
		case f.Description == "":
			return fmt.Errorf("field %q has no description", f.Name)
		case f.Required && f.Default != nil:
			return fmt.Errorf("field %q is required and has a default", f.Name)
		}
		seen[f.Name] = true
		if _, err := coerce(f, f.Default); err != nil && f.Default != nil {
			return fmt.Errorf("field %q: default: %v", f.Name, err)
		}
		switch f.Type {
		case FieldString, FieldInt, FieldBool, FieldDuration, FieldStringList, FieldStringMap:
		default:
			return fmt.Errorf("field %q: unknown type %q", f.Name, f.Type)
		}
		if len(f.Options) > 0 && f.Type != FieldString {
			return fmt.Errorf("field %q: options are for string fields", f.Name)
		}
	}
	return nil
}

// Config holds a connector's decoded configuration values, typed by its
// schema with defaults applied.
type Config struct {
	values map[string]any
}

// NewConfig checks values against schema, applies defaults and returns the
// configuration. Values may be in their JSON forms (float64 numbers,
// []any lists, map[string]any maps, duration strings), as they arrive over
// the plugin protocol. Every problem is reported, located by path.
func NewConfig(schema Schema, values map[string]any) (Config, Diagnostics) {
	var diags Diagnostics
	out := make(map[string]any, len(schema.Fields))
	for _, f := range schema.Fields {
		v, ok := values[f.Name]
		if !ok || v == nil {
			if f.Required {
				diags.AddError(Path{f.Name}, "Missing required argument", fmt.Sprintf("The argument %q is required.", f.Name))
				continue
			}
			if f.Default != nil {
				d, _ := coerce(f, f.Default)
				out[f.Name] = d
			}
			continue
		}
		c, err := coerce(f, v)
		if err != nil {
			diags.AddError(Path{f.Name}, "Invalid value", err.Error())
			continue
		}
		out[f.Name] = c
	}
	var unknown []string
	for k := range values {
		if _, ok := schema.Field(k); !ok {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		diags.AddError(Path{k}, "Unsupported argument", fmt.Sprintf("An argument named %q is not expected here.", k))
	}
	return Config{values: out}, diags
}

func coerce(f Field, v any) (any, error) {
	switch f.Type {
	case FieldString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("The value of %q must be a string.", f.Name)
		}
		if len(f.Options) > 0 && !slices.Contains(f.Options, s) {
			return nil, fmt.Errorf("The value of %q must be one of %s, not %q.", f.Name, quoteList(f.Options), s)
		}
		return s, nil
	case FieldInt:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case float64:
			if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
				return nil, fmt.Errorf("The value of %q must be a whole number within 64 bits, not %v.", f.Name, n)
			}
			return int64(n), nil
		}
		return nil, fmt.Errorf("The value of %q must be a number.", f.Name)
	case FieldBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("The value of %q must be true or false.", f.Name)
		}
		return b, nil
	case FieldDuration:
		switch d := v.(type) {
		case time.Duration:
			return d, nil
		case string:
			p, err := time.ParseDuration(d)
			if err != nil {
				return nil, fmt.Errorf("The value of %q must be a duration such as \"30s\" or \"5m\" (%v).", f.Name, err)
			}
			return p, nil
		}
		return nil, fmt.Errorf("The value of %q must be a duration string such as \"30s\".", f.Name)
	case FieldStringList:
		switch l := v.(type) {
		case []string:
			return slices.Clone(l), nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("Item %d of %q must be a string.", i, f.Name)
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("The value of %q must be a list of strings.", f.Name)
	case FieldStringMap:
		switch m := v.(type) {
		case map[string]string:
			out := make(map[string]string, len(m))
			for k, e := range m {
				out[k] = e
			}
			return out, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, e := range m {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("The value of %q at key %q must be a string.", f.Name, k)
				}
				out[k] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("The value of %q must be a map of strings.", f.Name)
	}
	return nil, fmt.Errorf("The field %q has the unknown type %q.", f.Name, f.Type)
}

// Has reports whether the attribute is set or has a default.
func (c Config) Has(name string) bool { _, ok := c.values[name]; return ok }

// String returns a string attribute, "" when unset.
func (c Config) String(name string) string { s, _ := c.values[name].(string); return s }

// Int returns a number attribute, 0 when unset.
func (c Config) Int(name string) int64 { i, _ := c.values[name].(int64); return i }

// Bool returns a bool attribute, false when unset.
func (c Config) Bool(name string) bool { b, _ := c.values[name].(bool); return b }

// Duration returns a duration attribute, 0 when unset.
func (c Config) Duration(name string) time.Duration {
	d, _ := c.values[name].(time.Duration)
	return d
}

// StringList returns a copy of a list attribute, nil when unset.
func (c Config) StringList(name string) []string {
	l, _ := c.values[name].([]string)
	return slices.Clone(l)
}

// StringMap returns a copy of a map attribute, nil when unset.
func (c Config) StringMap(name string) map[string]string {
	m, _ := c.values[name].(map[string]string)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Values returns the values in their JSON forms (durations as strings), as
// they cross the plugin protocol.
func (c Config) Values() map[string]any {
	out := make(map[string]any, len(c.values))
	for k, v := range c.values {
		if d, ok := v.(time.Duration); ok {
			out[k] = d.String()
			continue
		}
		out[k] = v
	}
	return out
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
