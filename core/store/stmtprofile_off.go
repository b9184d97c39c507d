//go:build !sqlite_trace

package store

import sqlite3 "github.com/mattn/go-sqlite3"

func profileStatements(*sqlite3.SQLiteConn) error { return nil }

func statementProfile() []StatementTime { return nil }
