package sdk_test

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

func TestValueOf(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tests := map[string]struct {
		in      any
		want    sdk.Value
		wantErr string
	}{
		"nil":          {in: nil, want: sdk.Null()},
		"string":       {in: "张伟", want: sdk.String("张伟")},
		"int":          {in: 7, want: sdk.Int(7)},
		"json number":  {in: float64(42), want: sdk.Int(42)},
		"fraction":     {in: 1.5, wantErr: "not an integer"},
		"bool":         {in: true, want: sdk.Bool(true)},
		"time in UTC":  {in: at, want: sdk.Time(at.UTC())},
		"string list":  {in: []string{"a", "b"}, want: sdk.StringList("a", "b")},
		"json list":    {in: []any{"a", "b"}, want: sdk.StringList("a", "b")},
		"mixed list":   {in: []any{"a", 1.0}, wantErr: "list item 1 is float64"},
		"unsupported":  {in: struct{}{}, wantErr: "unsupported attribute value type"},
		"value itself": {in: sdk.String("x"), want: sdk.String("x")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := sdk.ValueOf(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestValuesAreImmutable(t *testing.T) {
	l := []string{"a", "b"}
	v := sdk.StringList(l...)
	l[0] = "changed"
	out := v.List()
	out[1] = "changed"
	if diff := cmp.Diff([]string{"a", "b"}, v.List()); diff != "" {
		t.Fatalf("a list value changed through its input or output (-want +got):\n%s", diff)
	}
	a := sdk.Attributes{"groups": v}
	c := a.Clone()
	c["groups"] = sdk.String("x")
	if !a["groups"].Equal(v) {
		t.Fatal("changing a clone changed the original")
	}
}

func TestRecordValidate(t *testing.T) {
	tests := map[string]struct {
		r       sdk.Record
		wantErr string
	}{
		"user":              {r: sdk.Record{Kind: sdk.KindUser, ExternalID: "u1", Orgs: []string{"d1"}, PrimaryOrg: "d1"}},
		"deleted, id only":  {r: sdk.Record{Kind: sdk.KindUser, ExternalID: "u1", State: sdk.StateDeleted}},
		"unknown kind":      {r: sdk.Record{Kind: "group", ExternalID: "g"}, wantErr: `unknown kind "group"`},
		"no id":             {r: sdk.Record{Kind: sdk.KindOrg}, wantErr: "without an external id"},
		"unknown state":     {r: sdk.Record{Kind: sdk.KindOrg, ExternalID: "d", State: "gone"}, wantErr: `unknown state "gone"`},
		"primary not in":    {r: sdk.Record{Kind: sdk.KindUser, ExternalID: "u", PrimaryOrg: "d2", Orgs: []string{"d1"}}, wantErr: "not among its orgs"},
		"own parent":        {r: sdk.Record{Kind: sdk.KindOrg, ExternalID: "d", Parent: "d"}, wantErr: "its own parent"},
		"org with a parent": {r: sdk.Record{Kind: sdk.KindOrg, ExternalID: "d", Parent: "root"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

var testSchema = sdk.Schema{Fields: []sdk.Field{
	{Name: "url", Type: sdk.FieldString, Required: true, Description: "Where to send."},
	{Name: "mode", Type: sdk.FieldString, Default: "full", Options: []string{"full", "incremental"}, Description: "How."},
	{Name: "page_size", Type: sdk.FieldInt, Default: int64(100), Description: "Page size."},
	{Name: "timeout", Type: sdk.FieldDuration, Default: 10 * time.Second, Description: "Timeout."},
	{Name: "verify", Type: sdk.FieldBool, Default: true, Description: "Verify."},
	{Name: "scopes", Type: sdk.FieldStringList, Description: "Scopes."},
	{Name: "columns", Type: sdk.FieldStringMap, Description: "Columns."},
}}

func TestNewConfig(t *testing.T) {
	if err := testSchema.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, diags := sdk.NewConfig(testSchema, map[string]any{
		"url": "https://app.example.com", "page_size": float64(50), "timeout": "3s",
		"scopes": []any{"a"}, "columns": map[string]any{"工号": "employee_id"},
	})
	if diags.HasError() {
		t.Fatal(diags.Err())
	}
	got := []any{cfg.String("url"), cfg.String("mode"), cfg.Int("page_size"), cfg.Duration("timeout"), cfg.Bool("verify"), cfg.StringList("scopes"), cfg.StringMap("columns")}
	want := []any{"https://app.example.com", "full", int64(50), 3 * time.Second, true, []string{"a"}, map[string]string{"工号": "employee_id"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("config (-want +got):\n%s", diff)
	}
	// The JSON form survives a round trip: it is what crosses the protocol.
	again, diags := sdk.NewConfig(testSchema, cfg.Values())
	if diags.HasError() || again.Duration("timeout") != 3*time.Second {
		t.Fatalf("round trip: %v, timeout %v", diags.Err(), again.Duration("timeout"))
	}
}

func TestNewConfigReportsEveryProblem(t *testing.T) {
	_, diags := sdk.NewConfig(testSchema, map[string]any{
		"mode": "delta", "page_size": 1.5, "timeout": "soon", "verify": "yes", "extra": 1,
	})
	var got []string
	for _, d := range diags {
		got = append(got, d.Path.String()+": "+d.Summary)
	}
	want := []string{
		"url: Missing required argument",
		"mode: Invalid value",
		"page_size: Invalid value",
		"timeout: Invalid value",
		"verify: Invalid value",
		"extra: Unsupported argument",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("diagnostics (-want +got):\n%s", diff)
	}
}

func TestSchemaValidate(t *testing.T) {
	tests := map[string]struct {
		f       sdk.Field
		wantErr string
	}{
		"bad name":         {f: sdk.Field{Name: "URL", Type: sdk.FieldString, Description: "x"}, wantErr: "lowercase"},
		"no description":   {f: sdk.Field{Name: "url", Type: sdk.FieldString}, wantErr: "no description"},
		"unknown type":     {f: sdk.Field{Name: "url", Type: "float", Description: "x"}, wantErr: "unknown type"},
		"bad default":      {f: sdk.Field{Name: "n", Type: sdk.FieldInt, Default: "ten", Description: "x"}, wantErr: "default"},
		"required+default": {f: sdk.Field{Name: "n", Type: sdk.FieldInt, Required: true, Default: int64(1), Description: "x"}, wantErr: "required and has a default"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := sdk.Schema{Fields: []sdk.Field{tc.f}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// lookupTarget holds objects by hub id and can look them up.
type lookupTarget struct {
	objects map[string]sdk.Attributes
	creates int
}

func (l *lookupTarget) Metadata() sdk.Metadata { return sdk.Metadata{Name: "memory"} }
func (l *lookupTarget) Schema() sdk.Schema     { return sdk.Schema{} }
func (l *lookupTarget) Configure(context.Context, sdk.ConfigureRequest, *sdk.ConfigureResponse) {
}

func (l *lookupTarget) Apply(_ context.Context, op sdk.Operation) (sdk.Result, error) {
	switch op.Op {
	case sdk.OpCreate:
		l.creates++
		l.objects[op.HubID] = op.Attributes
		return sdk.Result{TargetID: "app-" + op.HubID}, nil
	case sdk.OpUpdate:
		for k, v := range op.Attributes {
			l.objects[op.HubID][k] = v
		}
	}
	return sdk.Result{}, nil
}

func (l *lookupTarget) Lookup(_ context.Context, op sdk.Operation) (string, bool, error) {
	_, ok := l.objects[op.HubID]
	return "app-" + op.HubID, ok, nil
}

func TestApplyLooksUpInsideCreate(t *testing.T) {
	tgt := &lookupTarget{objects: map[string]sdk.Attributes{}}
	create := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "h1", Attributes: sdk.Attributes{"mail": sdk.String("a@example.com")}}
	first, err := sdk.Apply(context.Background(), tgt, create)
	if err != nil || first.Outcome != sdk.OutcomeCreated || first.TargetID != "app-h1" {
		t.Fatalf("first create: %+v, %v", first, err)
	}
	create.Attributes = sdk.Attributes{"mail": sdk.String("b@example.com")}
	again, err := sdk.Apply(context.Background(), tgt, create)
	if err != nil || again.Outcome != sdk.OutcomeMatched || again.TargetID != "app-h1" {
		t.Fatalf("re-applied create: %+v, %v; want matched app-h1", again, err)
	}
	if tgt.creates != 1 {
		t.Errorf("%d creates reached the application, want 1", tgt.creates)
	}
	if got := tgt.objects["h1"]["mail"].Str(); got != "b@example.com" {
		t.Errorf("matched object holds mail %q, want the create's newer value", got)
	}
}

func TestAsError(t *testing.T) {
	rate := &sdk.Error{Category: sdk.CategoryRateLimited, Code: "90018"}
	tests := map[string]struct {
		err  error
		want sdk.Category
	}{
		"typed":        {err: rate, want: sdk.CategoryRateLimited},
		"wrapped":      {err: fmt.Errorf("apply: %w", rate), want: sdk.CategoryRateLimited},
		"deadline":     {err: context.DeadlineExceeded, want: sdk.CategoryRetryable},
		"plain":        {err: errors.New("bad data"), want: sdk.CategoryPermanent},
		"knows itself": {err: transient{}, want: sdk.CategoryRetryable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sdk.AsError(tc.err).Category; got != tc.want {
				t.Fatalf("category %q, want %q", got, tc.want)
			}
		})
	}
}

type transient struct{}

func (transient) Error() string   { return "connection reset" }
func (transient) Retryable() bool { return true }
