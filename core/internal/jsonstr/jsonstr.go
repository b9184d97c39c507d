// Package jsonstr writes strings as encoding/json does, without its
// reflection for the common string that needs no escaping. The store's
// canonical attribute encoding and the requests recorded with events
// both depend on matching json.Marshal byte for byte.
package jsonstr

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Write writes s to b exactly as json.Marshal writes it.
func Write(b *bytes.Buffer, s string) {
	if plain(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	// json.Marshal of a string cannot fail.
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// plain reports whether json.Marshal would write s between quotes
// unchanged: valid UTF-8 with nothing it escapes (quote, backslash,
// control characters, <, >, &, U+2028, U+2029). Most values are.
func plain(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}
