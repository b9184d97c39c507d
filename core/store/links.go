package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// LinkInfo is an object's link in one target, as an operator sees it.
type LinkInfo struct {
	Target   string
	TargetID string
	// State is "linked", or "orphan" when the hub object is gone (or out
	// of scope) and the policy kept or only disabled the account.
	State string
	// SyncedState is the state the application last received ("" when
	// unknown); SyncedParent the parent it holds the object under, by
	// display name and hub id ("none", or "unknown").
	SyncedState, SyncedParent string
	// Synced is the number of mapped attributes last applied, -1 when
	// unknown (the next update sends them all).
	Synced    int
	UpdatedAt time.Time
}

// FindObjects returns the directory objects a hub id, an external id or
// a display name names exactly.
func (s *Store) FindObjects(ctx context.Context, name string) ([]*StoredObject, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT hub_id, source, kind, external_id, state, display_name FROM objects
		WHERE hub_id = ? OR external_id = ? OR display_name = ? ORDER BY source, kind, external_id LIMIT 50`, name, name, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*StoredObject
	for rows.Next() {
		o := &StoredObject{}
		var kind, state string
		if err := rows.Scan(&o.HubID, &o.Source, &kind, &o.ExternalID, &state, &o.DisplayName); err != nil {
			return nil, err
		}
		o.Kind, o.State = sdk.Kind(kind), sdk.State(state)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Links returns an object's links, by target.
func (s *Store) Links(ctx context.Context, hubID string) ([]LinkInfo, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT target, target_id, state, synced_state,
		CASE l.synced_parent WHEN '' THEN 'none' WHEN ? THEN 'none' WHEN ? THEN 'unknown'
			ELSE COALESCE((SELECT p.display_name || ' (' || p.hub_id || ')' FROM objects p WHERE p.hub_id = l.synced_parent), l.synced_parent) END,
		CASE WHEN synced IS NULL THEN -1 ELSE (SELECT count(*) FROM json_each(synced)) END, updated_at
		FROM links l WHERE hub_id = ? ORDER BY target`, ParentNone, ParentUnknown, hubID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LinkInfo
	for rows.Next() {
		var l LinkInfo
		var updated int64
		if err := rows.Scan(&l.Target, &l.TargetID, &l.State, &l.SyncedState, &l.SyncedParent, &l.Synced, &updated); err != nil {
			return nil, err
		}
		l.UpdatedAt = msTime(updated)
		out = append(out, l)
	}
	return out, rows.Err()
}

// ErrLinkRefused says why a link cannot be set.
type ErrLinkRefused struct{ Reason string }

func (e *ErrLinkRefused) Error() string { return e.Reason }

// LinkSet is what SetLink did.
type LinkSet struct {
	// EventID is the full update queued for the object.
	EventID int64
	// Previous is the application's id the object was linked to before
	// ("" when none).
	Previous string
	// TakenFrom names the object that held the account before, when it
	// was deleted or an orphan (the account of someone re-hired).
	TakenFrom string
}

// SetLink links an object to the application's id of it in target, as an
// operator does for an object the application already held under an id
// the hub did not know (a create that ended in a conflict). The values
// the application holds become unknown, and an event is queued at the end
// of the object's lane that sends every mapped attribute (create_only
// ones aside: the account was not made by the hub), and the state and
// department. Users waiting for the object's id as their manager, and an
// org's departments and users, get it. Refused while an event of the
// object is running in target (its answer would replace the link), and
// when a live object holds the account.
func (s *Store) SetLink(ctx context.Context, target, hubID, targetID string) (LinkSet, error) {
	var out LinkSet
	if strings.TrimSpace(targetID) == "" {
		return out, &ErrLinkRefused{"the application's id is empty"}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = LinkSet{}
		var kind, state, name, source, ext string
		err := tx.QueryRow(`SELECT kind, state, display_name, source, external_id FROM objects WHERE hub_id = ?`, hubID).Scan(&kind, &state, &name, &source, &ext)
		if errors.Is(err, sql.ErrNoRows) {
			return &ErrLinkRefused{fmt.Sprintf("no object with hub id %s", hubID)}
		}
		if err != nil {
			return err
		}
		if state == string(sdk.StateDeleted) {
			return &ErrLinkRefused{fmt.Sprintf("%s %s (%s) is deleted in the directory: there is nothing to keep in sync", kind, name, hubID)}
		}
		var known bool
		if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM events WHERE target = ?) OR EXISTS (SELECT 1 FROM links WHERE target = ?)`,
			target, target).Scan(&known); err != nil {
			return err
		}
		if !known {
			return &ErrLinkRefused{fmt.Sprintf("target %q has never been synced with this store", target)}
		}
		running, err := firstInLane(tx, target, hubID, "('RUNNING')")
		switch {
		case err != nil:
			return err
		case running != 0:
			return &ErrLinkRefused{fmt.Sprintf("%s %s has event %d running in %s, whose answer would replace the link: let it end (midstream events show %d), then look again",
				kind, name, running, target, running)}
		}
		var other, otherName, otherLink, otherState, otherReserved string
		err = tx.QueryRow(`SELECT l.hub_id, o.display_name, l.state, o.state, l.reserved FROM links l JOIN objects o ON o.hub_id = l.hub_id
			WHERE l.target = ? AND l.target_id = ? AND l.hub_id != ? AND o.kind = ?`, target, targetID, hubID, kind).Scan(&other, &otherName, &otherLink, &otherState, &otherReserved)
		taken := false
		switch {
		case err == nil && (otherLink == "orphan" || otherState == string(sdk.StateDeleted)):
			// The account of someone gone (kept, or only disabled, by the
			// policy): the person is back under another hub id. What the
			// gone object still has to run would link it again.
			pending, err := firstInLane(tx, target, other, unfinished)
			switch {
			case err != nil:
				return err
			case pending != 0:
				return &ErrLinkRefused{fmt.Sprintf("%s (%s), whose account this is, has event %d unfinished in %s: let it end first (midstream events show %d)",
					otherName, other, pending, target, pending)}
			}
			if _, err := tx.Exec(`DELETE FROM links WHERE target = ? AND hub_id = ?`, target, other); err != nil {
				return err
			}
			taken = true
			out.TakenFrom = fmt.Sprintf("%s (%s)", otherName, other)
		case err == nil:
			return &ErrLinkRefused{fmt.Sprintf("%s %s in %s is already linked to %s (%s): two hub objects cannot share one account", kind, targetID, target, otherName, other)}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if err := tx.QueryRow(`SELECT target_id FROM links WHERE target = ? AND hub_id = ?`, target, hubID).Scan(&out.Previous); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := s.nowUnix()
		if _, err := tx.Exec(`INSERT INTO links (target, hub_id, target_id, synced, create_sent, updated_at, state, synced_state, synced_parent)
			VALUES (?, ?, ?, NULL, 1, ?, 'linked', '', ?)
			ON CONFLICT (target, hub_id) DO UPDATE SET target_id = excluded.target_id, synced = NULL, create_sent = 1,
				updated_at = excluded.updated_at, state = 'linked', synced_state = '', synced_parent = excluded.synced_parent`,
			target, hubID, targetID, now, ParentUnknown); err != nil {
			return err
		}
		if taken {
			if err := takeReserved(tx, target, kind, other, hubID, otherReserved); err != nil {
				return err
			}
		}
		st, err := endOfLane(tx, target, hubID)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'full', 'manual', ?, ?, ?)`, target, hubID, kind, name, string(st), now, now)
		if err != nil {
			return err
		}
		if out.EventID, err = res.LastInsertId(); err != nil {
			return err
		}
		// What waited on the object's failed create waits no more: the
		// object is linked now.
		if _, err := tx.Exec(`UPDATE events SET status = 'QUEUING', waits_on = 0, updated_at = ? WHERE status = 'WAITING' AND waits_on IN (
			SELECT id FROM events WHERE target = ? AND hub_id = ?)`, now, target, hubID); err != nil {
			return err
		}
		r := Result{Target: target, HubID: hubID, Kind: sdk.Kind(kind), Source: source, ExternalID: ext}
		if r.Kind == sdk.KindUser {
			// Its reports sent without its id get it.
			return followReports(tx, r, now)
		}
		// What the org holds names its old id (all of it), or was sent
		// without one (its create ended in a conflict).
		return moveChildren(tx, r, now, out.Previous == targetID)
	})
	return out, err
}

// takeReserved gives the account's unique values (its login name) to the
// object that takes the account over: the reservations the mapping reuses
// (links.reserved) and their rows in unique_values, replacing the
// object's own for the same attributes, so the update does not rename the
// account.
func takeReserved(tx *sql.Tx, target, kind, from, to, fromReserved string) error {
	if _, err := tx.Exec(`UPDATE OR REPLACE unique_values SET hub_id = ? WHERE target = ? AND hub_id = ?`, to, target, from); err != nil {
		return err
	}
	var taken map[string]string
	if err := json.Unmarshal([]byte(fromReserved), &taken); err != nil || len(taken) == 0 {
		return nil
	}
	var own string
	if err := tx.QueryRow(`SELECT reserved FROM links WHERE target = ? AND hub_id = ?`, target, to).Scan(&own); err != nil {
		return err
	}
	merged := map[string]string{}
	_ = json.Unmarshal([]byte(own), &merged)
	for attr, v := range taken {
		merged[attr] = v
		if _, err := tx.Exec(`DELETE FROM unique_values WHERE target = ? AND kind = ? AND attribute = ? AND hub_id = ? AND value != ?`, target, kind, attr, to, v); err != nil {
			return err
		}
	}
	_, err := tx.Exec(`UPDATE links SET reserved = ? WHERE target = ? AND hub_id = ?`, mustJSON(merged), target, to)
	return err
}
