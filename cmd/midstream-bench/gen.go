package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The HR export's columns, as a Chinese HR system writes them.
var csvHeader = []string{"工号", "姓名", "英文名", "邮箱", "手机", "部门", "职位", "上级工号", "状态", "入职日期", "工作地点", "成本中心", "员工类型"}

// The states of the 状态 column.
const (
	stateActive   = "在职"
	stateDisabled = "停用"
	stateLeft     = "离职"
)

const (
	rootName    = "星河集团"
	emailDomain = "xinghe.example.com"
	// maxDepth is the deepest level departments nest to (the root is 0).
	maxDepth = 7
)

// org is one department: its path (the csv source's external id) and the
// index of its parent (-1 for the root).
type org struct {
	name, path string
	parent     int
	depth      int
	head       int // index of the user heading it
}

// user is one row of the export.
type user struct {
	id, name, english, email, mobile, title string
	hired, location, costCenter, kind       string
	state                                   string
	org                                     int
	manager                                 int // index of the manager, -1 for none
	head                                    bool
}

// model is a synthetic organization: what the export says, and so what the
// application must end up holding.
type model struct {
	rng   *rand.Rand
	orgs  []org
	users []user
	// emails counts the uses of an e-mail local part.
	emails map[string]int
}

// generate makes an organization of nUsers people in nOrgs departments
// (every department has a head; the others are spread over the tree,
// deeper departments getting most of them).
func generate(nUsers, nOrgs int, seed uint64) *model {
	m := &model{rng: rand.New(rand.NewPCG(seed, 0x6d6964)), emails: map[string]int{}}
	m.tree(nOrgs)
	m.people(nUsers)
	return m
}

// tree builds nOrgs departments breadth first, 2 to 8 children each, at
// most maxDepth levels deep.
func (m *model) tree(n int) {
	m.orgs = append(m.orgs, org{name: rootName, path: rootName, parent: -1})
	used := map[int]map[string]bool{}
	for next := 0; len(m.orgs) < n; next++ {
		if next == len(m.orgs) {
			next = 0 // only reached when maxDepth cuts the tree short
		}
		p := m.orgs[next]
		if p.depth >= maxDepth && next != 0 {
			continue
		}
		kids := 2 + m.rng.IntN(7)
		if p.depth == 0 {
			kids = 8 + m.rng.IntN(5)
		}
		for range kids {
			if len(m.orgs) == n {
				break
			}
			if used[next] == nil {
				used[next] = map[string]bool{}
			}
			name := m.deptName(p.depth+1, used[next])
			m.orgs = append(m.orgs, org{name: name, path: p.path + "/" + name, parent: next, depth: p.depth + 1})
		}
	}
}

var (
	centerNames = []string{"研发中心", "产品中心", "销售中心", "市场中心", "职能中心", "客户服务中心", "供应链中心", "数据智能中心", "国际业务中心", "战略投资中心", "Global Operations", "云计算事业群"}
	deptNames   = []string{"平台部", "产品研发部", "质量保障部", "安全部", "华东大区", "华北大区", "华南大区", "西南大区", "海外业务部", "人力资源部", "财务部", "法务部", "行政部", "IT部", "品牌部", "增长部", "采购部", "物流部", "客户成功部", "技术支持部", "Singapore Office", "Europe Sales"}
	teamNames   = []string{"基础架构组", "数据平台组", "前端组", "后端组", "移动端组", "自动化测试组", "性能测试组", "安全运营组", "上海分部", "杭州分部", "北京分部", "深圳分部", "广州分部", "成都分部", "招聘组", "薪酬福利组", "会计组", "税务组", "资金组", "桌面支持组", "企业应用组", "一线支持组", "二线支持组", "大客户组", "渠道合作组", "Platform Team", "Data Engineering"}
	unitNames   = []string{"存储小组", "网络小组", "计算小组", "数据仓库小组", "实时计算小组", "iOS小组", "Android小组", "交易小组", "用户小组", "支付网关项目组", "对象存储项目组", "应急响应小组", "企业客户组", "大客户一组", "大客户二组", "内容运营组", "用户增长组", "视觉设计组", "用户体验组", "SRE小组"}
)

// deptName picks a department name for a level, unique among its siblings.
func (m *model) deptName(depth int, used map[string]bool) string {
	var pool []string
	switch depth {
	case 1:
		pool = centerNames
	case 2:
		pool = deptNames
	case 3:
		pool = teamNames
	default:
		pool = unitNames
	}
	name := pick(m.rng, pool)
	for i := 2; used[name]; i++ {
		name = pick(m.rng, pool) + strconv.Itoa(i)
	}
	used[name] = true
	return name
}

// people makes a head for every department, then the staff.
func (m *model) people(n int) {
	for i := range m.orgs {
		u := m.newUser(i, true)
		m.orgs[i].head = len(m.users)
		if p := m.orgs[i].parent; p >= 0 {
			u.manager = m.orgs[p].head
		}
		m.users = append(m.users, u)
	}
	// Staff go mostly to the deeper departments, as in real companies.
	var deep []int
	for i, o := range m.orgs {
		if o.depth >= 2 || len(m.orgs) < 8 {
			deep = append(deep, i)
		}
	}
	for len(m.users) < n {
		oi := deep[m.rng.IntN(len(deep))]
		if m.rng.IntN(10) == 0 {
			oi = m.rng.IntN(len(m.orgs))
		}
		u := m.newUser(oi, false)
		u.manager = m.orgs[oi].head
		switch r := m.rng.IntN(1000); {
		case r < 10:
			u.state = stateDisabled
		case r < 20:
			u.state = stateLeft
		}
		m.users = append(m.users, u)
	}
}

// Surnames and given names with their pinyin.
var surnames = [][2]string{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"}, {"黄", "huang"},
	{"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"},
	{"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"高", "gao"}, {"林", "lin"}, {"罗", "luo"}, {"郑", "zheng"},
	{"梁", "liang"}, {"谢", "xie"}, {"宋", "song"}, {"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"},
	{"邓", "deng"}, {"曹", "cao"}, {"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"}, {"田", "tian"}, {"董", "dong"},
	{"袁", "yuan"}, {"潘", "pan"}, {"于", "yu"}, {"蒋", "jiang"}, {"蔡", "cai"}, {"余", "yu"}, {"杜", "du"},
	{"叶", "ye"}, {"程", "cheng"}, {"苏", "su"}, {"魏", "wei"}, {"吕", "lv"}, {"丁", "ding"}, {"任", "ren"},
	{"沈", "shen"}, {"姚", "yao"}, {"卢", "lu"}, {"姜", "jiang"}, {"崔", "cui"}, {"钟", "zhong"}, {"谭", "tan"},
	{"陆", "lu"}, {"汪", "wang"}, {"范", "fan"}, {"金", "jin"}, {"石", "shi"}, {"廖", "liao"}, {"贾", "jia"},
	{"夏", "xia"}, {"韦", "wei"}, {"方", "fang"}, {"白", "bai"}, {"邹", "zou"}, {"孟", "meng"}, {"熊", "xiong"},
	{"秦", "qin"}, {"邱", "qiu"}, {"江", "jiang"}, {"尹", "yin"}, {"薛", "xue"}, {"欧阳", "ouyang"}, {"上官", "shangguan"},
}

var givenNames = [][2]string{
	{"伟", "wei"}, {"芳", "fang"}, {"秀英", "xiuying"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"}, {"强", "qiang"},
	{"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"}, {"杰", "jie"}, {"娟", "juan"},
	{"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀兰", "xiulan"}, {"霞", "xia"}, {"平", "ping"}, {"刚", "gang"},
	{"建华", "jianhua"}, {"文", "wen"}, {"辉", "hui"}, {"玲", "ling"}, {"晓东", "xiaodong"}, {"红梅", "hongmei"},
	{"鹏", "peng"}, {"宇航", "yuhang"}, {"浩然", "haoran"}, {"子轩", "zixuan"}, {"梓涵", "zihan"}, {"一诺", "yinuo"},
	{"欣怡", "xinyi"}, {"思雨", "siyu"}, {"雨桐", "yutong"}, {"俊杰", "junjie"}, {"志强", "zhiqiang"}, {"海燕", "haiyan"},
	{"晓明", "xiaoming"}, {"丽娟", "lijuan"}, {"建国", "jianguo"}, {"婷婷", "tingting"}, {"雪梅", "xuemei"},
	{"佳琪", "jiaqi"}, {"晨曦", "chenxi"}, {"博文", "bowen"}, {"天宇", "tianyu"}, {"泽宇", "zeyu"}, {"一鸣", "yiming"},
	{"雅婷", "yating"}, {"诗涵", "shihan"}, {"梦瑶", "mengyao"}, {"志远", "zhiyuan"}, {"家豪", "jiahao"},
	{"慧敏", "huimin"}, {"晓琳", "xiaolin"}, {"睿", "rui"}, {"航", "hang"}, {"毅", "yi"}, {"帆", "fan"}, {"琦", "qi"},
	{"晶", "jing"}, {"鑫", "xin"}, {"彤", "tong"}, {"凯", "kai"}, {"昊", "hao"}, {"若曦", "ruoxi"}, {"明轩", "mingxuan"},
}

// Latin names: the name as written, and its e-mail form.
var latinFirst = [][2]string{
	{"Anna", "anna"}, {"Lukas", "lukas"}, {"Camille", "camille"}, {"Marco", "marco"}, {"Olivia", "olivia"},
	{"James", "james"}, {"Priya", "priya"}, {"Daniel", "daniel"}, {"Łukasz", "lukasz"}, {"Zoë", "zoe"},
	{"José", "jose"}, {"Søren", "soren"}, {"François", "francois"}, {"Mary-Jane", "maryjane"}, {"Rachel", "rachel"},
	{"Muhammad", "muhammad"}, {"Yuki", "yuki"}, {"Chloé", "chloe"}, {"Björn", "bjorn"}, {"Siobhán", "siobhan"},
}

var latinLast = [][2]string{
	{"Schmidt", "schmidt"}, {"Müller", "mueller"}, {"Dubois", "dubois"}, {"Rossi", "rossi"}, {"Martin", "martin"},
	{"Wilson", "wilson"}, {"Raman", "raman"}, {"Lim", "lim"}, {"Dvořák", "dvorak"}, {"García", "garcia"},
	{"O'Neil", "oneil"}, {"Nowak", "nowak"}, {"Tanaka", "tanaka"}, {"Ng", "ng"}, {"Hafiz", "hafiz"},
	{"Kowalski", "kowalski"}, {"Johansson", "johansson"}, {"Fernández", "fernandez"}, {"Lefèvre", "lefevre"}, {"Weiß", "weiss"},
}

var englishNames = []string{"Kevin", "Jason", "Eric", "David", "Michael", "Tony", "Leo", "Jack", "Grace", "Cindy", "Amy", "Linda", "Emily", "Vivian", "Iris", "Echo"}

var staffTitles = []string{
	"后端开发工程师", "高级后端开发工程师", "资深前端开发工程师", "测试开发工程师", "数据分析师", "产品经理", "高级产品经理",
	"交互设计师", "运营专员", "客户经理", "高级客户经理", "售前工程师", "解决方案架构师", "招聘专员", "HRBP", "会计", "出纳",
	"法务专员", "行政专员", "IT支持工程师", "技术支持工程师", "客户成功经理", "Account Manager", "Sales Executive",
	"Business Development Manager", "SRE工程师", "大数据架构师", "安全工程师", "iOS开发工程师", "Android开发工程师",
}

var locations = []string{
	"上海市浦东新区张江高科技园区博云路2号", "北京市海淀区中关村软件园二期西北旺东路10号", "深圳市南山区科技园科苑路15号",
	"杭州市余杭区文一西路969号", "广州市天河区珠江新城花城大道85号", "成都市高新区天府大道中段1268号",
	"Singapore, 1 Fusionopolis Way, #10-01", "Berlin, Friedrichstraße 68, 10117",
}

var kinds = []string{"正式", "正式", "正式", "正式", "正式", "正式", "实习", "外包", "顾问"}

var (
	firstDay = time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)
	lastDay  = time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
)

// newUser makes a person in department oi, a head or staff.
func (m *model) newUser(oi int, head bool) user {
	u := user{org: oi, manager: -1, state: stateActive, head: head, id: strconv.Itoa(1000001 + len(m.users))}
	var local string
	if m.rng.IntN(100) < 12 {
		f, l := pick(m.rng, latinFirst), pick(m.rng, latinLast)
		u.name, u.english = f[0]+" "+l[0], f[0]+" "+l[0]
		local = f[1] + "." + l[1]
	} else {
		s, g := pick(m.rng, surnames), pick(m.rng, givenNames)
		u.name = s[0] + g[0]
		local = s[1] + "." + g[1]
		if m.rng.IntN(100) < 45 {
			u.english = pick(m.rng, englishNames) + " " + strings.ToUpper(s[1][:1]) + s[1][1:]
		}
	}
	m.emails[local]++
	if n := m.emails[local]; n > 1 {
		local += strconv.Itoa(n)
	}
	u.email = local + "@" + emailDomain
	u.mobile = m.phone()
	if m.rng.IntN(100) < 3 {
		u.mobile = ""
	}
	if head {
		u.title = m.orgs[oi].name + "负责人"
	} else {
		u.title = pick(m.rng, staffTitles)
	}
	days := int(lastDay.Sub(firstDay).Hours() / 24)
	u.hired = firstDay.AddDate(0, 0, m.rng.IntN(days)).Format("2006-01-02")
	u.location = pick(m.rng, locations)
	u.costCenter = fmt.Sprintf("CC-%04d-%03d", oi%10000, m.rng.IntN(1000))
	u.kind = pick(m.rng, kinds)
	return u
}

func (m *model) phone() string {
	return fmt.Sprintf("+86 %s %04d %04d", pick(m.rng, []string{"130", "135", "138", "139", "150", "158", "177", "186", "188", "189"}), m.rng.IntN(10000), m.rng.IntN(10000))
}

func pick[T any](rng *rand.Rand, l []T) T { return l[rng.IntN(len(l))] }

// writeCSV writes the export as Excel does (a UTF-8 byte order mark, CRLF
// line ends), under a temporary name renamed into place, as the csv
// source asks of HR systems.
func (m *model) writeCSV(path string) error {
	var b bytes.Buffer
	b.Grow(len(m.users) * 260)
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	_ = w.Write(csvHeader)
	for _, u := range m.users {
		mgr := ""
		if u.manager >= 0 {
			mgr = m.users[u.manager].id
		}
		_ = w.Write([]string{u.id, u.name, u.english, u.email, u.mobile, m.orgs[u.org].path, u.title, mgr, u.state, u.hired, u.location, u.costCenter, u.kind})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// change is one change of a revision.
type change struct {
	user int
	what string // "title", "mobile", "move", "leave"
}

// revise applies n random changes to distinct people, each of which makes
// exactly one request: an update of a mapped attribute (title or mobile),
// a move to another department, or a leave (离职). Only active staff are
// changed: a head's move or leave would empty a department (its delete is
// a second request) and leave reports without a manager.
func (m *model) revise(n int) []change {
	var out []change
	touched := map[int]bool{}
	for len(out) < n {
		i := m.rng.IntN(len(m.users))
		u := &m.users[i]
		if touched[i] || u.head || u.state != stateActive {
			continue
		}
		touched[i] = true
		c := change{user: i}
		switch r := m.rng.IntN(10); {
		case r < 3:
			c.what = "title"
			old := u.title
			for u.title == old {
				u.title = pick(m.rng, staffTitles)
			}
		case r < 5:
			c.what = "mobile"
			old := u.mobile
			for u.mobile == old {
				u.mobile = m.phone()
			}
		case r < 8:
			if len(m.orgs) < 2 {
				continue
			}
			c.what = "move"
			old := u.org
			for u.org == old {
				u.org = m.rng.IntN(len(m.orgs))
			}
			// The manager stays: a new manager is a second change.
		default:
			c.what = "leave"
			u.state = stateLeft
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b change) int { return a.user - b.user })
	return out
}

// counts returns how many users the application must hold (active and
// disabled ones) and how many departments.
func (m *model) counts() (users, disabled, orgs int) {
	for _, u := range m.users {
		switch u.state {
		case stateActive:
			users++
		case stateDisabled:
			users++
			disabled++
		}
	}
	return users, disabled, len(m.orgs)
}
