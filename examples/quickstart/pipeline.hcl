# The quickstart pipeline: people and departments from an HR export
# (hr.csv, beside this file) to the example receiver application
# (examples/receiver), listening on 127.0.0.1:8471.

pipeline "quickstart" {}

source "csv" "hr" {
  path              = "hr.csv"
  id_column         = "工号"
  department_column = "部门"
  manager_column    = "上级工号"
  state_column      = "状态"
  columns = { "姓名" = "name", "英文名" = "english_name", "邮箱" = "email", "手机" = "mobile", "职位" = "title", "入职日期" = "hire_date" }
}

target "callback" "app" {
  url   = env("QUICKSTART_URL", "http://127.0.0.1:8471/callback")
  token = env("QUICKSTART_TOKEN", "quickstart-token")

  # Every event is encrypted (AES-128-GCM: a 16-character key) and signed
  # (HMAC-SHA256); the receiver is started with the same keys. In a real
  # pipeline the keys come from env() or file() with no default.
  encryption_key = env("QUICKSTART_ENCRYPTION_KEY", "quickstart-aes-k")
  signature_key  = env("QUICKSTART_SIGNATURE_KEY", "quickstart-signature-key")
  mapping "user" {
    # The account name: family.given in pinyin (周思雨 → zhou.siyu, Anna
    # Schmidt → anna.schmidt); a namesake gets zhou.siyu2. Set when the
    # account is created, and kept when the name changes.
    attribute "userName" {
      script      = "pinyinName(record.name)"
      label       = "Account"
      required    = true
      unique      = true
      on_conflict = "suffix"
      mode        = "create_only"
    }
    attribute "displayName" {
      from     = "name"
      required = true
    }
    attribute "email" {
      script = "lower(record.email)"
      unique = true
    }
    attribute "mobile"  { from = "mobile" }
    attribute "title"   { from = "title" }
    attribute "manager" { from = "manager" }
  }
  mapping "org" {
    attribute "name" { from = "name" }
  }
}
