package jsonfile_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/midstream-io/midstream/examples/plugin-template/jsonfile"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/conformance"
	"github.com/midstream-io/midstream/sdk/plugin"
)

func TestMain(m *testing.M) {
	plugin.TestMain(m, plugin.Constructors{"jsonfile": func() sdk.Connector { return jsonfile.New() }})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendJournal(t *testing.T, path string, lines ...map[string]any) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		b, _ := json.Marshal(l)
		if _, err := f.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConformance(t *testing.T) {
	conformance.Suite{
		New:     func() sdk.Connector { return jsonfile.New() },
		Example: jsonfile.Example,
		Fixture: func(t *testing.T) *conformance.Fixture {
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "directory.json"), map[string]any{"records": []map[string]any{
				{"kind": "org", "id": "hq", "attributes": map[string]any{"name": "总部"}},
				{"kind": "org", "id": "rd", "parent": "hq", "attributes": map[string]any{"name": "研发中心"}},
				{"kind": "user", "id": "u1", "orgs": []string{"rd"}, "attributes": map[string]any{"name": "张伟", "level": 7, "tags": []string{"a", "b"}}},
				{"kind": "user", "id": "u2", "orgs": []string{"hq"}, "state": "disabled", "attributes": map[string]any{"name": "李娜", "admin": true}},
				{"kind": "user", "id": "gone", "orgs": []string{"hq"}},
			}})
			journal := filepath.Join(dir, "changes.jsonl")
			appendJournal(t, journal, map[string]any{"seq": 1, "kind": "user", "id": "gone", "state": "deleted"})
			return &conformance.Fixture{
				Config: `
path    = "directory.json"
journal = "changes.jsonl"
`,
				Dir: dir,
				Want: []sdk.Record{
					{Kind: sdk.KindOrg, ExternalID: "hq", Attributes: sdk.Attributes{"name": sdk.String("总部")}},
					{Kind: sdk.KindOrg, ExternalID: "rd", Parent: "hq", Attributes: sdk.Attributes{"name": sdk.String("研发中心")}},
					{Kind: sdk.KindUser, ExternalID: "u1", Orgs: []string{"rd"}, PrimaryOrg: "rd",
						Attributes: sdk.Attributes{"name": sdk.String("张伟"), "level": sdk.Int(7), "tags": sdk.StringList("a", "b")}},
					{Kind: sdk.KindUser, ExternalID: "u2", Orgs: []string{"hq"}, PrimaryOrg: "hq", State: sdk.StateDisabled,
						Attributes: sdk.Attributes{"name": sdk.String("李娜"), "admin": sdk.Bool(true)}},
				},
				Change: func(t *testing.T, step int) []sdk.Record {
					base := int64(2 + step*10)
					appendJournal(t, journal,
						map[string]any{"seq": base, "kind": "user", "id": "u1", "orgs": []string{"hq"}, "attributes": map[string]any{"name": "张伟"}},
						map[string]any{"seq": base + 1, "kind": "org", "id": fmt.Sprintf("new%d", step), "parent": "hq"},
						map[string]any{"seq": base + 3, "kind": "user", "id": "u2", "state": "deleted"},
					)
					return []sdk.Record{
						{Kind: sdk.KindUser, ExternalID: "u1", Orgs: []string{"hq"}, PrimaryOrg: "hq", Attributes: sdk.Attributes{"name": sdk.String("张伟")}},
						{Kind: sdk.KindOrg, ExternalID: fmt.Sprintf("new%d", step), Parent: "hq"},
						{Kind: sdk.KindUser, ExternalID: "u2", State: sdk.StateDeleted},
					}
				},
				Large: func(t *testing.T) (string, int) {
					const n = 60000
					recs := []map[string]any{{"kind": "org", "id": "hq", "attributes": map[string]any{"name": "总部"}}}
					for i := range n - 1 {
						recs = append(recs, map[string]any{"kind": "user", "id": fmt.Sprintf("u%06d", i), "orgs": []string{"hq"},
							"attributes": map[string]any{"name": fmt.Sprintf("用户%d", i), "email": fmt.Sprintf("user%d@example.com", i)}})
					}
					writeJSON(t, filepath.Join(dir, "large.json"), map[string]any{"records": recs})
					return `path = "large.json"`, n
				},
			}
		},
	}.Run(t)
}
