package config

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

// Scope says which objects a target receives (authorization).
type Scope struct {
	// OrgSubtrees lists orgs by external id (for the csv source, the
	// department path): users whose primary org is in one of these
	// subtrees are in scope, and so are the subtrees' orgs. Empty means
	// every object.
	OrgSubtrees []string
	// Filter, when set, is a JavaScript expression over a user's
	// attributes (`record`) that must be true for the user to be in scope.
	Filter *mapping.Mapping
	// FilterScript is the filter as written.
	FilterScript string
}

// filterAttribute is the attribute a compiled scope filter computes.
const filterAttribute = "in_scope"

const scopeBlock = "scope"

var scopeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "org_subtrees"}, {Name: "filter"},
}}

// scope decodes a target's scope block, if any.
func (l *loader) scope(blocks hcl.Blocks) Scope {
	var s Scope
	seen := false
	for _, b := range blocks {
		if b.Type != scopeBlock {
			continue
		}
		if seen {
			l.errorf(b.DefRange, "Duplicate scope block", "A target takes one scope block; merge the two.")
			continue
		}
		seen = true
		content, diags := b.Body.Content(scopeSchema)
		l.diags = append(l.diags, diags...)
		if a := content.Attributes["org_subtrees"]; a != nil {
			if v, _, ok := l.stringListValue(a); ok {
				s.OrgSubtrees = v
			}
		}
		if a := content.Attributes["filter"]; a != nil {
			script, pos, ok := l.scriptValue(a)
			if !ok {
				continue
			}
			m, err := mapping.Compile(mapping.Spec{Kind: sdk.KindUser, Attributes: []mapping.Attribute{
				{Name: filterAttribute, Script: script, Pos: pos},
			}}, mapping.Options{Timeout: l.p.MappingTimeout})
			if err != nil {
				l.errorf(a.Expr.Range(), "Scope filter does not compile",
					"The filter must be a JavaScript expression over the user's attributes (record), true for the users the target receives: %v.", err)
				continue
			}
			s.Filter, s.FilterScript = m, script
		}
	}
	return s
}

// Limited reports whether the scope restricts anything.
func (s Scope) Limited() bool { return len(s.OrgSubtrees) > 0 || s.Filter != nil }

// Contains reports whether an object is in scope. chain is the object's
// org and its ancestors, nearest first (an org's chain starts with itself,
// a user's with its primary org), by external id.
func (s Scope) Contains(ctx context.Context, kind sdk.Kind, id string, chain []string, attrs sdk.Attributes) (bool, error) {
	if len(s.OrgSubtrees) > 0 && !slices.ContainsFunc(chain, func(ext string) bool { return slices.Contains(s.OrgSubtrees, ext) }) {
		return false, nil
	}
	if s.Filter == nil || kind != sdk.KindUser {
		return true, nil
	}
	out, err := s.Filter.Apply(ctx, mapping.Input{Kind: kind, ID: id, Attributes: attrs})
	if err != nil {
		return false, fmt.Errorf("scope filter: %w", err)
	}
	v := out[filterAttribute]
	if v.Type() != sdk.TypeBool {
		return false, fmt.Errorf("scope filter of %s: the expression must be true or false, not %s", id, v.Type())
	}
	return v.BoolValue(), nil
}
