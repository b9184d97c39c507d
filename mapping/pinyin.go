package mapping

import (
	"strings"
	"sync"
	"unicode"

	"github.com/mozillazg/go-pinyin"
)

// syllables caches the toneless pinyin of each Han character read so
// far (its most common reading): go-pinyin strips tones with regular
// expressions, which costs microseconds per character.
var syllables sync.Map // rune → string; "" for a character without one

// syllable returns the toneless pinyin of r, lower case, or "".
func syllable(r rune) string {
	if s, ok := syllables.Load(r); ok {
		return s.(string)
	}
	var s string
	if l := pinyin.SinglePinyin(r, pinyin.Args{Style: pinyin.Normal}); len(l) > 0 {
		s = l[0]
	}
	syllables.Store(r, s)
	return s
}

// isHan reports whether r is a Chinese character (with a reading).
func isHan(r rune) bool {
	return unicode.Is(unicode.Han, r) && syllable(r) != ""
}

// compoundSurnames are the two-character family names, with their
// readings as family names.
var compoundSurnames = map[string][]string{
	"欧阳": {"ou", "yang"}, "司马": {"si", "ma"}, "上官": {"shang", "guan"}, "诸葛": {"zhu", "ge"},
	"东方": {"dong", "fang"}, "皇甫": {"huang", "fu"}, "尉迟": {"yu", "chi"}, "公孙": {"gong", "sun"},
	"慕容": {"mu", "rong"}, "长孙": {"zhang", "sun"}, "宇文": {"yu", "wen"}, "司徒": {"si", "tu"},
	"夏侯": {"xia", "hou"}, "轩辕": {"xuan", "yuan"}, "令狐": {"ling", "hu"}, "钟离": {"zhong", "li"},
	"端木": {"duan", "mu"}, "独孤": {"du", "gu"}, "南宫": {"nan", "gong"}, "万俟": {"mo", "qi"},
	"闻人": {"wen", "ren"}, "澹台": {"tan", "tai"}, "公冶": {"gong", "ye"}, "宗政": {"zong", "zheng"},
	"濮阳": {"pu", "yang"}, "太史": {"tai", "shi"}, "申屠": {"shen", "tu"}, "赫连": {"he", "lian"},
	"呼延": {"hu", "yan"}, "单于": {"chan", "yu"}, "东郭": {"dong", "guo"}, "百里": {"bai", "li"},
	"左丘": {"zuo", "qiu"}, "西门": {"xi", "men"}, "拓跋": {"tuo", "ba"}, "司空": {"si", "kong"},
	"第五": {"di", "wu"}, "乐正": {"yue", "zheng"}, "公羊": {"gong", "yang"}, "谷梁": {"gu", "liang"},
	"亓官": {"qi", "guan"}, "羊舌": {"yang", "she"}, "梁丘": {"liang", "qiu"}, "东门": {"dong", "men"},
	"公西": {"gong", "xi"}, "司寇": {"si", "kou"}, "仲孙": {"zhong", "sun"}, "淳于": {"chun", "yu"},
}

// surnameReadings are family names whose common reading as a word is not
// their reading as a family name (曾 is ceng in 曾经, zeng in 曾静).
var surnameReadings = map[rune]string{
	'曾': "zeng", '单': "shan", '解': "xie", '区': "ou", '仇': "qiu", '朴': "piao", '查': "zha",
	'乐': "yue", '覃': "qin", '翟': "zhai", '盖': "ge", '缪': "miao", '秘': "bi", '重': "chong",
	'藏': "zang", '种': "chong", '句': "gou", '召': "shao", '折': "she", '黑': "he", '洗': "xian",
	'冼': "xian", '能': "nai", '繁': "po", '佴': "nai", '牟': "mu", '莘': "shen", '眭': "sui",
	'薄': "bo", '员': "yun", '都': "du", '长': "chang", '尉': "wei", '沈': "shen", '柏': "bai",
	'贾': "jia", '任': "ren", '华': "hua", '宿': "su", '那': "na", '石': "shi", '车': "che",
	'隗': "wei", '阚': "kan", '郇': "huan", '褚': "chu", '费': "fei", '燕': "yan", '葛': "ge",
	'殷': "yin", '宁': "ning", '应': "ying", '占': "zhan", '卜': "bu", '谌': "chen", '隽': "juan",
	'尹': "yin", '阿': "a", '弗': "fu", '蔺': "lin", '禚': "zhuo",
}

// hanSurname splits the Han characters rs of a Chinese name into the
// syllables of the family name and the given name's characters.
func hanSurname(rs []rune) (family []string, given []rune) {
	if len(rs) >= 2 {
		if r, ok := compoundSurnames[string(rs[:2])]; ok {
			return r, rs[2:]
		}
	}
	if len(rs) == 0 {
		return nil, nil
	}
	if r, ok := surnameReadings[rs[0]]; ok {
		return []string{r}, rs[1:]
	}
	return []string{syllable(rs[0])}, rs[1:]
}

// pinyinOptions are pinyin()'s options.
type pinyinOptions struct {
	sep      string
	initials bool
	surname  bool
}

// toPinyin converts s: each Chinese character becomes its syllable (or
// initial), each run of other characters but white space is kept as one
// token, and the tokens are joined by sep.
func toPinyin(s string, o pinyinOptions) string {
	var tokens []string
	rs := []rune(s)
	if o.surname {
		// The family name at the start of the text.
		start := 0
		for start < len(rs) && unicode.IsSpace(rs[start]) {
			start++
		}
		end := start
		for end < len(rs) && isHan(rs[end]) {
			end++
		}
		if end > start {
			family, _ := hanSurname(rs[start:end])
			n := len(family)
			for _, f := range family {
				tokens = append(tokens, initialOr(f, o.initials))
			}
			rs = rs[start+n:]
		}
	}
	var other strings.Builder
	flush := func() {
		if other.Len() > 0 {
			tokens = append(tokens, other.String())
			other.Reset()
		}
	}
	for _, r := range rs {
		switch {
		case isHan(r):
			flush()
			tokens = append(tokens, initialOr(syllable(r), o.initials))
		case unicode.IsSpace(r):
			flush()
		default:
			other.WriteRune(r)
		}
	}
	flush()
	return strings.Join(tokens, o.sep)
}

func initialOr(syl string, initials bool) string {
	if initials && syl != "" {
		return syl[:1]
	}
	return syl
}

// nameOptions are pinyinName()'s options.
type nameOptions struct {
	sep        string
	givenFirst bool
	initials   bool
}

// toPinyinName makes an account name of a person's name: a Chinese name
// becomes family.given in pinyin, a Latin name its words in ASCII, lower
// case, with only letters and digits.
func toPinyinName(name string, o nameOptions) string {
	var han []rune
	for _, r := range name {
		if isHan(r) {
			han = append(han, r)
		}
	}
	var family, given string
	if len(han) > 0 {
		fam, giv := hanSurname(han)
		family = strings.Join(fam, "")
		var b strings.Builder
		for _, r := range giv {
			b.WriteString(initialOr(syllable(r), o.initials))
		}
		given = b.String()
		if given == "" {
			return family
		}
		if o.givenFirst {
			return given + o.sep + family
		}
		return family + o.sep + given
	}
	// A Latin name, given names first, as written.
	var words []string
	for _, w := range strings.FieldsFunc(foldASCII(name), func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) {
		w = keepAlnum(strings.ToLower(w))
		if w != "" {
			words = append(words, w)
		}
	}
	if o.initials {
		for i := 0; i < len(words)-1; i++ {
			words[i] = words[i][:1]
		}
	}
	return strings.Join(words, o.sep)
}

// keepAlnum keeps the ASCII letters and digits of s.
func keepAlnum(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
