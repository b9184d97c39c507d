package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
)

func ptr(v sdk.Value) *sdk.Value { return &v }

func TestConvert(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      sdk.Value
		typ     Type
		options []string
		want    sdk.Value
		wantErr string
	}{
		{name: "untyped keeps", in: sdk.Int(4), typ: Untyped, want: sdk.Int(4)},
		{name: "null stays null", in: sdk.Null(), typ: TypeInteger, want: sdk.Null()},
		{name: "string", in: sdk.String("a"), typ: TypeString, want: sdk.String("a")},
		{name: "empty string stays", in: sdk.String(""), typ: TypeString, want: sdk.String("")},
		{name: "integer to string", in: sdk.Int(42), typ: TypeString, want: sdk.String("42")},
		{name: "boolean to string", in: sdk.Bool(true), typ: TypeString, want: sdk.String("true")},
		{name: "datetime to string", in: sdk.Time(day), typ: TypeString, want: sdk.String("2024-05-06T00:00:00Z")},
		{name: "list to string", in: sdk.StringList("a", "b"), typ: TypeString, wantErr: `the string list ["a", "b"] is not a string; join the list`},
		{name: "text to integer", in: sdk.String(" 42 "), typ: TypeInteger, want: sdk.Int(42)},
		{name: "negative", in: sdk.String("-7"), typ: TypeInteger, want: sdk.Int(-7)},
		{name: "blank to integer", in: sdk.String("  "), typ: TypeInteger, want: sdk.Null()},
		{name: "not an integer", in: sdk.String("forty-two"), typ: TypeInteger, wantErr: `"forty-two" is not an integer`},
		{name: "fraction", in: sdk.String("4.5"), typ: TypeInteger, wantErr: `"4.5" is not an integer`},
		{name: "boolean to integer", in: sdk.Bool(true), typ: TypeInteger, wantErr: `the boolean true is not an integer`},
		{name: "yes", in: sdk.String("YES"), typ: TypeBoolean, want: sdk.Bool(true)},
		{name: "0", in: sdk.String("0"), typ: TypeBoolean, want: sdk.Bool(false)},
		{name: "integer 1", in: sdk.Int(1), typ: TypeBoolean, want: sdk.Bool(true)},
		{name: "integer 2", in: sdk.Int(2), typ: TypeBoolean, wantErr: "the integer 2 is not a boolean"},
		{name: "maybe", in: sdk.String("maybe"), typ: TypeBoolean, wantErr: `"maybe" is not a boolean (true or false, yes or no, 1 or 0)`},
		{name: "date", in: sdk.String("2024-05-06"), typ: TypeDatetime, want: sdk.Time(day)},
		{name: "RFC 3339", in: sdk.String("2024-05-06T08:00:00+08:00"), typ: TypeDatetime, want: sdk.Time(day)},
		{name: "space separated", in: sdk.String("2024-05-06 00:00:00"), typ: TypeDatetime, want: sdk.Time(day)},
		{name: "not a date", in: sdk.String("6 May"), typ: TypeDatetime, wantErr: `"6 May" is not a datetime`},
		{name: "enum", in: sdk.String("b"), typ: TypeEnum, options: []string{"a", "b"}, want: sdk.String("b")},
		{name: "enum of an integer", in: sdk.Int(1), typ: TypeEnum, options: []string{"1", "4"}, want: sdk.String("1")},
		{name: "not an option", in: sdk.String("c"), typ: TypeEnum, options: []string{"a", "b"}, wantErr: `"c" is not one of "a", "b"`},
		{name: "list", in: sdk.StringList("a"), typ: TypeStringList, want: sdk.StringList("a")},
		{name: "string to list", in: sdk.String("a"), typ: TypeStringList, want: sdk.StringList("a")},
		{name: "integer to list", in: sdk.Int(1), typ: TypeStringList, wantErr: "the integer 1 is not a string list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Convert(tt.in, tt.typ, tt.options)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Convert = %#v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, valueEq); diff != "" {
				t.Errorf("Convert (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValueAndDefinitions(t *testing.T) {
	t.Parallel()
	decl := func(line int) Pos { return Pos{Filename: "pipeline.hcl", Line: line, Column: 5} }
	tests := []struct {
		name    string
		attrs   []Attribute
		in      sdk.Attributes
		want    sdk.Attributes
		wantErr string
		is      error
	}{
		{
			name: "constants",
			attrs: []Attribute{
				{Name: "company", Value: ptr(sdk.String("星河集团"))},
				{Name: "level", Value: ptr(sdk.Int(3))},
				{Name: "tags", Value: ptr(sdk.StringList("staff"))},
				{Name: "count", Value: ptr(sdk.String("7")), Type: TypeInteger},
			},
			want: sdk.Attributes{"company": sdk.String("星河集团"), "level": sdk.Int(3), "tags": sdk.StringList("staff"), "count": sdk.Int(7)},
		},
		{
			name: "types convert",
			attrs: []Attribute{
				{Name: "age", From: "age", Type: TypeInteger},
				{Name: "vip", Script: `record.vip`, Type: TypeBoolean},
				{Name: "hired", From: "hired", Type: TypeDatetime},
				{Name: "status", Script: `object.state`, Type: TypeEnum, Options: []string{"active", "disabled"}},
				{Name: "number", From: "number", Type: TypeString},
				{Name: "groups", From: "group", Type: TypeStringList},
			},
			in: sdk.Attributes{"age": sdk.String("42"), "vip": sdk.String("yes"), "hired": sdk.String("2019-03-04"),
				"number": sdk.Int(1001), "group": sdk.String("dev")},
			want: sdk.Attributes{"age": sdk.Int(42), "vip": sdk.Bool(true), "hired": sdk.Time(time.Date(2019, 3, 4, 0, 0, 0, 0, time.UTC)),
				"status": sdk.String("active"), "number": sdk.String("1001"), "groups": sdk.StringList("dev")},
		},
		{
			name:    "a value that does not convert",
			attrs:   []Attribute{{Name: "age", From: "age", Type: TypeInteger, Decl: decl(12)}},
			in:      sdk.Attributes{"age": sdk.String("forty")},
			wantErr: `pipeline.hcl:12:5: attribute age of u-1: "forty" is not an integer`,
			is:      ErrInvalid,
		},
		{
			name:    "a sensitive value is not shown",
			attrs:   []Attribute{{Name: "pin", From: "pin", Type: TypeInteger, Sensitive: true, Decl: decl(12)}},
			in:      sdk.Attributes{"pin": sdk.String("12a4")},
			wantErr: `pipeline.hcl:12:5: attribute pin of u-1: the value is not an integer`,
			is:      ErrInvalid,
		},
		{
			name:    "a sensitive script's bad value is not shown",
			attrs:   []Attribute{{Name: "pin", Script: `record.pin + 0.5`, Sensitive: true, Pos: Pos{"pipeline.hcl", 12, 20}}},
			in:      sdk.Attributes{"pin": sdk.Int(1234)},
			wantErr: `pipeline.hcl:12:20: attribute pin of u-1: the script returned a value of no attribute type (not shown: the attribute is sensitive)`,
		},
		{
			name: "defaults",
			attrs: []Attribute{
				{Name: "null", From: "missing", Default: ptr(sdk.String("n/a"))},
				{Name: "empty", From: "empty", Default: ptr(sdk.String("n/a"))},
				{Name: "blank integer", From: "empty", Type: TypeInteger, Default: ptr(sdk.Int(1))},
				{Name: "set", From: "set", Default: ptr(sdk.String("n/a"))},
				{Name: "typed default", From: "missing", Type: TypeInteger, Default: ptr(sdk.String("5"))},
			},
			in: sdk.Attributes{"empty": sdk.String(""), "set": sdk.String("x")},
			want: sdk.Attributes{"null": sdk.String("n/a"), "empty": sdk.String("n/a"), "blank integer": sdk.Int(1),
				"set": sdk.String("x"), "typed default": sdk.Int(5)},
		},
		{
			name:    "required",
			attrs:   []Attribute{{Name: "a", From: "a", Required: true}, {Name: "email", Script: `record.email ?? ""`, Required: true, Decl: decl(20)}},
			in:      sdk.Attributes{"a": sdk.String("x")},
			wantErr: "pipeline.hcl:20:5: attribute email of u-1: the attribute is required, but the mapping left it empty",
			is:      ErrRequired,
		},
		{
			name:  "required with a default",
			attrs: []Attribute{{Name: "email", From: "email", Required: true, Default: ptr(sdk.String("none@example.com"))}},
			want:  sdk.Attributes{"email": sdk.String("none@example.com")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, Spec{Kind: sdk.KindUser, Attributes: tt.attrs}, Options{})
			got, err := m.Apply(context.Background(), Input{Kind: sdk.KindUser, ID: "u-1", Attributes: tt.in})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || tt.is != nil && !errors.Is(err, tt.is) {
					t.Fatalf("Apply = %v, %v; want error %q (%v)", got, err, tt.wantErr, tt.is)
				}
				var ve *ValueError
				if tt.is != nil && !errors.As(err, &ve) {
					t.Errorf("error %T, want a *ValueError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, valueEq); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefinitionErrors(t *testing.T) {
	t.Parallel()
	at := Pos{Filename: "pipeline.hcl", Line: 3, Column: 5}
	tests := map[string]struct {
		stage Stage
		attr  Attribute
		want  string
		field string
	}{
		"unknown type":         {attr: Attribute{From: "x", Type: "int"}, want: `unknown type "int"; the types are "string", "integer", "boolean", "datetime", "enum" and "string_list"`, field: "type"},
		"enum without options": {attr: Attribute{From: "x", Type: TypeEnum}, want: `an enum lists its options`, field: "type"},
		"options not an enum":  {attr: Attribute{From: "x", Options: []string{"a"}}, want: `options are for an enum`, field: "options"},
		"option twice":         {attr: Attribute{From: "x", Type: TypeEnum, Options: []string{"a", "a"}}, want: `the option "a" is listed twice`, field: "options"},
		"mode":                 {attr: Attribute{From: "x", Mode: "sometimes"}, want: `unknown mode "sometimes"`, field: "mode"},
		"on_conflict alone":    {attr: Attribute{From: "x", OnConflict: ConflictSuffix}, want: `on_conflict says what a unique attribute does`, field: "on_conflict"},
		"on_conflict value":    {attr: Attribute{From: "x", Unique: true, OnConflict: "retry"}, want: `unknown on_conflict "retry"`, field: "on_conflict"},
		"unique list":          {attr: Attribute{From: "x", Unique: true, Type: TypeStringList}, want: `a string_list attribute cannot be unique`, field: "unique"},
		"suffix on an integer": {attr: Attribute{From: "x", Unique: true, OnConflict: ConflictSuffix, Type: TypeInteger}, want: `on_conflict = "suffix" appends a number to text`, field: "on_conflict"},
		"default of the wrong type": {attr: Attribute{From: "x", Type: TypeInteger, Default: ptr(sdk.String("one"))},
			want: `default: "one" is not an integer`, field: "default"},
		"empty default":     {attr: Attribute{From: "x", Default: ptr(sdk.String(""))}, want: `the default is empty`, field: "default"},
		"value of a type":   {attr: Attribute{Value: ptr(sdk.String("x")), Type: TypeBoolean}, want: `value: "x" is not a boolean`, field: "value"},
		"value and from":    {attr: Attribute{From: "x", Value: ptr(sdk.Int(1))}, want: `set one of from and value, not both`},
		"inbound label":     {stage: Inbound, attr: Attribute{From: "x", Label: "X"}, want: `label is part of a target attribute's definition`, field: "label"},
		"inbound unique":    {stage: Inbound, attr: Attribute{From: "x", Unique: true}, want: `unique is part of a target attribute's definition`, field: "unique"},
		"no source":         {attr: Attribute{Type: TypeString}, want: `set one of from, value and script`},
		"inbound type fine": {stage: Inbound, attr: Attribute{From: "x", Type: TypeInteger, Default: ptr(sdk.Int(0))}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tt.attr.Name, tt.attr.Decl = "a", at
			_, err := Compile(Spec{Kind: sdk.KindUser, Stage: tt.stage, Attributes: []Attribute{tt.attr}}, Options{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, tt.want) || ce.Pos != at || ce.Attribute != "a" {
				t.Errorf("Compile error = %v, want %s: attribute a: %s…", err, posString(at), tt.want)
			} else if ce.Field != tt.field {
				t.Errorf("Field = %q, want %q", ce.Field, tt.field)
			}
		})
	}
}

func TestDefinitionsAPI(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "userName", Script: "record.login", Label: "Account", Description: "The login.", Unique: true,
			OnConflict: ConflictSuffix, Mode: ModeCreateOnly, Required: true, Decl: Pos{"p.hcl", 3, 5}},
		{Name: "password", Value: ptr(sdk.String("init")), Sensitive: true, Mode: ModeCreateOnly},
		{Name: "status", From: "state", Type: TypeEnum, Options: []string{"a", "b"}, Default: ptr(sdk.String("a"))},
		{Name: "plain", From: "x"},
	}}, Options{})
	want := []Definition{
		{Name: "userName", Label: "Account", Description: "The login.", Required: true, Unique: true,
			OnConflict: ConflictSuffix, Mode: ModeCreateOnly, Pos: Pos{"p.hcl", 3, 5}},
		{Name: "password", Sensitive: true, Mode: ModeCreateOnly},
		{Name: "status", Type: TypeEnum, Options: []string{"a", "b"}, Default: ptr(sdk.String("a")), Mode: ModeAlways},
		{Name: "plain", Mode: ModeAlways},
	}
	if diff := cmp.Diff(want, m.Definitions(), valueEq); diff != "" {
		t.Errorf("Definitions (-want +got):\n%s", diff)
	}
	if d, ok := m.Definition("status"); !ok || d.Type != TypeEnum {
		t.Errorf("Definition(status) = %+v, %v", d, ok)
	}
	if _, ok := m.Definition("nope"); ok {
		t.Error("Definition(nope) found")
	}
	for name, want := range map[string][2]bool{"userName": {false, true}, "password": {true, true}, "status": {false, false}, "nope": {false, false}} {
		if got := [2]bool{m.Sensitive(name), m.CreateOnly(name)}; got != want {
			t.Errorf("Sensitive, CreateOnly(%s) = %v, want %v", name, got, want)
		}
	}
	attrs := sdk.Attributes{"password": sdk.String("init"), "status": sdk.String("a")}
	masked := m.Mask(attrs)
	if diff := cmp.Diff(sdk.Attributes{"password": sdk.String(Masked), "status": sdk.String("a")}, masked, valueEq); diff != "" {
		t.Errorf("Mask (-want +got):\n%s", diff)
	}
	if !attrs["password"].Equal(sdk.String("init")) {
		t.Error("Mask changed its argument")
	}
	if got := m.Mask(sdk.Attributes{"password": sdk.Null()}); !got["password"].IsNull() {
		t.Errorf("Mask(null) = %v, want null", got["password"])
	}

	// Check: conversion, default and required, on attributes from
	// elsewhere.
	got, err := m.Check("u-1", sdk.Attributes{"userName": sdk.String("x"), "status": sdk.Null(), "extra": sdk.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sdk.Attributes{"userName": sdk.String("x"), "status": sdk.String("a"), "extra": sdk.Int(1)}, got, valueEq); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if _, err := m.Check("u-1", sdk.Attributes{"userName": sdk.String("x"), "status": sdk.String("c")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Check of a bad enum = %v, want ErrInvalid", err)
	}
	if _, err := m.Check("u-1", sdk.Attributes{}); !errors.Is(err, ErrRequired) {
		t.Errorf("Check without userName = %v, want ErrRequired", err)
	}

	// Update leaves the create_only attributes out.
	in := Input{Kind: sdk.KindUser, ID: "u-1", Attributes: sdk.Attributes{"login": sdk.String("zw"), "state": sdk.String("b")}}
	created, err := m.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.Update = true
	updated, err := m.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := created.Names(), []string{"password", "plain", "status", "userName"}; !cmp.Equal(got, want) {
		t.Errorf("create attributes %v, want %v", got, want)
	}
	if got, want := updated.Names(), []string{"plain", "status"}; !cmp.Equal(got, want) {
		t.Errorf("update attributes %v, want %v", got, want)
	}
}

// holders is a Uniqueness over a map of value → holder, per attribute.
type holders struct {
	held  map[string]map[string]string
	calls []string
	err   error
}

func (h *holders) Reserve(_ context.Context, r Reservation) (string, error) {
	h.calls = append(h.calls, r.Attribute+"="+r.Value)
	if h.err != nil {
		return "", h.err
	}
	if h.held == nil {
		h.held = map[string]map[string]string{}
	}
	if h.held[r.Attribute] == nil {
		h.held[r.Attribute] = map[string]string{}
	}
	if holder, ok := h.held[r.Attribute][r.Value]; ok && holder != r.ID {
		return holder, nil
	}
	h.held[r.Attribute][r.Value] = r.ID
	return "", nil
}

func TestUnique(t *testing.T) {
	t.Parallel()
	spec := Spec{Kind: sdk.KindUser, Attributes: []Attribute{
		{Name: "userName", Script: `pinyinName(record.name)`, Unique: true, OnConflict: ConflictSuffix},
		{Name: "email", Script: `pinyinName(record.name) + "@example.com"`, Unique: true, OnConflict: ConflictSuffix},
		{Name: "employeeNo", From: "no", Unique: true, Decl: Pos{"p.hcl", 9, 5}},
		{Name: "secret", From: "secret", Unique: true, Sensitive: true},
	}}
	m := mustCompile(t, spec, Options{})
	u := &holders{}
	run := func(id, name string, no int64, reserved map[string]string) (Result, error) {
		return m.Run(context.Background(), Input{Kind: sdk.KindUser, ID: id, Target: "app", Uniqueness: u, Reserved: reserved,
			Attributes: sdk.Attributes{"name": sdk.String(name), "no": sdk.Int(no), "secret": sdk.String("s-" + id)}})
	}
	r1, err := run("u-1", "张伟", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := run("u-2", "章伟", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantR2 := Result{
		Attributes: sdk.Attributes{"userName": sdk.String("zhang.wei2"), "email": sdk.String("zhang.wei2@example.com"),
			"employeeNo": sdk.Int(2), "secret": sdk.String("s-u-2")},
		Reserved: map[string]string{"userName": "zhang.wei2", "email": "zhang.wei2@example.com", "employeeNo": "2", "secret": "s-u-2"},
	}
	if diff := cmp.Diff(wantR2, r2, valueEq); diff != "" {
		t.Errorf("second Zhang Wei (-want +got):\n%s", diff)
	}
	if got := r1.Attributes["userName"]; !got.Equal(sdk.String("zhang.wei")) {
		t.Errorf("first Zhang Wei is %v", got)
	}

	// A retry, or an update, keeps what the object holds without asking.
	u.calls = nil
	again, err := run("u-2", "章伟", 2, r2.Reserved)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r2, again, valueEq); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
	if len(u.calls) != 0 {
		t.Errorf("a retry reserved %v again", u.calls)
	}
	// A new name is reserved anew.
	renamed, err := run("u-2", "李伟", 2, r2.Reserved)
	if err != nil {
		t.Fatal(err)
	}
	if got := renamed.Reserved["userName"]; got != "li.wei" {
		t.Errorf("renamed user holds %q, want li.wei", got)
	}

	// A fixed unique value held by another fails, naming the holder; the
	// result still says what the object reserved before.
	partial, err := run("u-3", "王芳", 1, nil)
	if want := map[string]string{"userName": "wang.fang", "email": "wang.fang@example.com"}; !cmp.Equal(partial.Reserved, want) {
		t.Errorf("Reserved after a failure = %v, want %v", partial.Reserved, want)
	}
	var ve *ValueError
	if !errors.As(err, &ve) || !errors.Is(err, ErrTaken) || ve.Holder != "u-1" ||
		ve.Error() != `p.hcl:9:5: attribute employeeNo of u-3: the value "1" is unique and held by u-1` {
		t.Errorf("taken employee number: %v", err)
	}
	// A sensitive one does not show the value.
	u.held["secret"]["s-u-4"] = "u-1"
	_, err = run("u-4", "王芳", 4, nil)
	if !errors.As(err, &ve) || ve.Msg != "the value is unique and held by u-1" {
		t.Errorf("taken secret: %v", err)
	}

	// Every suffix taken.
	for n := 1; n <= MaxSuffix; n++ {
		u.held["userName"][Candidate("zhao.li", n)] = fmt.Sprintf("x-%d", n)
	}
	_, err = run("u-5", "赵丽", 5, nil)
	if !errors.As(err, &ve) || ve.Msg != `the values "zhao.li" to "zhao.li99" are all taken (the last by x-99)` {
		t.Errorf("all taken: %v", err)
	}

	// The engine's own failure comes back as is.
	u.err = errors.New("database is locked")
	_, err = run("u-6", "钱七", 6, nil)
	if !errors.Is(err, u.err) || errors.As(err, &ve) {
		t.Errorf("Reserve failure: %v", err)
	}

	// Without a Uniqueness, nothing is checked.
	res, err := m.Run(context.Background(), Input{Kind: sdk.KindUser, ID: "u-7", Attributes: sdk.Attributes{"name": sdk.String("张伟")}})
	if err != nil || res.Reserved != nil || !res.Attributes["userName"].Equal(sdk.String("zhang.wei")) {
		t.Errorf("without Uniqueness: %+v, %v", res, err)
	}
}

func TestCandidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		n     int
		want  string
	}{
		{"zhang.wei", 1, "zhang.wei"},
		{"zhang.wei", 2, "zhang.wei2"},
		{"zhang.wei@example.com", 3, "zhang.wei3@example.com"},
		{"a@b@example.com", 2, "a@b2@example.com"},
		{"@x", 2, "@x2"},
	} {
		if got := Candidate(tt.value, tt.n); got != tt.want {
			t.Errorf("Candidate(%q, %d) = %q, want %q", tt.value, tt.n, got, tt.want)
		}
		if tt.n > 1 && !isCandidate(tt.value, tt.want) {
			t.Errorf("isCandidate(%q, %q) = false", tt.value, tt.want)
		}
	}
	for _, held := range []string{"zhang.wei", "zhang.wei1", "zhang.wei02", "zhang.weix", "zhang.wei100", "li.wei2"} {
		if isCandidate("zhang.wei", held) {
			t.Errorf("isCandidate(zhang.wei, %q) = true", held)
		}
	}
}

func TestFunction(t *testing.T) {
	t.Parallel()
	fn := func(src string) Function {
		return Function{Script: src, Pos: Pos{Filename: "user.js", Line: 1, Column: 1}}
	}
	tests := []struct {
		name  string
		spec  Spec
		in    Input
		want  sdk.Attributes
		error string
	}{
		{
			name: "arrow function",
			spec: Spec{Function: fn(`(record, object) => ({ userName: pinyinName(record.name), id: object.id, n: 1 })`)},
			want: sdk.Attributes{"userName": sdk.String("zhang.wei"), "id": sdk.String("u-1001"), "n": sdk.Int(1)},
		},
		{
			name: "function with statements and helpers",
			spec: Spec{Function: fn("function map(record) {\n  function local(s) { return lower(s) }\n  const parts = record.email.split(\"@\");\n  return { login: local(parts[0]), domain: parts[1], missing: undefined };\n}")},
			want: sdk.Attributes{"login": sdk.String("wei.zhang"), "domain": sdk.String("Example.com"), "missing": sdk.Null()},
		},
		{
			name: "attributes override and declare",
			spec: Spec{Function: fn(`r => ({ a: "fn", b: "fn", c: "fn" })`), Attributes: []Attribute{
				{Name: "b", Value: ptr(sdk.String("block"))},
				{Name: "c", Type: TypeString, Required: true},
				{Name: "d", Default: ptr(sdk.String("default"))},
				{Name: "e"},
			}},
			want: sdk.Attributes{"a": sdk.String("fn"), "b": sdk.String("block"), "c": sdk.String("fn"), "d": sdk.String("default"), "e": sdk.Null()},
		},
		{
			name:  "an overridden property is not converted",
			spec:  Spec{Function: fn(`r => ({ a: {}, b: 1 })`), Attributes: []Attribute{{Name: "a", From: "number"}}},
			want:  sdk.Attributes{"a": sdk.Int(1001), "b": sdk.Int(1)},
			error: "",
		},
		{
			name:  "throws",
			spec:  Spec{Function: fn("(record) => {\n  return { a: record.nickname.trim() };\n}")},
			error: "user.js:2:22: mapping function of u-1001: TypeError: Cannot read property 'trim' of undefined or null",
		},
		{
			name:  "returns no object",
			spec:  Spec{Function: fn(`() => null`)},
			error: "user.js:1:1: mapping function of u-1001: the function returned null; return an object of attributes, such as ({ userName: record.email })",
		},
		{
			name:  "returns an array",
			spec:  Spec{Function: fn(`() => ["a"]`)},
			error: "user.js:1:1: mapping function of u-1001: the function returned a Array; return an object of attributes",
		},
		{
			name:  "a property of no attribute type",
			spec:  Spec{Function: fn(`() => ({ when: {} })`)},
			error: "user.js:1:1: attribute when of u-1001: the script returned an object",
		},
		{
			name:  "a definition refuses the function's value",
			spec:  Spec{Function: fn(`() => ({ age: "x" })`), Attributes: []Attribute{{Name: "age", Type: TypeInteger}}},
			error: `attribute age of u-1001: "x" is not an integer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.spec.Kind = sdk.KindUser
			m := mustCompile(t, tt.spec, Options{})
			got, err := m.Apply(context.Background(), testInput())
			if tt.error != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.error) {
					t.Fatalf("Apply = %v, %v; want error %q", got, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, valueEq); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFunctionCompileErrors(t *testing.T) {
	t.Parallel()
	at := func(line, col int) Pos { return Pos{Filename: "user.js", Line: line, Column: col} }
	tests := map[string]struct {
		src    string
		indent int
		pos    Pos
		want   *CompileError
	}{
		"syntax error": {
			src:  "(record) => ({\n  a: record.name +,\n})",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(2, 19), Msg: "syntax error: Unexpected token ,"},
		},
		"inline heredoc": {
			src:    "(record) => ({\n  a: record.name +,\n})",
			pos:    Pos{"pipeline.hcl", 8, 7},
			indent: 6,
			want:   &CompileError{Pos: Pos{"pipeline.hcl", 9, 25}, Msg: "syntax error: Unexpected token ,"},
		},
		"first line": {
			src:  "(record) => ({ a: ) })",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 19), Msg: "syntax error: Unexpected token )"},
		},
		"not a function": {
			src:  "({ a: 1 })",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 1), Msg: "the mapping function must be one function expression, such as (record, object) => ({ userName: record.email }); declare helpers inside it"},
		},
		"statements": {
			src:  "function f() {}\nf",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 1), Msg: "the mapping function must be one function expression, such as (record, object) => ({ userName: record.email }); declare helpers inside it"},
		},
		"escape": {
			src:  "() => 1); globalThis.x = (1",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 1), Msg: "the mapping function must be one function expression, such as (record, object) => ({ userName: record.email }); declare helpers inside it"},
		},
		"async": {
			src:  "async (record) => ({})",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 1), Msg: "the mapping function may not be async: it returns the attributes at once"},
		},
		"unfinished": {
			src:  "(record) => ({",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 15), Msg: "syntax error: unexpected end of the script"},
		},
		"empty": {
			src:  " \n",
			pos:  at(1, 1),
			want: &CompileError{Pos: at(1, 1), Msg: "the function is empty"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(Spec{Kind: sdk.KindUser, Function: Function{Script: tt.src, Pos: tt.pos, Indent: tt.indent}}, Options{})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error = %v, want a *CompileError", err)
			}
			if diff := cmp.Diff(tt.want, ce); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRelated(t *testing.T) {
	t.Parallel()
	in := testInput()
	in.Org = &Related{ID: "hub-org-7", Attributes: sdk.Attributes{"name": sdk.String("平台部"), "code": sdk.String("D118")}}
	in.OrgPath = []string{"星河集团", "研发中心", "平台部"}
	in.Manager = &Related{ID: "hub-42", Attributes: sdk.Attributes{"email": sdk.String("boss@example.com")}}
	tests := map[string]struct {
		script string
		in     Input
		want   sdk.Value
	}{
		"org":              {`object.org.name + "/" + object.org.code`, in, sdk.String("平台部/D118")},
		"org id":           {`object.orgId`, in, sdk.String("hub-org-7")},
		"org path":         {`object.orgPath.join("/")`, in, sdk.String("星河集团/研发中心/平台部")},
		"manager":          {`object.manager.email`, in, sdk.String("boss@example.com")},
		"manager id":       {`object.managerId`, in, sdk.String("hub-42")},
		"no org":           {`object.org === null && object.orgId === null && object.orgPath.length === 0`, testInput(), sdk.Bool(true)},
		"no manager":       {`object.manager?.email ?? "none"`, testInput(), sdk.String("none")},
		"org is read-only": {`(function () { try { object.org.name = "x" } catch (e) { return e.message } })()`, in, sdk.String("cannot change object.org.name: object.org is read-only; copy the value into a variable")},
		"keys":             {`Object.keys(object).join(",")`, in, sdk.String("id,kind,state,target,org,orgId,orgPath,manager,managerId")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, script(tt.script), Options{})
			got, err := m.Apply(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got["out"], valueEq); diff != "" {
				t.Errorf("out (-want +got):\n%s", diff)
			}
		})
	}
	// A pooled runtime forgets the last object's org.
	m := mustCompile(t, script(`object.org?.name ?? null`), Options{PoolSize: 1})
	if got, _ := m.Apply(context.Background(), in); !got["out"].Equal(sdk.String("平台部")) {
		t.Fatalf("with org: %v", got["out"])
	}
	if got, _ := m.Apply(context.Background(), testInput()); !got["out"].IsNull() {
		t.Errorf("the next object sees org %v", got["out"])
	}
}
