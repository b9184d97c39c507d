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
// A pass reads the events created before cutoff once, in order, a batch
// per transaction; it runs at most once per every (a day, say) per
// target, since the events it keeps are read again by every pass.
func (s *Store) PruneEvents(ctx context.Context, target string, cutoff time.Time, every time.Duration) (int, error) {
	now := s.nowUnix()
	var last int64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM prune_runs WHERE target = ?`, target).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if err == nil && now-last < every.Milliseconds() {
		return 0, nil
	}
	total := 0
	afterAt, afterID := int64(-1), int64(0)
	for {
		scanned := 0
		err := s.tx(ctx, func(tx *sql.Tx) error {
			scanned = 0
			// created_at <= finished_at: the index on created_at bounds the
			// read, finished_at decides.
			rows, err := tx.Query(`SELECT e.id, e.created_at,
					e.target = ? AND e.finished_at IS NOT NULL AND e.finished_at < ? AND e.status IN ('SUCCESS', 'FAILURE', 'IGNORED', 'SKIPPED')
					AND EXISTS (SELECT 1 FROM events n INDEXED BY events_lane WHERE n.target = e.target AND n.hub_id = e.hub_id AND n.id > e.id)
					AND (e.status IN ('IGNORED', 'SKIPPED') OR EXISTS (SELECT 1 FROM events n INDEXED BY events_lane
						WHERE n.target = e.target AND n.hub_id = e.hub_id AND n.id > e.id AND n.status NOT IN ('IGNORED', 'SKIPPED')))
					AND NOT EXISTS (SELECT 1 FROM events w WHERE w.waits_on = e.id AND w.waits_on != 0 AND w.status = 'WAITING')
					AND (e.retry_of = 0 OR NOT EXISTS (SELECT 1 FROM events f WHERE f.id = e.retry_of))
				FROM events e INDEXED BY events_created
				WHERE e.created_at < ? AND (e.created_at > ? OR (e.created_at = ? AND e.id > ?))
				ORDER BY e.created_at, e.id LIMIT ?`,
				target, cutoff.UnixMilli(), cutoff.UnixMilli(), afterAt, afterAt, afterID, pruneBatch)
			if err != nil {
				return err
			}
			var ids []int64
			for rows.Next() {
				var id, at int64
				var prune bool
				if err := rows.Scan(&id, &at, &prune); err != nil {
					rows.Close()
					return err
				}
				scanned++
				afterAt, afterID = at, id
				if prune {
					ids = append(ids, id)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) > 0 {
				res, err := tx.Exec(`DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))`, mustJSON(ids))
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				total += int(n)
			}
			if scanned < pruneBatch {
				_, err = tx.Exec(`INSERT INTO prune_runs (target, at) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET at = excluded.at`, target, now)
			}
			return err
		})
		if err != nil || scanned < pruneBatch {
			return total, err
		}
	}
}
