package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
)

// buildTemplate builds the out-of-tree template plugin, an incremental
// source (a JSON snapshot and a change journal).
func buildTemplate(t *testing.T) (path, sum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "jsonfile-plugin")
	out, err := exec.Command("go", "build", "-o", path, "github.com/midstream-io/midstream/examples/plugin-template").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return path, hex.EncodeToString(h[:])
}

func TestIncrementalSourceCommitsItsCursorWithTheChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the template plugin; run without -short")
	}
	plugin, sum := buildTemplate(t)
	e := newEnv(t, &hr{rows: map[string][]string{}})
	dir := e.dir
	snapshot := map[string]any{"records": []map[string]any{
		{"kind": "org", "id": "hq", "attributes": map[string]any{"name": "总部"}},
		{"kind": "user", "id": "u1", "orgs": []string{"hq"}, "attributes": map[string]any{"displayName": "张伟", "title": "工程师"}},
		{"kind": "user", "id": "u2", "orgs": []string{"hq"}, "attributes": map[string]any{"displayName": "李娜", "title": "经理"}},
	}}
	b, _ := json.Marshal(snapshot)
	if err := os.WriteFile(filepath.Join(dir, "directory.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "changes.jsonl")
	appendLines := func(lines ...string) {
		f, err := os.OpenFile(journal, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			fmt.Fprintln(f, l)
		}
	}
	appendLines(`{"seq": 1, "kind": "user", "id": "u3", "orgs": ["hq"], "attributes": {"displayName": "王芳", "title": "工程师"}}`)
	pipeline := fmt.Sprintf(`
plugin "jsonfile" {
  path   = %q
  sha256 = %q
}

source "jsonfile" "dir" {
  path    = "directory.json"
  journal = "changes.jsonl"
  mapping "user" {
    attribute "displayName" { from = "displayName" }
    attribute "title" {
      script = "record.title == 'boom' ? (function(){ throw new Error('bad title') })() : record.title"
    }
  }
}

target "callback" "app" {
  url   = %q
  token = "t0ken"
}
`, plugin, sum, e.url+"/")
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(pipeline), 0o600); err != nil {
		t.Fatal(err)
	}
	sync := func() *engine.Report {
		t.Helper()
		eng, done := openEngine(t, dir, e.db, engine.Options{})
		defer done()
		return eng.Sync(context.Background(), engine.SyncOptions{})
	}
	cursor := func() string {
		st, err := store.Open(e.db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c, _, err := st.Cursor(context.Background(), "dir")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	names := func() string {
		var out []string
		for _, o := range e.app.Objects() {
			out = append(out, fmt.Sprintf("%s:%s/%s", o.Kind, o.Attributes.String("displayName")+o.Attributes.String("name"), o.Attributes.String("title")))
		}
		sortStrings(out)
		return strings.Join(out, " ")
	}

	rep := sync()
	mustSucceed(t, rep)
	if rep.Sources[0].Mode != "full" || cursor() != "1" {
		t.Fatalf("first run: mode %s, cursor %q; want a full read that saves cursor 1", rep.Sources[0].Mode, cursor())
	}
	if got, want := names(), "org:总部/ user:张伟/工程师 user:李娜/经理 user:王芳/工程师"; got != want {
		t.Fatalf("after the full read: %s, want %s", got, want)
	}

	appendLines(
		`{"seq": 2, "kind": "user", "id": "u1", "orgs": ["hq"], "attributes": {"displayName": "张伟", "title": "架构师"}}`,
		`{"seq": 3, "kind": "user", "id": "u2", "state": "deleted"}`,
	)
	rep = sync()
	mustSucceed(t, rep)
	if rep.Sources[0].Mode != "incremental" || cursor() != "3" {
		t.Fatalf("second run: mode %s, cursor %q; want an incremental read to cursor 3", rep.Sources[0].Mode, cursor())
	}
	if got, want := names(), "org:总部/ user:张伟/架构师 user:王芳/工程师"; got != want {
		t.Fatalf("after the changes: %s, want %s", got, want)
	}

	// A change the mapping cannot take in stops the cursor before it: the
	// changes before it are committed, it and those after are read again.
	appendLines(
		`{"seq": 4, "kind": "user", "id": "u3", "orgs": ["hq"], "attributes": {"displayName": "王芳", "title": "主管"}}`,
		`{"seq": 5, "kind": "user", "id": "u1", "orgs": ["hq"], "attributes": {"displayName": "张伟", "title": "boom"}}`,
	)
	rep = sync()
	if rep.Sources[0].Err == nil || !strings.Contains(rep.Sources[0].Err.Error(), "bad title") {
		t.Fatalf("a change whose mapping throws: %v, want the run to fail naming it", rep.Sources[0].Err)
	}
	if c := cursor(); c != "3" && c != "4" {
		t.Fatalf("cursor %q moved past the change it could not take in (5)", c)
	}
}
