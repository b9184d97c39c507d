// Package store is Midstream's embedded store: one SQLite file (WAL) holding
// the directory, source cursors, the change log, each target's position in
// it, links, sync events, runs and the executor lease. Writes are batched in
// transactions; every state change the engine relies on after a crash is
// committed together with what caused it.
package store

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// driverName is go-sqlite3 with the settings its DSN cannot carry.
const driverName = "sqlite3_midstream"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if err := profileStatements(c); err != nil {
			return err
		}
		// A WAL checkpoint every 10,000 pages (40 MB) rather than
		// SQLite's 1,000: each one syncs the database file, and the rows
		// a sync rewrites several times are copied once.
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 10000", nil)
		return err
	}})
}

//go:embed schema.sql
var schemaV1 string

//go:embed schema2.sql
var schemaV2 string

//go:embed schema3.sql
var schemaV3 string

//go:embed schema4.sql
var schemaV4 string

//go:embed schema5.sql
var schemaV5 string

//go:embed schema6.sql
var schemaV6 string

// migrations are applied in order; migrations[i] brings the store to
// version i+1. Applied migrations are never edited.
var migrations = []string{schemaV1, schemaV2, schemaV3, schemaV4, schemaV5, schemaV6}

// Store is an open store. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// rdb serves the long reads of a source run (what the directory holds
	// of a batch, the losses): reading beside the writer (WAL), they do
	// not hold up the delivery that runs meanwhile.
	rdb  *sql.DB
	path string
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open opens (creating it if needed) the store at path and migrates it to
// the current version.
func Open(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	// WAL: readers (`midstream events`) never block the engine. NORMAL
	// synchronous is durable across a killed process, which is the crash
	// the engine must survive; _txlock=immediate makes a write transaction
	// take the write lock at BEGIN, so two processes never deadlock
	// upgrading read locks. A 32 MB page cache: new rows land together in
	// their tables and indexes (hub ids increase), so a 100,000-user sync
	// spent no more CPU with it than with 64 MB or 256 MB. _mutex=no:
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's own lock around every call of it is not needed (perf put
	// 3-6 % of the store's CPU in its lock and unlock calls).
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_cache_size=-32768&_stmt_cache_size=128&_mutex=no"
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer anyway, and a single
	// connection keeps every statement of this process in order.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, Now: time.Now}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.rdb, err = sql.Open(driverName, "file:"+path+"?_busy_timeout=10000&_query_only=1&_cache_size=-16384&_stmt_cache_size=32&_mutex=no")
	if err != nil {
		db.Close()
		return nil, err
	}
	s.rdb.SetMaxOpenConns(2)
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error {
	err := s.rdb.Close()
	return errors.Join(s.db.Close(), err)
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

func (s *Store) migrate() error {
	if _, err := s.db.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var v int
	err := s.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.db.Exec(`INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("store is at version %d, newer than this midstream (%d): upgrade midstream", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		err := s.tx(context.Background(), func(tx *sql.Tx) error {
			if _, err := tx.Exec(migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			_, err := tx.Exec(`UPDATE schema_version SET version = ?`, i+1)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) nowUnix() int64 { return s.Now().UnixMilli() }

// ---- the executor lease ----

// Owner names this process as a lease owner: host, pid and a nonce.
func Owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()%1_000_000)
}

// ownerGone reports whether a lease owner is a process of this host that
// no longer runs, so its lease need not be waited out.
func ownerGone(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return false
	}
	if host, _ := os.Hostname(); host != parts[0] {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// ErrLeaseHeld is returned when another live process holds the lease.
type ErrLeaseHeld struct {
	Owner   string
	Expires time.Time
}

func (e *ErrLeaseHeld) Error() string {
	return fmt.Sprintf("another midstream process (%s) is executing this store's events until %s", e.Owner, e.Expires.Format(time.RFC3339))
}

// Hint says what to do about a held lease.
func (e *ErrLeaseHeld) Hint() string {
	return "stop the other process (a `midstream run` daemon executes events itself), or wait for its lease to expire"
}

// AcquireLease takes or renews the executor lease for owner, for ttl. It
// fails with *ErrLeaseHeld when a live process holds it; a lease whose
// owner has died (same host, process gone) or expired is taken over.
func (s *Store) AcquireLease(ctx context.Context, owner string, ttl time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		var cur string
		var exp int64
		err := tx.QueryRow(`SELECT owner, expires_at FROM lease WHERE id = 1`).Scan(&cur, &exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case cur != owner && exp > now.UnixMilli() && !ownerGone(cur):
			return &ErrLeaseHeld{Owner: cur, Expires: time.UnixMilli(exp)}
		}
		_, err = tx.Exec(`INSERT INTO lease (id, owner, expires_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
			owner, now.Add(ttl).UnixMilli())
		return err
	})
}

// ReleaseLease gives the lease up if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, owner string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM lease WHERE id = 1 AND owner = ?`, owner)
	return err
}

// ---- runs ----

// StartRun records the start of a source or target run.
func (s *Store) StartRun(ctx context.Context, kind, name, mode string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (kind, name, mode, started_at) VALUES (?, ?, ?, ?)`,
		kind, name, mode, s.nowUnix())
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// FinishRun records a run's outcome ("success", "failure") and counts.
func (s *Store) FinishRun(ctx context.Context, id int64, outcome string, counts map[string]int, errMsg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ?`,
		s.nowUnix(), outcome, mustJSON(counts), errMsg, id)
	return err
}

// ---- cursors ----

// Cursor returns the saved cursor of a source.
func (s *Store) Cursor(ctx context.Context, source string) (string, bool, error) {
	var c string
	err := s.db.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE source = ?`, source).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return c, err == nil, err
}

func saveCursor(tx *sql.Tx, source, cursor string, now int64) error {
	_, err := tx.Exec(`INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, source, cursor, now)
	return err
}

// CopyTo writes a consistent copy of the store to path, which must not
// exist: a dry run works on a copy and leaves the store untouched.
func (s *Store) CopyTo(ctx context.Context, path string) error {
	_, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// StatementTime is how often SQLite ran one statement, and for how long
// in all (recorded only in builds with -tags sqlite_trace).
type StatementTime struct {
	SQL  string
	Runs int
	Time time.Duration
}
