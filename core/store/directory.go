package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Object is a hub object as a source run hands it to the directory: a
// source record after the inbound mapping.
type Object struct {
	Kind        sdk.Kind
	ExternalID  string
	State       sdk.State
	ParentExt   string
	Orgs        []string
	Attributes  sdk.Attributes
	DisplayName string
}

// ObjectFromRecord turns a record (after its inbound mapping) into an
// Object.
func ObjectFromRecord(r sdk.Record, attrs sdk.Attributes) Object {
	o := Object{Kind: r.Kind, ExternalID: r.ExternalID, State: r.State, Attributes: attrs}
	if o.State == "" {
		o.State = sdk.StateActive
	}
	switch r.Kind {
	case sdk.KindOrg:
		o.ParentExt = r.Parent
	case sdk.KindUser:
		o.ParentExt = r.PrimaryOrg
		if o.ParentExt != "" {
			o.Orgs = append(o.Orgs, o.ParentExt)
		}
		for _, g := range r.Orgs {
			if g != o.ParentExt {
				o.Orgs = append(o.Orgs, g)
			}
		}
	}
	o.DisplayName = DisplayName(attrs, r.ExternalID)
	return o
}

// DisplayName picks an object's name for people from its attributes.
func DisplayName(attrs sdk.Attributes, fallback string) string {
	for _, k := range []string{"displayName", "display_name", "name", "cn", "userName", "username"} {
		if v, ok := attrs[k]; ok && v.Type() == sdk.TypeString && v.Str() != "" {
			return v.Str()
		}
	}
	return fallback
}

// Counts are what a source run did.
type Counts struct {
	Seen, Created, Updated, Moved, Enabled, Disabled, Deleted, Unchanged, HeldLosses int
}

// Map returns the counts by name, for the run record.
func (c Counts) Map() map[string]int {
	return map[string]int{
		"seen": c.Seen, "created": c.Created, "updated": c.Updated, "moved": c.Moved, "enabled": c.Enabled,
		"disabled": c.Disabled, "deleted": c.Deleted, "unchanged": c.Unchanged,
	}
}

// Add adds d to c.
func (c *Counts) Add(d Counts) {
	c.Seen += d.Seen
	c.Created += d.Created
	c.Updated += d.Updated
	c.Moved += d.Moved
	c.Enabled += d.Enabled
	c.Disabled += d.Disabled
	c.Deleted += d.Deleted
	c.Unchanged += d.Unchanged
	c.HeldLosses += d.HeldLosses
}

// SourceRun applies one run of a source to the directory.
//
// A full run (Full) marks every object it sees and holds every loss — an
// object the snapshot marks disabled or deleted — until Losses and
// CommitLosses, after the snapshot is complete; objects absent from the
// snapshot are found then too. An incremental run applies every change at
// once: a vendor's delete event is an explicit loss.
type SourceRun struct {
	s      *Store
	Source string
	RunID  int64
	Full   bool
	// DiffTime is the time Apply spent outside its write transaction:
	// reading what the directory holds of each batch, and encoding the
	// batch to compare with it.
	DiffTime time.Duration
	// seen holds the hub ids a full run has seen. Kept in memory, not
	// marked on each row: rewriting every unchanged row (and its index
	// entry) was most of the cost of re-reading an unchanged snapshot. A
	// run that does not complete decides no losses, so nothing is lost
	// with it.
	seen map[string]struct{}
}

// BeginSourceRun starts applying a run of source.
func (s *Store) BeginSourceRun(source string, runID int64, full bool) *SourceRun {
	return &SourceRun{s: s, Source: source, RunID: runID, Full: full, seen: map[string]struct{}{}}
}

type current struct {
	hubID, state, parent, orgs, attrs string
}

// Apply diffs objs against the directory and commits, in one transaction,
// the directory writes, one change-log row per change and, when cursor is
// not empty, the source's new cursor.
func (r *SourceRun) Apply(ctx context.Context, objs []Object, cursor string) (Counts, error) {
	var c Counts
	var pendingSeen []string
	// What the directory holds of the batch, fetched in chunks rather than
	// one query per record, and the batch's encodings, both before the
	// write transaction: it then holds the writer only for the writes.
	// Only this run writes the source's objects (one run of a source at a
	// time), so nothing changes them in between.
	t0 := time.Now()
	known, err := r.known(ctx, r.s.rdb, objs)
	if err != nil {
		return c, err
	}
	encAttrs, encOrgs := make([]string, len(objs)), make([]string, len(objs))
	for i := range objs {
		encAttrs[i] = string(EncodeAttributes(objs[i].Attributes))
		encOrgs[i] = mustJSON(nonNil(objs[i].Orgs))
	}
	r.DiffTime += time.Since(t0)
	err = r.s.tx(ctx, func(tx *sql.Tx) error {
		c = Counts{}
		pendingSeen = nil
		now := r.s.nowUnix()
		atUS := r.s.Now().UnixMicro()
		ins, err := tx.Prepare(`INSERT INTO objects (hub_id, source, kind, external_id, state, parent_ext, orgs, attributes, display_name, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		upd, err := tx.Prepare(`UPDATE objects SET state = ?, parent_ext = ?, orgs = ?, attributes = ?, display_name = ?, updated_at = ? WHERE hub_id = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		var seenIDs []string
		chg, err := tx.Prepare(`INSERT INTO changes (at_us, source, hub_id, kind, op, changed, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer chg.Close()
		hold, err := tx.Prepare(`INSERT OR REPLACE INTO run_losses (run_id, hub_id, state) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer hold.Close()
		change := func(hubID string, kind sdk.Kind, op string, changed []string) error {
			if changed == nil {
				changed = []string{}
			}
			_, err := chg.Exec(atUS, r.Source, hubID, string(kind), op, mustJSON(changed), r.RunID)
			return err
		}

		for i := range objs {
			o := &objs[i]
			c.Seen++
			attrs, orgs := encAttrs[i], encOrgs[i]
			key := string(o.Kind) + "\x00" + o.ExternalID
			cur, held := known[key]
			if !held {
				if o.State == sdk.StateDeleted {
					// Gone before the hub ever held it: nothing to do.
					c.Unchanged++
					continue
				}
				hubID := newHubID(o.Kind)
				if _, err := ins.Exec(hubID, r.Source, string(o.Kind), o.ExternalID, string(o.State), o.ParentExt, orgs, attrs, o.DisplayName, now, now); err != nil {
					return err
				}
				known[key] = current{hubID: hubID, state: string(o.State), parent: o.ParentExt, orgs: orgs, attrs: attrs}
				seenIDs = append(seenIDs, hubID)
				if err := change(hubID, o.Kind, "create", o.Attributes.Names()); err != nil {
					return err
				}
				c.Created++
				if o.State == sdk.StateDisabled {
					if err := change(hubID, o.Kind, "disable", nil); err != nil {
						return err
					}
				}
				continue
			}

			newState := string(o.State)
			lossHeld := false
			if r.Full && (newState == "disabled" || newState == "deleted") && newState != cur.state && cur.state != "deleted" {
				// A loss: decided once the snapshot is complete.
				if _, err := hold.Exec(r.RunID, cur.hubID, newState); err != nil {
					return err
				}
				c.HeldLosses++
				lossHeld = true
				newState = cur.state
			}
			if cur.state == "deleted" && newState == "deleted" {
				seenIDs = append(seenIDs, cur.hubID)
				c.Unchanged++
				continue
			}
			parentExt := o.ParentExt
			if newState == "deleted" {
				// A delete carries no values (an incremental source sends
				// only the id): the object keeps its last ones.
				attrs, orgs, parentExt = cur.attrs, cur.orgs, cur.parent
			}
			var ops []func() error
			attrsChanged := attrs != cur.attrs
			moved := parentExt != cur.parent || orgs != cur.orgs
			switch {
			case cur.state == "deleted" && newState != "deleted":
				// Back after a delete (a re-hire): created again under the
				// same hub id.
				ops = append(ops, func() error { return change(cur.hubID, o.Kind, "create", o.Attributes.Names()) })
				c.Created++
				if newState == "disabled" {
					ops = append(ops, func() error { return change(cur.hubID, o.Kind, "disable", nil) })
				}
				attrsChanged, moved = false, false
			case cur.state != newState:
				op := map[string]string{"active": "enable", "disabled": "disable", "deleted": "delete"}[newState]
				ops = append(ops, func() error { return change(cur.hubID, o.Kind, op, nil) })
				switch op {
				case "enable":
					c.Enabled++
				case "disable":
					c.Disabled++
				case "delete":
					c.Deleted++
				}
			}
			if attrsChanged {
				old, err := DecodeAttributes([]byte(cur.attrs))
				if err != nil {
					return err
				}
				names := ChangedNames(old, o.Attributes)
				// The update goes before a state change recorded above, so
				// an application sees a re-enabled account's new values.
				ops = append([]func() error{func() error { return change(cur.hubID, o.Kind, "update", names) }}, ops...)
				c.Updated++
			}
			if moved {
				ops = append(ops, func() error { return change(cur.hubID, o.Kind, "move", nil) })
				c.Moved++
			}
			if len(ops) == 0 {
				if !lossHeld {
					c.Unchanged++
				}
				seenIDs = append(seenIDs, cur.hubID)
				continue
			}
			if _, err := upd.Exec(newState, parentExt, orgs, attrs, o.DisplayName, now, cur.hubID); err != nil {
				return err
			}
			known[key] = current{hubID: cur.hubID, state: newState, parent: parentExt, orgs: orgs, attrs: attrs}
			seenIDs = append(seenIDs, cur.hubID)
			for _, op := range ops {
				if err := op(); err != nil {
					return err
				}
			}
		}
		if cursor != "" {
			if err := saveCursor(tx, r.Source, cursor, now); err != nil {
				return err
			}
		}
		// Seen only once committed: a batch that fails is read again.
		pendingSeen = seenIDs
		return nil
	})
	if err == nil && r.Full {
		for _, h := range pendingSeen {
			r.seen[h] = struct{}{}
		}
	}
	return c, err
}

// known returns what the directory holds of objs, by kind and external id.
func (r *SourceRun) known(ctx context.Context, db *sql.DB, objs []Object) (map[string]current, error) {
	out := make(map[string]current, len(objs))
	byKind := map[sdk.Kind][]any{}
	for i := range objs {
		byKind[objs[i].Kind] = append(byKind[objs[i].Kind], objs[i].ExternalID)
	}
	for kind, ids := range byKind {
		for len(ids) > 0 {
			n := min(len(ids), 500)
			args := append([]any{r.Source, string(kind)}, ids[:n]...)
			rows, err := db.QueryContext(ctx, `SELECT external_id, hub_id, state, parent_ext, orgs, attributes FROM objects
				WHERE source = ? AND kind = ? AND external_id IN (`+placeholders(n)+`)`, args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var ext string
				var cur current
				if err := rows.Scan(&ext, &cur.hubID, &cur.state, &cur.parent, &cur.orgs, &cur.attrs); err != nil {
					rows.Close()
					return nil, err
				}
				out[string(kind)+"\x00"+ext] = cur
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
			ids = ids[n:]
		}
	}
	return out, nil
}

// MarkSeen marks objects as seen by this full run without changing them:
// records the run could not take in (their mapping failed) stay as they
// were and are not absent.
func (r *SourceRun) MarkSeen(ctx context.Context, kind sdk.Kind, externalIDs []string) error {
	for len(externalIDs) > 0 {
		n := min(len(externalIDs), 500)
		args := []any{r.Source, string(kind)}
		for _, id := range externalIDs[:n] {
			args = append(args, id)
		}
		rows, err := r.s.db.QueryContext(ctx, `SELECT hub_id FROM objects WHERE source = ? AND kind = ? AND external_id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			r.seen[h] = struct{}{}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		externalIDs = externalIDs[n:]
	}
	return nil
}

// Loss is an object a full run would disable or delete.
type Loss struct {
	HubID, ExternalID, DisplayName string
	Kind                           sdk.Kind
	// State is what the object would become: disabled or deleted.
	State sdk.State
	// Absent is set when the object was missing from the snapshot (rather
	// than marked disabled or deleted in it).
	Absent bool
}

// Losses returns what the complete snapshot would disable or delete:
// objects it marked so, and objects absent from it.
func (r *SourceRun) Losses(ctx context.Context) ([]Loss, error) {
	// The objects the snapshot left out, from the index of active hub ids
	// (reading every row was most of the time of re-reading an unchanged
	// export); their details are read afterwards, for the few there are.
	absent, err := r.absent(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := r.s.rdb.QueryContext(ctx, `
		SELECT o.hub_id, o.external_id, o.display_name, o.kind, l.state, 0
		  FROM run_losses l JOIN objects o ON o.hub_id = l.hub_id
		 WHERE l.run_id = ?
		UNION ALL
		SELECT hub_id, external_id, display_name, kind, 'deleted', 1
		  FROM objects
		 WHERE hub_id IN (SELECT value FROM json_each(?))`, r.RunID, mustJSON(nonNil(absent)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Loss
	for rows.Next() {
		var l Loss
		var kind, state string
		if err := rows.Scan(&l.HubID, &l.ExternalID, &l.DisplayName, &kind, &state, &l.Absent); err != nil {
			return nil, err
		}
		l.Kind, l.State = sdk.Kind(kind), sdk.State(state)
		out = append(out, l)
	}
	// Users before orgs, then by external id; sorted here, on the few
	// losses, rather than in SQL on every object of the source.
	slices.SortFunc(out, func(a, b Loss) int {
		if c := strings.Compare(string(b.Kind), string(a.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.ExternalID, b.ExternalID)
	})
	return out, rows.Err()
}

// absent returns the hub ids of the source's objects, not deleted, that
// the run has not seen.
func (r *SourceRun) absent(ctx context.Context) ([]string, error) {
	rows, err := r.s.rdb.QueryContext(ctx, `SELECT hub_id FROM objects INDEXED BY objects_active WHERE source = ? AND state != 'deleted'`, r.Source)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		if _, seen := r.seen[h]; !seen {
			out = append(out, h)
		}
	}
	return out, rows.Err()
}

// ActiveCount returns how many objects of the source are not deleted: the
// base of the mass-deletion guard's percentage.
func (s *Store) ActiveCount(ctx context.Context, source string) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM objects INDEXED BY objects_active WHERE source = ? AND state != 'deleted'`, source).Scan(&n)
	return n, err
}

// CommitLosses applies losses with their change-log rows, users before
// orgs, in one transaction, and forgets the run's held losses.
func (r *SourceRun) CommitLosses(ctx context.Context, losses []Loss) (Counts, error) {
	var c Counts
	err := r.s.tx(ctx, func(tx *sql.Tx) error {
		c = Counts{}
		now := r.s.nowUnix()
		atUS := r.s.Now().UnixMicro()
		ordered := slices.Clone(losses)
		slices.SortStableFunc(ordered, func(a, b Loss) int { return strings.Compare(string(b.Kind), string(a.Kind)) })
		for _, l := range ordered {
			if _, err := tx.Exec(`UPDATE objects SET state = ?, updated_at = ? WHERE hub_id = ?`, string(l.State), now, l.HubID); err != nil {
				return err
			}
			op := "delete"
			if l.State == sdk.StateDisabled {
				op = "disable"
				c.Disabled++
			} else {
				c.Deleted++
			}
			if _, err := tx.Exec(`INSERT INTO changes (at_us, source, hub_id, kind, op, changed, run_id) VALUES (?, ?, ?, ?, ?, '[]', ?)`,
				atUS, r.Source, l.HubID, string(l.Kind), op, r.RunID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`DELETE FROM run_losses WHERE run_id = ?`, r.RunID)
		return err
	})
	return c, err
}

// Discard forgets the run's held losses without applying them.
func (r *SourceRun) Discard(ctx context.Context) error {
	_, err := r.s.db.ExecContext(ctx, `DELETE FROM run_losses WHERE run_id = ?`, r.RunID)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}
