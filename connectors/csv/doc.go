// Package csv is the csv source connector: it reads users and orgs from HR
// exports as real HR systems write them — UTF-8 with or without a byte
// order mark or GBK, CRLF line ends, quoted fields holding delimiters,
// quotes and line breaks — and maps a state column (在职 / 停用 / 离职) to
// active, disabled and deleted, department paths or a separate org file to
// the org tree, and a manager column to each user's manager.
//
// A read makes two passes over one open file. The first checks everything
// (encoding, quoting, columns, required values, duplicate ids, states,
// departments, managers) and reports every bad row at once, located by line
// and column, as an [InputError], emitting nothing. The second streams the
// records, so memory does not grow with the file beyond the first pass's
// set of ids. See README.md for the configuration and the records.
package csv
