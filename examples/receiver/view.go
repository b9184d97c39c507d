package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/width"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
)

// View is the state arranged for people: departments in tree order, users
// sorted, references resolved. The page and the dump both show it.
type View struct {
	Depts []DeptView
	Users []UserView
	// Disabled counts the disabled users; Recreated the hub ids for which
	// more than one object was created.
	Disabled, Recreated int
}

// DeptView is one department.
type DeptView struct {
	ID, HubID, Name string
	Path            string // names from the root, joined by "/"
	Depth           int
	Tree            string // the tree drawing before the name: "│   ├── "
	Active          bool
	Users           int // users directly in it
	Attributes      callback.Attributes
}

// UserView is one user.
type UserView struct {
	ID, HubID string
	UserName  string
	Name      string // displayName attribute, else the hub's display name
	Title     string
	Email     string
	Mobile    string
	Dept      string // the department's path
	DeptID    string
	// Manager is the manager attribute as received; ManagerName and
	// ManagerUser name the user it refers to when it is an id this
	// application holds.
	Manager, ManagerName, ManagerUser string
	Active                            bool
	Attributes                        callback.Attributes
}

// shownAttributes are the user attributes shown in their own columns.
var shownAttributes = map[string]bool{"userName": true, "displayName": true, "title": true, "email": true, "mobile": true, "manager": true}

// Summary is the last line of the dump: "N departments, M users (K disabled)".
func (v *View) Summary() string {
	return fmt.Sprintf("%d departments, %d users (%d disabled)", len(v.Depts), len(v.Users), v.Disabled)
}

// Other lists the attributes without a column of their own, as name=value.
func (u UserView) Other() string {
	var parts []string
	for _, k := range u.Attributes.Names() {
		if !shownAttributes[k] {
			parts = append(parts, k+"="+attrString(u.Attributes[k]))
		}
	}
	return strings.Join(parts, " ")
}

func attrString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func buildView(st *State) *View {
	v := &View{}
	children := map[string][]string{} // parent id → org ids
	var roots []string
	for _, id := range sortedIDs(st.Objects) {
		o := st.Objects[id]
		if o.Kind != sdk.KindOrg {
			continue
		}
		if p := st.Objects[o.Parent]; p != nil && p.Kind == sdk.KindOrg {
			children[o.Parent] = append(children[o.Parent], id)
		} else {
			roots = append(roots, id)
		}
	}
	byName := func(ids []string) {
		sort.SliceStable(ids, func(i, j int) bool { return orgName(st.Objects[ids[i]]) < orgName(st.Objects[ids[j]]) })
	}
	userCount := map[string]int{}
	for _, o := range st.Objects {
		if o.Kind == sdk.KindUser {
			userCount[o.Parent]++
		}
	}
	paths := map[string]string{}
	seen := map[string]bool{}
	var walk func(id, path, lead string, depth int, last bool)
	walk = func(id, path, lead string, depth int, last bool) {
		if seen[id] {
			return // a cycle in a hand-edited file
		}
		seen[id] = true
		o := st.Objects[id]
		name := orgName(o)
		if path != "" {
			path += "/"
		}
		path += name
		paths[id] = path
		tree, next := "", ""
		if depth > 0 {
			tree, next = lead+"├── ", lead+"│   "
			if last {
				tree, next = lead+"└── ", lead+"    "
			}
		}
		v.Depts = append(v.Depts, DeptView{
			ID: id, HubID: o.HubID, Name: name, Path: path, Depth: depth, Tree: tree,
			Active: o.Active, Users: userCount[id], Attributes: o.Attributes,
		})
		kids := children[id]
		byName(kids)
		for i, c := range kids {
			walk(c, path, next, depth+1, i == len(kids)-1)
		}
	}
	byName(roots)
	for _, id := range roots {
		walk(id, "", "", 0, true)
	}

	for id, o := range st.Objects {
		if o.Kind != sdk.KindUser {
			continue
		}
		u := UserView{
			ID: id, HubID: o.HubID, Active: o.Active, Attributes: o.Attributes,
			UserName: o.Attributes.String("userName"),
			Name:     o.Attributes.String("displayName"),
			Title:    o.Attributes.String("title"),
			Email:    o.Attributes.String("email"),
			Mobile:   o.Attributes.String("mobile"),
			Manager:  o.Attributes.String("manager"),
			DeptID:   o.Parent,
			Dept:     paths[o.Parent],
		}
		if u.Name == "" {
			u.Name = o.DisplayName
		}
		if m := findUser(st, u.Manager); m != nil {
			u.ManagerName = m.Attributes.String("displayName")
			if u.ManagerName == "" {
				u.ManagerName = m.DisplayName
			}
			u.ManagerUser = m.Attributes.String("userName")
		}
		if !o.Active {
			v.Disabled++
		}
		v.Users = append(v.Users, u)
	}
	sort.Slice(v.Users, func(i, j int) bool {
		a, b := v.Users[i], v.Users[j]
		if a.UserName != b.UserName {
			return a.UserName < b.UserName
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.HubID < b.HubID
	})
	for _, n := range st.Creates {
		if n > 1 {
			v.Recreated++
		}
	}
	return v
}

// findUser finds the user a reference attribute names: by this
// application's id, as the hub sends references it has linked, or else by
// hub id.
func findUser(st *State, ref string) *Object {
	if ref == "" {
		return nil
	}
	if o := st.Objects[ref]; o != nil && o.Kind == sdk.KindUser {
		return o
	}
	for _, o := range st.Objects {
		if o.Kind == sdk.KindUser && o.HubID == ref {
			return o
		}
	}
	return nil
}

func orgName(o *Object) string {
	if n := o.Attributes.String("name"); n != "" {
		return n
	}
	if o.DisplayName != "" {
		return o.DisplayName
	}
	return o.HubID
}

// sortedIDs returns the ids in the order D1 < D2 < D10 < U1001.
func sortedIDs(objs map[string]*Object) []string {
	ids := make([]string, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if len(a) > 0 && len(b) > 0 && a[0] == b[0] {
			na, ea := strconv.Atoi(a[1:])
			nb, eb := strconv.Atoi(b[1:])
			if ea == nil && eb == nil {
				return na < nb
			}
		}
		return a < b
	})
	return ids
}

// writeText prints the view for people.
func writeText(w io.Writer, v *View) error {
	var b strings.Builder
	b.WriteString("Departments\n")
	rows := [][]string{}
	for _, d := range v.Depts {
		label := d.Tree + d.Name
		if !d.Active {
			label += " (disabled)"
		}
		rows = append(rows, []string{"  " + label, plural(d.Users, "user"), d.ID})
	}
	table(&b, rows)
	b.WriteString("\nUsers\n")
	rows = [][]string{{"  ID", "USER NAME", "NAME", "STATE", "TITLE", "MANAGER", "DEPARTMENT"}}
	for _, u := range v.Users {
		state := "active"
		if !u.Active {
			state = "disabled"
		}
		manager := u.ManagerUser
		if manager == "" {
			manager = u.Manager
		}
		rows = append(rows, []string{"  " + u.ID, dash(u.UserName), dash(u.Name), state, dash(u.Title), dash(manager), dash(u.Dept)})
	}
	table(&b, rows)
	b.WriteString("\n" + v.Summary() + "\n")
	if v.Recreated > 0 {
		fmt.Fprintf(&b, "%d hub ids had more than one object created (deleted and created again)\n", v.Recreated)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table writes rows in aligned columns, counting Chinese characters as two
// columns wide, as terminals show them.
func table(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], textWidth(c))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-textWidth(c)+2))
			}
		}
		b.WriteString("\n")
	}
}

func textWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// The JSON dump: sorted, and free of ids unless asked, so that two
// applications that received the same changes dump the same document,
// whatever ids they gave and in whatever order the events came.

type dumpDoc struct {
	Departments []dumpDept `json:"departments"`
	Users       []dumpUser `json:"users"`
	Summary     dumpSum    `json:"summary"`
}

type dumpDept struct {
	Path       string              `json:"path"`
	ID         string              `json:"id,omitempty"`
	HubID      string              `json:"hubId,omitempty"`
	Active     bool                `json:"active"`
	Users      int                 `json:"users"`
	Attributes callback.Attributes `json:"attributes"`
}

type dumpUser struct {
	UserName   string `json:"userName"`
	ID         string `json:"id,omitempty"`
	HubID      string `json:"hubId,omitempty"`
	Department string `json:"department"`
	Active     bool   `json:"active"`
	// Manager is the manager's user name when the manager attribute names a
	// user held here (the attribute itself is then left out of Attributes,
	// unless ids are asked for), else the attribute as received.
	Manager    string              `json:"manager,omitempty"`
	Attributes callback.Attributes `json:"attributes"`
}

type dumpSum struct {
	Departments int `json:"departments"`
	Users       int `json:"users"`
	Disabled    int `json:"disabled"`
	Recreated   int `json:"recreated"`
}

func writeJSON(w io.Writer, v *View, ids bool) error {
	doc := dumpDoc{
		Departments: []dumpDept{},
		Users:       []dumpUser{},
		Summary:     dumpSum{Departments: len(v.Depts), Users: len(v.Users), Disabled: v.Disabled, Recreated: v.Recreated},
	}
	for _, d := range v.Depts {
		dd := dumpDept{Path: d.Path, Active: d.Active, Users: d.Users, Attributes: nonNil(d.Attributes)}
		if ids {
			dd.ID, dd.HubID = d.ID, d.HubID
		}
		doc.Departments = append(doc.Departments, dd)
	}
	sort.SliceStable(doc.Departments, func(i, j int) bool { return doc.Departments[i].Path < doc.Departments[j].Path })
	for _, u := range v.Users {
		du := dumpUser{UserName: u.UserName, Department: u.Dept, Active: u.Active, Manager: u.Manager, Attributes: nonNil(u.Attributes)}
		if ids {
			du.ID, du.HubID = u.ID, u.HubID
		} else if u.ManagerUser != "" {
			du.Manager = u.ManagerUser
			du.Attributes = u.Attributes.Clone()
			delete(du.Attributes, "manager")
		}
		doc.Users = append(doc.Users, du)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func nonNil(a callback.Attributes) callback.Attributes {
	if a == nil {
		return callback.Attributes{}
	}
	return a
}
