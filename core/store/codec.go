package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

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
		writeString(&b, k)
		b.WriteByte(':')
		encodeValue(&b, a[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	// json.Marshal of a string cannot fail.
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

func encodeValue(b *bytes.Buffer, v sdk.Value) {
	switch v.Type() {
	case sdk.TypeString:
		writeString(b, v.Str())
	case sdk.TypeInt:
		b.WriteString(strconv.FormatInt(v.IntValue(), 10))
	case sdk.TypeBool:
		b.WriteString(strconv.FormatBool(v.BoolValue()))
	case sdk.TypeTime:
		b.WriteString(`{"t":`)
		writeString(b, v.TimeValue().UTC().Format(time.RFC3339Nano))
		b.WriteByte('}')
	case sdk.TypeStringList:
		b.WriteByte('[')
		for i, s := range v.List() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, s)
		}
		b.WriteByte(']')
	default:
		b.WriteString("null")
	}
}

// DecodeAttributes decodes the canonical encoding.
func DecodeAttributes(data []byte) (sdk.Attributes, error) {
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
