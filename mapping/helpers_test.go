package mapping

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
)

var update = flag.Bool("update", false, "rewrite the generated helper reference in doc.go and ../README.md")

// exampleNow is the run's start time in the helpers' examples.
var exampleNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// TestHelpers runs every example of every helper in a real mapping and
// checks its result; then that doc.go and the README show the reference
// generated from the same table (go test ./mapping -update rewrites
// them).
func TestHelpers(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, h := range helpers {
		if seen[h.Name] {
			t.Errorf("helper %s is declared twice", h.Name)
		}
		seen[h.Name] = true
		if len(h.Examples) == 0 {
			t.Errorf("helper %s has no example", h.Name)
		}
		if !strings.HasPrefix(h.Signature, h.Name+"(") || h.Doc == "" || !strings.HasSuffix(h.Doc, ".") {
			t.Errorf("helper %s: signature %q, doc %q: want name(…) and sentences", h.Name, h.Signature, h.Doc)
		}
		calls := regexp.MustCompile(`\b` + h.Name + `\(`)
		for _, ex := range h.Examples {
			t.Run(h.Name+"/"+ex.Call, func(t *testing.T) {
				t.Parallel()
				if !calls.MatchString(ex.Call) {
					t.Errorf("the example does not call %s", h.Name)
				}
				m := mustCompile(t, Spec{Kind: sdk.KindUser, Attributes: []Attribute{{Name: "out", Script: ex.Call}}}, Options{})
				got, err := m.Apply(context.Background(), Input{Kind: sdk.KindUser, ID: "u-1", Attributes: ex.Record, Now: exampleNow})
				if err != nil {
					t.Fatal(err)
				}
				if s := jsLiteral(got["out"]); s != ex.Want {
					t.Errorf("%s = %s, want %s", ex.Call, s, ex.Want)
				}
			})
		}
	}
	t.Run("docs", func(t *testing.T) {
		t.Parallel()
		checkGenerated(t, "doc.go", helperGoDoc(), goDocRegion)
		checkGenerated(t, "../README.md", helperMarkdown(), markdownRegion)
	})
}

// TestHelperErrors checks what helpers throw for arguments they cannot
// use: an error naming the helper, at the call's position.
func TestHelperErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`regexTest("a", "(")`:                 "TypeError: regexTest: error parsing regexp: missing closing ): `(`",
		`regexReplace("a", null, "b")`:        "TypeError: regexReplace: the pattern is missing",
		`formatDate(now(), "2006", "Mars/X")`: `TypeError: formatDate: unknown time zone "Mars/X"; use an IANA name such as "Asia/Shanghai"`,
		`formatDate(now(), "2006", "Local")`:  `TypeError: formatDate: name the time zone, such as "Asia/Shanghai": the hub's own zone would make the result depend on where it runs`,
		`formatDate("yesterday")`:             `TypeError: formatDate: "yesterday" is not a date; give a Date, or text such as 2024-05-06T07:08:09Z`,
		`formatDate(new Date(NaN))`:           "TypeError: formatDate: the Date is invalid",
		`parseDate("2024/05/06")`:             `TypeError: parseDate: "2024/05/06" is not RFC 3339 (2024-05-06T07:08:09+08:00), 2006-01-02 15:04:05 or 2006-01-02; pass the layout it is in`,
		`parseDate("May 6", "2006-01-02")`:    `TypeError: parseDate: "May 6" does not match the layout "2006-01-02"`,
		`pinyin("张伟", {separator: "."})`:      `TypeError: pinyin: unknown option "separator"`,
		`pinyinName("张伟", ".")`:               `TypeError: pinyinName: the options are an object, such as {sep: "."}`,
		`split("a,b", "")`:                    "TypeError: split: the separator is empty",
	}
	for call, want := range tests {
		t.Run(call, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, script("record.number && "+call), Options{})
			_, err := m.Apply(context.Background(), testInput())
			se, ok := err.(*ScriptError)
			if !ok {
				t.Fatalf("Apply error = %v, want a *ScriptError", err)
			}
			// At the call's parenthesis, after "record.number && ".
			at := Pos{"mapping.hcl", 10, 29 + strings.Index(call, "(")}
			if se.Msg != want || se.Pos != at {
				t.Errorf("error = %s: %s\nwant   %s: %s", posString(se.Pos), se.Msg, posString(at), want)
			}
		})
	}
}

// TestPinyinNames checks pinyinName on names whose family name a plain
// reading gets wrong, and on the quickstart's 326 people, whose e-mail
// addresses were made from their names (less the number of a second
// namesake, and but for one Singaporean and one German name).
func TestPinyinNames(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"曾国强": "zeng.guoqiang", "单雄信": "shan.xiongxin", "解缙": "xie.jin", "区志航": "ou.zhihang",
		"仇英": "qiu.ying", "朴树": "piao.shu", "查良镛": "zha.liangyong", "尉迟恭": "yuchi.gong",
		"万俟卨": "moqi.xie", "长孙无忌": "zhangsun.wuji", "单于": "chanyu", "司马光": "sima.guang",
		"  张伟  ": "zhang.wei", "Yuki Tanaka": "yuki.tanaka", "José María Aznar": "jose.maria.aznar",
	} {
		if got := toPinyinName(name, nameOptions{sep: "."}); got != want {
			t.Errorf("pinyinName(%q) = %q, want %q", name, got, want)
		}
	}
	raw, err := os.ReadFile("../examples/quickstart/hr.csv")
	if err != nil {
		t.Fatal(err)
	}
	exceptions := map[string]string{"Tan Mei Ling": "meiling.tan", "Lukas Müller": "lukas.mueller"}
	suffix := regexp.MustCompile(`[0-9]+$`)
	lines := strings.Split(strings.TrimPrefix(string(raw), "\ufeff"), "\n")
	n := 0
	for _, line := range lines[1:] {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 4 {
			continue
		}
		n++
		name, local := f[1], suffix.ReplaceAllString(strings.Split(f[3], "@")[0], "")
		if got := toPinyinName(name, nameOptions{sep: "."}); got != local && exceptions[name] != local {
			t.Errorf("pinyinName(%q) = %q, want %q (from %s)", name, got, local, f[3])
		}
	}
	if n != 326 {
		t.Errorf("read %d people from hr.csv, want 326", n)
	}
}

// jsLiteral writes v as an example's Want.
func jsLiteral(v sdk.Value) string {
	switch v.Type() {
	case sdk.TypeNull:
		return "null"
	case sdk.TypeString:
		return strconv.Quote(v.Str())
	case sdk.TypeTime:
		return `new Date("` + v.TimeValue().Format(time.RFC3339Nano) + `")`
	case sdk.TypeStringList:
		q := make([]string, v.Len())
		for i, s := range v.List() {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return v.String()
}

// exampleLine shows an example in the docs.
func exampleLine(ex example) string {
	s := ex.Call + " → " + ex.Want
	if len(ex.Record) > 0 {
		var with []string
		for _, name := range ex.Record.Names() {
			with = append(with, "record."+name+" = "+jsLiteral(ex.Record[name]))
		}
		s += "  (" + strings.Join(with, ", ") + ")"
	}
	return s
}

const helpersIntro = `Besides standard JavaScript, every script can call the functions below.
Those that take text return null for null or undefined (a missing
attribute), so they chain without guards; other values are converted
with String(). They throw a TypeError, which fails the object, for
arguments they cannot use, such as an unknown time zone. In the
examples, the run started at 2026-05-06T07:08:09Z.`

// helperGoDoc is the reference for doc.go: a "# Helpers" section, then a
// section per group.
func helperGoDoc() string {
	var b strings.Builder
	line := func(s string) {
		if s == "" {
			b.WriteString("//\n")
		} else {
			b.WriteString("// " + s + "\n")
		}
	}
	line("# Helpers")
	line("")
	for _, l := range strings.Split(helpersIntro, "\n") {
		line(l)
	}
	for _, g := range helperGroups {
		line("")
		line("# Helpers: " + strings.ToLower(g))
		for _, h := range helpers {
			if h.Group != g {
				continue
			}
			line("")
			for _, l := range wrap(h.Signature+": "+h.Doc, 74) {
				line(l)
			}
			line("")
			for _, ex := range h.Examples {
				b.WriteString("//\t" + exampleLine(ex) + "\n")
			}
		}
	}
	line("")
	return b.String()
}

// goDocRegion finds the generated part of doc.go: from "// # Helpers" to
// the next heading that is not a helpers one.
func goDocRegion(s string) (int, int, bool) {
	start := strings.Index(s, "// # Helpers\n")
	if start < 0 {
		return 0, 0, false
	}
	rest := s[start+1:]
	for off := 0; ; {
		i := strings.Index(rest[off:], "\n// # ")
		if i < 0 {
			return 0, 0, false
		}
		at := off + i + 1
		if !strings.HasPrefix(rest[at:], "// # Helpers") {
			return start, start + 1 + at, true
		}
		off = at
	}
}

const (
	markdownBegin = "<!-- helpers:begin: generated from mapping/helpers.go by go test ./mapping -update -->\n"
	markdownEnd   = "<!-- helpers:end -->\n"
)

// helperMarkdown is the reference for the README.
func helperMarkdown() string {
	var b strings.Builder
	b.WriteString(markdownBegin)
	b.WriteString(strings.ReplaceAll(helpersIntro, "\n", " ") + "\n")
	for _, g := range helperGroups {
		fmt.Fprintf(&b, "\n**%s**\n\n", g)
		for _, h := range helpers {
			if h.Group != g {
				continue
			}
			fmt.Fprintf(&b, "- `%s`: %s\n", h.Signature, markdownText(h.Doc))
			for _, ex := range h.Examples {
				call, rest, _ := strings.Cut(exampleLine(ex), " → ")
				want, with, _ := strings.Cut(rest, "  (")
				fmt.Fprintf(&b, "  <br>`%s` → `%s`", call, want)
				if with != "" {
					fmt.Fprintf(&b, " (`%s`)", strings.TrimSuffix(with, ")"))
				}
				b.WriteString("\n")
			}
		}
	}
	b.WriteString(markdownEnd)
	return b.String()
}

// markdownText escapes what Markdown would take for markup.
func markdownText(s string) string {
	return strings.NewReplacer("*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}

func markdownRegion(s string) (int, int, bool) {
	start := strings.Index(s, markdownBegin)
	end := strings.Index(s, markdownEnd)
	if start < 0 || end < start {
		return 0, 0, false
	}
	return start, end + len(markdownEnd), true
}

// checkGenerated checks that the region of path is want, or with -update
// rewrites it.
func checkGenerated(t *testing.T, path, want string, region func(string) (int, int, bool)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start, end, ok := region(s)
	if !ok {
		t.Fatalf("%s has no generated helper reference to check", path)
	}
	if got := s[start:end]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(s[:start]+want+s[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s is out of date; run go test ./mapping -update (-have +want):\n%s", path, cmp.Diff(got, want))
	}
}

// wrap breaks s into lines of at most width characters.
func wrap(s string, width int) []string {
	var lines []string
	var cur []rune
	for _, w := range strings.Fields(s) {
		if len(cur) > 0 && len(cur)+1+len([]rune(w)) > width {
			lines = append(lines, string(cur))
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		cur = append(cur, []rune(w)...)
	}
	return append(lines, string(cur))
}
