package store

import (
	"context"
	"database/sql"
	"slices"
)

// FullSync records a target full sync: every unfinished event of
// target that has not started becomes IGNORED; then every object of the
// target's sources gets an event that, when it runs, creates it (not
// linked) or updates it with all its mapped attributes — only the changed
// ones when changedOnly — plus the disable, enable or move its state and
// parent call for; linked objects deleted since get a delete, which the
// target's policy turns into what it says. Orgs come first, parents before
// children, then users; deletes of users before deletes of orgs. Objects
// whose create ended in a conflict stay SKIPPED until an operator links
// them. It returns how many events it recorded.
func (s *Store) FullSync(ctx context.Context, target string, sources []string, changedOnly bool, runID int64) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		now := s.nowUnix()
		// Obsolete: what a full sync derives afresh.
		if _, err := tx.Exec(`UPDATE events SET status = 'IGNORED', reason = 'obsolete: a full sync of the target derives it afresh', updated_at = ?, finished_at = ?
			WHERE target = ? AND status IN ('PENDING', 'QUEUING', 'WAITING')`, now, now, target); err != nil {
			return err
		}
		type obj struct {
			hubID, kind, ext, parent, state, name, source string
			linked                                        bool
			conflict                                      bool
		}
		rows, err := tx.Query(`SELECT o.hub_id, o.kind, o.external_id, o.parent_ext, o.state, o.display_name, o.source,
				COALESCE(l.target_id, '') != '',
				EXISTS (SELECT 1 FROM events e WHERE e.target = ? AND e.hub_id = o.hub_id AND e.status = 'FAILURE' AND e.error_category = 'conflict'
					AND e.id = (SELECT max(id) FROM events x WHERE x.target = e.target AND x.hub_id = e.hub_id AND x.status NOT IN ('IGNORED', 'SKIPPED')))
			FROM objects o LEFT JOIN links l ON l.target = ? AND l.hub_id = o.hub_id
			ORDER BY o.kind DESC, o.external_id`, target, target)
		if err != nil {
			return err
		}
		var objs []obj
		for rows.Next() {
			var o obj
			if err := rows.Scan(&o.hubID, &o.kind, &o.ext, &o.parent, &o.state, &o.name, &o.source, &o.linked, &o.conflict); err != nil {
				rows.Close()
				return err
			}
			if sources != nil && !slices.Contains(sources, o.source) {
				continue
			}
			objs = append(objs, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Depth of each org, so parents come before children.
		parent := map[string]string{}
		for _, o := range objs {
			if o.kind == "org" {
				parent[o.source+"\x00"+o.ext] = o.parent
			}
		}
		depth := func(o obj) int {
			d, cur := 0, o.parent
			for cur != "" && d < 1000 {
				d++
				cur = parent[o.source+"\x00"+cur]
			}
			return d
		}
		rank := func(o obj) int {
			if o.kind == "org" {
				return depth(o)
			}
			return 1 << 20
		}
		slices.SortStableFunc(objs, func(a, b obj) int { return rank(a) - rank(b) })

		op := "full"
		if changedOnly {
			op = "changed"
		}
		ins, err := tx.Prepare(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, reason, created_at, updated_at, finished_at, run_id)
			VALUES (?, ?, ?, ?, ?, 'full', ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		record := func(o obj, op string, status Status, reason string) error {
			var fin any
			if status.Finished() {
				fin = now
			}
			res, err := ins.Exec(target, o.hubID, o.kind, o.name, op, string(status), reason, now, now, fin, runID)
			if err != nil {
				return err
			}
			if status == Skipped {
				id, err := res.LastInsertId()
				if err != nil {
					return err
				}
				if _, err := tx.Exec(dropSkipped, target, o.hubID, id); err != nil {
					return err
				}
			}
			n++
			return nil
		}
		busy := map[string]bool{}
		running, err := tx.Query(`SELECT hub_id FROM events WHERE target = ? AND status = 'RUNNING'`, target)
		if err != nil {
			return err
		}
		for running.Next() {
			var h string
			if err := running.Scan(&h); err != nil {
				running.Close()
				return err
			}
			busy[h] = true
		}
		running.Close()
		status := func(o obj) Status {
			if busy[o.hubID] {
				return Pending
			}
			return Queuing
		}
		var deletes []obj
		for _, o := range objs {
			switch {
			case o.state == "deleted":
				if o.linked {
					deletes = append(deletes, o)
				}
			case o.conflict && !o.linked:
				if err := record(o, "create", Skipped, "conflict awaiting a link: run `midstream links set`"); err != nil {
					return err
				}
			default:
				if err := record(o, op, status(o), ""); err != nil {
					return err
				}
			}
		}
		// Deletes bottom-up: users, then orgs deepest first.
		slices.SortStableFunc(deletes, func(a, b obj) int { return rank(b) - rank(a) })
		for _, o := range deletes {
			if err := record(o, "delete", status(o), ""); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}
