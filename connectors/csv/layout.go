package csv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/midstream-io/midstream/sdk"
)

// layout is where the configured columns are in a file's header.
type layout struct {
	header []string
	width  int

	// Indexes of the role columns, -1 when not configured.
	id, state, dept, manager int
	// org file columns
	orgID, orgParent, orgName int

	attrs    []attrColumn // in column order
	required []int
}

type attrColumn struct {
	index int
	name  string
}

// headerProblem is a header that does not match the configuration: col is
// the 1-based column it is about (0 for a missing column) and path the
// attribute of the configuration that names it.
type headerProblem struct {
	col  int
	path sdk.Path
	msg  string
}

// userLayout matches the main file's header against the configuration.
func (s *settings) userLayout(header []string) (*layout, []headerProblem) {
	l, idx := newLayout(header, s.trim)
	var probs []headerProblem
	find := func(name string, path sdk.Path) int {
		i, p := idx.find(name, path)
		if p != nil {
			probs = append(probs, *p)
		}
		return i
	}
	l.id = find(s.idCol, sdk.Path{idColumnField})
	if s.stateCol != "" {
		l.state = find(s.stateCol, sdk.Path{stateColumnField})
	}
	if s.deptCol != "" {
		l.dept = find(s.deptCol, sdk.Path{departmentColumnField})
	}
	if s.managerCol != "" {
		l.manager = find(s.managerCol, sdk.Path{managerColumnField})
	}
	l.required = append(l.required, l.id)
	for i, h := range s.required {
		if c := find(h, sdk.Path{requiredColumnsField, strconv.Itoa(i)}); c >= 0 && !slices.Contains(l.required, c) {
			l.required = append(l.required, c)
		}
	}
	slices.Sort(l.required)

	if s.columns != nil {
		for _, h := range sortedKeys(s.columns) {
			if c := find(h, sdk.Path{columnsField, h}); c >= 0 {
				l.attrs = append(l.attrs, attrColumn{c, s.columns[h]})
			}
		}
		slices.SortFunc(l.attrs, func(a, b attrColumn) int { return a.index - b.index })
		return l, probs
	}

	// Every other column is kept under its own name, so every name must be
	// unique and must not shadow the manager attribute.
	roles := []string{s.idCol, s.stateCol, s.deptCol, s.managerCol}
	for c, h := range l.header {
		if h == "" || slices.Contains(roles, h) {
			continue
		}
		if first := idx.first[h]; first != c {
			probs = append(probs, headerProblem{col: c + 1, msg: fmt.Sprintf(
				"column name %q is also column %d; rename one, or set columns to choose which becomes an attribute", h, first+1)})
			continue
		}
		if h == managerAttribute && l.manager >= 0 {
			probs = append(probs, headerProblem{col: c + 1, path: sdk.Path{managerColumnField}, msg: fmt.Sprintf(
				"column name %q clashes with the attribute holding manager_column's value; set columns to map it to another name", h)})
			continue
		}
		l.attrs = append(l.attrs, attrColumn{c, h})
	}
	return l, probs
}

// orgLayout matches the org file's header against the configuration.
func (s *settings) orgLayout(header []string) (*layout, []headerProblem) {
	l, idx := newLayout(header, s.trim)
	var probs []headerProblem
	find := func(name string, path sdk.Path) int {
		i, p := idx.find(name, path)
		if p != nil {
			probs = append(probs, *p)
		}
		return i
	}
	l.orgID = find(s.orgIDCol, sdk.Path{orgIDColumnField})
	l.required = []int{l.orgID}
	if s.orgParentCol != "" {
		l.orgParent = find(s.orgParentCol, sdk.Path{orgParentColumnField})
	}
	if s.orgNameCol != "" {
		l.orgName = find(s.orgNameCol, sdk.Path{orgNameColumnField})
	}
	return l, probs
}

type headerIndex struct {
	first  map[string]int
	header []string
}

func newLayout(header []string, trim bool) (*layout, headerIndex) {
	l := &layout{
		header: make([]string, len(header)),
		width:  len(header),
		id:     -1, state: -1, dept: -1, manager: -1,
		orgID: -1, orgParent: -1, orgName: -1,
	}
	idx := headerIndex{first: make(map[string]int, len(header)), header: l.header}
	for i, h := range header {
		if trim {
			h = trimSpace(h)
		}
		h = strings.Clone(h)
		l.header[i] = h
		if _, dup := idx.first[h]; !dup {
			idx.first[h] = i
		}
	}
	return l, idx
}

// find returns the index of the column named name, which the attribute at
// path configures.
func (x headerIndex) find(name string, path sdk.Path) (int, *headerProblem) {
	i, ok := x.first[name]
	if !ok {
		return -1, &headerProblem{path: path, msg: fmt.Sprintf("no column %q (%s); the header has %s", name, path[0], listHeaders(x.header))}
	}
	for j := i + 1; j < len(x.header); j++ {
		if x.header[j] == name {
			return -1, &headerProblem{col: j + 1, path: path, msg: fmt.Sprintf("column %q (%s) appears twice, as columns %d and %d; rename one", name, path[0], i+1, j+1)}
		}
	}
	return i, nil
}

// listHeaders quotes a header for a message, shortened when it is wide.
func listHeaders(h []string) string {
	const max = 20
	q := make([]string, 0, min(len(h), max))
	for i, s := range h {
		if i == max {
			return strings.Join(q, ", ") + fmt.Sprintf(" and %d more", len(h)-max)
		}
		q = append(q, strconv.Quote(s))
	}
	return strings.Join(q, ", ")
}

// name returns the header of the 0-based column c, or "" past the header.
func (l *layout) name(c int) string {
	if c >= 0 && c < len(l.header) {
		return l.header[c]
	}
	return ""
}
