package csv

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/midstream-io/midstream/sdk"
)

// Example is the connector's sample configuration: the body of a
// `source "csv" "hr" { ... }` block, printed by `midstream plugins sample csv`
// and embedded in the README.
//
//go:embed example.hcl
var Example string

// The configuration attribute names.
const (
	pathField                = "path"
	encodingField            = "encoding"
	delimiterField           = "delimiter"
	trimSpaceField           = "trim_space"
	idColumnField            = "id_column"
	columnsField             = "columns"
	requiredColumnsField     = "required_columns"
	stateColumnField         = "state_column"
	stateValuesField         = "state_values"
	departmentColumnField    = "department_column"
	departmentSeparatorField = "department_separator"
	orgFileField             = "org_file"
	orgIDColumnField         = "org_id_column"
	orgParentColumnField     = "org_parent_column"
	orgNameColumnField       = "org_name_column"
	managerColumnField       = "manager_column"
)

// The values of the encoding attribute.
const (
	encodingAuto = "auto"
	encodingUTF8 = "utf-8"
	encodingGBK  = "gbk"
)

// managerAttribute is the attribute that holds a user's manager.
const managerAttribute = "manager"

// nameAttribute is the attribute that holds an org's name.
const nameAttribute = "name"

// defaultStateValues reads the words Chinese HR systems export (在职 on
// staff, 停用 suspended, 离职 left) and their English equivalents.
var defaultStateValues = map[string]string{
	"在职":       string(sdk.StateActive),
	"停用":       string(sdk.StateDisabled),
	"离职":       string(sdk.StateDeleted),
	"active":   string(sdk.StateActive),
	"disabled": string(sdk.StateDisabled),
	"deleted":  string(sdk.StateDeleted),
}

var schema = sdk.Schema{Fields: []sdk.Field{
	{
		Name:     pathField,
		Type:     sdk.FieldString,
		Required: true,
		Description: "Path of the HR export file. A relative path is relative to the directory of the pipeline file. " +
			"Every run reads the whole file through one open file handle, in two passes (after a third that decides the " +
			"encoding, with encoding \"auto\"): the first checks every row, the second streams the records. Have the HR " +
			"system write the export under a temporary name and rename it into place: a file rewritten in place while a " +
			"run reads it fails that run.",
		Example: "exports/employees.csv",
	},
	{
		Name:    encodingField,
		Type:    sdk.FieldString,
		Default: encodingAuto,
		Options: []string{encodingAuto, encodingUTF8, encodingGBK},
		Description: "Character encoding of the file. With \"auto\" the whole file decides, not its first kilobytes: " +
			"a UTF-8 byte order mark or a file that is valid UTF-8 throughout is read as UTF-8, any other file as GBK. " +
			"A file that is UTF-8 apart from a few broken bytes (valid multi-byte UTF-8 characters outnumber invalid bytes " +
			"sixteen to one) is read as UTF-8 so that the broken bytes are reported rather than every name turned into GBK " +
			"mojibake. \"utf-8\" and \"gbk\" force the encoding; bytes that are not valid in it are reported with their line " +
			"and column. GBK is decoded as its superset GB18030, so rare characters in names are read too. " +
			"A UTF-8 byte order mark is removed; a UTF-16 file is rejected.",
	},
	{
		Name:    delimiterField,
		Type:    sdk.FieldString,
		Default: ",",
		Description: "The character that separates fields: one character, not a double quote or a line break, " +
			"such as \",\", \";\", \"|\" or \"\\t\" for a tab. The delimiter is found after decoding, so \"|\" is safe in GBK files.",
	},
	{
		Name:    trimSpaceField,
		Type:    sdk.FieldBool,
		Default: true,
		Description: "Whether white space around header names and cell values is removed, including the ideographic space " +
			"U+3000 that Chinese spreadsheets leave behind. A cell of only white space is then empty.",
	},
	{
		Name:     idColumnField,
		Type:     sdk.FieldString,
		Required: true,
		Description: "Header of the column holding the employee id, the user's external id. It must be stable for the life of " +
			"the employee (an employee number, not a name or an e-mail address), present in every row and unique in the file.",
		Example: "工号",
	},
	{
		Name: columnsField,
		Type: sdk.FieldStringMap,
		Description: "Which columns become user attributes, as header → attribute name. When unset, every column except " +
			"the id, state, department and manager columns becomes an attribute named after its header, and columns with an " +
			"empty header are skipped. When set, only the listed columns become attributes, under the given names; a listed " +
			"header missing from the file is an error. The id, state, department and manager columns may be listed too, to " +
			"keep their raw value as an attribute. An empty cell gives a null attribute, not a missing one.",
		Example: `{ "姓名" = "name", "邮箱" = "email", "手机" = "mobile" }`,
	},
	{
		Name: requiredColumnsField,
		Type: sdk.FieldStringList,
		Description: "Headers of the columns that must have a value in every row. The id column is always required. " +
			"An empty cell in a required column is a row error.",
		Example: `["姓名", "部门"]`,
	},
	{
		Name: stateColumnField,
		Type: sdk.FieldString,
		Description: "Header of the column holding each employee's state, translated by state_values. When unset, every " +
			"user is active. Users marked disabled or deleted stay in the snapshot: the engine disables or deletes their " +
			"accounts by each target's policy, and counts them against the deletion guard.",
		Example: "状态",
	},
	{
		Name:    stateValuesField,
		Type:    sdk.FieldStringMap,
		Default: defaultStateValues,
		Description: "How cells of the state column translate to states, as cell value → \"active\", \"disabled\" or " +
			"\"deleted\". Cell values are matched ignoring case. A cell value not in the map is a row error; so is an empty " +
			"cell, unless the map has an entry for \"\". The default reads 在职 → active, 停用 → disabled, 离职 → deleted and " +
			"the English words active, disabled and deleted; setting the map replaces the default entirely.",
	},
	{
		Name: departmentColumnField,
		Type: sdk.FieldString,
		Description: "Header of the column placing each user in the org tree. Without org_file it holds a department " +
			"path such as 集团/研发中心/平台部: every distinct path and each of its prefixes becomes an org whose external id is " +
			"the path itself, so renaming or moving a department replaces its org. With org_file it holds the id of an org " +
			"in that file. A user with an empty cell belongs to no org; list the column in required_columns to forbid that.",
		Example: "部门",
	},
	{
		Name:    departmentSeparatorField,
		Type:    sdk.FieldString,
		Default: "/",
		Description: "The string that separates the levels of a department path. A leading or trailing separator is " +
			"ignored; an empty level between two separators is a row error. Unused with org_file.",
	},
	{
		Name: orgFileField,
		Type: sdk.FieldString,
		Description: "Path of a separate org export with one org per row, read instead of building orgs from department " +
			"paths; relative to the directory of the pipeline file. It is read with the same encoding, delimiter and " +
			"trim_space settings (with \"auto\", its encoding is detected separately) and checked as thoroughly as the main " +
			"file: ids present and unique, parents present, no cycles. Requires org_id_column.",
		Example: "exports/departments.csv",
	},
	{
		Name:        orgIDColumnField,
		Type:        sdk.FieldString,
		Description: "Header of the org file's column holding each org's id, its external id. Required with org_file.",
		Example:     "部门编号",
	},
	{
		Name: orgParentColumnField,
		Type: sdk.FieldString,
		Description: "Header of the org file's column holding the id of each org's parent; an empty cell makes a root org. " +
			"When unset, every org is a root.",
		Example: "上级部门编号",
	},
	{
		Name: orgNameColumnField,
		Type: sdk.FieldString,
		Description: "Header of the org file's column holding each org's display name, kept as the org attribute \"name\". " +
			"When unset, orgs have no name attribute.",
		Example: "部门名称",
	},
	{
		Name: managerColumnField,
		Type: sdk.FieldString,
		Description: "Header of the column holding the employee id of each user's manager, kept as the user attribute " +
			"\"manager\" (null when the cell is empty). The manager must be a row of the same file, in any state; a " +
			"manager id found nowhere in the file is a row error, since a dangling reference would silently leave the " +
			"user without a manager. A row naming itself as its own manager, as HR systems do for the top of the " +
			"hierarchy, has no manager.",
		Example: "直属上级工号",
	},
}}

// settings is a validated configuration.
type settings struct {
	path, orgPath   string // as opened: joined to the pipeline directory
	label, orgLabel string // as configured, for messages
	encoding        string
	delim           string
	trim            bool

	idCol      string
	columns    map[string]string // header → attribute; nil keeps every column
	required   []string
	stateCol   string
	states     map[string]sdk.State // lower-cased cell value → state
	deptCol    string
	sep        string
	managerCol string

	orgIDCol, orgParentCol, orgNameCol string
}

// parseSettings checks cfg beyond what the schema can say, reporting every
// problem located by attribute.
func parseSettings(cfg sdk.Config, dir string) (*settings, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	s := &settings{
		label:        cfg.String(pathField),
		orgLabel:     cfg.String(orgFileField),
		encoding:     cfg.String(encodingField),
		delim:        cfg.String(delimiterField),
		trim:         cfg.Bool(trimSpaceField),
		idCol:        cfg.String(idColumnField),
		required:     cfg.StringList(requiredColumnsField),
		stateCol:     cfg.String(stateColumnField),
		deptCol:      cfg.String(departmentColumnField),
		sep:          cfg.String(departmentSeparatorField),
		managerCol:   cfg.String(managerColumnField),
		orgIDCol:     cfg.String(orgIDColumnField),
		orgParentCol: cfg.String(orgParentColumnField),
		orgNameCol:   cfg.String(orgNameColumnField),
	}
	if !cfg.Has(trimSpaceField) {
		s.trim = true
	}
	if !cfg.Has(departmentSeparatorField) {
		s.sep = "/"
	}
	if !cfg.Has(delimiterField) {
		s.delim = ","
	}
	if s.encoding == "" {
		s.encoding = encodingAuto
	}

	if s.label == "" {
		diags.AddError(sdk.Path{pathField}, "Missing file path", "Set path to the HR export file, relative to the pipeline file.")
	} else {
		s.path = resolve(dir, s.label)
	}
	switch s.encoding {
	case encodingAuto, encodingUTF8, encodingGBK:
	default:
		diags.AddError(sdk.Path{encodingField}, "Unknown encoding",
			fmt.Sprintf("The encoding %q is not supported. Use \"auto\", \"utf-8\" or \"gbk\".", s.encoding))
	}
	if r, n := utf8.DecodeRuneInString(s.delim); n == 0 || n != len(s.delim) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		diags.AddError(sdk.Path{delimiterField}, "Invalid delimiter",
			fmt.Sprintf("The delimiter %q must be exactly one character other than a double quote or a line break, such as \",\", \";\" or \"\\t\".", s.delim))
	}
	if s.trimmed(s.idCol) == "" {
		diags.AddError(sdk.Path{idColumnField}, "Missing id column", "Set id_column to the header of the column holding the employee id.")
	}
	s.idCol = s.trimmed(s.idCol)
	s.stateCol = s.trimmed(s.stateCol)
	s.deptCol = s.trimmed(s.deptCol)
	s.managerCol = s.trimmed(s.managerCol)
	s.orgIDCol = s.trimmed(s.orgIDCol)
	s.orgParentCol = s.trimmed(s.orgParentCol)
	s.orgNameCol = s.trimmed(s.orgNameCol)
	for i, h := range s.required {
		s.required[i] = s.trimmed(h)
	}

	if m := cfg.StringMap(columnsField); len(m) > 0 {
		s.columns = make(map[string]string, len(m))
		byAttr := map[string]string{}
		for _, h := range sortedKeys(m) {
			attr := m[h]
			switch {
			case strings.TrimSpace(attr) == "":
				diags.AddError(sdk.Path{columnsField, h}, "Empty attribute name",
					fmt.Sprintf("The column %q maps to an empty attribute name. Give it a name, or remove it to leave the column out.", h))
				continue
			case byAttr[attr] != "":
				diags.AddError(sdk.Path{columnsField, h}, "Attribute mapped twice",
					fmt.Sprintf("The columns %q and %q both map to the attribute %q. Give each column its own attribute.", byAttr[attr], h, attr))
				continue
			case attr == managerAttribute && s.managerCol != "":
				diags.AddError(sdk.Path{columnsField, h}, "Reserved attribute name",
					fmt.Sprintf("The attribute %q holds the manager named by manager_column. Map the column %q to another name.", managerAttribute, h))
				continue
			}
			byAttr[attr] = h
			s.columns[s.trimmed(h)] = attr
		}
	}

	states := cfg.StringMap(stateValuesField)
	if !cfg.Has(stateValuesField) {
		states = defaultStateValues
	}
	s.states = make(map[string]sdk.State, len(states))
	for _, k := range sortedKeys(states) {
		st := sdk.State(states[k])
		if !st.Valid() {
			diags.AddError(sdk.Path{stateValuesField, k}, "Unknown state",
				fmt.Sprintf("The cell value %q maps to %q. Map it to \"active\", \"disabled\" or \"deleted\".", k, states[k]))
			continue
		}
		s.states[strings.ToLower(s.trimmed(k))] = st
	}
	if s.deptCol != "" && s.orgLabel == "" && s.sep == "" {
		diags.AddError(sdk.Path{departmentSeparatorField}, "Empty separator",
			"Set department_separator to the string between the levels of a department path, such as \"/\".")
	}

	if s.orgLabel != "" {
		s.orgPath = resolve(dir, s.orgLabel)
		if s.orgIDCol == "" {
			diags.AddError(sdk.Path{orgIDColumnField}, "Missing org id column",
				"An org file needs org_id_column, the header of its column holding each org's id.")
		}
		if s.deptCol == "" {
			diags.AddWarning(sdk.Path{orgFileField}, "Users are in no org",
				"The org file's orgs are read, but no user is placed in them. Set department_column to the column holding each user's org id.")
		}
	} else {
		for _, f := range []struct{ name, value string }{
			{orgIDColumnField, s.orgIDCol}, {orgParentColumnField, s.orgParentCol}, {orgNameColumnField, s.orgNameCol},
		} {
			if f.value != "" {
				diags.AddError(sdk.Path{f.name}, "Org column without an org file",
					fmt.Sprintf("%s describes a column of the org file, but org_file is not set. Set org_file, or remove %s.", f.name, f.name))
			}
		}
	}
	return s, diags
}

// trimmed applies trim_space to a header name from the configuration, so
// that configured names match trimmed headers.
func (s *settings) trimmed(v string) string {
	if s.trim {
		return trimSpace(v)
	}
	return v
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
