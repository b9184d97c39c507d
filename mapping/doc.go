// Package mapping runs Midstream's attribute mappings: inbound (a source
// record to a hub object) and outbound (a hub object to a target's
// attributes). A mapping attribute takes its value directly from an input
// attribute ("from") or from a JavaScript expression ("script"). Scripts are
// compiled once when the pipeline is loaded and run on pooled runtimes, in
// a sandbox, with a time limit per object.
//
// This page describes the script language for people who write mappings;
// the Go API is at the end.
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
// when the pipeline is loaded.
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
//	object.id      the external id (inbound) or the hub id (outbound)
//	object.kind    "user" or "org"
//	object.state   "active", "disabled" or "deleted"
//	object.target  the target's name (outbound), or "" (inbound)
//
// now() returns the run's start time as a Date. new Date() and Date.now()
// return the same instant, so every object of a run sees one clock and a
// mapping gives the same result however long the run takes.
//
// Everything else is standard JavaScript: String, Array, Math, JSON,
// RegExp, Date and so on. There is no require, no console, no file system,
// no network and no timers. Math.random is a pseudo-random generator for
// each runtime: do not use it for passwords or secrets.
//
// Each object is mapped on one of several runtimes, in no set order, so a
// script must not keep state from one object to the next: the global
// object and Math, JSON and Reflect are frozen, and adding a global fails.
// Mapping the same object twice gives the same result (unless a script
// uses Math.random).
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
// hub's local time zone; toISOString and the getUTC… methods use UTC.
//
// # Errors
//
// A script that does not parse stops the pipeline from loading, with the
// file, line and column of the mistake. A script that throws (for example
// record.name.trim() on a record without a name: "TypeError: Cannot read
// property 'trim' of undefined or null"), returns a value of no attribute type, or
// runs longer than the mapping's time limit fails for that object only;
// the error names the attribute, the file, line and column where the
// script failed, and the object's id. Guard against missing values with
// ||, ?? or ?.:
//
//	(record.name ?? "").trim()
//	record.manager?.toLowerCase() ?? null
//
// A script that runs out of time usually loops forever; if it is just
// slow, raise the pipeline's mapping timeout (1s per object by default).
//
// # Go API
//
// Compile a Spec once, when the pipeline is loaded, and call
// Mapping.Apply for each object, from as many goroutines as needed. For a
// script written inline in an HCL file, set Attribute.Pos to the position
// of the script's first character (after the opening quote, or the first
// line of a heredoc's body) and, for a "<<-" heredoc, Attribute.Indent to
// the indentation HCL removed, so errors point into the .hcl file.
package mapping
