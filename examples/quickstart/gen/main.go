// Command gen writes the quickstart's HR exports: hr.csv, the export of a
// fictitious company of some 370 people, and hr-v2.csv, the same export a
// month later. Both are written as Excel writes a CSV file: UTF-8 with a byte
// order mark, CRLF line ends. The output is the same on every run (a fixed
// seed), so the committed files can be checked against it.
//
//	go run ./examples/quickstart/gen -dir examples/quickstart
//
// It prints what changed between the two exports. Every name, e-mail
// address and phone number is made up.
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "the directory to write hr.csv and hr-v2.csv to")
	flag.Parse()
	v1, v2, changes := generate()
	for name, b := range map[string][]byte{"hr.csv": v1, "hr-v2.csv": v2} {
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
	fmt.Println("hr.csv -> hr-v2.csv:")
	for _, c := range changes {
		fmt.Println("  " + c)
	}
}

// Header is the export's header row.
var Header = []string{"工号", "姓名", "英文名", "邮箱", "手机", "部门", "职位", "上级工号", "状态", "入职日期"}

const (
	root   = "星河集团"
	domain = "xinghe.example.com"
)

// person is one row of the export.
type person struct {
	id, name, english, email, mobile, dept, title, manager, state string
	hired                                                         time.Time
	head                                                          bool // heads a department
	foreign                                                       bool
	boss                                                          *person
	changed                                                       bool // changed once at most
}

func (p *person) row() []string {
	return []string{p.id, p.name, p.english, p.email, p.mobile, p.dept, p.title, p.manager, p.state, p.hired.Format("2006-01-02")}
}

// dept is one department: its path under the root, how many people work in
// it besides its head, and what their titles are.
type dept struct {
	path  string
	staff int
	pool  string
}

var depts = []dept{
	{"", 0, ""},
	{"总裁办", 3, "office"},
	{"研发中心", 1, "expert"},
	{"研发中心/平台部", 1, "expert"},
	{"研发中心/平台部/基础架构组", 2, "infra"},
	{"研发中心/平台部/基础架构组/存储小组", 5, "storage"},
	{"研发中心/平台部/基础架构组/存储小组/对象存储项目组", 4, "storage"},
	{"研发中心/平台部/基础架构组/网络小组", 4, "network"},
	{"研发中心/平台部/基础架构组/计算小组", 5, "infra"},
	{"研发中心/平台部/数据平台组", 1, "data"},
	{"研发中心/平台部/数据平台组/数据仓库小组", 5, "data"},
	{"研发中心/平台部/数据平台组/实时计算小组", 4, "data"},
	{"研发中心/产品研发部", 1, "expert"},
	{"研发中心/产品研发部/移动端组", 1, "mobile"},
	{"研发中心/产品研发部/移动端组/iOS小组", 5, "ios"},
	{"研发中心/产品研发部/移动端组/Android小组", 6, "android"},
	{"研发中心/产品研发部/前端组", 8, "frontend"},
	{"研发中心/产品研发部/后端组", 2, "backend"},
	{"研发中心/产品研发部/后端组/交易小组", 6, "backend"},
	{"研发中心/产品研发部/后端组/交易小组/支付网关项目组", 4, "backend"},
	{"研发中心/产品研发部/后端组/用户小组", 5, "backend"},
	{"研发中心/质量保障部", 1, "qa"},
	{"研发中心/质量保障部/自动化测试组", 6, "qa"},
	{"研发中心/质量保障部/性能测试组", 3, "qa"},
	{"研发中心/安全部", 1, "security"},
	{"研发中心/安全部/安全运营组", 3, "security"},
	{"研发中心/安全部/安全运营组/应急响应小组", 3, "security"},
	{"产品中心", 1, "product"},
	{"产品中心/产品设计部", 2, "product"},
	{"产品中心/产品设计部/用户体验组", 5, "design"},
	{"产品中心/产品设计部/视觉设计组", 4, "design"},
	{"产品中心/产品运营部", 1, "ops"},
	{"产品中心/产品运营部/内容运营组", 5, "ops"},
	{"产品中心/产品运营部/用户增长组", 4, "ops"},
	{"销售中心", 1, "sales"},
	{"销售中心/华东大区", 1, "sales"},
	{"销售中心/华东大区/上海分部", 3, "sales"},
	{"销售中心/华东大区/上海分部/企业客户组", 6, "sales"},
	{"销售中心/华东大区/上海分部/渠道合作组", 4, "channel"},
	{"销售中心/华东大区/杭州分部", 6, "sales"},
	{"销售中心/华北大区", 1, "sales"},
	{"销售中心/华北大区/北京分部", 3, "sales"},
	{"销售中心/华北大区/北京分部/大客户组", 6, "sales"},
	{"销售中心/华北大区/天津分部", 4, "sales"},
	{"销售中心/华南大区", 1, "sales"},
	{"销售中心/华南大区/深圳分部", 6, "sales"},
	{"销售中心/华南大区/广州分部", 5, "sales"},
	{"销售中心/海外业务部", 1, "sales"},
	{"销售中心/海外业务部/新加坡办事处", 5, "overseas"},
	{"销售中心/海外业务部/欧洲办事处", 4, "overseas"},
	{"销售中心/售前技术支持部", 6, "presales"},
	{"市场部", 1, "marketing"},
	{"市场部/品牌组", 4, "marketing"},
	{"市场部/数字营销组", 5, "marketing"},
	{"市场部/公关组", 3, "marketing"},
	{"职能中心", 1, "office"},
	{"职能中心/人力资源部", 1, "hr"},
	{"职能中心/人力资源部/招聘组", 4, "hr"},
	{"职能中心/人力资源部/薪酬福利组", 3, "hr"},
	{"职能中心/人力资源部/培训发展组", 3, "hr"},
	{"职能中心/财务部", 1, "finance"},
	{"职能中心/财务部/会计组", 4, "finance"},
	{"职能中心/财务部/税务组", 3, "finance"},
	{"职能中心/财务部/资金组", 2, "finance"},
	{"职能中心/法务部", 4, "legal"},
	{"职能中心/行政部", 4, "admin"},
	{"职能中心/IT部", 1, "it"},
	{"职能中心/IT部/桌面支持组", 4, "it"},
	{"职能中心/IT部/企业应用组", 4, "it"},
	{"客户服务中心", 1, "support"},
	{"客户服务中心/客户成功部", 2, "success"},
	{"客户服务中心/客户成功部/大客户成功组", 5, "success"},
	{"客户服务中心/技术支持部", 2, "support"},
	{"客户服务中心/技术支持部/一线支持组", 9, "support"},
	{"客户服务中心/技术支持部/二线支持组", 5, "support"},
}

var titles = map[string][]string{
	"office":    {"总裁助理", "行政秘书", "高级行政秘书"},
	"expert":    {"技术专家", "首席架构师", "高级技术专家"},
	"infra":     {"运维开发工程师", "高级运维开发工程师", "SRE工程师", "资深SRE工程师"},
	"storage":   {"存储研发工程师", "高级存储研发工程师", "资深存储研发工程师"},
	"network":   {"网络工程师", "高级网络工程师", "网络开发工程师"},
	"data":      {"数据开发工程师", "高级数据开发工程师", "大数据架构师", "数据分析师"},
	"mobile":    {"移动端架构师"},
	"ios":       {"iOS开发工程师", "高级iOS开发工程师"},
	"android":   {"Android开发工程师", "高级Android开发工程师"},
	"frontend":  {"前端开发工程师", "高级前端开发工程师", "资深前端开发工程师"},
	"backend":   {"后端开发工程师", "高级后端开发工程师", "资深后端开发工程师", "Java开发工程师"},
	"qa":        {"测试工程师", "高级测试工程师", "测试开发工程师"},
	"security":  {"安全工程师", "高级安全工程师", "渗透测试工程师"},
	"product":   {"产品经理", "高级产品经理", "产品助理"},
	"design":    {"交互设计师", "视觉设计师", "高级交互设计师", "用户研究员"},
	"ops":       {"运营专员", "高级运营专员", "内容编辑", "增长运营经理"},
	"sales":     {"客户经理", "高级客户经理", "销售代表", "销售助理"},
	"channel":   {"渠道经理", "渠道专员"},
	"overseas":  {"Account Manager", "Sales Executive", "Business Development Manager"},
	"presales":  {"售前工程师", "高级售前工程师", "解决方案架构师"},
	"marketing": {"市场专员", "品牌经理", "新媒体运营", "公关经理"},
	"hr":        {"招聘专员", "HRBP", "薪酬福利专员", "培训专员"},
	"finance":   {"会计", "高级会计", "出纳", "税务专员", "资金专员"},
	"legal":     {"法务专员", "高级法务经理", "合规专员"},
	"admin":     {"行政专员", "前台", "行政主管"},
	"it":        {"IT支持工程师", "系统管理员", "企业应用工程师"},
	"support":   {"技术支持工程师", "高级技术支持工程师", "客服专员"},
	"success":   {"客户成功经理", "高级客户成功经理"},
}

// headTitle is the title of a department's head, by the department's name.
func headTitle(name string) string {
	switch {
	case name == root:
		return "首席执行官"
	case name == "研发中心":
		return "首席技术官"
	case name == "新加坡办事处":
		return "Country Manager, Singapore"
	case name == "欧洲办事处":
		return "Head of Europe, Sales"
	case strings.HasSuffix(name, "中心"):
		return name + "总经理"
	case strings.HasSuffix(name, "办"):
		return name + "主任"
	case strings.HasSuffix(name, "大区"):
		return name + "总经理"
	case strings.HasSuffix(name, "分部"):
		return name + "经理"
	case strings.HasSuffix(name, "项目组"):
		return name + "负责人"
	case strings.HasSuffix(name, "小组"):
		return name + "组长"
	case strings.HasSuffix(name, "组"):
		return name + "经理"
	}
	return name + "总监"
}

// Surnames with their pinyin, the common ones listed more than once.
var surnames = [][2]string{
	{"王", "wang"}, {"王", "wang"}, {"王", "wang"}, {"李", "li"}, {"李", "li"}, {"李", "li"},
	{"张", "zhang"}, {"张", "zhang"}, {"张", "zhang"}, {"刘", "liu"}, {"刘", "liu"}, {"陈", "chen"},
	{"陈", "chen"}, {"杨", "yang"}, {"杨", "yang"}, {"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"},
	{"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"}, {"胡", "hu"},
	{"郭", "guo"}, {"何", "he"}, {"高", "gao"}, {"林", "lin"}, {"罗", "luo"}, {"郑", "zheng"},
	{"梁", "liang"}, {"谢", "xie"}, {"宋", "song"}, {"唐", "tang"}, {"许", "xu"}, {"韩", "han"},
	{"冯", "feng"}, {"邓", "deng"}, {"曹", "cao"}, {"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"},
	{"田", "tian"}, {"董", "dong"}, {"袁", "yuan"}, {"潘", "pan"}, {"于", "yu"}, {"蒋", "jiang"},
	{"蔡", "cai"}, {"余", "yu"}, {"杜", "du"}, {"叶", "ye"}, {"程", "cheng"}, {"苏", "su"},
	{"魏", "wei"}, {"吕", "lv"}, {"丁", "ding"}, {"任", "ren"}, {"沈", "shen"}, {"姚", "yao"},
	{"卢", "lu"}, {"姜", "jiang"}, {"崔", "cui"}, {"钟", "zhong"}, {"谭", "tan"}, {"陆", "lu"},
	{"汪", "wang"}, {"范", "fan"}, {"金", "jin"}, {"石", "shi"}, {"廖", "liao"}, {"贾", "jia"},
	{"夏", "xia"}, {"韦", "wei"}, {"方", "fang"}, {"白", "bai"}, {"邹", "zou"}, {"孟", "meng"},
	{"熊", "xiong"}, {"秦", "qin"}, {"邱", "qiu"}, {"江", "jiang"}, {"尹", "yin"}, {"薛", "xue"},
	{"段", "duan"}, {"雷", "lei"}, {"侯", "hou"}, {"龙", "long"}, {"史", "shi"}, {"陶", "tao"},
	{"黎", "li"}, {"贺", "he"}, {"顾", "gu"}, {"毛", "mao"}, {"郝", "hao"}, {"龚", "gong"},
	{"邵", "shao"}, {"万", "wan"}, {"钱", "qian"}, {"严", "yan"}, {"戴", "dai"}, {"孔", "kong"},
	{"欧阳", "ouyang"}, {"上官", "shangguan"},
}

// Given names with their pinyin.
var given = [][2]string{
	{"伟", "wei"}, {"芳", "fang"}, {"秀英", "xiuying"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"},
	{"杰", "jie"}, {"娟", "juan"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀兰", "xiulan"},
	{"霞", "xia"}, {"平", "ping"}, {"刚", "gang"}, {"桂英", "guiying"}, {"建华", "jianhua"},
	{"文", "wen"}, {"辉", "hui"}, {"玲", "ling"}, {"晓东", "xiaodong"}, {"红梅", "hongmei"},
	{"鹏", "peng"}, {"宇航", "yuhang"}, {"浩然", "haoran"}, {"子轩", "zixuan"}, {"梓涵", "zihan"},
	{"一诺", "yinuo"}, {"欣怡", "xinyi"}, {"佳怡", "jiayi"}, {"思雨", "siyu"}, {"雨桐", "yutong"},
	{"梓萱", "zixuan"}, {"子涵", "zihan"}, {"嘉怡", "jiayi"}, {"俊杰", "junjie"}, {"志强", "zhiqiang"},
	{"国强", "guoqiang"}, {"海燕", "haiyan"}, {"春燕", "chunyan"}, {"晓明", "xiaoming"},
	{"晓燕", "xiaoyan"}, {"丽娟", "lijuan"}, {"建国", "jianguo"}, {"建军", "jianjun"}, {"婷婷", "tingting"},
	{"雪梅", "xuemei"}, {"亚楠", "yanan"}, {"佳琪", "jiaqi"}, {"思彤", "sitong"}, {"晨曦", "chenxi"},
	{"博文", "bowen"}, {"天宇", "tianyu"}, {"泽宇", "zeyu"}, {"浩宇", "haoyu"}, {"宇轩", "yuxuan"},
	{"一鸣", "yiming"}, {"雅婷", "yating"}, {"诗涵", "shihan"}, {"梦瑶", "mengyao"}, {"静怡", "jingyi"},
	{"文博", "wenbo"}, {"志远", "zhiyuan"}, {"家豪", "jiahao"}, {"俊豪", "junhao"}, {"嘉欣", "jiaxin"},
	{"心怡", "xinyi"}, {"慧敏", "huimin"}, {"晓琳", "xiaolin"}, {"丹", "dan"}, {"莉", "li"}, {"斌", "bin"},
	{"波", "bo"}, {"宁", "ning"}, {"飞", "fei"}, {"琳", "lin"}, {"颖", "ying"}, {"倩", "qian"},
	{"璐", "lu"}, {"瑶", "yao"}, {"蕾", "lei"}, {"悦", "yue"}, {"昕", "xin"}, {"哲", "zhe"},
	{"睿", "rui"}, {"航", "hang"}, {"翔", "xiang"}, {"毅", "yi"}, {"帆", "fan"}, {"琦", "qi"},
	{"薇", "wei"}, {"晶", "jing"}, {"莹", "ying"}, {"鑫", "xin"}, {"彤", "tong"}, {"楠", "nan"},
	{"阳", "yang"}, {"成", "cheng"}, {"东", "dong"}, {"凯", "kai"}, {"昊", "hao"}, {"晨", "chen"},
	{"然", "ran"}, {"琪", "qi"}, {"永刚", "yonggang"}, {"立新", "lixin"}, {"振华", "zhenhua"},
	{"晓峰", "xiaofeng"}, {"海涛", "haitao"}, {"新宇", "xinyu"}, {"子豪", "zihao"}, {"雨萱", "yuxuan"},
	{"可欣", "kexin"}, {"若曦", "ruoxi"}, {"明轩", "mingxuan"}, {"思远", "siyuan"}, {"佳豪", "jiahao"},
	{"美玲", "meiling"}, {"秀珍", "xiuzhen"}, {"丽华", "lihua"}, {"玉兰", "yulan"}, {"凤英", "fengying"},
	{"少华", "shaohua"}, {"德明", "deming"}, {"忠", "zhong"}, {"健", "jian"}, {"峰", "feng"},
	{"亮", "liang"}, {"军华", "junhua"}, {"雅琴", "yaqin"}, {"晓雯", "xiaowen"}, {"文静", "wenjing"},
	{"欢", "huan"}, {"岩", "yan"}, {"旭", "xu"}, {"猛", "meng"}, {"彬", "bin"}, {"坤", "kun"},
}

// English names Chinese staff choose for themselves.
var englishNames = []string{
	"Kevin", "Jason", "Eric", "David", "Michael", "Tony", "Leo", "Jack", "Frank", "Vincent",
	"Alex", "Ryan", "Daniel", "Peter", "Steven", "Sam", "Ivan", "Henry", "Oscar", "Allen",
	"Grace", "Cindy", "Amy", "Linda", "Emily", "Vivian", "Iris", "Nancy", "Coco", "Helen",
	"Wendy", "Joyce", "Sophia", "Tina", "Cherry", "Ada", "Echo", "Judy", "Lily", "Sunny",
}

// Staff abroad and a few foreign engineers: name, e-mail local part, phone
// prefix. The Singapore office is listed first.
var foreigners = []struct{ name, email, phone string }{
	{"Daniel Lim", "daniel.lim", "+65"},
	{"Priya Raman", "priya.raman", "+65"},
	{"Muhammad Hafiz", "muhammad.hafiz", "+65"},
	{"Tan Mei Ling", "meiling.tan", "+65"},
	{"Rachel Ng", "rachel.ng", "+65"},
	{"Anna Schmidt", "anna.schmidt", "+49"},
	{"Lukas Müller", "lukas.mueller", "+49"},
	{"Camille Dubois", "camille.dubois", "+33"},
	{"Marco Rossi", "marco.rossi", "+39"},
	{"Olivia Martin", "olivia.martin", "+86"},
	{"James Wilson", "james.wilson", "+86"},
	{"Yuki Tanaka", "yuki.tanaka", "+86"},
}

// foreignDepts says which foreigners work where (indexes into foreigners),
// in the order of the department's people, its head first.
var foreignDepts = map[string][]int{
	"销售中心/海外业务部/新加坡办事处":     {0, 1, 2, 3, 4},
	"研发中心/产品研发部/前端组":        {-1, 9},
	"研发中心/平台部/数据平台组/数据仓库小组": {-1, -1, 10},
	"产品中心/产品设计部/用户体验组":      {-1, 11},
	"销售中心/海外业务部/欧洲办事处":      {-1, 5, 6, 7, 8},
}

var (
	firstDay = time.Date(2012, 3, 1, 0, 0, 0, 0, time.UTC)
	lastDay  = time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
)

type generator struct {
	rng    *rand.Rand
	emails map[string]int     // e-mail local part → times used
	people []*person          // sorted by employee id once numbered
	heads  map[string]*person // department path → head
}

// generate returns hr.csv, hr-v2.csv and the list of changes between them.
func generate() (v1, v2 []byte, changes []string) {
	g := &generator{rng: rand.New(rand.NewPCG(2026, 10)), emails: map[string]int{}, heads: map[string]*person{}}
	g.staff()
	g.number()
	g.leavers()
	v1 = encode(g.people)
	changes = g.nextMonth()
	v2 = encode(g.people)
	return v1, v2, changes
}

// staff makes the people of every department: its head first, then its
// staff, in the order of the table.
func (g *generator) staff() {
	for _, d := range depts {
		path := root
		if d.path != "" {
			path += "/" + d.path
		}
		foreign := foreignDepts[d.path]
		next := func() int { // the next foreigner of the department, or -1
			if len(foreign) == 0 {
				return -1
			}
			f := foreign[0]
			foreign = foreign[1:]
			return f
		}
		head := g.newPerson(path, headTitle(path[strings.LastIndex(path, "/")+1:]), next())
		head.head = true
		head.boss = g.heads[parentOf(path)]
		g.heads[path] = head
		// Heads joined early, within two years after their boss.
		head.hired = firstDay
		if head.boss != nil {
			head.hired = g.date(head.boss.hired.AddDate(0, 1, 0), head.boss.hired.AddDate(2, 0, 0))
		}
		for range d.staff {
			p := g.newPerson(path, pick(g.rng, titles[d.pool]), next())
			p.boss = head
			p.hired = g.date(head.hired, lastDay)
		}
	}
}

// newPerson adds a person to path: foreigners[foreign], or a made-up
// Chinese name when foreign is -1.
func (g *generator) newPerson(path, title string, foreign int) *person {
	p := &person{dept: path, title: title, state: "在职"}
	if foreign >= 0 {
		f := foreigners[foreign]
		p.name, p.english, p.foreign = f.name, f.name, true
		p.email = f.email // made unique by number
		p.mobile = g.phone(f.phone)
	} else {
		sur := pick(g.rng, surnames)
		giv := pick(g.rng, given)
		p.name = sur[0] + giv[0]
		p.email = sur[1] + "." + giv[1] // made unique by number
		p.mobile = g.phone("+86")
		if g.rng.IntN(100) < 45 {
			p.english = pick(g.rng, englishNames) + " " + strings.ToUpper(sur[1][:1]) + sur[1][1:]
		}
		if g.rng.IntN(100) < 3 {
			p.mobile = "" // never given to HR
		}
	}
	g.people = append(g.people, p)
	return p
}

// email returns a unique address for local, adding 2, 3, ... to repeats.
func (g *generator) email(local string) string {
	g.emails[local]++
	if n := g.emails[local]; n > 1 {
		local += strconv.Itoa(n)
	}
	return local + "@" + domain
}

func (g *generator) phone(prefix string) string {
	d := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + g.rng.IntN(10)))
		}
		return b.String()
	}
	switch prefix {
	case "+65":
		return "+65 " + pick(g.rng, []string{"8", "9"}) + d(3) + " " + d(4)
	case "+49":
		return "+49 15" + d(1) + " " + d(8)
	case "+33":
		return "+33 6 " + d(2) + " " + d(2) + " " + d(2) + " " + d(2)
	case "+39":
		return "+39 3" + d(2) + " " + d(7)
	}
	return "+86 " + pick(g.rng, []string{"130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "177", "180", "186", "187", "188", "189"}) + d(8)
}

func (g *generator) date(from, to time.Time) time.Time {
	if !to.After(from) {
		return from
	}
	days := int(to.Sub(from).Hours() / 24)
	return from.AddDate(0, 0, g.rng.IntN(days+1))
}

// number gives employee ids and e-mail addresses in the order people were
// hired, and sets each person's manager to the id of their boss.
func (g *generator) number() {
	slices.SortStableFunc(g.people, func(a, b *person) int { return a.hired.Compare(b.hired) })
	for i, p := range g.people {
		p.id = strconv.Itoa(100001 + i)
		p.email = g.email(p.email) // the first to join keeps the plain address
	}
	for _, p := range g.people {
		if p.boss != nil {
			p.manager = p.boss.id
		}
	}
}

// leavers marks a few people who are not heads 停用 (suspended) and 离职
// (left).
func (g *generator) leavers() {
	for _, state := range []string{"停用", "停用", "停用", "停用", "离职", "离职", "离职", "离职", "离职"} {
		g.pickStaff(func(*person) bool { return true }).state = state
	}
}

// pickStaff picks an active person who heads nothing, is Chinese staff, has
// not been changed yet and passes ok.
func (g *generator) pickStaff(ok func(*person) bool) *person {
	for {
		p := pick(g.rng, g.people)
		if !p.head && !p.foreign && p.state == "在职" && !p.changed && ok(p) {
			p.changed = true
			return p
		}
	}
}

// nextMonth applies a month of changes and describes them.
func (g *generator) nextMonth() []string {
	var out []string
	add := func(p *person, format string, args ...any) {
		out = append(out, p.id+" "+p.name+": "+fmt.Sprintf(format, args...))
	}
	// A promotion, a new phone, both.
	p := g.pickStaff(func(p *person) bool {
		return !strings.HasPrefix(p.title, "高级") && !strings.HasPrefix(p.title, "资深")
	})
	add(p, "职位 %s -> %s", p.title, "高级"+p.title)
	p.title = "高级" + p.title
	p = g.pickStaff(func(p *person) bool { return p.mobile != "" })
	old := p.mobile
	p.mobile = g.phone("+86")
	add(p, "手机 %s -> %s", old, p.mobile)
	p = g.pickStaff(func(p *person) bool { return p.mobile != "" && strings.HasSuffix(p.dept, "组") })
	oldTitle, oldMobile := p.title, p.mobile
	p.title = p.dept[strings.LastIndex(p.dept, "/")+1:] + "副组长"
	p.mobile = g.phone("+86")
	add(p, "职位 %s -> %s; 手机 %s -> %s", oldTitle, p.title, oldMobile, p.mobile)

	// Two transfers, to another department of the same center, under its head.
	for _, to := range []string{"研发中心/产品研发部/后端组/用户小组", "销售中心/华南大区/深圳分部"} {
		center := root + "/" + strings.Split(to, "/")[0]
		to = root + "/" + to
		p := g.pickStaff(func(p *person) bool { return strings.HasPrefix(p.dept, center+"/") && p.dept != to })
		head := g.heads[to]
		add(p, "部门 %s -> %s; 上级工号 %s -> %s", p.dept, to, p.manager, head.id)
		p.dept, p.manager = to, head.id
	}

	// Two new hires.
	last, _ := strconv.Atoi(g.people[len(g.people)-1].id)
	for i, h := range []struct{ dept, title string }{
		{"研发中心/平台部/基础架构组/存储小组/对象存储项目组", "存储研发工程师"},
		{"职能中心/人力资源部/招聘组", "招聘专员"},
	} {
		path := root + "/" + h.dept
		p := g.newPerson(path, h.title, -1)
		p.id = strconv.Itoa(last + 1 + i)
		p.email = g.email(p.email)
		p.manager = g.heads[path].id
		p.hired = time.Date(2026, 10, 12+7*i, 0, 0, 0, 0, time.UTC)
		p.changed = true
		add(p, "入职 %s, %s, %s, 上级工号 %s", p.hired.Format("2006-01-02"), path, p.title, p.manager)
	}

	// Two leave, one is suspended.
	for _, state := range []string{"离职", "离职", "停用"} {
		p := g.pickStaff(func(p *person) bool { return true })
		add(p, "状态 在职 -> %s", state)
		p.state = state
	}
	slices.Sort(out)
	return out
}

func parentOf(path string) string {
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func pick[T any](rng *rand.Rand, l []T) T { return l[rng.IntN(len(l))] }

// encode writes the rows sorted by employee id as Excel does: a UTF-8 byte
// order mark, CRLF line ends, quotes only where needed.
func encode(people []*person) []byte {
	rows := slices.Clone(people)
	slices.SortFunc(rows, func(a, b *person) int { return strings.Compare(a.id, b.id) })
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	w.Write(Header)
	for _, p := range rows {
		w.Write(p.row())
	}
	w.Flush()
	return b.Bytes()
}
