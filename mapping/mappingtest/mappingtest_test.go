package mappingtest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

var valueEq = cmp.Comparer(func(a, b sdk.Value) bool { return a.Equal(b) })

func TestValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json    string
		want    sdk.Value
		wantErr string
	}{
		{json: `"张伟"`, want: sdk.String("张伟")},
		{json: `42`, want: sdk.Int(42)},
		{json: `-7`, want: sdk.Int(-7)},
		{json: `true`, want: sdk.Bool(true)},
		{json: `null`, want: sdk.Null()},
		{json: `["a", "b"]`, want: sdk.StringList("a", "b")},
		{json: `[]`, want: sdk.StringList()},
		{json: `{"datetime": "2024-05-06T07:08:09+08:00"}`, want: sdk.Time(time.Date(2024, 5, 5, 23, 8, 9, 0, time.UTC))},
		{json: `1.5`, wantErr: "1.5 is not a whole number"},
		{json: `[1]`, wantErr: "item 1 of the array is not a string"},
		{json: `{"datetime": "yesterday"}`, wantErr: `"yesterday" is not an RFC 3339 time`},
		{json: `{"x": 1}`, wantErr: "write a string, a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			got, err := Value(json.RawMessage(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Value = %#v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, valueEq); diff != "" {
				t.Errorf("Value (-want +got):\n%s", diff)
			}
			// Format writes what Value reads.
			back, err := Value(json.RawMessage(Format(got)))
			if err != nil || !back.Equal(got) {
				t.Errorf("Value(Format(%#v)) = %#v, %v", got, back, err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	f, err := Parse("users_test.json", []byte(`{
  "target": "app",
  "now": "2026-05-06T07:08:09Z",
  "cases": [
    {
      "name": "full",
      "kind": "user",
      "object": {"id": "u-1", "state": "disabled", "org": {"id": "o-1", "attributes": {"name": "R&D"}},
                 "orgPath": ["HQ", "R&D"], "manager": {"id": "u-0"}},
      "input": {"name": "张伟"},
      "update": true,
      "reserved": {"userName": "zhang.wei2"},
      "expected": {"userName": "zhang.wei2"}
    },
    {"source": "hr", "kind": "org", "input": {}, "error": "boom"}
  ]
}`))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Cases[0]
	want := mapping.Input{Kind: sdk.KindUser, ID: "u-1", State: sdk.StateDisabled, Target: "app",
		Attributes: sdk.Attributes{"name": sdk.String("张伟")}, Now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
		Org: &mapping.Related{ID: "o-1", Attributes: sdk.Attributes{"name": sdk.String("R&D")}}, OrgPath: []string{"HQ", "R&D"},
		Manager: &mapping.Related{ID: "u-0"}, Reserved: map[string]string{"userName": "zhang.wei2"}, Update: true}
	c.Input.Uniqueness = nil
	if diff := cmp.Diff(want, c.Input, valueEq); diff != "" {
		t.Errorf("Input (-want +got):\n%s", diff)
	}
	if c.Name != "full" || c.Target != "app" || !c.Expected["userName"].Equal(sdk.String("zhang.wei2")) {
		t.Errorf("case = %+v", c)
	}
	c2 := f.Cases[1]
	if c2.Name != "case 2" || c2.Source != "hr" || c2.Target != "" || c2.Error != "boom" || c2.Input.Kind != sdk.KindOrg || c2.Input.ID != "case 2" {
		t.Errorf("case 2 = %+v", c2)
	}

	for src, wantErr := range map[string]string{
		`{"cases": []}`:              "x.json: no cases",
		`{"cases": [{"input": {}}]}`: `x.json: case 1: give the "expected" attributes, or the "error"`,
		`{"cases": [{"input": {}, "expected": {}, "error": "x"}]}`:    `set one of "expected" and "error"`,
		`{"cases": [{"target": "a", "source": "b", "expected": {}}]}`: `set one of "target" and "source"`,
		`{"cases": [{"kind": "group", "expected": {}}]}`:              `"kind" is "user" or "org", not "group"`,
		`{"cases": [{"object": {"state": "gone"}, "expected": {}}]}`:  `"state" is "active", "disabled" or "deleted"`,
		`{"now": "today", "cases": [{"expected": {}}]}`:               `"now" is an RFC 3339 time`,
		`{"cases": [{"expected": {}, "inputs": {}}]}`:                 `unknown field "inputs"`,
		`{"target": "app",` + "\n" + `  "cases": [}`:                  "x.json: line 2, column 13: invalid character '}'",
		`[{"expected": {"a": 1.5}}]`:                                  `case 1: expected "a": 1.5 is not a whole number`,
	} {
		if _, err := Parse("x.json", []byte(src)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse(%s) = %v, want an error with %q", src, err, wantErr)
		}
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"b_test.json", "a_test.json", "notes.json", FolderName + "/z.json", FolderName + "/readme.md"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Find(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a_test.json"), filepath.Join(dir, "b_test.json"), filepath.Join(dir, FolderName, "z.json")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Find (-want +got):\n%s", diff)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	m, err := mapping.Compile(mapping.Spec{Kind: sdk.KindUser, Attributes: []mapping.Attribute{
		{Name: "userName", Script: "pinyinName(record.name)", Unique: true, OnConflict: mapping.ConflictSuffix, Required: true},
		{Name: "when", Script: "now()"},
	}}, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("t.json", []byte(`{"target": "app", "now": "2026-05-06T07:08:09Z", "cases": [
		{"name": "ok", "input": {"name": "张伟"}, "expected": {"userName": "zhang.wei", "when": {"datetime": "2026-05-06T07:08:09Z"}}},
		{"name": "taken", "input": {"name": "张伟"}, "taken": {"userName": ["zhang.wei", "zhang.wei2"]}, "expected": {"userName": "zhang.wei3", "when": {"datetime": "2026-05-06T07:08:09Z"}}},
		{"name": "diff", "input": {"name": "张伟"}, "expected": {"userName": "wei", "extra": null}},
		{"name": "error", "input": {}, "error": "is required"},
		{"name": "other error", "input": {}, "error": "is taken"},
		{"name": "unexpected error", "input": {}, "expected": {}},
		{"name": "pass through", "kind": "org", "input": {"name": "HQ"}, "expected": {"name": "HQ"}},
		{"name": "no mapping", "source": "nope", "input": {}, "expected": {}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(c *Case) (*mapping.Mapping, string, error) {
		if c.Source != "" {
			return nil, "source " + c.Source, errors.New("no such source")
		}
		if c.Input.Kind == sdk.KindOrg {
			return nil, "target app, org", nil
		}
		return m, "target app, user", nil
	}
	var got []string
	for _, c := range f.Cases {
		r := Run(context.Background(), c, lookup)
		line := c.Name + ":"
		if r.Passed() {
			line += " ok"
		}
		if r.Err != nil {
			line += " " + r.Err.Error()
		}
		for _, d := range r.Diffs {
			line += " [" + d.String() + "]"
		}
		got = append(got, line)
	}
	want := []string{
		"ok: ok",
		"taken: ok",
		`diff: [extra: missing, want null] [userName: want "wei", got "zhang.wei"] [when: not expected, got {"datetime": "2026-05-06T07:08:09Z"}]`,
		"error: ok",
		`other error: the mapping failed with "attribute userName of other error: the attribute is required, but the mapping left it empty; give the object a value upstream, or the attribute a default", want an error with "is taken"`,
		"unexpected error: attribute userName of unexpected error: the attribute is required, but the mapping left it empty; give the object a value upstream, or the attribute a default",
		"pass through: ok",
		"no mapping: no such source",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}
