package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// pruneBatch bounds one pruning transaction, so a store with months of
// events is pruned without holding the writer for long.
const pruneBatch = 5000

// PruneEvents deletes target's events that finished before cutoff and
// returns how many. It keeps what still says something: each object's last
// event (where it stands in the target, and why), its last event that is
// neither IGNORED nor SKIPPED (a conflict a target sync leaves SKIPPED is
// found by it), a FAILURE that a WAITING event points at, and a retry
// while the FAILURE it retries is kept (else the failure would be retried
// again).
//
// A pass reads the target's finished events created before cutoff once,
// a batch per transaction; it runs at most once per every (a day, say)
// per target, since the events it keeps are read again by every pass.
func (s *Store) PruneEvents(ctx context.Context, target string, cutoff time.Time, every time.Duration) (int, error) {
	now := s.nowUnix()
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM prune_runs WHERE target = ?`, target).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if err == nil && now >= last && now-last < every.Milliseconds() {
		// (A time ahead of now, from a clock set back since, is due.)
		return 0, nil
	}
	// The attempt counts, even one that fails: a store that cannot be
	// pruned is not read through again by every delivery.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO prune_runs (target, at) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET at = excluded.at`, target, now); err != nil {
		return 0, err
	}
	total := 0
	// A status at a time, through events_ready (target, status, id), in
	// id order, which is creation order: a pass stops at a batch that holds
	// no event created before cutoff (not at the first one after it: a
	// clock set back leaves newer times among older ones).
	for _, status := range []Status{Success, Failure, Ignored, Skipped} {
		after := int64(0)
		for done := false; !done; {
			err := s.tx(ctx, func(tx *sql.Tx) error {
				rows, err := tx.Query(`SELECT e.id, e.created_at < ?,
						e.created_at < ? AND e.finished_at IS NOT NULL AND e.finished_at < ?
						AND EXISTS (SELECT 1 FROM events n INDEXED BY events_lane WHERE n.target = e.target AND n.hub_id = e.hub_id AND n.id > e.id)
						AND (e.status IN ('IGNORED', 'SKIPPED') OR EXISTS (SELECT 1 FROM events n INDEXED BY events_lane
							WHERE n.target = e.target AND n.hub_id = e.hub_id AND n.id > e.id AND n.status NOT IN ('IGNORED', 'SKIPPED')))
						AND NOT EXISTS (SELECT 1 FROM events w WHERE w.waits_on = e.id AND w.waits_on != 0 AND w.status = 'WAITING')
						AND (e.retry_of = 0 OR NOT EXISTS (SELECT 1 FROM events f WHERE f.id = e.retry_of))
					FROM events e INDEXED BY events_ready
					WHERE e.target = ? AND e.status = ? AND e.id > ? ORDER BY e.id LIMIT ?`,
					cutoff.UnixMilli(), cutoff.UnixMilli(), cutoff.UnixMilli(), target, string(status), after, pruneBatch)
				if err != nil {
					return err
				}
				var ids []int64
				scanned, olds := 0, 0
				for rows.Next() {
					var id int64
					var old, prune bool
					if err := rows.Scan(&id, &old, &prune); err != nil {
						rows.Close()
						return err
					}
					scanned++
					after = id
					if old {
						olds++
					}
					if prune {
						ids = append(ids, id)
					}
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return err
				}
				if scanned < pruneBatch || olds == 0 {
					done = true
				}
				if len(ids) == 0 {
					return nil
				}
				res, err := tx.Exec(`DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))`, mustJSON(ids))
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				total += int(n)
				return err
			})
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}
