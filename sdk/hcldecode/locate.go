package hcldecode

import (
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/midstream-io/midstream/sdk"
)

// LocateDiagnostics turns a connector's diagnostics into HCL diagnostics
// located in body, the connector block they are about, keeping their order.
//
// A diagnostic's path is followed as far as the body allows: the
// attribute's value for a one-element path, then, inside a literal map or
// list, the item whose key (from its start) or index matches each further
// element. A diagnostic without a path, or about an attribute the body does
// not set, is located at fallback; the zero Range means the body's
// MissingItemRange (the block's opening brace), where HCL reports missing
// arguments.
func LocateDiagnostics(body hcl.Body, ds sdk.Diagnostics, fallback hcl.Range) hcl.Diagnostics {
	if fallback == (hcl.Range{}) {
		fallback = body.MissingItemRange()
	}
	var names []string
	seen := map[string]bool{}
	for _, d := range ds {
		if len(d.Path) > 0 && !seen[d.Path[0]] {
			seen[d.Path[0]] = true
			names = append(names, d.Path[0])
		}
	}
	return locate(attributes(body, names), ds, fallback)
}

// attributes returns the attributes of body among names, ignoring any
// problem with the body (Decode reports those).
func attributes(body hcl.Body, names []string) hcl.Attributes {
	schema := &hcl.BodySchema{Attributes: make([]hcl.AttributeSchema, len(names))}
	for i, n := range names {
		schema.Attributes[i] = hcl.AttributeSchema{Name: n}
	}
	content, _, _ := body.PartialContent(schema)
	if content == nil {
		return nil
	}
	return content.Attributes
}

func locate(attrs hcl.Attributes, ds sdk.Diagnostics, fallback hcl.Range) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(ds))
	for _, d := range ds {
		hd := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  d.Summary,
			Detail:   d.Detail,
			Subject:  fallback.Ptr(),
		}
		if d.Severity == sdk.SeverityWarning {
			hd.Severity = hcl.DiagWarning
		}
		if len(d.Path) > 0 {
			if attr, ok := attrs[d.Path[0]]; ok {
				subject := walk(attr.Expr, d.Path[1:])
				hd.Subject = subject.Ptr()
				if attr.Range != subject {
					hd.Context = attr.Range.Ptr()
				}
			}
		}
		out = append(out, hd)
	}
	return out
}

// walk follows steps (map keys, list indexes) into expr's literal maps and
// lists, returning the range of the deepest item found: a map item from its
// key to its value, or a list element.
func walk(expr hcl.Expression, steps []string) hcl.Range {
	rng := expr.Range()
	for _, step := range steps {
		next, itemRange, ok := child(expr, step)
		if !ok {
			break
		}
		expr, rng = next, itemRange
	}
	return rng
}

func child(expr hcl.Expression, step string) (hcl.Expression, hcl.Range, bool) {
	if pairs, diags := hcl.ExprMap(expr); !diags.HasErrors() {
		for _, p := range pairs {
			if key, ok := literalKey(p.Key); ok && key == step {
				return p.Value, hcl.RangeBetween(p.Key.Range(), p.Value.Range()), true
			}
		}
		return nil, hcl.Range{}, false
	}
	if elems, diags := hcl.ExprList(expr); !diags.HasErrors() {
		i, err := strconv.Atoi(step)
		if err != nil || i < 0 || i >= len(elems) {
			return nil, hcl.Range{}, false
		}
		return elems[i], elems[i].Range(), true
	}
	return nil, hcl.Range{}, false
}

// literalKey returns the string a map item's key evaluates to without
// variables or functions (foo, "foo", 1), if any.
func literalKey(expr hcl.Expression) (string, bool) {
	k, diags := expr.Value(nil)
	if diags.HasErrors() {
		return "", false
	}
	k, err := convert.Convert(k, cty.String)
	if err != nil || !k.IsKnown() || k.IsNull() {
		return "", false
	}
	return k.AsString(), true
}
