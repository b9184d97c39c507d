package config

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestEventRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string // "" leaves it unset
		want  time.Duration
		diag  string
	}{
		{"", DefaultEventRetention, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"0", 0, ""},
		{"10m", 0, "Retention too short"},
		{"a month", 0, "Invalid retention"},
		{"-1d", 0, "Invalid retention"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			block := ""
			if tc.value != "" {
				block = fmt.Sprintf("pipeline \"p\" {\n  event_retention = %q\n}\n", tc.value)
			}
			src := block + minimalPipeline
			p, diags := load(context.Background(), "testdata", "p", []file{{name: "p.hcl", src: []byte(src)}}, testResolver{})
			if tc.diag != "" {
				if len(diags) != 1 || diags[0].Summary != tc.diag || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
					t.Fatalf("diagnostics %v, want one %q at line 2", diags, tc.diag)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if p.EventRetention != tc.want {
				t.Errorf("EventRetention = %s, want %s", p.EventRetention, tc.want)
			}
		})
	}
}

// minimalPipeline is a source and a target with only what they require,
// for tests of pipeline-wide settings.
const minimalPipeline = `
source "csv" "hr" {
  path      = "hr.csv"
  id_column = "id"
}
target "callback" "app" {
  url   = "http://127.0.0.1:8471/callback"
  token = "secret"
}
`
