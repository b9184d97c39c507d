// Package quickstart_test checks the quickstart's files: that pipeline.hcl
// configures the csv source and the callback target as written, that the
// csv connector reads hr.csv and hr-v2.csv without a problem, what it reads
// from them, and what changed between them.
package quickstart_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/connectors/csv"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

// The numbers the README gives.
const (
	wantDepartments = 75
	wantMaxDepth    = 6
	wantUsersV1     = 326 // rows of hr.csv
	wantDisabledV1  = 4   // 停用
	wantDeletedV1   = 5   // 离职
	wantUsersV2     = 328
	wantDisabledV2  = 5
	wantDeletedV2   = 7
)

// wantChanges is what changed from hr.csv to hr-v2.csv, as the generator
// prints it and the README lists it.
var wantChanges = []string{
	"100082 夏静: 状态 在职 -> 离职",
	"100188 赵秀英: 部门 星河集团/销售中心/华北大区/天津分部 -> 星河集团/销售中心/华南大区/深圳分部; 上级工号 100043 -> 100077",
	"100196 杜海燕: 职位 资金专员 -> 高级资金专员",
	"100197 郑瑶: 状态 在职 -> 离职",
	"100243 姚琳: 部门 星河集团/研发中心/产品研发部/移动端组/Android小组 -> 星河集团/研发中心/产品研发部/后端组/用户小组; 上级工号 100119 -> 100088",
	"100259 蒋子豪: 状态 在职 -> 停用",
	"100293 许子豪: 职位 用户研究员 -> 视觉设计组副组长; 手机 +86 13011236400 -> +86 15821079992",
	"100303 朱雅琴: 手机 +86 13134752193 -> +86 13578470810",
	"100327 刘雅婷: 入职 2026-10-12, 星河集团/研发中心/平台部/基础架构组/存储小组/对象存储项目组, 存储研发工程师, 上级工号 100127",
	"100328 郭浩然: 入职 2026-10-19, 星河集团/职能中心/人力资源部/招聘组, 招聘专员, 上级工号 100029",
}

// pipeline is what the test reads of pipeline.hcl.
type pipeline struct {
	csv      sdk.Config
	callback sdk.Config
	mappings map[string]map[string]hcl.Attributes // kind → attribute name → its from/script
}

func loadPipeline(t *testing.T) *pipeline {
	t.Helper()
	p := hclparse.NewParser()
	f, diags := p.ParseHCLFile("pipeline.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "pipeline", LabelNames: []string{"name"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "target", LabelNames: []string{"type", "name"}},
	}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := hcldecode.EvalContext(".", func(string) (string, bool) { return "", false })
	out := &pipeline{mappings: map[string]map[string]hcl.Attributes{}}
	for _, b := range content.Blocks {
		switch strings.Join(append([]string{b.Type}, b.Labels...), " ") {
		case "pipeline quickstart":
		case "source csv hr":
			cfg, diags := hcldecode.Decode(b.Body, csv.New().Schema(), ctx)
			if diags.HasErrors() {
				t.Fatalf("source block: %v", diags)
			}
			out.csv = cfg
		case "target callback app":
			// The mapping blocks are the engine's; the rest is the
			// connector's configuration.
			mc, rest, diags := b.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "mapping", LabelNames: []string{"kind"}}}})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			cfg, diags := hcldecode.Decode(rest, callback.New().Schema(), ctx)
			if diags.HasErrors() {
				t.Fatalf("target block: %v", diags)
			}
			out.callback = cfg
			for _, m := range mc.Blocks {
				ac, diags := m.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "attribute", LabelNames: []string{"name"}}}})
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				attrs := map[string]hcl.Attributes{}
				for _, a := range ac.Blocks {
					body, diags := a.Body.JustAttributes()
					if diags.HasErrors() {
						t.Fatal(diags)
					}
					attrs[a.Labels[0]] = body
				}
				out.mappings[m.Labels[0]] = attrs
			}
		default:
			t.Fatalf("unexpected block %s %v", b.Type, b.Labels)
		}
	}
	return out
}

// read configures the csv connector with the pipeline's source block, on
// file instead of its path, and reads it.
func read(t *testing.T, pl *pipeline, file string) (orgs, users []sdk.Record) {
	t.Helper()
	values := pl.csv.Values()
	values["path"] = file
	cfg, diags := sdk.NewConfig(csv.New().Schema(), values)
	if diags.HasError() {
		t.Fatal(diags)
	}
	c := csv.New()
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: "."}, &resp)
	if len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v", resp.Diagnostics)
	}
	_, err := c.Read(context.Background(), sdk.ReadRequest{}, func(recs ...sdk.Record) error {
		for _, r := range recs {
			if err := r.Validate(); err != nil {
				t.Errorf("%s: %v", file, err)
			}
			if r.Kind == sdk.KindOrg {
				orgs = append(orgs, r)
			} else {
				users = append(users, r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return orgs, users
}

func TestPipeline(t *testing.T) {
	pl := loadPipeline(t)
	if got := pl.csv.String("path"); got != "hr.csv" {
		t.Errorf("path = %q, want hr.csv", got)
	}
	if got := pl.callback.String("url"); got != "http://127.0.0.1:8471/callback" {
		t.Errorf("url = %q", got)
	}
	if got := pl.callback.String("token"); got != "quickstart-token" {
		t.Errorf("token = %q, want the default quickstart-token", got)
	}
	var resp sdk.ConfigureResponse
	callback.New().Configure(context.Background(), sdk.ConfigureRequest{Config: pl.callback, Dir: "."}, &resp)
	if resp.Diagnostics.HasError() {
		t.Errorf("callback target: %v", resp.Diagnostics)
	}

	// Every "from" names an attribute the csv source gives.
	orgs, users := read(t, pl, "hr.csv")
	given := map[string][]string{"user": users[0].Attributes.Names(), "org": orgs[0].Attributes.Names()}
	if want := []string{"email", "english_name", "hire_date", "manager", "mobile", "name", "title"}; !slices.Equal(given["user"], want) {
		t.Errorf("user attributes %v, want %v", given["user"], want)
	}
	for kind, attrs := range pl.mappings {
		for name, body := range attrs {
			if a, ok := body["from"]; ok {
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() || !slices.Contains(given[kind], v.AsString()) {
					t.Errorf("mapping %s: attribute %s is from %s, which the csv source does not give (%v)", kind, name, v.GoString(), given[kind])
				}
			} else if _, ok := body["script"]; !ok {
				t.Errorf("mapping %s: attribute %s has neither from nor script", kind, name)
			}
		}
	}
	if got := slices.Sorted(maps.Keys(pl.mappings["user"])); !slices.Equal(got, []string{"displayName", "email", "manager", "mobile", "title", "userName"}) {
		t.Errorf("user mapping attributes: %v", got)
	}
}

func TestExports(t *testing.T) {
	pl := loadPipeline(t)
	for _, tc := range []struct {
		file                     string
		users, disabled, deleted int
	}{
		{"hr.csv", wantUsersV1, wantDisabledV1, wantDeletedV1},
		{"hr-v2.csv", wantUsersV2, wantDisabledV2, wantDeletedV2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			orgs, users := read(t, pl, tc.file)

			// Departments: one tree under 星河集团, up to six levels deep.
			orgIDs := map[string]bool{}
			maxDepth := 0
			for _, o := range orgs {
				orgIDs[o.ExternalID] = true
				depth := strings.Count(o.ExternalID, "/") + 1
				maxDepth = max(maxDepth, depth)
				if (o.Parent == "") != (o.ExternalID == "星河集团") || o.Parent != "" && !orgIDs[o.Parent] {
					t.Errorf("org %q has parent %q (parents come first, one root)", o.ExternalID, o.Parent)
				}
				if !strings.HasSuffix(o.ExternalID, o.Attributes["name"].Str()) {
					t.Errorf("org %q is named %q", o.ExternalID, o.Attributes["name"].Str())
				}
			}
			if len(orgs) != wantDepartments || maxDepth != wantMaxDepth {
				t.Errorf("%d departments, %d levels deep; want %d and %d", len(orgs), maxDepth, wantDepartments, wantMaxDepth)
			}
			depthCount := map[int]int{}
			for _, o := range orgs {
				depthCount[strings.Count(o.ExternalID, "/")+1]++
			}
			for d := 1; d <= wantMaxDepth; d++ {
				if depthCount[d] == 0 {
					t.Errorf("no department at level %d", d)
				}
			}

			// Users: states, departments, managers, unique user names.
			byID := map[string]sdk.Record{}
			for _, u := range users {
				byID[u.ExternalID] = u
			}
			states := map[sdk.State]int{}
			userNames := map[string]string{}
			heads := map[string]bool{} // departments with an active user
			for _, u := range users {
				states[u.State]++
				if !orgIDs[u.PrimaryOrg] {
					t.Errorf("user %s is in %q, not an org", u.ExternalID, u.PrimaryOrg)
				}
				if u.State == sdk.StateActive {
					heads[u.PrimaryOrg] = true
				}
				email := u.Attributes["email"].Str()
				name, _, ok := strings.Cut(email, "@")
				if !ok || !strings.HasSuffix(email, "@xinghe.example.com") {
					t.Errorf("user %s: e-mail %q", u.ExternalID, email)
				}
				if other, dup := userNames[name]; dup {
					t.Errorf("users %s and %s would both be %q", other, u.ExternalID, name)
				}
				userNames[name] = u.ExternalID
				for _, a := range []string{"name", "title", "hire_date"} {
					if u.Attributes[a].IsNull() {
						t.Errorf("user %s has no %s", u.ExternalID, a)
					}
				}
				mgr := u.Attributes["manager"]
				if mgr.IsNull() {
					if u.PrimaryOrg != "星河集团" || u.ExternalID != "100001" {
						t.Errorf("user %s has no manager", u.ExternalID)
					}
					continue
				}
				m, ok := byID[mgr.Str()]
				if !ok {
					t.Errorf("user %s: manager %s is not in the file", u.ExternalID, mgr.Str())
				}
				// Managers are on staff, and head the user's department or
				// the one above (a department's head reports up).
				if m.State != sdk.StateActive || m.PrimaryOrg != u.PrimaryOrg && m.PrimaryOrg != parentOf(u.PrimaryOrg) {
					t.Errorf("user %s (%s) reports to %s (%s, %s)", u.ExternalID, u.PrimaryOrg, m.ExternalID, m.PrimaryOrg, m.State)
				}
			}
			if len(users) != tc.users || states[sdk.StateDisabled] != tc.disabled || states[sdk.StateDeleted] != tc.deleted {
				t.Errorf("%d users, %d disabled, %d deleted; want %d, %d, %d",
					len(users), states[sdk.StateDisabled], states[sdk.StateDeleted], tc.users, tc.disabled, tc.deleted)
			}
			for id := range orgIDs {
				if !heads[id] {
					t.Errorf("department %s has no active user: the directory would keep an empty org", id)
				}
			}
		})
	}
}

// TestChanges checks what changed from hr.csv to hr-v2.csv, in the words of
// the export's headers.
func TestChanges(t *testing.T) {
	pl := loadPipeline(t)
	_, v1 := read(t, pl, "hr.csv")
	_, v2 := read(t, pl, "hr-v2.csv")
	header := map[string]string{"manager": "上级工号"}
	for h, a := range pl.csv.StringMap("columns") {
		header[a] = h
	}
	stateWord := map[sdk.State]string{sdk.StateActive: "在职", sdk.StateDisabled: "停用", sdk.StateDeleted: "离职"}
	before := map[string]sdk.Record{}
	for _, u := range v1 {
		before[u.ExternalID] = u
	}
	var got []string
	for _, u := range v2 {
		name := u.Attributes["name"].Str()
		old, ok := before[u.ExternalID]
		if !ok {
			got = append(got, fmt.Sprintf("%s %s: 入职 %s, %s, %s, 上级工号 %s", u.ExternalID, name,
				u.Attributes["hire_date"].Str(), u.PrimaryOrg, u.Attributes["title"].Str(), u.Attributes["manager"].Str()))
			continue
		}
		delete(before, u.ExternalID)
		var diffs []string
		if old.State != u.State {
			diffs = append(diffs, fmt.Sprintf("状态 %s -> %s", stateWord[old.State], stateWord[u.State]))
		}
		if old.PrimaryOrg != u.PrimaryOrg {
			diffs = append(diffs, fmt.Sprintf("部门 %s -> %s", old.PrimaryOrg, u.PrimaryOrg))
		}
		for _, a := range []string{"title", "mobile", "manager", "name", "english_name", "email", "hire_date"} {
			if !old.Attributes[a].Equal(u.Attributes[a]) {
				diffs = append(diffs, fmt.Sprintf("%s %s -> %s", header[a], old.Attributes[a].Str(), u.Attributes[a].Str()))
			}
		}
		if len(diffs) > 0 {
			got = append(got, u.ExternalID+" "+name+": "+strings.Join(diffs, "; "))
		}
	}
	for id := range before {
		got = append(got, id+": missing from hr-v2.csv")
	}
	slices.Sort(got)
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("changes from hr.csv to hr-v2.csv (-want +got):\n%s", diff)
	}
}

func parentOf(path string) string {
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return ""
	}
	return path[:i]
}
