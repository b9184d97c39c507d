package plugins_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk/hcldecode"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// TestConnectorFoldersMatchTheTable checks that every folder under
// connectors/ is a built-in, and that its folder name, table name,
// metadata name and README title agree, and its example decodes.
func TestConnectorFoldersMatchTheTable(t *testing.T) {
	entries, err := os.ReadDir("../connectors")
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" {
			folders = append(folders, e.Name())
		}
	}
	if got, want := strings.Join(folders, ","), strings.Join(plugins.Names(), ","); got != want {
		t.Fatalf("connector folders %s, built-in table %s: every folder is one line of plugins/builtin.go", got, want)
	}
	for _, name := range folders {
		t.Run(name, func(t *testing.T) {
			b, _ := plugins.Lookup(name)
			c := b.New()
			if got := c.Metadata().Name; got != name {
				t.Errorf("connector in folder %s calls itself %q", name, got)
			}
			if err := plugin.CheckDefinition(c); err != nil {
				t.Error(err)
			}
			readme, err := os.ReadFile(filepath.Join("../connectors", name, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if title, _, _ := strings.Cut(string(readme), "\n"); title != "# "+name {
				t.Errorf("README title %q, want %q", title, "# "+name)
			}
			example, err := os.ReadFile(filepath.Join("../connectors", name, "example.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			if string(example) != b.Example {
				t.Error("the table's example is not the folder's example.hcl")
			}
			ctx := hcldecode.EvalContext(t.TempDir(), func(string) (string, bool) { return "x", true })
			if _, diags := hcldecode.DecodeFile("example.hcl", example, c.Schema(), ctx); diags.HasErrors() {
				t.Errorf("example.hcl: %s", diags.Error())
			}
		})
	}
}
