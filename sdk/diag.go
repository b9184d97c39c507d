package sdk

import (
	"fmt"
	"strings"
)

// Severity is how bad a diagnostic is.
type Severity uint8

// Diagnostic severities.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Path locates a value inside a connector's configuration block: an
// attribute name, then map keys or list indexes as strings.
type Path []string

func (p Path) String() string { return strings.Join(p, ".") }

// Diagnostic is a problem a user can act on.
type Diagnostic struct {
	Severity Severity
	// Summary is a short title ("Unknown encoding").
	Summary string
	// Detail says what is wrong and how to fix it, in full sentences.
	Detail string
	// Path is the configuration attribute the problem is about, if any; the
	// host turns it into file:line:col in the user's HCL.
	Path Path
}

func (d Diagnostic) String() string {
	s := d.Severity.String() + ": "
	if len(d.Path) > 0 {
		s += d.Path.String() + ": "
	}
	s += d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// Diagnostics is a list of diagnostics, collected rather than stopping at
// the first.
type Diagnostics []Diagnostic

// AddError appends an error about the attribute at path (nil for none).
func (ds *Diagnostics) AddError(path Path, summary, detail string) {
	*ds = append(*ds, Diagnostic{Severity: SeverityError, Summary: summary, Detail: detail, Path: path})
}

// AddWarning appends a warning about the attribute at path (nil for none).
func (ds *Diagnostics) AddWarning(path Path, summary, detail string) {
	*ds = append(*ds, Diagnostic{Severity: SeverityWarning, Summary: summary, Detail: detail, Path: path})
}

// HasError reports whether ds holds an error.
func (ds Diagnostics) HasError() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Err returns the errors of ds as one error, or nil.
func (ds Diagnostics) Err() error {
	var msgs []string
	for _, d := range ds {
		if d.Severity == SeverityError {
			msgs = append(msgs, d.String())
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s", msgs[0])
	}
	return fmt.Errorf("%d errors:\n  %s", len(msgs), strings.Join(msgs, "\n  "))
}
