// Package mapping runs Midstream's attribute mappings: inbound (a source
// record to a hub object) and outbound (a hub object to a target's
// account or organization). Scripts are compiled once when the pipeline
// is loaded and run on pooled runtimes, in a sandbox, with a time limit
// per object.
//
// This page describes the mapping language for people who write
// mappings; the Go API is at the end.
//
// # Attributes
//
// A mapping block lists the attributes an object gets, each from one
// source:
//
//	mapping "user" {
//	  attribute "displayName" { from = "name" }                        # an input attribute, as is
//	  attribute "company"     { value = "星河集团" }                   # a constant
//	  attribute "userName"    { script = "pinyinName(record.name)" }   # a JavaScript expression
//	}
//
// A value may be a string, a whole number, true or false, or a list of
// strings. Without a mapping for a kind, attributes pass through
// unchanged; with one, the object gets the attributes it lists and no
// other.
//
// # Whole-object functions
//
// A mapping may also have a function, a JavaScript function of the record
// and the object that returns an object; each property becomes an
// attribute. It is handy when attributes share work, and it is best kept
// in a .js file beside the pipeline:
//
//	mapping "user" {
//	  function = file("user.js")
//	  attribute "userName" {               # the function's userName, with a definition
//	    unique      = true
//	    on_conflict = "suffix"
//	  }
//	  attribute "title" { from = "job_title" } # overrides the function's title, if any
//	}
//
//	// user.js
//	(record, object) => {
//	  const login = pinyinName(record.name);
//	  return {
//	    userName: login,
//	    email: login + "@xinghe.example.com",
//	    department: object.orgPath.join("/"),
//	  };
//	}
//
// The function is one expression: an arrow function or a function
// expression; declare helper functions inside it. It runs first; then the
// attribute blocks, and one with from, value or script replaces the
// function's property of the same name. An attribute block with none of
// them only declares the definition of an attribute the function
// computes (null when it returns none).
//
// # Scripts are expressions
//
// A script is one JavaScript expression; its value becomes the attribute.
// The language is ECMAScript 5.1 with most of ES2015 and later (let and
// const, arrow functions, template literals, destructuring, ?. and ??), as
// the goja engine implements it:
//
//	record.name.toUpperCase()
//	record.email || (record.id + "@example.com")
//	record.active ? "enabled" : "disabled"
//	`${record.family_name}.${record.given_name}`.toLowerCase()
//	record.groups.join(";")
//
// For logic that needs statements, call a function in place:
//
//	(function () {
//	  const parts = record.name.trim().split(/\s+/);
//	  return parts.length > 1 ? parts[parts.length - 1] : record.name;
//	})()
//
// Scripts run in strict mode: assigning to a variable that was not
// declared with let, const or var is an error. A script may not end the
// expression and add statements after it ("1); other()"): that is rejected
// when the pipeline is loaded. In an HCL string, "${" starts an HCL
// interpolation: write "$${" for a template literal's, or use a heredoc
// or a .js file.
//
// # What a script sees
//
// record is the input object's attributes: the source record inbound, the
// hub object outbound. record.mobile is the attribute "mobile", or
// undefined when the record has no such attribute. record is read-only;
// copy a value into a variable to change it.
//
// object describes the object being mapped:
//
//	object.id         the external id (inbound) or the hub id (outbound)
//	object.kind       "user" or "org"
//	object.state      "active", "disabled" or "deleted"
//	object.target     the target's name (outbound), or "" (inbound)
//	object.org        a user's primary org, or an org's parent: its attributes, read-only; null for none
//	object.orgId      that org's id, or null
//	object.orgPath    the names of the orgs from the root down to object.org, as a list
//	object.manager    a user's manager: the manager's attributes, read-only; null for none
//	object.managerId  the manager's id, or null
//
// The engine fills in what it knows: outbound, the org and the manager
// are hub objects; inbound, often only their ids.
//
// Everything else is standard JavaScript (String, Array, Math, JSON,
// RegExp, Date and so on) and the helpers below. There is no require, no
// console, no file system, no network and no timers. Math.random is a
// pseudo-random generator for each runtime: do not use it for passwords
// or secrets.
//
// Each object is mapped on one of several runtimes, in no set order, so a
// script must not keep state from one object to the next: the global
// object and Math, JSON and Reflect are frozen, and adding a global fails.
// Mapping the same object twice gives the same result (unless a script
// uses Math.random).
//
// # Helpers
//
// Besides standard JavaScript, every script can call the functions below.
// Those that take text return null for null or undefined (a missing
// attribute), so they chain without guards; other values are converted
// with String(). They throw a TypeError, which fails the object, for
// arguments they cannot use, such as an unknown time zone. In the
// examples, the run started at 2026-05-06T07:08:09Z.
//
// # Helpers: text
//
// lower(s): Returns s in lower case.
//
//	lower("Zhang WEI") → "zhang wei"
//	lower(record.email) → "wei.zhang@example.com"  (record.email = "Wei.Zhang@Example.COM")
//	lower(record.nickname) → null
//
// upper(s): Returns s in upper case.
//
//	upper("cn-east") → "CN-EAST"
//
// title(s): Returns s with the first letter of each word in upper case and
// the others in lower case; a word is a run of letters.
//
//	title("anna SCHMIDT") → "Anna Schmidt"
//	title("mary-jane o'neil") → "Mary-Jane O'Neil"
//
// trim(s): Returns s without white space at either end, the ideographic
// space (U+3000) of Chinese text included.
//
//	trim("  张伟\u3000") → "张伟"
//
// ascii(s): Folds Latin letters to ASCII: accents are dropped (é → e), and
// ß, æ, ø, œ, ł, đ, þ become ss, ae, o, oe, l, d, th. Other characters, such
// as Chinese, are kept; see pinyin.
//
//	ascii("Lukas Müller") → "Lukas Muller"
//	ascii("Łukasz Dvořák, Straße") → "Lukasz Dvorak, Strasse"
//
// # Helpers: lists and empty values
//
// split(s[, sep]): Splits s at each sep (default ",") into a list of
// strings, each trimmed; empty items are dropped.
//
//	split("dev, ops,,qa") → ["dev", "ops", "qa"]
//	split("星河集团/研发中心/平台部", "/") → ["星河集团", "研发中心", "平台部"]
//	split("") → []
//
// join(list[, sep]): Joins the items of list with sep (default ","), leaving
// out null, undefined and empty items; a string is returned as it is.
//
//	join(record.groups, ";") → "dev;ops"  (record.groups = ["dev", "ops"])
//	join(["a", null, "", "b"], "/") → "a/b"
//
// coalesce(value, ...): Returns the first of its arguments that is not empty
// (null, undefined, an empty or blank string, an empty list), or null.
//
//	coalesce(record.nickname, record.name) → "张伟"  (record.name = "张伟", record.nickname = " ")
//	coalesce(null, [], 0) → 0
//	coalesce() → null
//
// # Helpers: regular expressions
//
// regexTest(s, pattern): Reports whether pattern matches s (anywhere; anchor
// it with ^ and $). Patterns are RE2 syntax, as Go's regexp package has them
// (no backreferences or lookaround), so matching takes linear time whatever
// the input. s null or undefined gives false.
//
//	regexTest("+86 138 0013 8000", "^\\+86") → true
//	regexTest(null, "x") → false
//
// regexReplace(s, pattern, replacement): Replaces every match of pattern in
// s with replacement, in which $1 or ${1} is the first group and ${name} a
// named group ((?P<name>…)); $$ is a dollar sign.
//
//	regexReplace("+86 138 0013 8000", "\\s+", "") → "+8613800138000"
//	regexReplace("Zhang, Wei", "(\\w+), (\\w+)", "$2 $1") → "Wei Zhang"
//
// regexMatch(s, pattern): Returns the first match of pattern in s as a list:
// the whole match, then each group ("" for a group that did not take part);
// null when nothing matches.
//
//	regexMatch("wei.zhang@example.com", "^([^@]+)@(.+)$") → ["wei.zhang@example.com", "wei.zhang", "example.com"]
//	regexMatch("no digits", "\\d+") → null
//
// # Helpers: dates
//
// now(): Returns the run's start time as a Date: the same instant for every
// object of a run, as are new Date() and Date.now().
//
//	formatDate(now(), "2006-01-02 15:04") → "2026-05-06 07:08"
//
// formatDate(d[, layout[, zone]]): Formats d (a Date, a number of
// milliseconds since 1970, or text parseDate reads) with a Go layout
// (default RFC 3339, "2006-01-02T15:04:05Z07:00") in a time zone (an IANA
// name such as "Asia/Shanghai", default "UTC"). A Go layout writes the
// reference time Mon Jan 2 15:04:05 MST 2006 as it should look: 2006 year,
// 01 month, 02 day, 15 hour (03 for 12-hour, with PM), 04 minute, 05 second,
// .000 milliseconds, Mon and Monday, Jan and January, MST zone name, Z07:00
// or -0700 offset.
//
//	formatDate(record.hired, "2006-01-02", "Asia/Shanghai") → "2019-03-04"  (record.hired = new Date("2019-03-03T17:30:00Z"))
//	formatDate("2024-05-06T07:08:09Z") → "2024-05-06T07:08:09Z"
//	formatDate(0, "Jan 2, 2006 at 3:04pm (MST)", "America/New_York") → "Dec 31, 1969 at 7:00pm (EST)"
//	formatDate(null, "2006") → null
//
// parseDate(s[, layout[, zone]]): Parses s with a Go layout (see formatDate)
// into a Date; the zone (default "UTC") places a time written without an
// offset. Without a layout, s is RFC 3339 (2024-05-06T07:08:09+08:00),
// "2006-01-02 15:04:05", "2006-01-02T15:04:05" or "2006-01-02". Text that
// does not parse throws an error naming the layout.
//
//	parseDate("2024-05-06 09:30", "2006-01-02 15:04", "Asia/Shanghai") → new Date("2024-05-06T01:30:00Z")
//	parseDate("2024-05-06") → new Date("2024-05-06T00:00:00Z")
//	parseDate("06/05/2024", "02/01/2006").getUTCMonth() → 4
//
// # Helpers: hashing
//
// md5(s): Returns the MD5 digest of s (its UTF-8 bytes) in lower-case hex.
//
//	md5("zhang.wei") → "a958816ff00b49f81309addb8e5b4d66"
//
// sha1(s): Returns the SHA-1 digest of s in lower-case hex.
//
//	sha1("zhang.wei") → "dc7b23d66bd59b77db29ca82cf62c20c5c8a0dc6"
//
// sha256(s): Returns the SHA-256 digest of s in lower-case hex.
//
//	sha256("zhang.wei") → "8a33a9556227ed47a1d301933a51514c717d892cef4c25de2b4833a2e392d383"
//
// # Helpers: names
//
// pinyin(s[, options]): Writes the Chinese characters of s in pinyin,
// without tones, each character's most common reading
// (github.com/mozillazg/go-pinyin); other characters are kept, white space
// separates. Options: sep is put between syllables (default ""); initials:
// true keeps each syllable's first letter; surname: true reads the first
// characters as a family name (曾 zeng, not ceng; 单 shan; 欧阳 ouyang).
//
//	pinyin("张伟") → "zhangwei"
//	pinyin("张伟", {sep: "."}) → "zhang.wei"
//	pinyin("周思雨", {initials: true}) → "zsy"
//	pinyin("曾静", {surname: true}) → "zengjing"
//	pinyin("IT部 运维组", {sep: "-"}) → "IT-bu-yun-wei-zu"
//
// pinyinName(name[, options]): Makes an account name of a person's name, in
// lower case with letters and digits only: a Chinese name becomes its family
// name and its given name in pinyin, read as names (see pinyin's surname),
// joined by sep; a Latin name (no Chinese character) its words folded to
// ASCII, in the order written. Options: sep (default "."); givenFirst: true
// puts a Chinese given name first; initials: true shortens the given name to
// its initials. Pair it with unique = true and on_conflict = "suffix" for
// zhang.wei2.
//
//	pinyinName("周思雨") → "zhou.siyu"
//	pinyinName("欧阳岩") → "ouyang.yan"
//	pinyinName("曾晓琳", {sep: ""}) → "zengxiaolin"
//	pinyinName("周思雨", {givenFirst: true, sep: "_"}) → "siyu_zhou"
//	pinyinName("周思雨", {initials: true, sep: ""}) → "zhousy"
//	pinyinName("Lukas Müller") → "lukas.muller"
//	pinyinName("Mary-Jane O'Neil", {initials: true}) → "m.oneil"
//
// # Types
//
// Attribute values become JavaScript values as follows, and a script's
// result becomes an attribute value the other way round:
//
//	attribute       JavaScript
//	string          string
//	integer         number (an integral one; 1.5 is an error, not 1)
//	boolean         boolean
//	datetime        Date (milliseconds; finer precision is lost)
//	string list     array of strings (any other item is an error)
//	null            null (undefined also becomes null)
//
// A script that returns an object, a function or another value of no
// attribute type fails. Each read of a datetime or a string list gives a
// new Date or array, so changing it changes nothing else.
//
// Date methods without "UTC" in their name (getHours, toString) use the
// hub's local time zone; toISOString and the getUTC… methods use UTC, and
// formatDate takes the zone to use.
//
// # Target attribute definitions
//
// On a target's mapping, each attribute block also defines the attribute
// as the application has it (OneAccess's attribute definitions); all
// settings are optional:
//
//	attribute "userName" {
//	  script      = "pinyinName(record.name)"
//	  label       = "Account"                       # for people; not used by the mapping
//	  description = "The login name, family.given in pinyin."
//	  type        = "string"                        # string, integer, boolean, datetime, enum, string_list
//	  required    = true                            # an empty value fails the object's event
//	  unique      = true                            # one holder per value among the target's accounts
//	  on_conflict = "suffix"                        # "fail" (default) or "suffix": zhang.wei2, zhang.wei3…
//	  mode        = "create_only"                   # "always" (default) or "create_only"
//	}
//	attribute "status" {
//	  script  = "object.state"
//	  type    = "enum"
//	  options = ["active", "disabled"]
//	}
//	attribute "password" {
//	  script    = "sha256(object.id)"
//	  sensitive = true
//	  mode      = "create_only"
//	}
//	attribute "level" {
//	  from    = "grade"
//	  type    = "integer"
//	  default = 1
//	}
//
// After the scripts run, each value goes through its definition in this
// order. Default replaces an empty value (null, "" or an empty list).
// Type converts: without one, the value is kept as computed; "integer"
// reads text such as "42"; "boolean" reads true/false, yes/no, 1/0;
// "datetime" reads RFC 3339 text or 2006-01-02; "string" formats numbers,
// booleans and datetimes; "enum" must be one of options; "string_list"
// makes a list of one of a string. A value that does not convert fails
// the object, naming the attribute, the object and the value. Required
// fails an object whose value is still empty.
//
// Unique values are checked against the target's accounts (or
// organizations) before anything is sent: with on_conflict = "fail", a
// value another object holds fails the event, naming the holder; with
// "suffix", the mapping tries the value with 2, 3, … appended (before the
// "@" of an e-mail address) and takes the first free one. The object keeps
// the value it got on later syncs, as long as the mapping computes the
// same base value.
//
// Sensitive values are masked (******) in sync events, logs and the
// console. A create_only attribute is sent when the account is created,
// never in an update: an initial password, or a name its owner may
// change in the application.
//
// An inbound mapping's attributes may declare type, options and default,
// to type the hub's attributes (a CSV export's "42" as an integer); the
// rest of a definition is a target's.
//
// # Testing mappings
//
// `midstream mapping test DIR` runs a pipeline's mappings over fixture
// records and compares the results with the expected attributes; see
// its help for the fixture format. Fixtures live beside the pipeline, in
// *_test.json files or in the mapping_tests folder.
//
// # Errors
//
// A script that does not parse stops the pipeline from loading, with the
// file, line and column of the mistake. A script that throws (for example
// record.name.trim() on a record without a name: "TypeError: Cannot read
// property 'trim' of undefined or null"), returns a value of no attribute
// type, or runs longer than the mapping's time limit fails for that object
// only; the error names the attribute, the file, line and column where the
// script failed, and the object's id. Guard against missing values with
// ||, ?? or ?., or use the helpers, which pass null through:
//
//	(record.name ?? "").trim()
//	record.manager?.toLowerCase() ?? null
//	lower(trim(record.nickname))
//
// A script that runs out of time usually loops forever; if it is just
// slow, raise the pipeline's mapping timeout (1s per object by default).
//
// # Go API
//
// Compile a Spec once, when the pipeline is loaded, and call
// [Mapping.Run] (or [Mapping.Apply], its attributes only) for each object,
// from as many goroutines as needed. For a script written inline in an
// HCL file, set Attribute.Pos to the position of the script's first
// character (after the opening quote, or the first line of a heredoc's
// body) and, for a "<<-" heredoc, Attribute.Indent to the indentation HCL
// removed, so errors point into the .hcl file.
//
// Run applies the definitions itself: defaults, types, required and, when
// [Input].Uniqueness is set, unique values, which it reserves through
// [Uniqueness] and reports in [Result].Reserved. The caller keeps those
// with the object's link and passes them back as Input.Reserved, so a
// retry reuses them. With Input.Update, create_only attributes are left
// out. [Mapping.Mask] masks sensitive values for display and storage,
// [Mapping.Definitions] lists the definitions, and [ValueError] says
// which value a definition refused (errors.Is [ErrInvalid], [ErrRequired],
// [ErrTaken]).
package mapping
