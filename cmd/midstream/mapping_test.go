package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMappingTest runs `midstream mapping test` on the quickstart's
// fixtures, and on fixtures that fail.
func TestMappingTest(t *testing.T) {
	t.Parallel()
	quickstart, err := filepath.Abs("../../examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := os.ReadFile(filepath.Join(quickstart, "pipeline.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	failing := t.TempDir()
	if err := os.WriteFile(filepath.Join(failing, "pipeline.hcl"), pipeline, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile := func(dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(failing, "users_test.json", `{
  "target": "app",
  "cases": [
    {
      "name": "given name first",
      "object": {"id": "100002"},
      "input": {"name": "周思雨", "email": "Zhou.Siyu@xinghe.example.com", "title": "总经理", "grade": 7},
      "expected": {"userName": "siyu.zhou", "displayName": "周思雨", "email": "zhou.siyu@xinghe.example.com", "title": "总经理", "grade": 7}
    },
    {"name": "no error", "input": {"name": "张伟"}, "error": "is required"},
    {"name": "fine", "kind": "org", "input": {"name": "平台部"}, "expected": {"name": "平台部"}}
  ]
}`)
	broken := t.TempDir()
	writeFile(broken, "pipeline.hcl", string(pipeline))
	writeFile(broken, "bad_test.json", `{"target": "app", "cases": [{"input": {"n": 1.5}, "expected": {}}]}`)

	tests := []struct {
		name     string
		args     []string
		wantExit int
		want     []string // lines or parts of lines of the output, in order
	}{
		{
			name: "quickstart",
			args: []string{"mapping", "test", quickstart},
			want: []string{"mapping_tests/orgs.json: 1 case", "mapping_tests/users.json: 8 cases", "PASS: 9 cases"},
		},
		{
			name: "quickstart verbose, one target",
			args: []string{"mapping", "test", "-v", "--target", "app", filepath.Join(quickstart, "pipeline.hcl")},
			want: []string{"ok   ", "users.json: a namesake gets a number (target app, user)", "PASS: 9 cases"},
		},
		{
			name:     "differences",
			args:     []string{"mapping", "test", failing},
			wantExit: 1,
			want: []string{
				"--- FAIL ", "users_test.json: given name first (target app, user 100002)",
				"    grade: missing, want 7",
				"    manager: not expected, got null",
				"    mobile: not expected, got null",
				`    userName: want "siyu.zhou", got "zhou.siyu"`,
				"--- FAIL ", "users_test.json: no error (target app, user)",
				`    the mapping succeeded, want an error with "is required"`,
				"error: mapping test: 2 of 3 cases failed",
			},
		},
		{
			name:     "a broken fixture",
			args:     []string{"mapping", "test", broken},
			wantExit: 1,
			want:     []string{`bad_test.json: case 1: input "n": 1.5 is not a whole number; attributes have no fractions`, "error: mapping test: 1 fixture file unreadable"},
		},
		{
			name:     "unknown target",
			args:     []string{"mapping", "test", "--target", "crm", quickstart},
			wantExit: 1,
			want:     []string{`error: the pipeline has no target "crm"`},
		},
		{
			name:     "no fixtures",
			args:     []string{"mapping", "test", filepath.Join(quickstart, "..", "receiver")},
			wantExit: 1,
			want:     []string{"error:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := midstream(t, tt.args...)
			cmd.Dir = filepath.Dir(tt.args[len(tt.args)-1])
			out, err := cmd.CombinedOutput()
			exit := 0
			if err != nil {
				exit = cmd.ProcessState.ExitCode()
			}
			if exit != tt.wantExit {
				t.Errorf("exit status %d, want %d:\n%s", exit, tt.wantExit, out)
			}
			rest := string(out)
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("output lacks %q (in order):\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
