package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/midstream-io/midstream/core/internal/jsonstr"
	"github.com/midstream-io/midstream/sdk"
)

// The canonical attribute encoding: a JSON object with sorted keys, where a
// string is a JSON string, an integer a JSON number, a boolean a JSON
// boolean, null is null, a string list a JSON array of strings, and a
// datetime {"t": RFC 3339 with nanoseconds, UTC}. Equal attributes encode to
// equal bytes, which is how the directory diff finds unchanged records
// without decoding them.

// EncodeAttributes returns the canonical encoding of a.
func EncodeAttributes(a sdk.Attributes) []byte {
	if len(a) == 0 {
		return []byte("{}")
	}
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		jsonstr.Write(&b, k)
		b.WriteByte(':')
		encodeValue(&b, a[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v sdk.Value) {
	switch v.Type() {
	case sdk.TypeString:
		jsonstr.Write(b, v.Str())
	case sdk.TypeInt:
		b.WriteString(strconv.FormatInt(v.IntValue(), 10))
	case sdk.TypeBool:
		b.WriteString(strconv.FormatBool(v.BoolValue()))
	case sdk.TypeTime:
		b.WriteString(`{"t":`)
		jsonstr.Write(b, v.TimeValue().UTC().Format(time.RFC3339Nano))
		b.WriteByte('}')
	case sdk.TypeStringList:
		b.WriteByte('[')
		for i, s := range v.List() {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonstr.Write(b, s)
		}
		b.WriteByte(']')
	default:
		b.WriteString("null")
	}
}

// DecodeAttributes decodes the canonical encoding.
func DecodeAttributes(data []byte) (sdk.Attributes, error) {
	if a, ok := decodePlain(data); ok {
		return a, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	a := make(sdk.Attributes, len(raw))
	for k, m := range raw {
		v, err := decodeValue(m)
		if err != nil {
			return nil, fmt.Errorf("decode attribute %q: %w", k, err)
		}
		a[k] = v
	}
	return a, nil
}

func decodeValue(m json.RawMessage) (sdk.Value, error) {
	m = bytes.TrimSpace(m)
	if len(m) == 0 {
		return sdk.Null(), nil
	}
	switch m[0] {
	case 'n':
		return sdk.Null(), nil
	case '"':
		var s string
		err := json.Unmarshal(m, &s)
		return sdk.String(s), err
	case 't', 'f':
		var b bool
		err := json.Unmarshal(m, &b)
		return sdk.Bool(b), err
	case '[':
		var l []string
		err := json.Unmarshal(m, &l)
		return sdk.StringList(l...), err
	case '{':
		var t struct {
			T string `json:"t"`
		}
		if err := json.Unmarshal(m, &t); err != nil {
			return sdk.Value{}, err
		}
		at, err := time.Parse(time.RFC3339Nano, t.T)
		return sdk.Time(at), err
	}
	i, err := strconv.ParseInt(string(m), 10, 64)
	return sdk.Int(i), err
}

// ChangedNames returns the names whose values differ between a and b,
// sorted.
func ChangedNames(a, b sdk.Attributes) []string {
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || !w.Equal(v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// decodePlain decodes, without reflection, an encoding with no escape
// in it, which is what most are (it is run for every event). ok is false
// for anything else, which DecodeAttributes then decodes in full.
func decodePlain(data []byte) (a sdk.Attributes, ok bool) {
	n := len(data)
	if n < 2 || data[0] != '{' || data[n-1] != '}' || bytes.IndexByte(data, '\\') >= 0 {
		return nil, false
	}
	a = make(sdk.Attributes, bytes.Count(data, []byte{':'}))
	if n == 2 {
		return a, true
	}
	// str reads a string starting at data[i] == '"'; it returns the index
	// after the closing quote.
	str := func(i int) (string, int, bool) {
		if i >= n || data[i] != '"' {
			return "", 0, false
		}
		j := bytes.IndexByte(data[i+1:], '"')
		if j < 0 {
			return "", 0, false
		}
		return string(data[i+1 : i+1+j]), i + 2 + j, true
	}
	lit := func(i int, word string) bool { return bytes.HasPrefix(data[i:], []byte(word)) }
	i := 1
	for {
		k, j, ok := str(i)
		if !ok || j >= n || data[j] != ':' {
			return nil, false
		}
		i = j + 1
		if i >= n {
			return nil, false
		}
		var v sdk.Value
		switch c := data[i]; {
		case c == '"':
			s, j, ok := str(i)
			if !ok {
				return nil, false
			}
			v, i = sdk.String(s), j
		case lit(i, "null"):
			v, i = sdk.Null(), i+4
		case lit(i, "true"):
			v, i = sdk.Bool(true), i+4
		case lit(i, "false"):
			v, i = sdk.Bool(false), i+5
		case c == '[':
			l := []string{} // as the full decoder has it: [] is not null
			i++
			for i < n && data[i] != ']' {
				s, j, ok := str(i)
				if !ok || j >= n {
					return nil, false
				}
				l = append(l, s)
				i = j
				if data[i] == ',' {
					i++
				}
			}
			if i >= n {
				return nil, false
			}
			v, i = sdk.StringList(l...), i+1
		case lit(i, `{"t":`):
			s, j, ok := str(i + 5)
			if !ok || j >= n || data[j] != '}' {
				return nil, false
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, false
			}
			v, i = sdk.Time(t), j+1
		default:
			j := i
			for j < n && (data[j] == '-' || data[j] >= '0' && data[j] <= '9') {
				j++
			}
			x, err := strconv.ParseInt(string(data[i:j]), 10, 64)
			if err != nil {
				return nil, false
			}
			v, i = sdk.Int(x), j
		}
		a[k] = v
		switch {
		case i < n-1 && data[i] == ',':
			i++
		case i == n-1:
			return a, true
		default:
			return nil, false
		}
	}
}
