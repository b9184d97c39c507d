package store

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/midstream-io/midstream/sdk"
)

// FuzzCodec checks the fast paths against encoding/json: strings are
// written exactly as json.Marshal writes them, and decodePlain agrees with
// the full decoder whenever it accepts an encoding.
func FuzzCodec(f *testing.F) {
	for _, s := range []string{"", "张伟", `a"b`, `back\slash`, "<&>", "tab\there", "\u2028", "\xff\xfe", "x,y", `{"t":`, "[1]", "null"} {
		f.Add(s, s+"2", int64(-7))
	}
	f.Fuzz(func(t *testing.T, s1, s2 string, n int64) {
		want, _ := json.Marshal(s1)
		a := sdk.Attributes{s1: sdk.String(s2), "k" + s2: sdk.StringList(s1, s2), "n": sdk.Int(n), "b": sdk.Bool(n%2 == 0),
			"t": sdk.Time(time.Unix(n%1e10, n%1e9).UTC()), "z": sdk.Null()}
		enc := EncodeAttributes(sdk.Attributes{"v": sdk.String(s1)})
		if got := string(enc); got != `{"v":`+string(want)+`}` {
			t.Fatalf("encoding of %q: got %s, want %s", s1, got, want)
		}
		enc = EncodeAttributes(a)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(enc, &raw); err != nil {
			t.Fatalf("not JSON: %s: %v", enc, err)
		}
		full, err := DecodeAttributes(enc)
		if err != nil {
			t.Fatalf("decode %s: %v", enc, err)
		}
		if plain, ok := decodePlain(enc); ok && !equalAttrs(plain, full) {
			t.Fatalf("decodePlain(%s) = %v, the full decoder %v", enc, plain, full)
		}
		// json.Marshal replaces invalid UTF-8, so only valid strings come
		// back as they were.
		if utf8.ValidString(s1) && utf8.ValidString(s2) && !equalAttrs(a, full) {
			t.Fatalf("round trip: got %v, want %v", full, a)
		}
	})
}

func equalAttrs(a, b sdk.Attributes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

// An empty list is a list, not null, whichever decoder reads it.
func TestEmptyListStaysAList(t *testing.T) {
	for _, enc := range []string{`{"g":[]}`, `{"g":[],"x":"\u003c"}`} {
		a, err := DecodeAttributes([]byte(enc))
		if err != nil {
			t.Fatal(err)
		}
		if l := a["g"].List(); l == nil || len(l) != 0 {
			t.Errorf("%s: g = %#v, want an empty list", enc, l)
		}
	}
}
