## Reads users (and their departments) from an HR export. The whole file is
## checked before anything is read: one bad row fails the run, listing every
## bad row with its line and column, and changes nothing.

## The export file, relative to this pipeline file. Have the HR system write
## it under a temporary name and rename it into place.
path = "exports/employees.csv"

## "auto" reads a file with a UTF-8 byte order mark, or valid UTF-8
## throughout, as UTF-8 and any other file as GBK; "utf-8" or "gbk" forces it.
# encoding = "auto"

## The field separator: one character, such as ",", ";", "|" or "\t".
# delimiter = ","

## Remove white space (including U+3000) around headers and values.
# trim_space = true

## The header of the employee id column: stable, present in every row, unique.
id_column = "工号"

## Which columns become user attributes, header = attribute. Unset, every
## column but the id, state, department and manager columns is kept under its
## own header. An empty cell gives a null attribute.
columns = {
  "姓名" = "name"
  "邮箱" = "email"
  "手机" = "mobile"
  "职位" = "title"
}

## Columns that must have a value in every row (the id column always must).
required_columns = ["姓名"]

## The column holding each employee's state, and how its values translate to
## active, disabled or deleted (matched ignoring case; any other value is an
## error). Unset, every user is active.
state_column = "状态"
# state_values = {
#   "在职" = "active"
#   "停用" = "disabled"
#   "离职" = "deleted"
#   "active" = "active"
#   "disabled" = "disabled"
#   "deleted" = "deleted"
# }

## The column placing each user in the org tree: a department path such as
## 集团/研发中心/平台部, whose every prefix becomes an org, or with org_file
## an org id from that file.
department_column = "部门"
# department_separator = "/"

## Read orgs from a separate export instead of department paths.
# org_file = "exports/departments.csv"
# org_id_column = "部门编号"
# org_parent_column = "上级部门编号"
# org_name_column = "部门名称"

## The column holding the employee id of each user's manager, kept as the
## attribute "manager". The manager must be in the same file.
manager_column = "直属上级工号"
