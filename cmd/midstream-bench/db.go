package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	_ "github.com/mattn/go-sqlite3"
)

// storeReader reads the engine's SQLite store, read-only, once the engine
// has exited.
type storeReader struct{ db *sql.DB }

func openStore(path string) (*storeReader, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return nil, err
	}
	return &storeReader{db: db}, nil
}

func (s *storeReader) Close() error { return s.db.Close() }

// hubIDs maps (kind, external id) to hub id.
func (s *storeReader) hubIDs(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, external_id, hub_id FROM objects`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var kind, ext, hub string
		if err := rows.Scan(&kind, &ext, &hub); err != nil {
			return nil, err
		}
		out[kind+"\x00"+ext] = hub
	}
	return out, rows.Err()
}

// position is how far the change log and the events went.
type position struct{ seq, event int64 }

func (s *storeReader) position(ctx context.Context) (position, error) {
	var p position
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(seq) FROM changes), 0), COALESCE((SELECT MAX(id) FROM events), 0)`).Scan(&p.seq, &p.event)
	return p, err
}

// changeRow is one row of the change log.
type changeRow struct {
	seq, atUs int64
	op, kind  string
}

func (s *storeReader) changesAfter(ctx context.Context, seq int64) ([]changeRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at_us, op, kind FROM changes WHERE seq > ? ORDER BY seq`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []changeRow
	for rows.Next() {
		var c changeRow
		if err := rows.Scan(&c.seq, &c.atUs, &c.op, &c.kind); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// eventRow is one sync event.
type eventRow struct {
	id     int64
	status string
	op     string
	reason string
	seqs   []int64
}

func (s *storeReader) eventsAfter(ctx context.Context, id int64) ([]eventRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, status, op, reason, seqs FROM events WHERE id > ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var e eventRow
		var seqs string
		if err := rows.Scan(&e.id, &e.status, &e.op, &e.reason, &seqs); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(seqs), &e.seqs); err != nil {
			return nil, fmt.Errorf("event %d: seqs %q: %w", e.id, seqs, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// runRow is one source or target run.
type runRow struct {
	id                  int64
	kind, name, outcome string
	startedMs, endedMs  int64
}

func (s *storeReader) runs(ctx context.Context) ([]runRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, name, outcome, started_at, COALESCE(finished_at, started_at) FROM runs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []runRow
	for rows.Next() {
		var r runRow
		if err := rows.Scan(&r.id, &r.kind, &r.name, &r.outcome, &r.startedMs, &r.endedMs); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
