package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// secrets are the target's credentials, shared with the receiver.
type secrets struct {
	token, encryptionKey, signatureKey string
}

func newSecrets(secure bool) secrets {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s := secrets{token: "bench-" + hex.EncodeToString(b[:12])}
	if secure {
		_, _ = rand.Read(b)
		s.encryptionKey = hex.EncodeToString(b) // AES-256
		_, _ = rand.Read(b)
		s.signatureKey = base64.RawURLEncoding.EncodeToString(b)
	}
	return s
}

// env returns the variables the pipeline reads its secrets from.
func (s secrets) env() []string {
	return []string{"BENCH_TOKEN=" + s.token, "BENCH_ENCRYPTION_KEY=" + s.encryptionKey, "BENCH_SIGNATURE_KEY=" + s.signatureKey}
}

// pipelineHCL is the bench's pipeline: the HR export through a realistic
// 12-attribute JavaScript mapping to the callback application.
const pipelineHCL = `# Written by midstream-bench.
pipeline "bench" {}

source "csv" "hr" {
  path              = "hr.csv"
  id_column         = "工号"
  department_column = "部门"
  manager_column    = "上级工号"
  state_column      = "状态"
  required_columns  = ["姓名", "部门"]
  columns = {
    "工号"     = "employee_no"
    "姓名"     = "name"
    "英文名"   = "english_name"
    "邮箱"     = "email"
    "手机"     = "mobile"
    "职位"     = "title"
    "入职日期" = "hire_date"
    "工作地点" = "location"
    "成本中心" = "cost_center"
    "员工类型" = "employment_type"
  }
}

target "callback" "app" {
%s  url   = "%s"
  token = env("BENCH_TOKEN")
%s
  mapping "user" {
    attribute "userName"       { script = "lower(record.email.split('@')[0])" }
    attribute "displayName"    { from = "name" }
    attribute "pinyinName"     { script = "pinyinName(record.name)" }
    attribute "email"          { script = "lower(trim(record.email))" }
    attribute "mobile"         { script = "regexReplace(record.mobile, '[ -]', '')" }
    attribute "title"          { from = "title" }
    attribute "employeeNo"     { from = "employee_no" }
    attribute "department"     { script = "join(object.orgPath, '/')" }
%s    attribute "hireDate"       { script = "formatDate(parseDate(record.hire_date, '2006-01-02', 'Asia/Shanghai'), '2006-01-02T15:04:05Z07:00', 'Asia/Shanghai')" }
    attribute "englishName"    { script = "coalesce(record.english_name, ascii(record.name))" }
    attribute "employment"     { script = "join([record.employment_type, record.cost_center, record.location], ' | ')" }
  }
  mapping "org" {
    attribute "name" { from = "name" }
    attribute "path" { script = "join(object.orgPath.concat([record.name]), '/')" }
  }
}
`

// The twelfth user attribute: the manager (a reference the engine resolves
// to the manager's id in the application, with follow-up updates), or,
// with --no-manager, a plain one.
const (
	managerAttr   = `    attribute "manager"        { from = "manager" }` + "\n"
	noManagerAttr = `    attribute "costCenter"     { from = "cost_center" }` + "\n"
)

// writePipeline writes pipeline.hcl into dir for a receiver at url; a
// batch above 1 is the callback target's batch_size.
func writePipeline(dir, url string, concurrency, batch int, secure, manager bool) error {
	conc := ""
	if concurrency > 0 {
		conc = fmt.Sprintf("  concurrency = %d\n", concurrency)
	}
	if batch > 1 {
		conc += fmt.Sprintf("  batch_size  = %d\n", batch)
	}
	sec := ""
	if secure {
		sec = strings.Join([]string{
			`  encryption_key = env("BENCH_ENCRYPTION_KEY")`,
			`  signature_key  = env("BENCH_SIGNATURE_KEY")`,
		}, "\n") + "\n"
	}
	mgr := managerAttr
	if !manager {
		mgr = noManagerAttr
	}
	return os.WriteFile(filepath.Join(dir, "pipeline.hcl"), fmt.Appendf(nil, pipelineHCL, conc, url, sec, mgr), 0o644)
}
