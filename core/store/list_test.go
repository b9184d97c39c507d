package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzUnmarshalList checks the fast paths of unmarshalList against
// encoding/json: whatever the column holds, both decode it alike.
func FuzzUnmarshalList(f *testing.F) {
	for _, s := range []string{
		`["name","title","manager"]`, `["姓名","部门"]`, `[""]`, `["a,b","c"]`, `["a\"b"]`, `["\u003cb\u003e"]`,
		`[1,2,3]`, `[0]`, `[-1]`, `[1.5]`, `[1e3]`, `[9223372036854775808]`, `[01]`, `[ 1 ]`, `[1,]`, `[,1]`,
		`["a"`, `"a"]`, `["a",]`, `["a" ,"b"]`, `[null]`, `["a",1]`, "[\"\x01\"]", "[\"\xff\"]", `{}`, `[]`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var fast, slow []string
		unmarshalList(data, &fast)
		if data != "" {
			_ = json.Unmarshal([]byte(data), &slow)
		}
		if len(fast) != 0 || len(slow) != 0 {
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("strings %q: got %q, encoding/json %q", data, fast, slow)
			}
		}
		var fastN, slowN []int64
		unmarshalList(data, &fastN)
		if data != "" {
			_ = json.Unmarshal([]byte(data), &slowN)
		}
		if len(fastN) != 0 || len(slowN) != 0 {
			if !reflect.DeepEqual(fastN, slowN) {
				t.Errorf("integers %q: got %v, encoding/json %v", data, fastN, slowN)
			}
		}
	})
}

// TestUnmarshalListTakesTheFastPath guards the point of unmarshalList:
// what json.Marshal writes of names and sequence numbers is split
// without encoding/json, into one allocation (encoding/json makes
// several).
func TestUnmarshalListTakesTheFastPath(t *testing.T) {
	names := []string{"name", "姓名", "a,b", "title"}
	seqs := []int64{1, 42, 1 << 40}
	namesJSON, seqsJSON := mustJSON(names), mustJSON(seqs)
	var gotNames []string
	var gotSeqs []int64
	for _, c := range []struct {
		what   string
		decode func()
	}{
		{namesJSON, func() { gotNames = nil; unmarshalList(namesJSON, &gotNames) }},
		{seqsJSON, func() { gotSeqs = nil; unmarshalList(seqsJSON, &gotSeqs) }},
	} {
		if n := testing.AllocsPerRun(100, c.decode); n > 1 {
			t.Errorf("unmarshalList(%s): %v allocations, want the result's alone", c.what, n)
		}
	}
	if !reflect.DeepEqual(gotNames, names) || !reflect.DeepEqual(gotSeqs, seqs) {
		t.Errorf("decoded %q and %v, want %q and %v", gotNames, gotSeqs, names, seqs)
	}
}
