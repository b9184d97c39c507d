package mapping

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // formatDate and parseDate find every zone, whatever the host has
	"unicode"

	"github.com/dop251/goja"
	"golang.org/x/text/unicode/norm"

	"github.com/midstream-io/midstream/sdk"
)

// helper is one function of the library every script can call. Its
// documentation and examples are the reference in doc.go and the README,
// generated from this table and checked by TestHelpers.
type helper struct {
	// Name is the global the function is bound to.
	Name string
	// Signature shows the parameters; optional ones in brackets.
	Signature string
	// Group heads the helpers of one kind in the docs.
	Group string
	// Doc says what the function does, in sentences.
	Doc string
	// Examples are run by TestHelpers and shown in the docs.
	Examples []example
	// fn implements it on a runtime.
	fn func(v *vm, call goja.FunctionCall) goja.Value
}

// example is a call of a helper and its result.
type example struct {
	// Record is the input record, when Call reads it.
	Record sdk.Attributes
	// Call is a script expression.
	Call string
	// Want is the result, written as in JavaScript: "zhang wei" with its
	// quotes, 42, true, null, ["a", "b"], or new Date("…") for a datetime.
	Want string
}

// The helper groups, in the order of the docs.
const (
	groupText  = "Text"
	groupLists = "Lists and empty values"
	groupRegex = "Regular expressions"
	groupDates = "Dates"
	groupHash  = "Hashing"
	groupNames = "Names"
)

var helperGroups = []string{groupText, groupLists, groupRegex, groupDates, groupHash, groupNames}

// helpers is the library, in the order of the docs.
var helpers = []helper{
	{
		Name: "lower", Signature: "lower(s)", Group: groupText,
		Doc: "Returns s in lower case.",
		Examples: []example{
			{Call: `lower("Zhang WEI")`, Want: `"zhang wei"`},
			{Call: `lower(record.email)`, Record: sdk.Attributes{"email": sdk.String("Wei.Zhang@Example.COM")}, Want: `"wei.zhang@example.com"`},
			{Call: `lower(record.nickname)`, Record: sdk.Attributes{}, Want: `null`},
		},
		fn: textFunc(strings.ToLower),
	},
	{
		Name: "upper", Signature: "upper(s)", Group: groupText,
		Doc:      "Returns s in upper case.",
		Examples: []example{{Call: `upper("cn-east")`, Want: `"CN-EAST"`}},
		fn:       textFunc(strings.ToUpper),
	},
	{
		Name: "title", Signature: "title(s)", Group: groupText,
		Doc: "Returns s with the first letter of each word in upper case and the others in lower case; a word is a run of letters.",
		Examples: []example{
			{Call: `title("anna SCHMIDT")`, Want: `"Anna Schmidt"`},
			{Call: `title("mary-jane o'neil")`, Want: `"Mary-Jane O'Neil"`},
		},
		fn: textFunc(titleCase),
	},
	{
		Name: "trim", Signature: "trim(s)", Group: groupText,
		Doc:      "Returns s without white space at either end, the ideographic space (U+3000) of Chinese text included.",
		Examples: []example{{Call: `trim("  张伟\u3000")`, Want: `"张伟"`}},
		fn:       textFunc(strings.TrimSpace),
	},
	{
		Name: "ascii", Signature: "ascii(s)", Group: groupText,
		Doc: "Folds Latin letters to ASCII: accents are dropped (é → e), and ß, æ, ø, œ, ł, đ, þ become ss, ae, o, oe, l, d, th. Other characters, such as Chinese, are kept; see pinyin.",
		Examples: []example{
			{Call: `ascii("Lukas Müller")`, Want: `"Lukas Muller"`},
			{Call: `ascii("Łukasz Dvořák, Straße")`, Want: `"Lukasz Dvorak, Strasse"`},
		},
		fn: textFunc(foldASCII),
	},
	{
		Name: "split", Signature: "split(s[, sep])", Group: groupLists,
		Doc: "Splits s at each sep (default \",\") into a list of strings, each trimmed; empty items are dropped.",
		Examples: []example{
			{Call: `split("dev, ops,,qa")`, Want: `["dev", "ops", "qa"]`},
			{Call: `split("星河集团/研发中心/平台部", "/")`, Want: `["星河集团", "研发中心", "平台部"]`},
			{Call: `split("")`, Want: `[]`},
		},
		fn: helperSplit,
	},
	{
		Name: "join", Signature: "join(list[, sep])", Group: groupLists,
		Doc: "Joins the items of list with sep (default \",\"), leaving out null, undefined and empty items; a string is returned as it is.",
		Examples: []example{
			{Call: `join(record.groups, ";")`, Record: sdk.Attributes{"groups": sdk.StringList("dev", "ops")}, Want: `"dev;ops"`},
			{Call: `join(["a", null, "", "b"], "/")`, Want: `"a/b"`},
		},
		fn: helperJoin,
	},
	{
		Name: "coalesce", Signature: "coalesce(value, ...)", Group: groupLists,
		Doc: "Returns the first of its arguments that is not empty (null, undefined, an empty or blank string, an empty list), or null.",
		Examples: []example{
			{Call: `coalesce(record.nickname, record.name)`, Record: sdk.Attributes{"nickname": sdk.String(" "), "name": sdk.String("张伟")}, Want: `"张伟"`},
			{Call: `coalesce(null, [], 0)`, Want: `0`},
			{Call: `coalesce()`, Want: `null`},
		},
		fn: helperCoalesce,
	},
	{
		Name: "regexTest", Signature: "regexTest(s, pattern)", Group: groupRegex,
		Doc: "Reports whether pattern matches s (anywhere; anchor it with ^ and $). Patterns are RE2 syntax, as Go's regexp package has them (no backreferences or lookaround), so matching takes linear time whatever the input. s null or undefined gives false.",
		Examples: []example{
			{Call: `regexTest("+86 138 0013 8000", "^\\+86")`, Want: `true`},
			{Call: `regexTest(null, "x")`, Want: `false`},
		},
		fn: helperRegexTest,
	},
	{
		Name: "regexReplace", Signature: "regexReplace(s, pattern, replacement)", Group: groupRegex,
		Doc: "Replaces every match of pattern in s with replacement, in which $1 or ${1} is the first group and ${name} a named group ((?P<name>…)); $$ is a dollar sign.",
		Examples: []example{
			{Call: `regexReplace("+86 138 0013 8000", "\\s+", "")`, Want: `"+8613800138000"`},
			{Call: `regexReplace("Zhang, Wei", "(\\w+), (\\w+)", "$2 $1")`, Want: `"Wei Zhang"`},
		},
		fn: helperRegexReplace,
	},
	{
		Name: "regexMatch", Signature: "regexMatch(s, pattern)", Group: groupRegex,
		Doc: "Returns the first match of pattern in s as a list: the whole match, then each group (\"\" for a group that did not take part); null when nothing matches.",
		Examples: []example{
			{Call: `regexMatch("wei.zhang@example.com", "^([^@]+)@(.+)$")`, Want: `["wei.zhang@example.com", "wei.zhang", "example.com"]`},
			{Call: `regexMatch("no digits", "\\d+")`, Want: `null`},
		},
		fn: helperRegexMatch,
	},
	{
		Name: "now", Signature: "now()", Group: groupDates,
		Doc: "Returns the run's start time as a Date: the same instant for every object of a run, as are new Date() and Date.now().",
		Examples: []example{
			{Call: `formatDate(now(), "2006-01-02 15:04")`, Want: `"2026-05-06 07:08"`},
		},
		fn: func(v *vm, _ goja.FunctionCall) goja.Value { return v.date(v.now) },
	},
	{
		Name: "formatDate", Signature: "formatDate(d[, layout[, zone]])", Group: groupDates,
		Doc: "Formats d (a Date, a number of milliseconds since 1970, or text parseDate reads) with a Go layout (default RFC 3339, \"2006-01-02T15:04:05Z07:00\") in a time zone (an IANA name such as \"Asia/Shanghai\", default \"UTC\"). A Go layout writes the reference time Mon Jan 2 15:04:05 MST 2006 as it should look: 2006 year, 01 month, 02 day, 15 hour (03 for 12-hour, with PM), 04 minute, 05 second, .000 milliseconds, Mon and Monday, Jan and January, MST zone name, Z07:00 or -0700 offset.",
		Examples: []example{
			{Call: `formatDate(record.hired, "2006-01-02", "Asia/Shanghai")`, Record: sdk.Attributes{"hired": sdk.Time(time.Date(2019, 3, 3, 17, 30, 0, 0, time.UTC))}, Want: `"2019-03-04"`},
			{Call: `formatDate("2024-05-06T07:08:09Z")`, Want: `"2024-05-06T07:08:09Z"`},
			{Call: `formatDate(0, "Jan 2, 2006 at 3:04pm (MST)", "America/New_York")`, Want: `"Dec 31, 1969 at 7:00pm (EST)"`},
			{Call: `formatDate(null, "2006")`, Want: `null`},
		},
		fn: helperFormatDate,
	},
	{
		Name: "parseDate", Signature: "parseDate(s[, layout[, zone]])", Group: groupDates,
		Doc: "Parses s with a Go layout (see formatDate) into a Date; the zone (default \"UTC\") places a time written without an offset. Without a layout, s is RFC 3339 (2024-05-06T07:08:09+08:00), \"2006-01-02 15:04:05\", \"2006-01-02T15:04:05\" or \"2006-01-02\". Text that does not parse throws an error naming the layout.",
		Examples: []example{
			{Call: `parseDate("2024-05-06 09:30", "2006-01-02 15:04", "Asia/Shanghai")`, Want: `new Date("2024-05-06T01:30:00Z")`},
			{Call: `parseDate("2024-05-06")`, Want: `new Date("2024-05-06T00:00:00Z")`},
			{Call: `parseDate("06/05/2024", "02/01/2006").getUTCMonth()`, Want: `4`},
		},
		fn: helperParseDate,
	},
	{
		Name: "md5", Signature: "md5(s)", Group: groupHash,
		Doc:      "Returns the MD5 digest of s (its UTF-8 bytes) in lower-case hex.",
		Examples: []example{{Call: `md5("zhang.wei")`, Want: `"` + hexDigest(md5.New(), "zhang.wei") + `"`}},
		fn:       hashFunc(md5.New),
	},
	{
		Name: "sha1", Signature: "sha1(s)", Group: groupHash,
		Doc:      "Returns the SHA-1 digest of s in lower-case hex.",
		Examples: []example{{Call: `sha1("zhang.wei")`, Want: `"` + hexDigest(sha1.New(), "zhang.wei") + `"`}},
		fn:       hashFunc(sha1.New),
	},
	{
		Name: "sha256", Signature: "sha256(s)", Group: groupHash,
		Doc:      "Returns the SHA-256 digest of s in lower-case hex.",
		Examples: []example{{Call: `sha256("zhang.wei")`, Want: `"` + hexDigest(sha256.New(), "zhang.wei") + `"`}},
		fn:       hashFunc(sha256.New),
	},
	{
		Name: "pinyin", Signature: "pinyin(s[, options])", Group: groupNames,
		Doc: "Writes the Chinese characters of s in pinyin, without tones, each character's most common reading (github.com/mozillazg/go-pinyin); other characters are kept, white space separates. Options: sep is put between syllables (default \"\"); initials: true keeps each syllable's first letter; surname: true reads the first characters as a family name (曾 zeng, not ceng; 单 shan; 欧阳 ouyang).",
		Examples: []example{
			{Call: `pinyin("张伟")`, Want: `"zhangwei"`},
			{Call: `pinyin("张伟", {sep: "."})`, Want: `"zhang.wei"`},
			{Call: `pinyin("周思雨", {initials: true})`, Want: `"zsy"`},
			{Call: `pinyin("曾静", {surname: true})`, Want: `"zengjing"`},
			{Call: `pinyin("IT部 运维组", {sep: "-"})`, Want: `"IT-bu-yun-wei-zu"`},
		},
		fn: helperPinyin,
	},
	{
		Name: "pinyinName", Signature: "pinyinName(name[, options])", Group: groupNames,
		Doc: "Makes an account name of a person's name, in lower case with letters and digits only: a Chinese name becomes its family name and its given name in pinyin, read as names (see pinyin's surname), joined by sep; a Latin name (no Chinese character) its words folded to ASCII, in the order written. Options: sep (default \".\"); givenFirst: true puts a Chinese given name first; initials: true shortens the given name to its initials. Pair it with unique = true and on_conflict = \"suffix\" for zhang.wei2.",
		Examples: []example{
			{Call: `pinyinName("周思雨")`, Want: `"zhou.siyu"`},
			{Call: `pinyinName("欧阳岩")`, Want: `"ouyang.yan"`},
			{Call: `pinyinName("曾晓琳", {sep: ""})`, Want: `"zengxiaolin"`},
			{Call: `pinyinName("周思雨", {givenFirst: true, sep: "_"})`, Want: `"siyu_zhou"`},
			{Call: `pinyinName("周思雨", {initials: true, sep: ""})`, Want: `"zhousy"`},
			{Call: `pinyinName("Lukas Müller")`, Want: `"lukas.muller"`},
			{Call: `pinyinName("Mary-Jane O'Neil", {initials: true})`, Want: `"m.oneil"`},
		},
		fn: helperPinyinName,
	},
}

// defaultLibrary installs the globals every script sees: the helpers.
var defaultLibrary = []func(*vm) error{installHelpers}

func installHelpers(v *vm) error {
	for i := range helpers {
		h := &helpers[i]
		if err := v.defineFunc(h.Name, func(call goja.FunctionCall) goja.Value { return h.fn(v, call) }); err != nil {
			return err
		}
	}
	return nil
}

// defineFunc defines a global function implemented in Go, named name in
// JavaScript (not after the Go function) and read-only.
func (v *vm) defineFunc(name string, fn func(goja.FunctionCall) goja.Value) error {
	f := v.rt.ToValue(fn).(*goja.Object)
	if err := f.DefineDataProperty("name", v.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
		return err
	}
	return v.rt.GlobalObject().DefineDataProperty(name, f, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

// isNullish reports whether x is null or undefined (or missing).
func isNullish(x goja.Value) bool {
	return x == nil || goja.IsUndefined(x) || goja.IsNull(x)
}

// text returns argument i as text; false when it is null or undefined.
func text(call goja.FunctionCall, i int) (string, bool) {
	x := call.Argument(i)
	if isNullish(x) {
		return "", false
	}
	return x.String(), true
}

// textOr returns argument i as text, or def when it is null or undefined.
func textOr(call goja.FunctionCall, i int, def string) string {
	if s, ok := text(call, i); ok {
		return s
	}
	return def
}

// throw throws a TypeError from helper name.
func (v *vm) throw(name, format string, args ...any) {
	panic(v.rt.NewTypeError(name + ": " + fmt.Sprintf(format, args...)))
}

// textFunc makes a helper of a function of text.
func textFunc(f func(string) string) func(*vm, goja.FunctionCall) goja.Value {
	return func(v *vm, call goja.FunctionCall) goja.Value {
		s, ok := text(call, 0)
		if !ok {
			return goja.Null()
		}
		return v.rt.ToValue(f(s))
	}
}

func titleCase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inWord := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) && !inWord:
			b.WriteRune(unicode.ToUpper(r))
			inWord = true
		case unicode.IsLetter(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
			inWord = false
		}
	}
	return b.String()
}

// asciiFolds are the Latin letters that do not decompose into an ASCII
// letter and combining marks.
var asciiFolds = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'æ': "ae", 'Æ': "AE", 'ø': "o", 'Ø': "O", 'œ': "oe", 'Œ': "OE",
	'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D", 'ð': "d", 'Ð': "D", 'þ': "th", 'Þ': "TH",
	'ı': "i", 'ħ': "h", 'Ħ': "H", 'ŋ': "ng", 'Ŋ': "NG", 'ſ': "s",
}

// foldASCII folds the Latin letters of s to ASCII.
func foldASCII(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if f, ok := asciiFolds[r]; ok {
			b.WriteString(f)
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

func helperSplit(v *vm, call goja.FunctionCall) goja.Value {
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	sep := textOr(call, 1, ",")
	var items []any
	if sep == "" {
		v.throw("split", "the separator is empty")
	}
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			items = append(items, p)
		}
	}
	return v.rt.NewArray(items...)
}

func helperJoin(v *vm, call goja.FunctionCall) goja.Value {
	x := call.Argument(0)
	if isNullish(x) {
		return goja.Null()
	}
	sep := textOr(call, 1, ",")
	o, ok := x.(*goja.Object)
	if !ok || o.ClassName() != "Array" {
		return v.rt.ToValue(x.String())
	}
	n := int(o.Get("length").ToInteger())
	parts := make([]string, 0, n)
	for i := range n {
		it := o.Get(itoa(i))
		if isNullish(it) {
			continue
		}
		if s := it.String(); s != "" {
			parts = append(parts, s)
		}
	}
	return v.rt.ToValue(strings.Join(parts, sep))
}

func helperCoalesce(_ *vm, call goja.FunctionCall) goja.Value {
	for _, x := range call.Arguments {
		if !jsEmpty(x) {
			return x
		}
	}
	return goja.Null()
}

// jsEmpty reports whether x is null, undefined, a blank string or an
// empty array.
func jsEmpty(x goja.Value) bool {
	if isNullish(x) {
		return true
	}
	if o, ok := x.(*goja.Object); ok {
		return o.ClassName() == "Array" && o.Get("length").ToInteger() == 0
	}
	if s, ok := x.Export().(string); ok {
		return strings.TrimSpace(s) == ""
	}
	return false
}

// regexps caches compiled patterns. Scripts use a few fixed patterns; a
// script that builds them per record fills the cache only up to
// maxRegexps, then compiles those beyond it each time.
var (
	regexpMu sync.RWMutex
	regexps  = map[string]*regexp.Regexp{}
)

const maxRegexps = 512

func (v *vm) regexp(name string, call goja.FunctionCall, i int) *regexp.Regexp {
	pattern, ok := text(call, i)
	if !ok {
		v.throw(name, "the pattern is missing")
	}
	regexpMu.RLock()
	re := regexps[pattern]
	regexpMu.RUnlock()
	if re != nil {
		return re
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		v.throw(name, "%s", err.Error())
	}
	regexpMu.Lock()
	if len(regexps) < maxRegexps {
		regexps[pattern] = re
	}
	regexpMu.Unlock()
	return re
}

func helperRegexTest(v *vm, call goja.FunctionCall) goja.Value {
	re := v.regexp("regexTest", call, 1)
	s, ok := text(call, 0)
	return v.rt.ToValue(ok && re.MatchString(s))
}

func helperRegexReplace(v *vm, call goja.FunctionCall) goja.Value {
	re := v.regexp("regexReplace", call, 1)
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	return v.rt.ToValue(re.ReplaceAllString(s, textOr(call, 2, "")))
}

func helperRegexMatch(v *vm, call goja.FunctionCall) goja.Value {
	re := v.regexp("regexMatch", call, 1)
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return goja.Null()
	}
	items := make([]any, len(m))
	for i, g := range m {
		items[i] = g
	}
	return v.rt.NewArray(items...)
}

// zones caches the time zones scripts name.
var zones sync.Map // string → *time.Location

func (v *vm) zone(name string, call goja.FunctionCall, i int) *time.Location {
	z, ok := text(call, i)
	if !ok || z == "" || z == "UTC" {
		return time.UTC
	}
	if l, ok := zones.Load(z); ok {
		return l.(*time.Location)
	}
	if z == "Local" {
		v.throw(name, "name the time zone, such as \"Asia/Shanghai\": the hub's own zone would make the result depend on where it runs")
	}
	l, err := time.LoadLocation(z)
	if err != nil {
		v.throw(name, "unknown time zone %q; use an IANA name such as \"Asia/Shanghai\"", z)
	}
	zones.Store(z, l)
	return l
}

// instant reads argument i as an instant: a Date, milliseconds since
// 1970, or text.
func (v *vm) instant(name string, call goja.FunctionCall, i int) (time.Time, bool) {
	x := call.Argument(i)
	if isNullish(x) {
		return time.Time{}, false
	}
	if o, ok := x.(*goja.Object); ok && o.ClassName() == "Date" {
		t, ok := o.Export().(time.Time)
		if !ok {
			v.throw(name, "the Date is invalid")
		}
		return t, true
	}
	switch e := x.Export().(type) {
	case int64:
		return time.UnixMilli(e), true
	case float64:
		if math.IsNaN(e) || math.IsInf(e, 0) {
			v.throw(name, "%v is not a time", e)
		}
		return time.UnixMilli(int64(e)), true
	case string:
		if t, ok := parseDatetime(strings.TrimSpace(e)); ok {
			return t, true
		}
		v.throw(name, "%q is not a date; give a Date, or text such as 2024-05-06T07:08:09Z", e)
	}
	v.throw(name, "%s is not a date", x.String())
	return time.Time{}, false
}

func helperFormatDate(v *vm, call goja.FunctionCall) goja.Value {
	t, ok := v.instant("formatDate", call, 0)
	if !ok {
		return goja.Null()
	}
	layout := textOr(call, 1, time.RFC3339)
	return v.rt.ToValue(t.In(v.zone("formatDate", call, 2)).Format(layout))
}

func helperParseDate(v *vm, call goja.FunctionCall) goja.Value {
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	s = strings.TrimSpace(s)
	loc := v.zone("parseDate", call, 2)
	layout, ok := text(call, 1)
	if !ok || layout == "" {
		for _, l := range datetimeLayouts {
			if t, err := time.ParseInLocation(l, s, loc); err == nil {
				return v.date(t)
			}
		}
		v.throw("parseDate", "%q is not RFC 3339 (2024-05-06T07:08:09+08:00), 2006-01-02 15:04:05 or 2006-01-02; pass the layout it is in", s)
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		v.throw("parseDate", "%q does not match the layout %q", s, layout)
	}
	return v.date(t)
}

func hexDigest(h hash.Hash, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func hashFunc(newHash func() hash.Hash) func(*vm, goja.FunctionCall) goja.Value {
	return func(v *vm, call goja.FunctionCall) goja.Value {
		s, ok := text(call, 0)
		if !ok {
			return goja.Null()
		}
		return v.rt.ToValue(hexDigest(newHash(), s))
	}
}

// options reads the option object at argument i into set, called with
// each property's value.
func (v *vm) options(name string, call goja.FunctionCall, i int, set func(key string, x goja.Value) bool) {
	x := call.Argument(i)
	if isNullish(x) {
		return
	}
	o, ok := x.(*goja.Object)
	if !ok {
		v.throw(name, "the options are an object, such as {sep: \".\"}")
	}
	for _, k := range o.Keys() {
		if !set(k, o.Get(k)) {
			v.throw(name, "unknown option %q", k)
		}
	}
}

func helperPinyin(v *vm, call goja.FunctionCall) goja.Value {
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	var o pinyinOptions
	v.options("pinyin", call, 1, func(k string, x goja.Value) bool {
		switch k {
		case "sep":
			o.sep = x.String()
		case "initials":
			o.initials = x.ToBoolean()
		case "surname":
			o.surname = x.ToBoolean()
		default:
			return false
		}
		return true
	})
	return v.rt.ToValue(toPinyin(s, o))
}

func helperPinyinName(v *vm, call goja.FunctionCall) goja.Value {
	s, ok := text(call, 0)
	if !ok {
		return goja.Null()
	}
	o := nameOptions{sep: "."}
	v.options("pinyinName", call, 1, func(k string, x goja.Value) bool {
		switch k {
		case "sep":
			o.sep = x.String()
		case "givenFirst":
			o.givenFirst = x.ToBoolean()
		case "initials":
			o.initials = x.ToBoolean()
		default:
			return false
		}
		return true
	})
	return v.rt.ToValue(toPinyinName(s, o))
}

func itoa(i int) string { return strconv.Itoa(i) }
