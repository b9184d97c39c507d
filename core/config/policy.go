package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// Policy says what a target does when an object is deleted or disabled
// upstream, or leaves the target's scope (OneAccess's defaults).
type Policy struct {
	// UserDeleted: "delete" (default), "disable" or "keep".
	UserDeleted string
	// UserDisabled: "disable" (default) or "keep".
	UserDisabled string
	// OrgDeleted: "delete" (default), "disable" or "keep".
	OrgDeleted string
	// OrgDisabled: "disable" (default) or "keep".
	OrgDisabled string
}

// DefaultPolicy is OneAccess's.
var DefaultPolicy = Policy{UserDeleted: "delete", UserDisabled: "disable", OrgDeleted: "delete", OrgDisabled: "disable"}

const policyBlock = "policy"

var policySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "user_deleted"}, {Name: "user_disabled"}, {Name: "org_deleted"}, {Name: "org_disabled"},
}}

// policy decodes a target's policy block, if any.
func (l *loader) policy(blocks hcl.Blocks) Policy {
	p := DefaultPolicy
	seen := false
	for _, b := range blocks {
		if b.Type != policyBlock {
			continue
		}
		if seen {
			l.errorf(b.DefRange, "Duplicate policy block", "A target takes one policy block; merge the two.")
			continue
		}
		seen = true
		content, diags := b.Body.Content(policySchema)
		l.diags = append(l.diags, diags...)
		for _, f := range []struct {
			name    string
			dst     *string
			options []string
		}{
			{"user_deleted", &p.UserDeleted, []string{"delete", "disable", "keep"}},
			{"user_disabled", &p.UserDisabled, []string{"disable", "keep"}},
			{"org_deleted", &p.OrgDeleted, []string{"delete", "disable", "keep"}},
			{"org_disabled", &p.OrgDisabled, []string{"disable", "keep"}},
		} {
			a := content.Attributes[f.name]
			if a == nil {
				continue
			}
			v, ok := l.stringValue(a)
			if !ok {
				continue
			}
			if !slices.Contains(f.options, v) {
				l.errorf(a.Expr.Range(), "Invalid policy",
					"%s must be one of %s, not %q.", f.name, quoted(f.options), v)
				continue
			}
			*f.dst = v
		}
	}
	return p
}

func quoted(options []string) string {
	s := ""
	for i, o := range options {
		switch {
		case i == len(options)-1 && i > 0:
			s += " or "
		case i > 0:
			s += ", "
		}
		s += fmt.Sprintf("%q", o)
	}
	return s
}
