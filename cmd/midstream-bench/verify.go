package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/midstream-io/midstream/sdk"
)

// verify compares what the application holds with what the model says it
// must: exactly the departments and the users not marked 离职, with their
// names, parents, states (disabled or not), employee numbers, titles,
// mobiles and managers (when the mapping sends them). hub maps kind + "\x00" + external id to hub ids (the
// engine's store); held is the receiver's state. It returns a description
// of each difference, empty when they match.
func verify(m *model, hub map[string]string, held []*heldObject, manager bool) []string {
	var diffs []string
	addf := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	byHub := make(map[string]*heldObject, len(held))
	for _, o := range held {
		byHub[string(o.Kind)+"\x00"+o.HubID] = o
	}
	seen := make(map[string]bool, len(held))
	hubOf := func(kind sdk.Kind, ext string) string { return hub[string(kind)+"\x00"+ext] }
	find := func(kind sdk.Kind, ext string) *heldObject {
		h := hubOf(kind, ext)
		if h == "" {
			addf("%s %s: not in the engine's store", kind, ext)
			return nil
		}
		o := byHub[string(kind)+"\x00"+h]
		if o == nil {
			addf("%s %s (%s): missing in the application", kind, ext, h)
			return nil
		}
		seen[string(kind)+"\x00"+h] = true
		return o
	}
	str := func(o *heldObject, name string) string {
		s, _ := o.Attributes[name].(string)
		return s
	}
	for _, g := range m.orgs {
		o := find(sdk.KindOrg, g.path)
		if o == nil {
			continue
		}
		wantParent := ""
		if g.parent >= 0 {
			wantParent = hubOf(sdk.KindOrg, m.orgs[g.parent].path)
		}
		if o.DisplayName != g.name || str(o, "name") != g.name {
			addf("org %s: name %q (attribute %q), want %q", g.path, o.DisplayName, str(o, "name"), g.name)
		}
		if o.Parent != wantParent {
			addf("org %s: parent %q, want %q", g.path, o.Parent, wantParent)
		}
		if o.Disabled {
			addf("org %s: disabled", g.path)
		}
	}
	for _, u := range m.users {
		if u.state == stateLeft {
			continue
		}
		o := find(sdk.KindUser, u.id)
		if o == nil {
			continue
		}
		path := m.orgs[u.org].path
		if o.DisplayName != u.name {
			addf("user %s: name %q, want %q", u.id, o.DisplayName, u.name)
		}
		if want := hubOf(sdk.KindOrg, path); o.Parent != want {
			addf("user %s: parent %q, want %q (%s)", u.id, o.Parent, want, path)
		}
		if want := u.state == stateDisabled; o.Disabled != want {
			addf("user %s: disabled %t, want %t", u.id, o.Disabled, want)
		}
		if got := str(o, "employeeNo"); got != u.id {
			addf("user %s: employeeNo %q", u.id, got)
		}
		if got := str(o, "title"); got != u.title {
			addf("user %s: title %q, want %q", u.id, got, u.title)
		}
		if got, want := str(o, "mobile"), strings.NewReplacer(" ", "", "-", "").Replace(u.mobile); got != want {
			addf("user %s: mobile %q, want %q", u.id, got, want)
		}
		if !manager {
			continue
		}
		wantMgr := ""
		if u.manager >= 0 {
			wantMgr = appID(sdk.KindUser, hubOf(sdk.KindUser, m.users[u.manager].id))
		}
		if got := str(o, "manager"); got != wantMgr {
			addf("user %s: manager %q, want %q", u.id, got, wantMgr)
		}
	}
	var extra []string
	for k, o := range byHub {
		if !seen[k] {
			extra = append(extra, fmt.Sprintf("%s %s (%s)", o.Kind, o.HubID, o.DisplayName))
		}
	}
	sort.Strings(extra)
	for _, e := range extra {
		addf("%s: held by the application, not expected", e)
	}
	return diffs
}
