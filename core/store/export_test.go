package store

// StatementProfile returns, and forgets, the time SQLite spent in each
// statement since the last call; empty unless built with -tags
// sqlite_trace.
var StatementProfile = statementProfile
