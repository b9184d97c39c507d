package engine

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/sdk"
)

// requestJSONByReflection is what requestJSON wrote before it wrote JSON
// directly: json.Marshal of the same object. Both must agree byte for
// byte, since stored requests are compared and shown.
func requestJSONByReflection(op sdk.Operation, m *mapping.Mapping) string {
	type ref struct {
		HubID    string `json:"hubId"`
		TargetID string `json:"targetId,omitempty"`
	}
	out := struct {
		Op         string         `json:"op"`
		TargetID   string         `json:"targetId,omitempty"`
		Parent     *ref           `json:"parent,omitempty"`
		Attributes map[string]any `json:"attributes,omitempty"`
	}{Op: string(op.Op), TargetID: op.TargetID}
	if op.Parent != nil {
		out.Parent = &ref{op.Parent.HubID, op.Parent.TargetID}
	}
	if len(op.Attributes) > 0 {
		out.Attributes = map[string]any{}
		names := op.Attributes.Names()
		sort.Strings(names)
		for _, k := range names {
			if Sensitive(k) || (m != nil && m.Sensitive(k)) {
				out.Attributes[k] = "******"
				continue
			}
			out.Attributes[k] = op.Attributes[k].Any()
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func FuzzRequestJSON(f *testing.F) {
	f.Add("create", "", "h1", "", "displayName", "张伟", "title", "a<b>&c", int64(3))
	f.Add("update", "t-1", "h2", "t-2", "password", "s3cret", "mail", "x\"y\\z\n", int64(-1))
	f.Add("delete", "t-3", "", "", "name", "\u2028\xff\ufffd", "", "", int64(0))
	f.Fuzz(func(t *testing.T, opName, targetID, parentHub, parentTarget, k1, v1, k2, v2 string, n int64) {
		op := sdk.Operation{Op: sdk.Op(opName), TargetID: targetID}
		if parentHub != "" {
			op.Parent = &sdk.Ref{HubID: parentHub, TargetID: parentTarget}
		}
		if k1 != "" || k2 != "" {
			op.Attributes = sdk.Attributes{
				k1:         sdk.String(v1),
				k2:         sdk.String(v2),
				"count":    sdk.Int(n),
				"active":   sdk.Bool(n%2 == 0),
				"groups":   sdk.StringList(v1, v2),
				"hired_at": sdk.Time(time.Unix(n%1e9, n%1e9).UTC()),
				"nothing":  sdk.Null(),
			}
		}
		if got, want := requestJSON(op, nil), requestJSONByReflection(op, nil); got != want {
			t.Errorf("requestJSON(%#v)\n got %s\nwant %s", op, got, want)
		}
	})
}
