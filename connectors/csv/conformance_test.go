package csv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/conformance"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// TestMain lets the conformance kit launch this test binary as the csv
// plugin.
func TestMain(m *testing.M) {
	plugin.TestMain(m, plugin.Constructors{"csv": func() sdk.Connector { return New() }})
}

func TestConformance(t *testing.T) {
	conformance.Suite{
		New:     func() sdk.Connector { return New() },
		Example: Example,
		Fixture: func(t *testing.T) *conformance.Fixture {
			dir, err := filepath.Abs("testdata/example")
			if err != nil {
				t.Fatal(err)
			}
			return &conformance.Fixture{
				Config: Example,
				Dir:    dir,
				Want:   parseRecords(t, filepath.Join(dir, "expected.jsonl")),
				Large: func(t *testing.T) (string, int) {
					const n = 60_000
					path := writeLarge(t, n)
					return fmt.Sprintf("path = %q\nid_column = \"工号\"\nstate_column = \"状态\"\nmanager_column = \"上级\"\n", path), n
				},
			}
		},
	}.Run(t)
}

// parseRecords reads records rendered by render.
func parseRecords(t *testing.T, file string) []sdk.Record {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []sdk.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var j recordJSON
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatal(err)
		}
		r := sdk.Record{Kind: sdk.Kind(j.Kind), ExternalID: j.ID, State: sdk.State(j.State), Parent: j.Parent, PrimaryOrg: j.PrimaryOrg, Orgs: j.Orgs}
		if len(j.Attributes) > 0 {
			r.Attributes = sdk.Attributes{}
			for k, v := range j.Attributes {
				val, err := sdk.ValueOf(v)
				if err != nil {
					t.Fatal(err)
				}
				r.Attributes[k] = val
			}
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestBadInputOverGRPC checks that bad input fails a read through the
// plugin protocol as it does in process: nothing emitted, a permanent
// error listing every problem.
func TestBadInputOverGRPC(t *testing.T) {
	cl, stop := plugin.InProcess(t, New())
	defer stop()
	cfg, diags := sdk.NewConfig(schema, map[string]any{
		pathField: "input.csv", idColumnField: "id", requiredColumnsField: []any{"name"}, stateColumnField: "state",
		departmentColumnField: "dept", managerColumnField: "manager",
	})
	if diags.HasError() {
		t.Fatal(diags.Err())
	}
	var resp sdk.ConfigureResponse
	cl.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: "testdata/bad_rows"}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics.Err())
	}
	emitted := 0
	_, err := cl.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		emitted += len(rs)
		return nil
	})
	want, rerr := os.ReadFile("testdata/bad_rows/expected.err")
	if rerr != nil {
		t.Fatal(rerr)
	}
	se := sdk.AsError(err)
	if se == nil || se.Category != sdk.CategoryPermanent || se.Error()+"\n" != string(want) || emitted != 0 {
		t.Fatalf("Read over gRPC emitted %d records and returned %v; want nothing emitted and\n%s", emitted, err, want)
	}
}
