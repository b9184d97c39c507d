package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzWrite(f *testing.F) {
	for _, s := range []string{"", "张伟", "a<b>&c", "x\"y\\z\n", "\u2028", "\xff", "\ufffd", "tab\there"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		Write(&b, s)
		want, _ := json.Marshal(s)
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("Write(%q) = %s, json.Marshal %s", s, b.Bytes(), want)
		}
	})
}

// TestPlainStringsSkipEncodingJSON guards the point of Write: a string
// with nothing to escape is written without json.Marshal.
func TestPlainStringsSkipEncodingJSON(t *testing.T) {
	for _, s := range []string{"wei.zhang@example.com", "高级软件工程师"} {
		if !plain(s) {
			t.Errorf("plain(%q) = false", s)
		}
	}
}
