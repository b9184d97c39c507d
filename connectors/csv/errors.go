package csv

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// MaxReported is how many problems an [InputError] lists. A file with the
// wrong delimiter is wrong on every row; the first problems say why, and
// the rest are only counted.
const MaxReported = 1000

// RowError is one problem of an input file, located by line and column.
type RowError struct {
	// File is the file's path as configured.
	File string
	// Line is the physical line (1-based) where the bad row starts; a
	// quoted field with line breaks makes a row span several lines. Zero for
	// a problem of the whole file.
	Line int
	// Column is the 1-based index of the bad field in its row; zero for a
	// problem of the whole row.
	Column int
	// Header is the header of the bad field's column, when it has one.
	Header string
	// Msg says what is wrong.
	Msg string
}

// Error formats e as file:line:col: header: msg, leaving out what is unknown.
func (e RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Header != "" {
		b.WriteString(e.Header)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// InputError is bad input: every problem the first pass found in the file
// (and the org file), in file order. [Connector.Read] returns it, wrapped in
// an *sdk.Error of category permanent, before emitting any record, so bad
// input changes nothing in the directory. Use errors.As to get it.
type InputError struct {
	// Problems lists the first [MaxReported] problems, sorted by file,
	// line and column.
	Problems []RowError
	// Omitted counts the problems found beyond those listed.
	Omitted int
}

// Error lists the problems one per line.
func (e *InputError) Error() string {
	if len(e.Problems) == 1 && e.Omitted == 0 {
		return "bad input, no records read: " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bad input, no records read: %d problems", len(e.Problems)+e.Omitted)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.Omitted)
	}
	return b.String()
}

// Hint tells the operator what to do; the CLI prints it under the error.
func (e *InputError) Hint() string {
	return "fix the listed rows in the export (or the csv source's settings) and run again; nothing was changed"
}

// problems collects RowErrors up to MaxReported.
type problems struct {
	list    []RowError
	omitted int
}

func (p *problems) add(e RowError) {
	if len(p.list) >= MaxReported {
		p.omitted++
		return
	}
	p.list = append(p.list, e)
}

func (p *problems) any() bool { return len(p.list) > 0 }

// err returns the problems as an *InputError, or nil when there are none.
func (p *problems) err(fileOrder ...string) *InputError {
	if len(p.list) == 0 {
		return nil
	}
	rank := func(f string) int {
		if i := slices.Index(fileOrder, f); i >= 0 {
			return i
		}
		return len(fileOrder)
	}
	slices.SortStableFunc(p.list, func(a, b RowError) int {
		return cmp.Or(cmp.Compare(rank(a.File), rank(b.File)), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &InputError{Problems: p.list, Omitted: p.omitted}
}
