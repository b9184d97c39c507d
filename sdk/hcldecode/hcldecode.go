package hcldecode

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/midstream-io/midstream/sdk"
)

// Spec returns schema s as an hcldec spec: one attribute per field, required
// as declared, of type
//
//	FieldString      string
//	FieldInt         number
//	FieldBool        bool
//	FieldDuration    string ("30s", parsed when the Config is built)
//	FieldStringList  list(string)
//	FieldStringMap   map(string)
//
// A field of a type the SDK does not know accepts any value; [Decode]
// reports it as an error in the connector.
func Spec(s sdk.Schema) hcldec.ObjectSpec {
	spec := make(hcldec.ObjectSpec, len(s.Fields))
	for _, f := range s.Fields {
		spec[f.Name] = &hcldec.AttrSpec{Name: f.Name, Type: ctyType(f.Type), Required: f.Required}
	}
	return spec
}

func ctyType(t sdk.FieldType) cty.Type {
	switch t {
	case sdk.FieldString, sdk.FieldDuration:
		return cty.String
	case sdk.FieldInt:
		return cty.Number
	case sdk.FieldBool:
		return cty.Bool
	case sdk.FieldStringList:
		return cty.List(cty.String)
	case sdk.FieldStringMap:
		return cty.Map(cty.String)
	}
	return cty.DynamicPseudoType
}

// Decode decodes body, the content of a connector block, against schema s,
// evaluating expressions in ctx (normally from [EvalContext]; nil allows no
// functions and no variables).
//
// It returns the configuration built by [sdk.NewConfig] (defaults applied)
// and every problem found, sorted by position: HCL's own diagnostics
// (syntax of values, unknown arguments and blocks with "Did you mean …?",
// missing required arguments at the block's opening brace, wrong types) and
// the SDK's checks (options, durations, whole numbers), located at the
// offending value. An argument set to null counts as unset. The Config is
// only meaningful when the diagnostics hold no error.
func Decode(body hcl.Body, s sdk.Schema, ctx *hcl.EvalContext) (sdk.Config, hcl.Diagnostics) {
	val, diags := hcldec.Decode(body, Spec(s), ctx)
	attrs := attributes(body, fieldNames(s))

	values := make(map[string]any, len(s.Fields))
	reported := map[string]bool{} // fields whose problems HCL or this function already reported
	var sdiags sdk.Diagnostics
	for _, f := range s.Fields {
		if _, set := attrs[f.Name]; !set {
			reported[f.Name] = f.Required // HCL reported it missing
			continue
		}
		var v cty.Value
		if val.IsKnown() && !val.IsNull() && val.Type().IsObjectType() && val.Type().HasAttribute(f.Name) {
			v = val.GetAttr(f.Name)
		}
		if v == cty.NilVal || !v.IsWhollyKnown() {
			reported[f.Name] = true
			if !diags.HasErrors() {
				sdiags.AddError(sdk.Path{f.Name}, "Unknown value",
					fmt.Sprintf("The value of %q is not known yet; set it to a value known when the configuration is loaded.", f.Name))
			}
			continue
		}
		v, _ = v.UnmarkDeep()
		if v.IsNull() {
			continue // unset: NewConfig applies the default or reports it missing
		}
		gv, ds := goValue(f, v)
		if len(ds) > 0 {
			reported[f.Name] = true
			sdiags = append(sdiags, ds...)
			continue
		}
		values[f.Name] = gv
	}

	cfg, cdiags := sdk.NewConfig(s, values)
	for _, d := range cdiags {
		if len(d.Path) > 0 && reported[d.Path[0]] {
			continue
		}
		sdiags = append(sdiags, d)
	}
	diags = append(diags, locate(attrs, sdiags, body.MissingItemRange())...)
	sortDiagnostics(diags)
	return cfg, diags
}

// DecodeFile parses src as the body of a connector block (attribute lines
// only, as a connector's example.hcl is written) and decodes it with
// [Decode]. filename names the source in diagnostics. With syntax errors it
// returns them alone, since decoding a broken file only adds noise.
//
// To print the diagnostics with snippets, give hcl.NewDiagnosticTextWriter
// the files map[string]*hcl.File{filename: {Bytes: src}}.
func DecodeFile(filename string, src []byte, s sdk.Schema, ctx *hcl.EvalContext) (sdk.Config, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return sdk.Config{}, diags
	}
	cfg, more := Decode(f.Body, s, ctx)
	return cfg, append(diags, more...)
}

// goValue converts a known, non-null, unmarked value of f's cty type to the
// Go form sdk.NewConfig accepts. Problems NewConfig cannot locate precisely
// (null elements, numbers out of range) are returned with their full path.
func goValue(f sdk.Field, v cty.Value) (any, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	switch f.Type {
	case sdk.FieldString, sdk.FieldDuration:
		return v.AsString(), nil
	case sdk.FieldBool:
		return v.True(), nil
	case sdk.FieldInt:
		bf := v.AsBigFloat()
		if !bf.IsInt() {
			x, _ := bf.Float64()
			return x, nil // NewConfig reports "must be a whole number"
		}
		if i, acc := bf.Int64(); acc == big.Exact {
			return i, nil
		}
		diags.AddError(sdk.Path{f.Name}, "Invalid value",
			fmt.Sprintf("The value of %q must be a whole number between %d and %d.", f.Name, int64(math.MinInt64), int64(math.MaxInt64)))
		return nil, diags
	case sdk.FieldStringList:
		out := make([]string, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				diags.AddError(sdk.Path{f.Name, strconv.Itoa(len(out))}, "Invalid value",
					fmt.Sprintf("Element %d of %q is null; every element must be a string.", len(out), f.Name))
				out = append(out, "")
				continue
			}
			out = append(out, e.AsString())
		}
		return out, diags
	case sdk.FieldStringMap:
		out := make(map[string]string, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() {
				diags.AddError(sdk.Path{f.Name, k.AsString()}, "Invalid value",
					fmt.Sprintf("The value of %q in %q is null; every value must be a string.", k.AsString(), f.Name))
				continue
			}
			out[k.AsString()] = e.AsString()
		}
		return out, diags
	}
	diags.AddError(sdk.Path{f.Name}, "Unsupported field type",
		fmt.Sprintf("The connector declares %q with type %q, which this version of Midstream does not support; this is a bug in the connector.", f.Name, f.Type))
	return nil, diags
}

func fieldNames(s sdk.Schema) []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return names
}

// sortDiagnostics orders diagnostics by file and position, those without a
// subject last, keeping the order of equal ones.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
