package mapping

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Convert converts v to the type t (options are an enum's), as a mapping
// does after computing an attribute; the rules are on each Type constant.
// Null stays null, and an empty string becomes null for every type but
// string. Untyped returns v unchanged.
func Convert(v sdk.Value, t Type, options []string) (sdk.Value, error) {
	cv, err := convert(v, t, options)
	if err != nil {
		return sdk.Value{}, err
	}
	return cv, nil
}

// convertError says why a value does not convert, with or without the
// value (a sensitive attribute's is never shown).
type convertError struct {
	value string // the value, described: `"abc"`, "the boolean true"
	rest  string // "is not an integer"
}

func (e *convertError) Error() string { return e.value + " " + e.rest }

// masked is the error without the value.
func (e *convertError) masked() string { return "the value " + e.rest }

func convert(v sdk.Value, t Type, options []string) (sdk.Value, *convertError) {
	if t == Untyped || v.IsNull() {
		return v, nil
	}
	if v.Type() == sdk.TypeString && t != TypeString && strings.TrimSpace(v.Str()) == "" {
		return sdk.Null(), nil
	}
	fail := func(rest string) (sdk.Value, *convertError) {
		return sdk.Value{}, &convertError{value: describeValue(v), rest: rest}
	}
	switch t {
	case TypeString:
		switch v.Type() {
		case sdk.TypeString:
			return v, nil
		case sdk.TypeInt, sdk.TypeBool, sdk.TypeTime:
			return sdk.String(v.String()), nil
		}
		return fail(`is not a string; join the list (join(list, ",")) or declare type = "string_list"`)
	case TypeInteger:
		switch v.Type() {
		case sdk.TypeInt:
			return v, nil
		case sdk.TypeString:
			i, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
			if err == nil {
				return sdk.Int(i), nil
			}
		}
		return fail("is not an integer")
	case TypeBoolean:
		switch v.Type() {
		case sdk.TypeBool:
			return v, nil
		case sdk.TypeInt:
			switch v.IntValue() {
			case 0:
				return sdk.Bool(false), nil
			case 1:
				return sdk.Bool(true), nil
			}
		case sdk.TypeString:
			switch strings.ToLower(strings.TrimSpace(v.Str())) {
			case "true", "yes", "1", "on":
				return sdk.Bool(true), nil
			case "false", "no", "0", "off":
				return sdk.Bool(false), nil
			}
		}
		return fail("is not a boolean (true or false, yes or no, 1 or 0)")
	case TypeDatetime:
		switch v.Type() {
		case sdk.TypeTime:
			return v, nil
		case sdk.TypeString:
			if tm, ok := parseDatetime(strings.TrimSpace(v.Str())); ok {
				return sdk.Time(tm), nil
			}
		}
		return fail("is not a datetime (RFC 3339 such as 2024-05-06T07:08:09+08:00, or 2024-05-06); return a Date")
	case TypeEnum:
		var s string
		switch v.Type() {
		case sdk.TypeString:
			s = v.Str()
		case sdk.TypeInt:
			s = v.String()
		default:
			return fail("is not one of " + quoteAll(options))
		}
		for _, o := range options {
			if s == o {
				return sdk.String(s), nil
			}
		}
		return fail("is not one of " + quoteAll(options))
	case TypeStringList:
		switch v.Type() {
		case sdk.TypeStringList:
			return v, nil
		case sdk.TypeString:
			return sdk.StringList(v.Str()), nil
		}
		return fail("is not a string list")
	}
	return fail(fmt.Sprintf("has the unknown type %q", t))
}

// datetimeLayouts are the text forms TypeDatetime accepts, tried in order;
// those without a zone are UTC.
var datetimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}

func parseDatetime(s string) (time.Time, bool) {
	for _, l := range datetimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// describeValue names v in an error message.
func describeValue(v sdk.Value) string {
	switch v.Type() {
	case sdk.TypeString:
		return strconv.Quote(v.Str())
	case sdk.TypeNull:
		return "null"
	}
	if v.Type() == sdk.TypeStringList {
		return "the string list [" + quoteAll(v.List()) + "]"
	}
	return "the " + v.Type().String() + " " + v.String()
}

func quoteAll(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// isEmpty reports whether v is empty: null, "" or an empty list.
func isEmpty(v sdk.Value) bool {
	switch v.Type() {
	case sdk.TypeNull:
		return true
	case sdk.TypeString:
		return v.Str() == ""
	case sdk.TypeStringList:
		return v.Len() == 0
	}
	return false
}

// check applies the definitions to out, the output attributes of the
// object id: conversion, Default and Required. With update, create_only
// attributes are skipped.
func (c *compiled) check(id string, out sdk.Attributes, update bool) error {
	for _, i := range c.checked {
		d := &c.attrs[i].def
		if update && d.Mode == ModeCreateOnly {
			continue
		}
		v, present := out[d.Name]
		if d.Type != Untyped {
			cv, err := convert(v, d.Type, d.Options)
			if err != nil {
				msg := err.Error()
				if d.Sensitive {
					msg = err.masked()
				}
				return &ValueError{Attribute: d.Name, Pos: d.Pos, ID: id, Msg: msg, Err: ErrInvalid}
			}
			v = cv
		}
		if d.Default != nil && isEmpty(v) {
			v = *d.Default
		}
		if d.Required && isEmpty(v) {
			return &ValueError{Attribute: d.Name, Pos: d.Pos, ID: id, Err: ErrRequired,
				Msg: "the attribute is required, but the mapping left it empty; give the object a value upstream, or the attribute a default"}
		}
		if present || !v.IsNull() {
			out[d.Name] = v
		}
	}
	return nil
}

// Candidate returns the n-th value a unique attribute with on_conflict =
// "suffix" tries: value itself for n ≤ 1, then value with n appended, or
// inserted before the last "@" of an e-mail address:
//
//	Candidate("zhang.wei", 2)             == "zhang.wei2"
//	Candidate("zhang.wei@example.com", 3) == "zhang.wei3@example.com"
func Candidate(value string, n int) string {
	if n <= 1 {
		return value
	}
	if at := strings.LastIndexByte(value, '@'); at > 0 {
		return value[:at] + strconv.Itoa(n) + value[at:]
	}
	return value + strconv.Itoa(n)
}

// isCandidate reports whether held is Candidate(base, n) for some n in
// 2…MaxSuffix.
func isCandidate(base, held string) bool {
	local, domain := base, ""
	if at := strings.LastIndexByte(base, '@'); at > 0 {
		local, domain = base[:at], base[at:]
	}
	if !strings.HasPrefix(held, local) || !strings.HasSuffix(held, domain) || len(held) <= len(local)+len(domain) {
		return false
	}
	digits := held[len(local) : len(held)-len(domain)]
	n, err := strconv.Atoi(digits)
	return err == nil && n >= 2 && n <= MaxSuffix && strconv.Itoa(n) == digits
}

// reserve reserves the value of each unique attribute of out through
// in.Uniqueness, replacing a value by its free candidate (suffix), and
// returns what the object holds.
func (c *compiled) reserve(ctx context.Context, in *Input, out sdk.Attributes) (map[string]string, error) {
	if in.Uniqueness == nil || len(c.unique) == 0 {
		return nil, nil
	}
	held := make(map[string]string, len(c.unique))
	for _, i := range c.unique {
		d := &c.attrs[i].def
		if in.Update && d.Mode == ModeCreateOnly {
			// Not sent: the object keeps what it holds.
			if h, ok := in.Reserved[d.Name]; ok {
				held[d.Name] = h
			}
			continue
		}
		v, ok := out[d.Name]
		if !ok || isEmpty(v) {
			continue
		}
		base := v.String()
		if h, ok := in.Reserved[d.Name]; ok && (h == base || d.OnConflict == ConflictSuffix && isCandidate(base, h)) {
			held[d.Name] = h
			if h != base {
				out[d.Name] = sdk.String(h)
			}
			continue
		}
		limit := 1
		if d.OnConflict == ConflictSuffix {
			limit = MaxSuffix
		}
		var holder string
		for n := 1; n <= limit; n++ {
			cand := Candidate(base, n)
			h, err := in.Uniqueness.Reserve(ctx, Reservation{Target: in.Target, Kind: c.kindOf(in), ID: in.ID, Attribute: d.Name, Value: cand})
			if err != nil {
				shown := strconv.Quote(cand)
				if d.Sensitive {
					shown = "its value"
				}
				return held, fmt.Errorf("mapping %s: reserve %s for attribute %s: %w", in.ID, shown, d.Name, err)
			}
			if h == "" {
				held[d.Name] = cand
				if n > 1 {
					out[d.Name] = sdk.String(cand)
				}
				holder = ""
				break
			}
			holder = h
		}
		if holder != "" {
			e := &ValueError{Attribute: d.Name, Pos: d.Pos, ID: in.ID, Holder: holder, Err: ErrTaken}
			switch {
			case d.Sensitive:
				e.Msg = "the value is unique and held by " + holder
			case limit == 1:
				e.Msg = fmt.Sprintf("the value %q is unique and held by %s", base, holder)
			default:
				e.Msg = fmt.Sprintf("the values %q to %q are all taken (the last by %s)", base, Candidate(base, limit), holder)
			}
			return held, e
		}
	}
	return held, nil
}

// kindOf is the kind of object in maps.
func (c *compiled) kindOf(in *Input) sdk.Kind {
	if in.Kind != "" {
		return in.Kind
	}
	return c.kind
}
