package config

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// value evaluates a's expression and converts it to want (described as
// what in the diagnostic). Evaluation problems are reported; a null value
// counts as unset: false without a diagnostic.
func (l *loader) value(a *hcl.Attribute, want cty.Type, what string) (cty.Value, bool) {
	v, diags := a.Expr.Value(l.eval)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	cv, err := convert.Convert(v, want)
	if err != nil || !cv.IsWhollyKnown() {
		l.errorf(a.Expr.Range(), "Incorrect attribute value type", "The value of %q must be %s.", a.Name, what)
		return cty.NilVal, false
	}
	return cv, true
}

// required reports a required attribute set to null, which HCL's schema
// check lets through.
func (l *loader) required(a *hcl.Attribute, example string) bool {
	if v, diags := a.Expr.Value(l.eval); !diags.HasErrors() && v.IsNull() {
		l.errorf(a.Expr.Range(), "Missing required argument", "The argument %q is required; set it, as in %s.", a.Name, example)
		return false
	}
	return true
}

func (l *loader) stringValue(a *hcl.Attribute) (string, bool) {
	v, ok := l.value(a, cty.String, "a string")
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// stringListValue returns a list of strings and, for a literal list, the
// range of each element (a's value range otherwise).
func (l *loader) stringListValue(a *hcl.Attribute) ([]string, []hcl.Range, bool) {
	v, ok := l.value(a, cty.List(cty.String), "a list of strings")
	if !ok {
		return nil, nil, false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			l.errorf(a.Expr.Range(), "Incorrect attribute value type", "The elements of %q must be strings, not null.", a.Name)
			return nil, nil, false
		}
		out = append(out, e.AsString())
	}
	ranges := listElementRanges(a)
	if len(ranges) != len(out) {
		ranges = make([]hcl.Range, len(out))
		for i := range ranges {
			ranges[i] = a.Expr.Range()
		}
	}
	return out, ranges, true
}

func (l *loader) numberValue(a *hcl.Attribute) (float64, bool) {
	v, ok := l.value(a, cty.Number, "a number")
	if !ok {
		return 0, false
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		l.errorf(a.Expr.Range(), "Value out of range", "The value of %q is too large.", a.Name)
		return 0, false
	}
	return f, true
}

func (l *loader) intValue(a *hcl.Attribute) (int, bool) {
	v, ok := l.value(a, cty.Number, "a whole number")
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		l.errorf(a.Expr.Range(), "Incorrect attribute value type", "The value of %q must be a whole number, not %s.", a.Name, bf.Text('g', -1))
		return 0, false
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > math.MaxInt32 || i < math.MinInt32 {
		l.errorf(a.Expr.Range(), "Value out of range", "The value of %q is too large.", a.Name)
		return 0, false
	}
	return int(i), true
}

func (l *loader) durationValue(a *hcl.Attribute) (time.Duration, bool) {
	s, ok := l.stringValue(a)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.errorf(a.Expr.Range(), "Invalid duration",
			"The value of %q must be a duration such as \"1s\", \"500ms\" or \"2m\", not %q.", a.Name, s)
		return 0, false
	}
	return d, true
}

// retentionValue reads a period of days ("30d") or a duration ("720h");
// "0" keeps everything.
func (l *loader) retentionValue(a *hcl.Attribute) (time.Duration, bool) {
	s, ok := l.stringValue(a)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if days, found := strings.CutSuffix(s, "d"); found {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100*366 {
			return time.Duration(n) * 24 * time.Hour, true
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		if d > 0 && d < time.Hour {
			l.errorf(a.Expr.Range(), "Retention too short",
				"%s keeps finished events for %s; it must be at least an hour (\"0\" keeps them forever), so an operator can still read why an event failed.", a.Name, s)
			return 0, false
		}
		return d, true
	}
	l.errorf(a.Expr.Range(), "Invalid retention",
		"The value of %q must be a number of days such as \"30d\", a duration such as \"720h\", or \"0\" to keep every event, not %q.", a.Name, s)
	return 0, false
}

// schedule returns the cron expression of a (nil: unset), "" when it is
// unset, empty or invalid (reported).
func (l *loader) schedule(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	s, ok := l.stringValue(a)
	if !ok || strings.TrimSpace(s) == "" {
		return ""
	}
	if err := checkSchedule(s); err != nil {
		l.errorf(a.Expr.Range(), "Invalid schedule",
			"%q is not a schedule: %v. Write five cron fields (minute hour day-of-month month day-of-week, as \"0 2 * * *\" for 02:00 every day) or a descriptor: \"@hourly\", \"@daily\", \"@weekly\", \"@monthly\" or \"@every 15m\". Times are local unless the expression starts with CRON_TZ=Area/City, as in \"CRON_TZ=Asia/Shanghai 0 2 * * *\".",
			s, err)
		return ""
	}
	return s
}

// checkSchedule checks a cron expression as the scheduler parses it:
// standard five fields or descriptors, an optional CRON_TZ= (or TZ=)
// prefix; an @every interval must be at least a second.
func checkSchedule(s string) error {
	if _, err := cron.ParseStandard(s); err != nil {
		return err
	}
	spec := strings.TrimSpace(s)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		if i := strings.IndexAny(spec, " \t"); i >= 0 {
			spec = strings.TrimSpace(spec[i:])
		}
	}
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return err
		}
		if d < time.Second {
			return fmt.Errorf("an @every interval must be at least 1s, not %s", d)
		}
	}
	return nil
}

// Suggest returns the candidate closest to given within an edit distance
// of 2, as HCL's own "Did you mean" does, or "".
func Suggest(given string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := levenshtein(given, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
