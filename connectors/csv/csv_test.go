package csv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

var update = flag.Bool("update", false, "rewrite the expected files under testdata")

// configured returns a connector configured with values, relative to dir.
func configured(t testing.TB, values map[string]any, dir string) *Connector {
	t.Helper()
	cfg, diags := sdk.NewConfig(schema, values)
	if diags.HasError() {
		t.Fatalf("config: %v", diags.Err())
	}
	c := New()
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: dir}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("configure: %v", resp.Diagnostics.Err())
	}
	return c
}

// readAll reads a snapshot, checking what every snapshot must satisfy.
func readAll(t testing.TB, c *Connector) ([]sdk.Record, error) {
	t.Helper()
	var got []sdk.Record
	_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		got = append(got, rs...)
		return nil
	})
	if err != nil {
		if len(got) > 0 {
			t.Errorf("Read emitted %d records, then failed: %v", len(got), err)
		}
		return nil, err
	}
	checkSnapshot(t, got)
	return got, nil
}

// checkSnapshot checks that records are valid, orgs come before users,
// parents before children, and every org a user names is in the snapshot.
func checkSnapshot(t testing.TB, recs []sdk.Record) {
	t.Helper()
	orgs := map[string]bool{}
	users := false
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			t.Errorf("invalid record: %v", err)
		}
		switch r.Kind {
		case sdk.KindOrg:
			if users {
				t.Errorf("org %q emitted after users", r.ExternalID)
			}
			if r.Parent != "" && !orgs[r.Parent] {
				t.Errorf("org %q emitted before its parent %q", r.ExternalID, r.Parent)
			}
			orgs[r.ExternalID] = true
		case sdk.KindUser:
			users = true
			for _, o := range r.Orgs {
				if !orgs[o] {
					t.Errorf("user %q is in org %q, which is not in the snapshot", r.ExternalID, o)
				}
			}
		}
	}
}

type recordJSON struct {
	Kind       string         `json:"kind"`
	ID         string         `json:"id"`
	State      string         `json:"state"`
	Parent     string         `json:"parent,omitempty"`
	PrimaryOrg string         `json:"primary_org,omitempty"`
	Orgs       []string       `json:"orgs,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// render writes records one JSON object a line, as the README shows them.
func render(recs []sdk.Record) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		j := recordJSON{Kind: string(r.Kind), ID: r.ExternalID, State: string(r.State), Parent: r.Parent, PrimaryOrg: r.PrimaryOrg, Orgs: r.Orgs}
		if len(r.Attributes) > 0 {
			j.Attributes = map[string]any{}
			for k, v := range r.Attributes {
				j.Attributes[k] = v.Any()
			}
		}
		if err := enc.Encode(j); err != nil {
			panic(err)
		}
	}
	return b.String()
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, diff)
	}
}

// TestRead runs every testdata/<case>/ with a config.json: the input's
// records must match expected.jsonl, or its error expected.err, in which
// case nothing may have been emitted.
func TestRead(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/config.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfgFile := range dirs {
		dir := filepath.Dir(cfgFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			var values map[string]any
			if err := json.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			recs, err := readAll(t, configured(t, values, dir))
			okFile, errFile := filepath.Join(dir, "expected.jsonl"), filepath.Join(dir, "expected.err")
			if *update {
				os.Remove(okFile)
				os.Remove(errFile)
			}
			if err != nil {
				if _, statErr := os.Stat(okFile); statErr == nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if se := sdk.AsError(err); se.Category != sdk.CategoryPermanent {
					t.Errorf("error category %q, want permanent", se.Category)
				}
				golden(t, errFile, err.Error()+"\n")
				return
			}
			if _, statErr := os.Stat(errFile); statErr == nil {
				t.Fatalf("no error; want the one in %s", errFile)
			}
			golden(t, okFile, render(recs))
		})
	}
}

// TestInputError checks the error Read returns for bad input: an
// *sdk.Error wrapping an *InputError that lists every problem in order.
func TestInputError(t *testing.T) {
	c := configured(t, map[string]any{
		pathField: "input.csv", idColumnField: "id", requiredColumnsField: []any{"name"}, stateColumnField: "state",
		departmentColumnField: "dept", managerColumnField: "manager",
	}, "testdata/bad_rows")
	_, err := readAll(t, c)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is no *InputError", err, err)
	}
	type loc struct {
		Line, Column int
		Header       string
	}
	var got []loc
	for _, p := range ie.Problems {
		got = append(got, loc{p.Line, p.Column, p.Header})
	}
	want := []loc{
		{3, 2, "name"},    // required value missing
		{4, 3, "state"},   // unknown state 休假
		{5, 4, "dept"},    // 3 of 5 fields
		{6, 2, "name"},    // text after a closing quote
		{7, 2, "name"},    // bare quote
		{8, 1, "id"},      // duplicate id 2, first at line 3
		{8, 4, "dept"},    // empty department level
		{9, 5, "manager"}, // manager 99 is nowhere
		{10, 1, "id"},     // empty id
		{11, 6, ""},       // a two-line row with 6 fields
		{14, 3, "state"},  // empty state
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !strings.Contains(ie.Problems[5].Msg, "first at line 3") {
		t.Errorf("duplicate id problem %q does not name the first line", ie.Problems[5].Msg)
	}
	var h interface{ Hint() string }
	if !errors.As(err, &h) || h.Hint() == "" {
		t.Errorf("error has no hint")
	}
}

// TestExample reads the sample configuration, decoded as the engine
// decodes it, against testdata/example; README.md shows its output.
func TestExample(t *testing.T) {
	cfg, diags := hcldecode.DecodeFile("example.hcl", []byte(Example), schema, nil)
	if diags.HasErrors() {
		t.Fatalf("example.hcl: %v", diags)
	}
	c := New()
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: "testdata/example"}, &resp)
	if len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v", resp.Diagnostics)
	}
	recs, err := readAll(t, c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/example/expected.jsonl", render(recs))
}

// TestDocs checks the definition, and that the generated parts of
// README.md (the sample configuration, the table of fields, the example's
// output, an error listing) are current; -update regenerates them.
func TestDocs(t *testing.T) {
	if err := New().Schema().Validate(); err != nil {
		t.Fatal(err)
	}
	if got := New().Metadata().Name; got != "csv" {
		t.Errorf("name %q, want csv", got)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	output, err := os.ReadFile("testdata/example/expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	badRows, err := os.ReadFile("testdata/bad_rows/expected.err")
	if err != nil {
		t.Fatal(err)
	}
	got := string(readme)
	for _, part := range []struct{ name, text string }{
		{"bad_rows", "```text\n" + string(badRows) + "```\n"},
		{"example", "```hcl\n" + Example + "```\n"},
		{"fields", fieldTable(schema)},
		{"output", "```json\n" + string(output) + "```\n"},
	} {
		begin, end := "<!-- generated: "+part.name+" -->\n", "<!-- end: "+part.name+" -->"
		i, j := strings.Index(got, begin), strings.Index(got, end)
		if i < 0 || j < i {
			t.Fatalf("README.md lacks %q ... %q", begin, end)
		}
		got = got[:i+len(begin)] + part.text + got[j:]
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(strings.Split(string(readme), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("README.md is stale; run go test -update (-have +want):\n%s", diff)
	}
}

// fieldTable renders the schema as the README's table of fields.
func fieldTable(s sdk.Schema) string {
	var b strings.Builder
	b.WriteString("| Field | Type | Default | Description |\n| --- | --- | --- | --- |\n")
	cell := func(v string) string { return strings.ReplaceAll(v, "|", "\\|") }
	for _, f := range s.Fields {
		typ := string(f.Type)
		if len(f.Options) > 0 {
			typ += ": " + strings.Join(quoteAll(f.Options), ", ")
		}
		def := "none"
		switch d := f.Default.(type) {
		case nil:
			if f.Required {
				def = "required"
			}
		case string:
			def = "`" + strconv.Quote(d) + "`"
		case map[string]string:
			keys := sortedKeys(d)
			pairs := make([]string, len(keys))
			for i, k := range keys {
				pairs[i] = strconv.Quote(k) + " = " + strconv.Quote(d[k])
			}
			def = "`{ " + strings.Join(pairs, ", ") + " }`"
		default:
			def = fmt.Sprintf("`%v`", d)
		}
		desc := f.Description
		if f.Example != "" {
			desc += " Example: `" + f.Example + "`."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, cell(typ), cell(def), cell(desc))
	}
	return b.String()
}

func quoteAll(l []string) []string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "`" + strconv.Quote(s) + "`"
	}
	return q
}

func TestConfigure(t *testing.T) {
	base := func(more map[string]any) map[string]any {
		v := map[string]any{pathField: "hr.csv", idColumnField: "工号"}
		for k, x := range more {
			v[k] = x
		}
		return v
	}
	tests := map[string]struct {
		values map[string]any
		want   []string
	}{
		"minimal":       {values: base(nil)},
		"tab delimiter": {values: base(map[string]any{delimiterField: "\t"})},
		"long delimiter": {
			values: base(map[string]any{delimiterField: ",,"}),
			want:   []string{`error: delimiter: Invalid delimiter: The delimiter ",," must be exactly one character other than a double quote or a line break, such as ",", ";" or "\t".`},
		},
		"quote delimiter": {
			values: base(map[string]any{delimiterField: `"`}),
			want:   []string{`error: delimiter: Invalid delimiter: The delimiter "\"" must be exactly one character other than a double quote or a line break, such as ",", ";" or "\t".`},
		},
		"blank id column": {
			values: base(map[string]any{idColumnField: " "}),
			want:   []string{"error: id_column: Missing id column: Set id_column to the header of the column holding the employee id."},
		},
		"bad state": {
			values: base(map[string]any{stateColumnField: "状态", stateValuesField: map[string]any{"在职": "active", "休假": "away"}}),
			want:   []string{`error: state_values.休假: Unknown state: The cell value "休假" maps to "away". Map it to "active", "disabled" or "deleted".`},
		},
		"attribute twice": {
			values: base(map[string]any{columnsField: map[string]any{"姓名": "name", "名字": "name"}}),
			want:   []string{`error: columns.姓名: Attribute mapped twice: The columns "名字" and "姓名" both map to the attribute "name". Give each column its own attribute.`},
		},
		"manager attribute taken": {
			values: base(map[string]any{managerColumnField: "上级", columnsField: map[string]any{"经理": "manager"}}),
			want:   []string{`error: columns.经理: Reserved attribute name: The attribute "manager" holds the manager named by manager_column. Map the column "经理" to another name.`},
		},
		"org columns without org file": {
			values: base(map[string]any{orgIDColumnField: "id", orgNameColumnField: "name"}),
			want: []string{
				"error: org_id_column: Org column without an org file: org_id_column describes a column of the org file, but org_file is not set. Set org_file, or remove org_id_column.",
				"error: org_name_column: Org column without an org file: org_name_column describes a column of the org file, but org_file is not set. Set org_file, or remove org_name_column.",
			},
		},
		"org file without columns": {
			values: base(map[string]any{orgFileField: "org.csv"}),
			want: []string{
				"error: org_id_column: Missing org id column: An org file needs org_id_column, the header of its column holding each org's id.",
				"warning: org_file: Users are in no org: The org file's orgs are read, but no user is placed in them. Set department_column to the column holding each user's org id.",
			},
		},
		"empty separator": {
			values: base(map[string]any{departmentColumnField: "部门", departmentSeparatorField: ""}),
			want:   []string{`error: department_separator: Empty separator: Set department_separator to the string between the levels of a department path, such as "/".`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, diags := sdk.NewConfig(schema, tc.values)
			if diags.HasError() {
				t.Fatal(diags.Err())
			}
			c := New()
			var resp sdk.ConfigureResponse
			c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: "/pipelines"}, &resp)
			var got []string
			for _, d := range resp.Diagnostics {
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if configuredOK := c.s != nil; configuredOK == resp.Diagnostics.HasError() {
				t.Errorf("configured = %v with diagnostics %v", configuredOK, resp.Diagnostics)
			}
		})
	}
	t.Run("paths", func(t *testing.T) {
		c := configured(t, base(map[string]any{orgFileField: "/abs/org.csv", orgIDColumnField: "id", departmentColumnField: "d"}), "/pipelines")
		if c.s.path != "/pipelines/hr.csv" || c.s.orgPath != "/abs/org.csv" {
			t.Errorf("paths %q, %q", c.s.path, c.s.orgPath)
		}
	})
}

func TestTestConnection(t *testing.T) {
	tests := map[string]struct {
		values     map[string]any
		dir        string
		wantDiags  []string
		wantDetail string
	}{
		"ok": {
			values: map[string]any{pathField: "input.csv", idColumnField: "工号", columnsField: map[string]any{"姓名": "name"},
				stateColumnField: "状态", departmentColumnField: "部门"},
			dir:        "testdata/gbk",
			wantDetail: "input.csv: 118 bytes, read as GBK because it is not valid UTF-8; the header's 4 columns include every configured one",
		},
		"org file": {
			values: map[string]any{pathField: "input.csv", idColumnField: "工号", departmentColumnField: "部门编号",
				orgFileField: "org.csv", orgIDColumnField: "部门编号", orgParentColumnField: "上级"},
			dir: "testdata/org_file",
			wantDiags: []string{
				`error: org_parent_column: Header does not match the configuration: org.csv:1: no column "上级" (org_parent_column); the header has "部门编号", "上级部门编号", "部门名称". Correct the setting, or the export's header.`,
			},
		},
		"missing columns": {
			values: map[string]any{pathField: "input.csv", idColumnField: "工号", stateColumnField: "状态",
				columnsField: map[string]any{"姓名": "name", "邮箱": "email"}},
			dir: "testdata/missing_columns",
			wantDiags: []string{
				`error: id_column: Header does not match the configuration: input.csv:1: no column "工号" (id_column); the header has "员工号", "姓名", "手机". Correct the setting, or the export's header.`,
				`error: state_column: Header does not match the configuration: input.csv:1: no column "状态" (state_column); the header has "员工号", "姓名", "手机". Correct the setting, or the export's header.`,
				`error: columns.邮箱: Header does not match the configuration: input.csv:1: no column "邮箱" (columns); the header has "员工号", "姓名", "手机". Correct the setting, or the export's header.`,
			},
		},
		"missing file": {
			values:    map[string]any{pathField: "nope.csv", idColumnField: "id"},
			dir:       "testdata",
			wantDiags: []string{"error: path: Cannot read the file: permanent: stat nope.csv: no such file or directory. Check path: it is relative to the pipeline file."},
		},
		"directory": {
			values:    map[string]any{pathField: "gbk", idColumnField: "id"},
			dir:       "testdata",
			wantDiags: []string{"error: path: Not a file: gbk is a directory. Set path to the export file itself."},
		},
		"empty": {
			values:    map[string]any{pathField: "input.csv", idColumnField: "id"},
			dir:       "testdata/empty",
			wantDiags: []string{"error: path: Empty file: input.csv is empty. An export needs a header and at least one row."},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := configured(t, tc.values, tc.dir)
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			var got []string
			for _, d := range resp.Diagnostics {
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.wantDiags, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if tc.wantDetail != "" && resp.Detail != tc.wantDetail {
				t.Errorf("detail %q, want %q", resp.Detail, tc.wantDetail)
			}
		})
	}
}

// gbkPast64KB is an export whose first non-ASCII byte lies past 64 KB: a
// detector that looked only at the file's head would take it for UTF-8.
func gbkPast64KB(t testing.TB) []byte {
	var b strings.Builder
	b.WriteString("id,name,dept\r\n")
	i := 1
	for ; b.Len() <= 70<<10; i++ {
		fmt.Fprintf(&b, "E%05d,Employee %05d,HQ/IT\r\n", i, i)
	}
	for _, n := range []string{"张伟", "王芳", "李娜", "和珅"} {
		fmt.Fprintf(&b, "E%05d,%s,总部/研发\r\n", i, n)
		i++
	}
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGBKPast64KB(t *testing.T) {
	const file = "testdata/gbk_past_64k.csv"
	want := gbkPast64KB(t)
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what gbkPast64KB generates; run go test -update", file)
	}
	if i := bytes.IndexFunc(got, func(r rune) bool { return r >= 0x80 }); i <= 64<<10 {
		t.Fatalf("first non-ASCII byte at %d, want past 64 KB", i)
	}
	c := configured(t, map[string]any{pathField: filepath.Base(file), idColumnField: "id", departmentColumnField: "dept",
		columnsField: map[string]any{"name": "name"}}, "testdata")
	recs, err := readAll(t, c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs[len(recs)-4:] {
		names = append(names, r.Attributes["name"].Str()+" "+r.PrimaryOrg)
	}
	if diff := cmp.Diff([]string{"张伟 总部/研发", "王芳 总部/研发", "李娜 总部/研发", "和珅 总部/研发"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

// writeLarge writes an export of n users in ten departments.
func writeLarge(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "large.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "工号,姓名,邮箱,状态,部门,上级\r\n")
	for i := 1; i <= n; i++ {
		mgr := ""
		if i > 1 {
			mgr = fmt.Sprint(i / 2)
		}
		fmt.Fprintf(w, "%d,员工%d,user%d@example.com,在职,集团/事业部%d/小组%d,%s\r\n", i, i, i, i%10, i%7, mgr)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func largeConfig(path string) map[string]any {
	return map[string]any{
		pathField: path, idColumnField: "工号", columnsField: map[string]any{"姓名": "name", "邮箱": "email"},
		stateColumnField: "状态", departmentColumnField: "部门", managerColumnField: "上级",
	}
}

// TestBoundedMemory reads a large file and checks that the heap while
// records stream out does not grow with the rows already read.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 200,000-row file")
	}
	const rows = 200_000
	c := configured(t, largeConfig(writeLarge(t, rows)), "")
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	users := 0
	var early, late uint64
	_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		for _, r := range rs {
			if r.Kind != sdk.KindUser {
				continue
			}
			switch users++; users {
			case rows / 10:
				early = heap()
			case rows - 1:
				late = heap()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if users != rows {
		t.Fatalf("read %d users, want %d", users, rows)
	}
	t.Logf("heap after %d users: %d KB; after %d: %d KB", rows/10, early>>10, rows-1, late>>10)
	if late > early+2<<20 {
		t.Errorf("heap grew from %d KB to %d KB while streaming", early>>10, late>>10)
	}
}

// TestFileChangedBetweenPasses rewrites the file after the first pass (at
// the first emit, the orgs): the read must fail rather than finish with
// rows nobody checked.
func TestFileChangedBetweenPasses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hr.csv")
	if err := os.WriteFile(path, []byte("id,dept\n1,A\n2,A/B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := configured(t, map[string]any{pathField: "hr.csv", idColumnField: "id", departmentColumnField: "dept"}, dir)
	first := true
	_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		if first {
			first = false
			return os.WriteFile(path, []byte("id,dept\n1,A\n3,A/B\n"), 0o644)
		}
		return nil
	})
	if se := sdk.AsError(err); se == nil || se.Category != sdk.CategoryRetryable || !strings.Contains(se.Message, "changed while it was read") {
		t.Fatalf("error %v, want a retryable error saying the file changed", err)
	}
}

func TestEmitError(t *testing.T) {
	c := configured(t, largeConfig(writeLarge(t, 1000)), "")
	stop := errors.New("host gone")
	calls := 0
	_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("Read returned %v after %d emits; want the emit error after 1", err, calls)
	}
}

func TestCancel(t *testing.T) {
	c := configured(t, largeConfig(writeLarge(t, 10_000)), "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Read(ctx, sdk.ReadRequest{}, func(rs ...sdk.Record) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read returned %v, want context.Canceled", err)
	}
}

// TestUnclosedQuote checks that a quote never closed in a large file is
// reported, without reading the rest of the file into one field.
func TestUnclosedQuote(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name\n1,\"never closed\n")
	for b.Len() < 2*maxRowBytes {
		b.WriteString("2,more text without quotes\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readAll(t, configured(t, map[string]any{pathField: "hr.csv", idColumnField: "id"}, dir))
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || !strings.Contains(ie.Problems[0].Msg, "unclosed quote") {
		t.Fatalf("error %v, want one problem about an unclosed quote", err)
	}
}

func TestReportCap(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range MaxReported + 10 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readAll(t, configured(t, map[string]any{pathField: "hr.csv", idColumnField: "id"}, dir))
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != MaxReported || ie.Omitted != 10 || !strings.HasSuffix(err.Error(), "... and 10 more") {
		t.Fatalf("got %d problems, %d omitted", len(ie.Problems), ie.Omitted)
	}
}

func BenchmarkRead(b *testing.B) {
	const rows = 100_000
	c := configured(b, largeConfig(writeLarge(b, rows)), "")
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		n := 0
		_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
			n += len(rs)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
}
