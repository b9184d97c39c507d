package mapping

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/midstream-io/midstream/sdk"
)

// benchSpec is a realistic outbound user mapping: 12 target attributes,
// 3 copied and 9 computed.
func benchSpec() Spec {
	attrs := []struct{ name, from, script string }{
		{name: "userid", script: `record.email.split("@")[0].toLowerCase()`},
		{name: "name", from: "name"},
		{name: "alias", script: "`${record.family_name}.${record.english_name.split(\" \")[0]}`.toLowerCase()"},
		{name: "email", script: `record.email ? record.email.toLowerCase() : record.employee_id + "@example.com"`},
		{name: "mobile", script: `record.mobile.replace(/\s+/g, "")`},
		{name: "position", script: "`${record.title}（${record.department.split(\"/\").pop()}）`"},
		{name: "status", script: `record.active && !record.locked ? 1 : 4`},
		{name: "tags", script: `record.groups.join(";")`},
		{name: "hire_date", script: `record.hired.toISOString().slice(0, 10)`},
		{name: "employee_no", script: `"E" + String(record.employee_no).padStart(8, "0")`},
		{name: "manager", from: "manager"},
		{name: "external_id", from: "employee_id"},
	}
	spec := Spec{Kind: sdk.KindUser}
	for i, a := range attrs {
		spec.Attributes = append(spec.Attributes, Attribute{
			Name: a.name, From: a.from, Script: a.script,
			Pos: Pos{Filename: "pipeline.hcl", Line: 40 + i, Column: 17},
		})
	}
	return spec
}

var (
	familyNames = []string{"张", "王", "李", "赵", "欧阳", "陈", "刘", "黄"}
	givenNames  = []string{"伟", "芳", "娜", "敏", "静", "丽强", "磊", "洋"}
	englishOf   = map[string]string{"张": "Zhang", "王": "Wang", "李": "Li", "赵": "Zhao", "欧阳": "Ouyang", "陈": "Chen", "刘": "Liu", "黄": "Huang"}
)

// benchRecords returns n distinct hub users of 15 attributes each.
func benchRecords(n int) []Input {
	recs := make([]Input, n)
	for i := range recs {
		fam, giv := familyNames[i%len(familyNames)], givenNames[i/len(familyNames)%len(givenNames)]
		id := fmt.Sprintf("E%05d", 10000+i)
		en := fmt.Sprintf("Given%d %s", i, englishOf[fam])
		recs[i] = Input{
			Kind:  sdk.KindUser,
			ID:    fmt.Sprintf("hub-%08d", i),
			State: sdk.StateActive,
			Attributes: sdk.Attributes{
				"employee_id":  sdk.String(id),
				"name":         sdk.String(fam + giv),
				"family_name":  sdk.String(fam),
				"given_name":   sdk.String(giv),
				"english_name": sdk.String(en),
				"email":        sdk.String(fmt.Sprintf("Given%d.%s@Example.COM", i, englishOf[fam])),
				"mobile":       sdk.String(fmt.Sprintf("+86 138 %04d %04d", i/10000, i%10000)),
				"title":        sdk.String("高级工程师"),
				"department":   sdk.String("总部/研发中心/平台部"),
				"employee_no":  sdk.Int(int64(10000 + i)),
				"active":       sdk.Bool(i%17 != 0),
				"locked":       sdk.Bool(false),
				"hired":        sdk.Time(time.Date(2015+i%10, time.Month(1+i%12), 1+i%28, 9, 0, 0, 0, time.UTC)),
				"groups":       sdk.StringList("staff", "dev", fmt.Sprintf("team-%d", i%7)),
				"manager":      sdk.String("E00001"),
			},
			Target: "wecom",
			Now:    time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
		}
	}
	return recs
}

// BenchmarkMapping measures the mapping of benchSpec over varied records,
// on one goroutine and on GOMAXPROCS goroutines. compiles/op must be 0:
// scripts compile once, at Compile.
func BenchmarkMapping(b *testing.B) {
	recs := benchRecords(1000)
	report := func(b *testing.B, m *Mapping, before int64) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(float64(compiles.Load()-before)/float64(b.N), "compiles/op")
		b.ReportMetric(float64(compiledOf(m).created.Load()), "runtimes")
	}
	b.Run("single", func(b *testing.B) {
		m := mustCompile(b, benchSpec(), Options{})
		before := compiles.Load()
		// A cancelable context, as the engine passes: each call arms an
		// AfterFunc on it.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Apply(ctx, recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		report(b, m, before)
	})
	b.Run("parallel", func(b *testing.B) {
		m := mustCompile(b, benchSpec(), Options{})
		before := compiles.Load()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := m.Apply(ctx, recs[i%len(recs)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		report(b, m, before)
	})
}

// definedSpec is benchSpec written with the helpers and with target
// attribute definitions: types, required, defaults, a unique account name
// with suffixes, a sensitive attribute, create_only.
func definedSpec() Spec {
	spec := Spec{Kind: sdk.KindUser, Stage: Outbound}
	add := func(a Attribute) { spec.Attributes = append(spec.Attributes, a) }
	add(Attribute{Name: "userid", Script: `pinyinName(record.name)`, Required: true, Unique: true, OnConflict: ConflictSuffix, Mode: ModeCreateOnly})
	add(Attribute{Name: "name", From: "name", Required: true})
	add(Attribute{Name: "alias", Script: "lower(`${record.family_name}.${split(record.english_name, \" \")[0]}`)"})
	add(Attribute{Name: "email", Script: `lower(coalesce(record.email, record.employee_id + "@example.com"))`, Type: TypeString})
	add(Attribute{Name: "mobile", Script: `regexReplace(record.mobile, "\\s+", "")`, Sensitive: true})
	add(Attribute{Name: "position", Script: "`${record.title}（${split(record.department, \"/\").pop()}）`"})
	add(Attribute{Name: "status", Script: `record.active && !record.locked ? 1 : 4`, Type: TypeEnum, Options: []string{"1", "4"}})
	add(Attribute{Name: "tags", From: "groups", Type: TypeStringList})
	add(Attribute{Name: "hire_date", Script: `formatDate(record.hired, "2006-01-02", "Asia/Shanghai")`, Type: TypeString})
	add(Attribute{Name: "employee_no", Script: `"E" + String(record.employee_no).padStart(8, "0")`})
	add(Attribute{Name: "manager", From: "manager", Default: ptr(sdk.String("none"))})
	add(Attribute{Name: "external_id", From: "employee_id", Type: TypeInteger, Default: ptr(sdk.Int(0))})
	return spec
}

// functionSpec is benchSpec as one whole-object function.
func functionSpec() Spec {
	return Spec{Kind: sdk.KindUser, Function: Function{Script: `(record) => ({
		userid: record.email.split("@")[0].toLowerCase(),
		name: record.name,
		alias: ` + "`${record.family_name}.${record.english_name.split(\" \")[0]}`" + `.toLowerCase(),
		email: record.email ? record.email.toLowerCase() : record.employee_id + "@example.com",
		mobile: record.mobile.replace(/\s+/g, ""),
		position: ` + "`${record.title}（${record.department.split(\"/\").pop()}）`" + `,
		status: record.active && !record.locked ? 1 : 4,
		tags: record.groups.join(";"),
		hire_date: record.hired.toISOString().slice(0, 10),
		employee_no: "E" + String(record.employee_no).padStart(8, "0"),
		manager: record.manager,
		external_id: record.employee_id,
	})`}}
}

// memoryUniqueness holds reserved values in memory, as a stand-in for the
// engine's links.
type memoryUniqueness struct {
	mu   sync.Mutex
	held map[string]string
}

func (u *memoryUniqueness) Reserve(_ context.Context, r Reservation) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := r.Attribute + "\x00" + r.Value
	if h, ok := u.held[k]; ok && h != r.ID {
		return h, nil
	}
	u.held[k] = r.ID
	return "", nil
}

// BenchmarkMappingFeatures measures what the mapping language adds to
// benchSpec: the same logic as one whole-object function, and with the
// helpers and target attribute definitions (unique values reserved in
// memory, reused from Input.Reserved as the engine does on later syncs).
func BenchmarkMappingFeatures(b *testing.B) {
	recs := benchRecords(1000)
	b.Run("function", func(b *testing.B) {
		m := mustCompile(b, functionSpec(), Options{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Apply(context.Background(), recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("definitions", func(b *testing.B) {
		m := mustCompile(b, definedSpec(), Options{})
		u := &memoryUniqueness{held: map[string]string{}}
		ins := make([]Input, len(recs))
		for i, in := range recs {
			in.Uniqueness = u
			in.Attributes = in.Attributes.Clone()
			in.Attributes["employee_id"] = sdk.String(fmt.Sprint(10000 + i))
			r, err := m.Run(context.Background(), in)
			if err != nil {
				b.Fatal(err)
			}
			in.Reserved = r.Reserved
			ins[i] = in
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Run(context.Background(), ins[i%len(ins)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkGojaBaseline is benchSpec's logic written the way the
// performance research found fastest for raw goja (its pattern "d"): one
// exported function per runtime over a ToValue(map[string]any) wrapper,
// its result Export()ed, without any of this package's conversions, error
// mapping or interrupts. BenchmarkMapping is measured against it.
func BenchmarkGojaBaseline(b *testing.B) {
	const src = `(function (u) {
		return {
			userid: u.email.split("@")[0].toLowerCase(),
			name: u.name,
			alias: ` + "`${u.family_name}.${u.english_name.split(\" \")[0]}`" + `.toLowerCase(),
			email: u.email ? u.email.toLowerCase() : u.employee_id + "@example.com",
			mobile: u.mobile.replace(/\s+/g, ""),
			position: ` + "`${u.title}（${u.department.split(\"/\").pop()}）`" + `,
			status: u.active && !u.locked ? 1 : 4,
			tags: u.groups.join(";"),
			hire_date: new Date(u.hired).toISOString().slice(0, 10),
			employee_no: "E" + String(u.employee_no).padStart(8, "0"),
			manager: u.manager,
			external_id: u.employee_id,
		};
	})`
	prog := goja.MustCompile("baseline", src, true)
	var maps []map[string]any
	for _, in := range benchRecords(1000) {
		m := make(map[string]any, len(in.Attributes))
		for k, v := range in.Attributes {
			switch v.Type() {
			case sdk.TypeTime:
				m[k] = v.TimeValue().UnixMilli()
			case sdk.TypeStringList:
				l := v.List()
				items := make([]any, len(l))
				for i, s := range l {
					items[i] = s
				}
				m[k] = items
			default:
				m[k] = v.Any()
			}
		}
		maps = append(maps, m)
	}
	newFn := func(b *testing.B) (*goja.Runtime, goja.Callable) {
		rt := goja.New()
		f, err := rt.RunProgram(prog)
		if err != nil {
			b.Fatal(err)
		}
		fn, _ := goja.AssertFunction(f)
		return rt, fn
	}
	b.Run("single", func(b *testing.B) {
		rt, fn := newFn(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			res, err := fn(goja.Undefined(), rt.ToValue(maps[i%len(maps)]))
			if err != nil {
				b.Fatal(err)
			}
			_ = res.Export()
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rt, fn := newFn(b)
			i := 0
			for pb.Next() {
				res, err := fn(goja.Undefined(), rt.ToValue(maps[i%len(maps)]))
				if err != nil {
					b.Error(err)
					return
				}
				_ = res.Export()
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
