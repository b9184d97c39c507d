// Package mappingtest runs mapping fixtures: JSON files that list input
// records and the attributes a mapping should compute for them, so
// mappings are tested like code (`midstream mapping test`).
//
// # Fixture files
//
// A pipeline's fixtures are its *_test.json files and the .json files of
// its mapping_tests folder. Each holds an object with defaults and a list
// of cases, or just the list:
//
//	{
//	  "target": "app",                      // whose mappings the cases run (or "source")
//	  "now": "2026-05-06T07:08:09Z",        // the run's start time, what now() returns
//	  "cases": [
//	    {
//	      "name": "a Chinese name",          // shown in failures (default: the case's number)
//	      "kind": "user",                    // "user" (default) or "org"
//	      "object": {                        // what scripts see as object (all optional)
//	        "id": "100001",
//	        "state": "active",
//	        "org": {"id": "D101", "attributes": {"name": "研发中心"}},
//	        "orgPath": ["星河集团", "研发中心"],
//	        "manager": {"id": "100002", "attributes": {"name": "周思雨"}}
//	      },
//	      "input": {"name": "张伟", "email": "zhang.wei@example.com"},
//	      "expected": {"userName": "zhang.wei", "email": "zhang.wei@example.com"}
//	    },
//	    {
//	      "name": "a namesake",
//	      "input": {"name": "章伟"},
//	      "taken": {"userName": ["zhang.wei"]},  // values other objects hold (unique attributes)
//	      "expected": {"userName": "zhang.wei2"}
//	    },
//	    {
//	      "name": "no name",
//	      "input": {},
//	      "error": "is required"                // the mapping must fail, with this in its error
//	    }
//	  ]
//	}
//
// Attribute values are JSON strings, whole numbers, true, false, null and
// arrays of strings; a datetime is written {"datetime": "2024-05-06T07:08:09Z"}.
// The expected attributes are the whole result: an attribute the mapping
// computes that is not listed fails the case, as does a listed one it does
// not compute. "update": true maps the object as an update, which leaves
// create_only attributes out; "reserved" gives the unique values the
// object already holds.
package mappingtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

// FolderName is the folder of a pipeline whose .json files are fixtures.
const FolderName = "mapping_tests"

// Suffix ends the name of a fixture file beside the pipeline.
const Suffix = "_test.json"

// Find returns the fixture files of the pipeline in dir, in name order:
// dir/*_test.json, then dir/mapping_tests/*.json.
func Find(dir string) ([]string, error) {
	beside, err := filepath.Glob(filepath.Join(dir, "*"+Suffix))
	if err != nil {
		return nil, err
	}
	inFolder, err := filepath.Glob(filepath.Join(dir, FolderName, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(beside)
	slices.Sort(inFolder)
	return append(beside, inFolder...), nil
}

// File is one fixture file.
type File struct {
	// Path is the file's path.
	Path string
	// Cases are its cases, with the file's defaults applied.
	Cases []*Case
}

// Case is one input record and what its mapping should give.
type Case struct {
	// Name names the case in messages: its "name", or "case N".
	Name string
	// Target or Source names whose mapping runs ("" for neither: the
	// caller decides).
	Target, Source string
	// Input is what the mapping is given; Input.Uniqueness holds the
	// fixture's "taken" values.
	Input mapping.Input
	// Expected are the attributes the mapping should compute, unless
	// Error is set: then the mapping should fail with an error that
	// contains it.
	Expected sdk.Attributes
	Error    string
}

// The JSON forms.
type (
	jsonFile struct {
		Target string            `json:"target"`
		Source string            `json:"source"`
		Now    string            `json:"now"`
		Cases  []json.RawMessage `json:"cases"`
	}
	jsonCase struct {
		Name     string                     `json:"name"`
		Target   string                     `json:"target"`
		Source   string                     `json:"source"`
		Kind     string                     `json:"kind"`
		Now      string                     `json:"now"`
		Object   jsonObject                 `json:"object"`
		Input    map[string]json.RawMessage `json:"input"`
		Update   bool                       `json:"update"`
		Taken    map[string][]string        `json:"taken"`
		Reserved map[string]string          `json:"reserved"`
		Expected map[string]json.RawMessage `json:"expected"`
		Error    string                     `json:"error"`
	}
	jsonObject struct {
		ID      string       `json:"id"`
		State   string       `json:"state"`
		Org     *jsonRelated `json:"org"`
		OrgPath []string     `json:"orgPath"`
		Manager *jsonRelated `json:"manager"`
	}
	jsonRelated struct {
		ID         string                     `json:"id"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
)

// Load reads a fixture file. Its mistakes are errors naming the file and
// the case.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, raw)
}

// Parse reads the fixture file path holds as raw.
func Parse(path string, raw []byte) (*File, error) {
	var jf jsonFile
	trimmed := bytes.TrimSpace(raw)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		err := json.Unmarshal(trimmed, &jf.Cases)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, jsonError(raw, err))
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, jsonError(raw, err))
		}
	}
	f := &File{Path: path}
	for i, rc := range jf.Cases {
		c, err := parseCase(rc, &jf, i)
		if err != nil {
			return nil, fmt.Errorf("%s: case %d: %w", path, i+1, err)
		}
		f.Cases = append(f.Cases, c)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases; list them in \"cases\"", path)
	}
	return f, nil
}

func parseCase(raw json.RawMessage, jf *jsonFile, i int) (*Case, error) {
	var jc jsonCase
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return nil, jsonError(raw, err)
	}
	c := &Case{Name: jc.Name, Target: jc.Target, Source: jc.Source, Error: jc.Error}
	if c.Name == "" {
		c.Name = "case " + strconv.Itoa(i+1)
	}
	if c.Target == "" && c.Source == "" {
		c.Target, c.Source = jf.Target, jf.Source
	}
	if c.Target != "" && c.Source != "" {
		return nil, errors.New(`set one of "target" and "source", not both`)
	}
	kind := sdk.Kind(jc.Kind)
	if kind == "" {
		kind = sdk.KindUser
	}
	if !kind.Valid() {
		return nil, fmt.Errorf(`"kind" is "user" or "org", not %q`, jc.Kind)
	}
	state := sdk.State(jc.Object.State)
	if state == "" {
		state = sdk.StateActive
	}
	if !state.Valid() {
		return nil, fmt.Errorf(`"state" is "active", "disabled" or "deleted", not %q`, jc.Object.State)
	}
	now := jc.Now
	if now == "" {
		now = jf.Now
	}
	var at time.Time
	if now != "" {
		t, err := time.Parse(time.RFC3339Nano, now)
		if err != nil {
			return nil, fmt.Errorf(`"now" is an RFC 3339 time such as 2026-05-06T07:08:09Z, not %q`, now)
		}
		at = t
	}
	id := jc.Object.ID
	if id == "" {
		id = c.Name
	}
	in, err := attributes(jc.Input, "input")
	if err != nil {
		return nil, err
	}
	c.Input = mapping.Input{Kind: kind, ID: id, State: state, Attributes: in, Target: c.Target, Now: at,
		OrgPath: jc.Object.OrgPath, Reserved: jc.Reserved, Update: jc.Update,
		Uniqueness: taken(jc.Taken)}
	if c.Input.Org, err = related(jc.Object.Org, "org"); err != nil {
		return nil, err
	}
	if c.Input.Manager, err = related(jc.Object.Manager, "manager"); err != nil {
		return nil, err
	}
	if jc.Expected == nil && jc.Error == "" {
		return nil, errors.New(`give the "expected" attributes, or the "error" the mapping should fail with`)
	}
	if jc.Expected != nil && jc.Error != "" {
		return nil, errors.New(`set one of "expected" and "error", not both`)
	}
	if c.Expected, err = attributes(jc.Expected, "expected"); err != nil {
		return nil, err
	}
	return c, nil
}

func related(r *jsonRelated, what string) (*mapping.Related, error) {
	if r == nil {
		return nil, nil
	}
	attrs, err := attributes(r.Attributes, what+" attributes")
	if err != nil {
		return nil, err
	}
	return &mapping.Related{ID: r.ID, Attributes: attrs}, nil
}

func attributes(m map[string]json.RawMessage, what string) (sdk.Attributes, error) {
	if m == nil {
		return nil, nil
	}
	out := make(sdk.Attributes, len(m))
	for name, raw := range m {
		v, err := Value(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, name, err)
		}
		out[name] = v
	}
	return out, nil
}

// Value reads an attribute value written in JSON: a string, a whole
// number, true, false, null, an array of strings, or {"datetime": "…"}
// (RFC 3339).
func Value(raw json.RawMessage) (sdk.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return sdk.Value{}, err
	}
	const want = `write a string, a whole number, true, false, null, an array of strings or {"datetime": "2024-05-06T07:08:09Z"}`
	switch x := x.(type) {
	case nil:
		return sdk.Null(), nil
	case string:
		return sdk.String(x), nil
	case bool:
		return sdk.Bool(x), nil
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return sdk.Value{}, fmt.Errorf("%s is not a whole number; attributes have no fractions", x)
		}
		return sdk.Int(i), nil
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			s, ok := it.(string)
			if !ok {
				return sdk.Value{}, fmt.Errorf("item %d of the array is not a string; %s", i+1, want)
			}
			items[i] = s
		}
		return sdk.StringList(items...), nil
	case map[string]any:
		if s, ok := x["datetime"].(string); ok && len(x) == 1 {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return sdk.Value{}, fmt.Errorf("%q is not an RFC 3339 time such as 2024-05-06T07:08:09Z", s)
			}
			return sdk.Time(t), nil
		}
	}
	return sdk.Value{}, errors.New(want)
}

// Format writes v as a fixture writes it.
func Format(v sdk.Value) string {
	switch v.Type() {
	case sdk.TypeNull:
		return "null"
	case sdk.TypeString:
		b, _ := json.Marshal(v.Str())
		return string(b)
	case sdk.TypeTime:
		return `{"datetime": "` + v.TimeValue().Format(time.RFC3339Nano) + `"}`
	case sdk.TypeStringList:
		b, _ := json.Marshal(v.List())
		return strings.ReplaceAll(string(b), `","`, `", "`)
	}
	return v.String()
}

// jsonError adds the line and column of a syntax error.
func jsonError(raw []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off <= 0 || off > int64(len(raw)) {
		return err
	}
	off-- // the offset is after the character at fault
	line := 1 + bytes.Count(raw[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(raw[:off], '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// taken is a Uniqueness over a fixture's "taken" values: each is held by
// another object; every other value is free.
type taken map[string][]string

// Holder is the holder of a fixture's taken values, as errors name it.
const Holder = "another object (taken in the fixture)"

func (t taken) Reserve(_ context.Context, r mapping.Reservation) (string, error) {
	if slices.Contains(t[r.Attribute], r.Value) {
		return Holder, nil
	}
	return "", nil
}

// Result is the outcome of one case.
type Result struct {
	Case *Case
	// Mapping names the mapping run, as "target app, user".
	Mapping string
	// Diffs are the attributes whose value is not the expected one.
	Diffs []Diff
	// Err is why the case could not run, or the mapping's unexpected
	// error, or the missing or different expected error.
	Err error
}

// Passed reports whether the case passed.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Diffs) == 0 }

// Diff is one attribute whose value is not the expected one; Want or Got
// is nil when the attribute is not expected, or not computed.
type Diff struct {
	Attribute string
	Want, Got *sdk.Value
}

func (d Diff) String() string {
	switch {
	case d.Want == nil:
		return fmt.Sprintf("%s: not expected, got %s", d.Attribute, Format(*d.Got))
	case d.Got == nil:
		return fmt.Sprintf("%s: missing, want %s", d.Attribute, Format(*d.Want))
	}
	return fmt.Sprintf("%s: want %s, got %s", d.Attribute, Format(*d.Want), Format(*d.Got))
}

// Lookup finds the mapping a case runs: nil for a kind the source or
// target does not map (attributes pass through), and a name for messages.
type Lookup func(c *Case) (m *mapping.Mapping, name string, err error)

// Run runs c with the mapping lookup finds.
func Run(ctx context.Context, c *Case, lookup Lookup) *Result {
	r := &Result{Case: c}
	m, name, err := lookup(c)
	r.Mapping = name
	if err != nil {
		r.Err = err
		return r
	}
	in := c.Input
	var got sdk.Attributes
	if m == nil {
		got = in.Attributes.Clone()
	} else {
		res, err := m.Run(ctx, in)
		if err != nil {
			if c.Error == "" {
				r.Err = err
			} else if !strings.Contains(err.Error(), c.Error) {
				r.Err = fmt.Errorf("the mapping failed with %q, want an error with %q", err.Error(), c.Error)
			}
			return r
		}
		got = res.Attributes
	}
	if c.Error != "" {
		r.Err = fmt.Errorf("the mapping succeeded, want an error with %q", c.Error)
		return r
	}
	r.Diffs = Compare(c.Expected, got)
	return r
}

// Compare lists the attributes where got differs from want, by name.
func Compare(want, got sdk.Attributes) []Diff {
	var diffs []Diff
	names := append(want.Names(), got.Names()...)
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		w, wok := want[n]
		g, gok := got[n]
		switch {
		case wok && gok && w.Equal(g):
		case !wok:
			diffs = append(diffs, Diff{Attribute: n, Got: &g})
		case !gok:
			diffs = append(diffs, Diff{Attribute: n, Want: &w})
		default:
			diffs = append(diffs, Diff{Attribute: n, Want: &w, Got: &g})
		}
	}
	return diffs
}
