package store

import (
	"context"
	"database/sql"
	"time"
)

// pruneBatch bounds one pruning transaction, so a store with months of
// events is pruned without holding the writer for long.
const pruneBatch = 5000

// PruneEvents deletes target's finished events created before cutoff and
// returns how many. It keeps the last event of each object (it says where
// the object stands in the target, and why), and a FAILURE that a WAITING
// event points at.
func (s *Store) PruneEvents(ctx context.Context, target string, cutoff time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			// waits_on != 0 lets the waiter check use the partial index
			// events_waits: without it, a scan of every event per event.
			res, err := tx.Exec(`DELETE FROM events WHERE id IN (
				SELECT e.id FROM events e INDEXED BY events_created
				WHERE e.created_at < ? AND e.target = ? AND e.status IN ('SUCCESS', 'FAILURE', 'IGNORED', 'SKIPPED')
					AND EXISTS (SELECT 1 FROM events n INDEXED BY events_lane WHERE n.target = e.target AND n.hub_id = e.hub_id AND n.id > e.id)
					AND NOT EXISTS (SELECT 1 FROM events w WHERE w.waits_on = e.id AND w.waits_on != 0 AND w.status = 'WAITING')
				LIMIT ?)`, cutoff.UnixMilli(), target, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += int(n)
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
