package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/midstream-io/midstream/sdk"
)

// Status is a sync event's status.
type Status string

// The eight statuses.
const (
	Pending Status = "PENDING"
	Queuing Status = "QUEUING"
	Running Status = "RUNNING"
	Success Status = "SUCCESS"
	Failure Status = "FAILURE"
	Ignored Status = "IGNORED"
	Skipped Status = "SKIPPED"
	Waiting Status = "WAITING"
)

// Statuses lists every status.
var Statuses = []Status{Pending, Queuing, Running, Success, Failure, Ignored, Skipped, Waiting}

// Finished reports whether an event in status st has ended.
func (st Status) Finished() bool {
	return st == Success || st == Failure || st == Ignored || st == Skipped
}

const unfinished = `('PENDING', 'QUEUING', 'RUNNING', 'WAITING')`

// Event is a sync event.
type Event struct {
	ID              int64
	Target          string
	HubID           string
	Kind            sdk.Kind
	DisplayName     string
	Op              string
	Trigger         string
	Status          Status
	Changed         []string
	Seqs            []int64
	Attempts        int
	NextAttemptAt   time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	StartedAt       time.Time
	FinishedAt      time.Time
	Request         string
	ResponseStatus  int
	ResponseID      string
	ResponseExcerpt string
	Outcome         string
	ErrorCategory   string
	ErrorCode       string
	ErrorMessage    string
	Reason          string
	RunID           int64
	WaitsOn         int64
}

const eventColumns = `id, target, hub_id, kind, display_name, op, trigger, status, changed, seqs, attempts, next_attempt_at,
	created_at, updated_at, COALESCE(started_at, 0), COALESCE(finished_at, 0), request, response_status, response_id,
	response_excerpt, outcome, error_category, error_code, error_message, reason, run_id, waits_on`

type scanner interface{ Scan(...any) error }

func scanEvent(row scanner) (*Event, error) {
	var e Event
	var kind, status, changed, seqs string
	var next, created, updated, started, finished int64
	err := row.Scan(&e.ID, &e.Target, &e.HubID, &kind, &e.DisplayName, &e.Op, &e.Trigger, &status, &changed, &seqs,
		&e.Attempts, &next, &created, &updated, &started, &finished, &e.Request, &e.ResponseStatus, &e.ResponseID,
		&e.ResponseExcerpt, &e.Outcome, &e.ErrorCategory, &e.ErrorCode, &e.ErrorMessage, &e.Reason, &e.RunID, &e.WaitsOn)
	if err != nil {
		return nil, err
	}
	e.Kind, e.Status = sdk.Kind(kind), Status(status)
	_ = json.Unmarshal([]byte(changed), &e.Changed)
	_ = json.Unmarshal([]byte(seqs), &e.Seqs)
	e.NextAttemptAt, e.CreatedAt, e.UpdatedAt = msTime(next), msTime(created), msTime(updated)
	e.StartedAt, e.FinishedAt = msTime(started), msTime(finished)
	return &e, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Consume records the changes after target's position as sync events, up
// to limit changes, and advances the position in the same transaction. Only
// changes of the named sources are in scope (all, when sources is nil); the
// others are passed over. It returns how many changes it read.
//
// An event waits its turn behind an unfinished event of the same object
// (PENDING); an update arriving while an older update of the same object
// has not started replaces it (the older becomes IGNORED) and carries the
// union of both sets of changed attributes.
func (s *Store) Consume(ctx context.Context, target string, sources []string, runID int64, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		var pos int64
		err := tx.QueryRow(`SELECT seq FROM target_positions WHERE target = ?`, target).Scan(&pos)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(`SELECT c.seq, c.source, c.hub_id, c.kind, c.op, c.changed, COALESCE(o.display_name, '')
			FROM changes c LEFT JOIN objects o ON o.hub_id = c.hub_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?`, pos, limit)
		if err != nil {
			return err
		}
		type chg struct {
			seq                                    int64
			source, hubID, kind, op, changed, name string
		}
		var list []chg
		for rows.Next() {
			var c chg
			if err := rows.Scan(&c.seq, &c.source, &c.hubID, &c.kind, &c.op, &c.changed, &c.name); err != nil {
				rows.Close()
				return err
			}
			list = append(list, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(list) == 0 {
			// Nothing new (a target polls while its sources read): no
			// write.
			return nil
		}
		now := s.nowUnix()
		ins, err := tx.Prepare(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, changed, seqs, created_at, updated_at, run_id)
			VALUES (?, ?, ?, ?, ?, 'incremental', ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		// The last unfinished event of each object of the batch, read in
		// one query and kept up to date as the batch adds events: one
		// lookup per change was most of the cost of consuming.
		var hubs []string
		for _, c := range list {
			if sources == nil || slices.Contains(sources, c.source) {
				hubs = append(hubs, c.hubID)
			}
		}
		last, err := lastUnfinished(tx, target, hubs)
		if err != nil {
			return err
		}
		for _, c := range list {
			n++
			pos = c.seq
			if sources != nil && !slices.Contains(sources, c.source) {
				continue
			}
			changed := c.changed
			seqs := []int64{c.seq}
			status := Queuing
			if c.op == "delete" {
				// Moot: every unfinished earlier event of a deleted object
				// is IGNORED; one already RUNNING finishes first.
				if err := ignoreLane(tx, target, c.hubID, "the object was deleted", now); err != nil {
					return err
				}
				again, err := lastUnfinished(tx, target, []string{c.hubID})
				if err != nil {
					return err
				}
				last[c.hubID] = again[c.hubID]
			}
			if prev := last[c.hubID]; prev != nil {
				status = Pending
				if c.op == "update" && prev.op == "update" && (prev.status == Pending || prev.status == Queuing) &&
					prev.attempts == 0 && prev.trigger != "retry" {
					// Coalesce: the newer event carries both sets of names
					// and the older one's place in the lane. Not into an
					// update already tried (it may have run as a create,
					// and waits out its backoff under its own idempotency
					// key), nor into a retry (planned from the object's
					// whole state, which an update is not).
					changed = unionJSON(prev.changed, c.changed)
					var ps []int64
					_ = json.Unmarshal([]byte(prev.seqs), &ps)
					seqs = append(ps, c.seq)
					status = prev.status
					if _, err := tx.Exec(`UPDATE events SET status = 'IGNORED', reason = 'superseded by a newer update', updated_at = ?, finished_at = ? WHERE id = ?`,
						now, now, prev.id); err != nil {
						return err
					}
				}
			}
			seqJSON := mustJSON(seqs)
			res, err := ins.Exec(target, c.hubID, c.kind, c.name, c.op, string(status), changed, seqJSON, now, now, runID)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			last[c.hubID] = &laneEvent{id: id, op: c.op, trigger: "incremental", status: status, changed: changed, seqs: seqJSON}
		}
		_, err = tx.Exec(`INSERT INTO target_positions (target, seq) VALUES (?, ?)
			ON CONFLICT (target) DO UPDATE SET seq = excluded.seq`, target, pos)
		return err
	})
	return n, err
}

// laneEvent is an object's last unfinished event, as Consume needs it.
type laneEvent struct {
	id                         int64
	op, trigger, changed, seqs string
	attempts                   int
	status                     Status
}

// lastUnfinished returns the last unfinished event of target for each of
// hubs that has one.
func lastUnfinished(tx *sql.Tx, target string, hubs []string) (map[string]*laneEvent, error) {
	out := map[string]*laneEvent{}
	if len(hubs) == 0 {
		return out, nil
	}
	rows, err := tx.Query(`SELECT hub_id, id, op, trigger, attempts, status, changed, seqs FROM events INDEXED BY events_lane
		WHERE target = ? AND hub_id IN (SELECT value FROM json_each(?)) AND status IN `+unfinished+` ORDER BY id`, target, mustJSON(hubs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var hub, st string
		e := &laneEvent{}
		if err := rows.Scan(&hub, &e.id, &e.op, &e.trigger, &e.attempts, &st, &e.changed, &e.seqs); err != nil {
			return nil, err
		}
		e.status = Status(st)
		out[hub] = e
	}
	return out, rows.Err()
}

// ignoreLane IGNOREs the unfinished events of an object that have not
// started, and re-queues the events that waited on them for re-evaluation.
func ignoreLane(tx *sql.Tx, target, hubID, reason string, now int64) error {
	rows, err := tx.Query(`SELECT id FROM events WHERE target = ? AND hub_id = ? AND status IN ('PENDING', 'QUEUING', 'WAITING')`, target, hubID)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := tx.Exec(`UPDATE events SET status = 'IGNORED', reason = ?, updated_at = ?, finished_at = ? WHERE id = ?`, reason, now, now, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE events SET status = 'QUEUING', waits_on = 0, updated_at = ? WHERE status = 'WAITING' AND waits_on = ?`, now, id); err != nil {
			return err
		}
	}
	return rows.Err()
}

func unionJSON(a, b string) string {
	var x, y []string
	_ = json.Unmarshal([]byte(a), &x)
	_ = json.Unmarshal([]byte(b), &y)
	u := append(x, y...)
	slices.Sort(u)
	return mustJSON(nonNil(slices.Compact(u)))
}

// RequeueRunning returns to the queue the events a crashed executor left
// RUNNING. Call it only while holding the lease: then no other process can
// be running them.
func (s *Store) RequeueRunning(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET status = 'QUEUING', owner = '', updated_at = ? WHERE status = 'RUNNING'`, s.nowUnix())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Link is what the hub knows of an object in an application.
type Link struct {
	TargetID   string
	Synced     sdk.Attributes // nil: unknown
	CreateSent bool
	Exists     bool
	// Orphan is set when the hub object is gone (or out of scope) and the
	// policy kept, or only disabled, the account.
	Orphan bool
	// SyncedState and SyncedParent are the state and parent hub id the
	// application last received.
	SyncedState, SyncedParent string
	// Reserved are the values of unique attributes reserved for the
	// object, by attribute.
	Reserved map[string]string
}

// What links.synced_parent holds besides a parent's hub id. A link made
// before these were told apart holds "" for no parent.
const (
	// ParentNone, as a Result's SyncedParent, records that the object
	// has no parent in the application (a root org, a user in no org).
	ParentNone = "-"
	// ParentUnknown is a link's SyncedParent when the hub does not know
	// where the application holds the object (a link set by hand): it
	// differs from every parent, so the next full update moves it.
	ParentUnknown = "?"
)

// SyncedParentOf is what a Result records for an object under parent
// (a hub id, "" for none).
func SyncedParentOf(parent string) string {
	if parent == "" {
		return ParentNone
	}
	return parent
}

// linkParent reads links.synced_parent: a hub id, "" for none, or
// ParentUnknown.
func linkParent(stored string) string {
	if stored == ParentNone {
		return ""
	}
	return stored
}

// Claimed is an event handed to the executor, with what running it needs.
type Claimed struct {
	Event  *Event
	Object *StoredObject
	Link   Link
	// Parent is the object's parent org (an org's parent, a user's primary
	// org) and its link; Orgs are a user's memberships.
	Parent *sdk.Ref
	Orgs   []sdk.Ref
	// Manager is a user's manager (the reference attribute "manager") and
	// its link in the target; nil when the user has none, or names one
	// the directory does not hold.
	Manager *sdk.Ref
	// ManagerExt is the external id a user's manager attribute names, in
	// the user's source ("" when it names none).
	ManagerExt string
	// Chain is the object's org and its ancestors, nearest first, by
	// external id (an org's starts with itself); set when asked for.
	Chain []string

	// parentRef and managerRef are what resolveRefs found.
	parentRef, managerRef *sdk.Ref
	// What decode decodes, once the event is taken. A user's attributes
	// are decoded on reading, which empties attrs (stored attributes are
	// never empty: "{}" at least).
	changed, seqs, attrs string
	synced               sql.NullString
}

func (c *Claimed) decode() error {
	unmarshalList(c.changed, &c.Event.Changed)
	unmarshalList(c.seqs, &c.Event.Seqs)
	var err error
	if c.attrs != "" {
		if c.Object.Attributes, err = DecodeAttributes([]byte(c.attrs)); err != nil {
			return err
		}
	}
	if c.synced.Valid {
		if c.Link.Synced, err = DecodeAttributes([]byte(c.synced.String)); err != nil {
			return err
		}
	}
	c.changed, c.seqs, c.attrs, c.synced = "", "", "", sql.NullString{}
	return nil
}

// unmarshalList decodes a JSON array column; most are empty. Most of the
// others are names or sequence numbers as json.Marshal wrote them, split
// here without reflection: a claim decodes three per event, and through
// encoding/json they took a sixth of its time in the store benchmark.
func unmarshalList[T any](data string, v *[]T) {
	if data == "" || data == "[]" {
		return
	}
	switch p := any(v).(type) {
	case *[]string:
		if out, ok := plainStrings(data); ok {
			*p = out
			return
		}
	case *[]int64:
		if out, ok := plainInts(data); ok {
			*p = out
			return
		}
	}
	_ = json.Unmarshal([]byte(data), v)
}

// plainStrings splits a JSON array of strings that need no unescaping
// (no backslash, no control character, valid UTF-8), as json.Marshal
// writes them; ok is false for anything else, which encoding/json then
// decodes.
func plainStrings(data string) (out []string, ok bool) {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	rest := data[1 : len(data)-1]
	out = make([]string, 0, strings.Count(rest, ",")+1)
	for {
		if len(rest) < 2 || rest[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if c := rest[end]; c == '\\' || c < 0x20 {
				return nil, false
			}
			end++
		}
		if end == len(rest) {
			return nil, false
		}
		if !utf8.ValidString(rest[1:end]) {
			// encoding/json replaces what is not UTF-8.
			return nil, false
		}
		out = append(out, rest[1:end])
		rest = rest[end+1:]
		if rest == "" {
			return out, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = rest[1:]
	}
}

// plainInts splits a JSON array of decimal integers without signs,
// leading zeros, fractions or exponents; ok is false for anything else.
func plainInts(data string) (out []int64, ok bool) {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	rest := data[1 : len(data)-1]
	out = make([]int64, 0, strings.Count(rest, ",")+1)
	for {
		f, more, found := strings.Cut(rest, ",")
		if f == "" || f[0] < '0' || f[0] > '9' || (f[0] == '0' && len(f) > 1) {
			return nil, false
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
		if !found {
			return out, true
		}
		rest = more
	}
}

// chain walks an object's org ancestry.
func chain(tx *sql.Tx, o *StoredObject) ([]string, error) {
	start := o.ParentExt
	var out []string
	if o.Kind == sdk.KindOrg {
		out = append(out, o.ExternalID)
	}
	if start == "" {
		return out, nil
	}
	rows, err := tx.Query(`WITH RECURSIVE up(ext, parent, depth) AS (
			SELECT external_id, parent_ext, 0 FROM objects WHERE source = ? AND kind = 'org' AND external_id = ?
			UNION ALL
			SELECT o.external_id, o.parent_ext, up.depth + 1 FROM objects o JOIN up ON o.source = ? AND o.kind = 'org' AND o.external_id = up.parent
			WHERE up.depth < 1000)
		SELECT ext FROM up ORDER BY depth`, o.Source, start, o.Source)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			return nil, err
		}
		out = append(out, ext)
	}
	return out, rows.Err()
}

// StoredObject is a directory object.
type StoredObject struct {
	HubID, Source, ExternalID, DisplayName, ParentExt string
	Kind                                              sdk.Kind
	State                                             sdk.State
	Orgs                                              []string
	Attributes                                        sdk.Attributes
}

// Claim marks up to limit ready events of target RUNNING for owner and
// returns them. An event is ready when it is QUEUING, due, not of an
// object in busy (already in flight), and what it depends on is done: an
// org is created or moved under a linked parent, a user under a linked
// primary org, and an org is deleted only once no event of its children is
// unfinished. An event whose parent's latest event failed becomes WAITING
// on it.
//
// ClaimOptions are how a claim decides.
type ClaimOptions struct {
	// Chains makes each claimed event carry its object's org chain (for a
	// target whose scope is limited to org subtrees).
	Chains bool
	// AwaitParents holds back an event whose parent or memberships are not
	// in the directory yet: set while sources are still reading, since a
	// source may yield a user before its department.
	AwaitParents bool
	// Waits, when set, carries from claim to claim the events found
	// waiting for another object's event (a user's for its manager's
	// create, a child's for its parent's event): later claims pass over
	// them without reading them until the caller releases that object.
	Waits *Waits
}

// Waits remembers the events a claim found waiting for another object's
// event, by that object's hub id. In a first sync of a deep hierarchy
// most queued events wait (for their department, for their manager's
// create), and reading each again at every claim cost more than all
// the rest of claiming. Not safe for concurrent use: one executor owns
// it.
type Waits struct {
	on  map[string][]int64 // waited-on hub id -> waiting event ids
	ids map[int64]bool
	// released counts the releases that made events candidates again.
	released int
}

// NewWaits returns an empty set.
func NewWaits() *Waits { return &Waits{on: map[string][]int64{}, ids: map[int64]bool{}} }

func (w *Waits) add(id int64, on string) {
	if w == nil || w.ids[id] {
		return
	}
	w.ids[id] = true
	w.on[on] = append(w.on[on], id)
}

func (w *Waits) has(id int64) bool { return w != nil && w.ids[id] }

// Release makes the events waiting for hubID's event candidates again:
// call it when a result of hubID is recorded.
func (w *Waits) Release(hubID string) {
	if w == nil {
		return
	}
	if len(w.on[hubID]) > 0 {
		w.released++
	}
	for _, id := range w.on[hubID] {
		delete(w.ids, id)
	}
	delete(w.on, hubID)
}

// Released counts the releases so far that made events candidates again:
// a claim during which it grows passed over events it has since
// released.
func (w *Waits) Released() int {
	if w == nil {
		return 0
	}
	return w.released
}

// Reset forgets every wait.
func (w *Waits) Reset() {
	if w == nil {
		return
	}
	clear(w.on)
	clear(w.ids)
}

// Len is how many events are remembered as waiting.
func (w *Waits) Len() int {
	if w == nil {
		return 0
	}
	return len(w.ids)
}

// PlannedOp is the operation event e is planned as, for an object in
// state. A retry (trigger "retry", queued by Retry) is derived afresh
// from the object's state when it runs, not from the operation that
// failed: "delete" when the object is gone, otherwise "changed", what
// brings the application to the object's current values, state and
// parent (as a target sync of changed objects does). So a retried delete
// of someone re-hired since does not remove the new account, and a
// retried disable does not undo a newer enable. Its stored operation is
// only what that state called for when it was queued.
func PlannedOp(e *Event, state sdk.State) string {
	if e.Trigger != "retry" {
		return e.Op
	}
	if state == sdk.StateDeleted {
		return "delete"
	}
	return "changed"
}

// Claim claims events; see ClaimOptions.
func (s *Store) Claim(ctx context.Context, target, owner string, limit int, busy map[string]bool, o ClaimOptions) ([]*Claimed, error) {
	var out []*Claimed
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = nil
		now := s.nowUnix()
		var ids []int64
		taken := map[string]bool{}
		refs := claimRefs{orgs: map[string]*sdk.Ref{}, users: map[string]*sdk.Ref{}}
		// Candidates are read a page at a time, up to twice the limit in
		// all (some are not ready): reading them all at once read a
		// second half that a claim mostly did not need. A page is listed
		// by id first, which is cheap, passing over the events of objects
		// in flight and those known to wait; only the rest are read
		// whole. Neither the listing nor the events found waiting, and
		// remembered, count against the bound: however many wait at the
		// head of the queue, the event they wait for, behind them, is
		// reached, and each is read whole once (a source may yield
		// thousands of people before their department).
		after, scanned := int64(0), 0
		for len(out) < limit && scanned < 2*limit {
			page := min(2*limit-scanned, limit-len(out)+limit/8+16)
			batch, err := claimCandidates(tx, target, now, after, page, busy, o.Waits)
			if err != nil {
				return err
			}
			after = batch.last
			cands, err := readCandidates(tx, target, batch.ids)
			if err != nil {
				return err
			}
			if err := resolveRefs(tx, target, cands, refs); err != nil {
				return err
			}
			remembered := 0
			for _, c := range cands {
				if len(out) >= limit {
					break
				}
				if taken[c.Event.HubID] {
					continue
				}
				e := c.Event
				ready, waitsFor, err := s.prepare(tx, c, now, refs, o.AwaitParents, o.Waits)
				if err != nil {
					return err
				}
				if ready && o.Chains {
					if c.Chain, err = chain(tx, c.Object); err != nil {
						return err
					}
				}
				if !ready {
					if waitsFor != "" && o.Waits != nil {
						o.Waits.add(e.ID, waitsFor)
						remembered++
					}
					continue
				}
				if err := c.decode(); err != nil {
					return err
				}
				ids = append(ids, e.ID)
				e.Status = Running
				e.Attempts++
				taken[e.HubID] = true
				out = append(out, c)
			}
			scanned += len(batch.ids) - remembered
			if !batch.more {
				break
			}
		}
		if len(ids) == 0 {
			return nil
		}
		// One statement for the whole claim.
		_, err := tx.Exec(`UPDATE events SET status = 'RUNNING', owner = ?, started_at = ?, updated_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?))`, owner, now, now, mustJSON(ids))
		return err
	})
	return out, err
}

// candidateIDs is a page of claim candidates listed by id.
type candidateIDs struct {
	ids []int64
	// last is the last id listed; more says the queue may hold more.
	last int64
	more bool
}

// claimCandidates lists up to page queued, due events of target after id
// after, in order, passing over those of objects in busy and those waits
// remembers.
func claimCandidates(tx *sql.Tx, target string, now, after int64, page int, busy map[string]bool, waits *Waits) (candidateIDs, error) {
	c := candidateIDs{last: after}
	limit := 4 * page
	rows, err := tx.Query(`SELECT id, hub_id FROM events INDEXED BY events_ready
		WHERE target = ? AND status = 'QUEUING' AND next_attempt_at <= ? AND id > ? ORDER BY id LIMIT ?`, target, now, after, limit)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var hub string
		if err := rows.Scan(&id, &hub); err != nil {
			return c, err
		}
		n++
		c.last = id
		if busy[hub] || waits.has(id) {
			continue
		}
		c.ids = append(c.ids, id)
		if len(c.ids) == page {
			// The rest is for the next page.
			c.more = true
			return c, rows.Err()
		}
	}
	c.more = n == limit
	return c, rows.Err()
}

// readCandidates reads the events ids of target whole, in order: each with
// its object and link, in one query (looked up one statement at a time,
// they were most of a claim's cost); the objects they name are looked up
// apart (resolveRefs). The ids drive the query (CROSS JOIN): planned from
// events by target, it scanned every event of the target for each claim.
func readCandidates(tx *sql.Tx, target string, ids []int64) ([]*Claimed, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(`SELECT e.id, e.hub_id, e.kind, e.display_name, e.op, e.trigger, e.changed, e.seqs, e.attempts, e.run_id,
			o.source, o.external_id, o.state, o.parent_ext, o.orgs, o.attributes, o.display_name,
			l.target_id, l.synced, l.create_sent, l.state, l.synced_state, l.synced_parent, l.reserved
		FROM json_each(?) j CROSS JOIN events e ON e.id = j.value JOIN objects o ON o.hub_id = e.hub_id
		LEFT JOIN links l ON l.target = e.target AND l.hub_id = e.hub_id
		WHERE e.target = ?`, mustJSON(ids), target)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cands []*Claimed
	for rows.Next() {
		e := &Event{Target: target, Status: Queuing}
		o := &StoredObject{}
		c := &Claimed{Event: e, Object: o}
		var kind, changed, seqs, state, orgs, attrs string
		var tid, synced, lstate, sstate, sparent, reserved sql.NullString
		var sent sql.NullBool
		if err := rows.Scan(&e.ID, &e.HubID, &kind, &e.DisplayName, &e.Op, &e.Trigger, &changed, &seqs, &e.Attempts, &e.RunID,
			&o.Source, &o.ExternalID, &state, &o.ParentExt, &orgs, &attrs, &o.DisplayName, &tid, &synced, &sent, &lstate, &sstate, &sparent, &reserved); err != nil {
			return nil, err
		}
		e.Kind, o.Kind, o.HubID, o.State = sdk.Kind(kind), sdk.Kind(kind), e.HubID, sdk.State(state)
		unmarshalList(orgs, &o.Orgs)
		// Decoded once the event is taken: a candidate not ready now is
		// read again by a later claim. A user's attributes are decoded
		// now, for the manager they name.
		c.changed, c.seqs, c.attrs = changed, seqs, attrs
		if e.Kind == sdk.KindUser {
			// Attributes that do not decode fail the claim only if the
			// event is taken (decode reads them again then), as before.
			if a, err := DecodeAttributes([]byte(attrs)); err == nil {
				o.Attributes, c.attrs = a, ""
				if m, ok := a[sdk.ManagerAttribute]; ok && m.Type() == sdk.TypeString {
					c.ManagerExt = m.Str()
				}
			}
		}
		if tid.Valid {
			c.Link = Link{Exists: true, TargetID: tid.String, CreateSent: sent.Bool, Orphan: lstate.String == "orphan",
				SyncedState: sstate.String, SyncedParent: linkParent(sparent.String)}
			if reserved.Valid && reserved.String != "{}" {
				_ = json.Unmarshal([]byte(reserved.String), &c.Link.Reserved)
			}
			c.synced = synced
		}
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b *Claimed) int { return cmp.Compare(a.Event.ID, b.Event.ID) })
	return cands, rows.Err()
}

// claimRefs are the objects a claim found its candidates naming, with
// their links in its target, by source and external id; nil for one the
// directory does not hold. Nothing links an object while a claim runs
// (one transaction), so they hold for the whole claim.
type claimRefs struct{ orgs, users map[string]*sdk.Ref }

// resolveRefs sets what each candidate names (its parent, memberships and
// manager) from refs, and looks up what refs lacks in one query per kind
// and source: the people of a claim share departments and managers. Joined
// into the claim query, these lookups (and the JSON paths the manager
// took) were half of a claim's time at 30,000 users; one query each, the
// memberships were a statement per candidate.
func resolveRefs(tx *sql.Tx, target string, cands []*Claimed, refs claimRefs) error {
	var missing map[[2]string][]string // by kind and source
	need := func(cache map[string]*sdk.Ref, kind sdk.Kind, source, ext string) {
		k := source + "\x00" + ext
		if _, ok := cache[k]; ok {
			return
		}
		cache[k] = nil // until found
		if missing == nil {
			missing = map[[2]string][]string{}
		}
		missing[[2]string{string(kind), source}] = append(missing[[2]string{string(kind), source}], ext)
	}
	for _, c := range cands {
		o := c.Object
		if o.ParentExt != "" {
			need(refs.orgs, sdk.KindOrg, o.Source, o.ParentExt)
		}
		for _, g := range o.Orgs {
			need(refs.orgs, sdk.KindOrg, o.Source, g)
		}
		if c.ManagerExt != "" {
			need(refs.users, sdk.KindUser, o.Source, c.ManagerExt)
		}
	}
	for ks, exts := range missing {
		cache := refs.orgs
		if ks[0] == string(sdk.KindUser) {
			cache = refs.users
		}
		rows, err := tx.Query(`SELECT o.external_id, o.hub_id, COALESCE(l.target_id, '')
			FROM json_each(?) j CROSS JOIN objects o ON o.source = ? AND o.kind = ? AND o.external_id = j.value
			LEFT JOIN links l ON l.target = ? AND l.hub_id = o.hub_id`, mustJSON(exts), ks[1], ks[0], target)
		if err != nil {
			return err
		}
		for rows.Next() {
			var ext string
			var r sdk.Ref
			if err := rows.Scan(&ext, &r.HubID, &r.TargetID); err != nil {
				rows.Close()
				return err
			}
			cache[ks[1]+"\x00"+ext] = &r
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	// Each candidate gets its own copy: what the engine does with one
	// event's references must not reach another's.
	own := func(r *sdk.Ref) *sdk.Ref {
		if r == nil {
			return nil
		}
		cp := *r
		return &cp
	}
	for _, c := range cands {
		o := c.Object
		if o.ParentExt != "" {
			c.parentRef = own(refs.orgs[o.Source+"\x00"+o.ParentExt])
		}
		if c.ManagerExt != "" {
			c.managerRef = own(refs.users[o.Source+"\x00"+c.ManagerExt])
		}
	}
	return nil
}

// prepare loads what event e needs and decides whether it can run now.
// When it cannot because another object's event must finish first (its
// manager's create, its parent's event), waitsFor is that object's hub
// id; an event it marks WAITING releases what waits for its object.
func (s *Store) prepare(tx *sql.Tx, c *Claimed, now int64, refs claimRefs, awaitParents bool, waits *Waits) (ready bool, waitsFor string, err error) {
	e, obj := c.Event, c.Object
	op := PlannedOp(e, obj.State)
	unresolved := false
	if obj.ParentExt != "" {
		c.Parent = c.parentRef
		unresolved = c.parentRef == nil
	}
	for _, g := range obj.Orgs {
		// resolveRefs looked every membership up.
		if r := refs.orgs[obj.Source+"\x00"+g]; r != nil {
			c.Orgs = append(c.Orgs, *r)
		} else {
			unresolved = true
		}
	}
	if unresolved && awaitParents && op != "delete" && obj.State != sdk.StateDeleted {
		return false, "", nil
	}
	if c.ManagerExt != "" {
		r := c.managerRef
		c.Manager = r
		if r != nil && r.TargetID == "" && c.Link.TargetID == "" && op != "delete" {
			// A create whose manager is about to be created too, by an
			// event queued before it, waits for that event rather than go
			// out without the manager and need a follow-up update. Only an
			// earlier event is waited for, so managers that manage each
			// other cannot wait on each other.
			var mid int64
			var mst string
			err := tx.QueryRow(`SELECT id, status FROM events INDEXED BY events_lane WHERE target = ? AND hub_id = ? AND status IN `+unfinished+` ORDER BY id LIMIT 1`,
				e.Target, r.HubID).Scan(&mid, &mst)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return false, "", err
			case mid < e.ID && Status(mst) != Waiting:
				return false, r.HubID, nil
			}
		}
	}
	needsParent := op != "delete" && op != "disable" && op != "enable" && obj.State != sdk.StateDeleted &&
		(op == "move" || op == "create" || c.Link.TargetID == "")
	if needsParent && c.Parent != nil && c.Parent.TargetID == "" {
		// The parent is not in the application yet.
		var pid int64
		var pstatus string
		err := tx.QueryRow(`SELECT id, status FROM events WHERE target = ? AND hub_id = ? ORDER BY id DESC LIMIT 1`, e.Target, c.Parent.HubID).Scan(&pid, &pstatus)
		switch {
		case errors.Is(err, sql.ErrNoRows) && awaitParents:
			// Read, but its change not consumed yet: its event is coming.
			return false, "", nil
		case errors.Is(err, sql.ErrNoRows):
			// The parent has no event for this target (out of scope): send
			// without it rather than wait for what will never happen.
		case err != nil:
			return false, "", err
		case Status(pstatus) == Failure || Status(pstatus) == Waiting:
			_, err := tx.Exec(`UPDATE events SET status = 'WAITING', waits_on = ?, updated_at = ? WHERE id = ?`, pid, now, e.ID)
			// What waits for this object's event no longer does (a
			// report for its manager's create goes without it).
			waits.Release(e.HubID)
			return false, "", err
		case !Status(pstatus).Finished():
			return false, c.Parent.HubID, nil
		}
	}
	if op == "delete" && e.Kind == sdk.KindOrg {
		var n int
		// From the org's children (objects_parent) to their lanes: the
		// other way round scans every unfinished event of the target.
		err := tx.QueryRow(`SELECT count(*) FROM objects o CROSS JOIN events ev INDEXED BY events_lane
			WHERE o.source = ? AND o.parent_ext = ? AND ev.target = ? AND ev.hub_id = o.hub_id AND ev.status IN `+unfinished+` AND ev.id != ?`,
			obj.Source, obj.ExternalID, e.Target, e.ID).Scan(&n)
		if err != nil {
			return false, "", err
		}
		if n > 0 {
			return false, "", nil
		}
	}
	return true, "", nil
}

func loadLink(tx *sql.Tx, target, hubID string) (Link, error) {
	var l Link
	var synced sql.NullString
	err := tx.QueryRow(`SELECT target_id, synced, create_sent FROM links WHERE target = ? AND hub_id = ?`, target, hubID).Scan(&l.TargetID, &synced, &l.CreateSent)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	l.Exists = true
	if synced.Valid {
		if l.Synced, err = DecodeAttributes([]byte(synced.String)); err != nil {
			return l, err
		}
	}
	return l, nil
}

// MarkCreateSent records, before the requests go out, that creates are
// being sent for these objects: a later delete must then be sent even if
// the answer is lost.
func (s *Store) MarkCreateSent(ctx context.Context, target string, hubIDs []string) error {
	if len(hubIDs) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO links (target, hub_id, create_sent, updated_at) SELECT ?, value, 1, ? FROM json_each(?) WHERE true
		ON CONFLICT (target, hub_id) DO UPDATE SET create_sent = 1, updated_at = excluded.updated_at`, target, s.nowUnix(), mustJSON(hubIDs))
	return err
}

// Statements run per event are kept as constants: the driver caches
// them prepared by their text (_stmt_cache_size), so a batch pays for
// none of their preparation.
const (
	finishEvent = `UPDATE events SET status = ?, op = COALESCE(NULLIF(?, ''), op), request = ?, response_status = ?, response_id = ?, response_excerpt = ?,
			outcome = ?, error_category = ?, error_code = ?, error_message = ?, reason = ?, next_attempt_at = ?, updated_at = ?,
			finished_at = ?, owner = '' WHERE id = ?`
	// unattempted returns a RUNNING event to the queue, due now, without
	// the attempt its claim counted.
	unattempted = `UPDATE events SET status = 'QUEUING', attempts = max(attempts - 1, 0), next_attempt_at = 0,
			updated_at = ?, owner = '' WHERE id = ? AND status = 'RUNNING'`
	// sharedAccount finds who is linked to accounts (a JSON array of ids);
	// the objects are read apart (joined, SQLite planned it badly).
	sharedAccount = `SELECT target_id, hub_id FROM links INDEXED BY links_target_id
			WHERE target = ? AND target_id IN (SELECT value FROM json_each(?)) AND state != 'orphan'`
	// dropSkipped deletes an object's earlier SKIPPED events, but not a
	// retry: it says its FAILURE was retried.
	dropSkipped = `DELETE FROM events WHERE target = ? AND hub_id = ? AND status = 'SKIPPED' AND id < ? AND retry_of = 0`
	// releaseNext starts the next event of each lane in a JSON array of hub
	// ids. INDEXED BY: planned on (target, status), the lookup scans every
	// PENDING event of the target, quadratic over a large sync.
	releaseNext = `UPDATE events SET status = 'QUEUING', updated_at = ? WHERE id IN (
			SELECT (SELECT id FROM events INDEXED BY events_lane WHERE target = ? AND hub_id = j.value AND status = 'PENDING' ORDER BY id LIMIT 1)
			FROM json_each(?) j)`
	// wakeWaiting: any success (or SKIPPED) of an object releases what
	// waits on any of its events, to be evaluated again when claimed: an
	// update that ran as a create after a failed create links the object
	// just as well.
	wakeWaiting = `UPDATE events SET status = 'QUEUING', waits_on = 0, updated_at = ? WHERE status = 'WAITING' AND waits_on IN (
			SELECT id FROM events WHERE target = ? AND hub_id = ?)`
	saveLinkSQL = `INSERT INTO links (target, hub_id, target_id, synced, create_sent, updated_at, state, synced_state, synced_parent)
			VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)
			ON CONFLICT (target, hub_id) DO UPDATE SET target_id = CASE WHEN excluded.target_id != '' THEN excluded.target_id ELSE links.target_id END,
			synced = CASE WHEN ? THEN excluded.synced ELSE links.synced END, updated_at = excluded.updated_at, state = excluded.state,
			synced_state = CASE WHEN excluded.synced_state != '' THEN excluded.synced_state ELSE links.synced_state END,
			synced_parent = CASE WHEN excluded.synced_parent != '' THEN excluded.synced_parent ELSE links.synced_parent END`
	// managerLinked: whether a user, by external id, is linked in a target.
	managerLinked = `SELECT EXISTS (SELECT 1 FROM objects m JOIN links l ON l.target = ? AND l.hub_id = m.hub_id AND l.target_id != ''
			WHERE m.source = ? AND m.kind = 'user' AND m.external_id = ?)`
)

// Result is how an event ended (or will be retried).
type Result struct {
	EventID int64
	Target  string
	HubID   string
	// Kind, Source and ExternalID are the object's (FollowReports needs
	// them).
	Kind               sdk.Kind
	Source, ExternalID string
	// Op is the operation actually run (an update of an unlinked object
	// runs as a create).
	Op     string
	Status Status
	// Request is what was sent, sensitive values masked.
	Request string
	// Link, for a SUCCESS: the application's id, the values now applied
	// (nil when unknown), whether the link is gone (a delete).
	TargetID  string
	Synced    sdk.Attributes
	MergeSync bool
	// ClearSynced forgets the last-synced values (a create that matched an
	// object it did not update), so the next update sends all of them.
	ClearSynced bool
	// Unlink, for a SUCCESS, removes the link (a delete); for a SKIPPED,
	// too (a link set by hand to an object out of scope).
	Unlink     bool
	Outcome    string
	RespStatus int
	RespID     string
	Excerpt    string
	// Error, for a FAILURE or a retry.
	ErrCategory, ErrCode, ErrMessage string
	// Reason, for SKIPPED.
	Reason string
	// Orphan marks the link an orphan (the policy kept or only disabled
	// the account of a deleted object); a SUCCESS without it clears the
	// mark.
	Orphan bool
	// SyncedState and SyncedParent, for a SUCCESS, are the object's state
	// and parent hub id the application now holds ("" leaves them;
	// SyncedParent ParentNone records no parent: see SyncedParentOf).
	SyncedState, SyncedParent string
	// FollowReports, for the SUCCESS of a user's create, records updates
	// of the linked users that name it as manager when any of them
	// received no id for it (ManagerWait), so they receive its id; with
	// Unlink or Forget, it records its reports as waiting for its next id.
	FollowReports bool
	// ManagerWait, for a user's SUCCESS, is its manager's external id when
	// the manager was sent as null (not linked yet, or not in the
	// directory): if the manager has been linked meanwhile, an update
	// follows; otherwise the user waits for the manager's create.
	ManagerWait string
	// MoveChildren, for the SUCCESS of an org's create, moves in its linked
	// departments and users that the application holds elsewhere, sent
	// while the org could not be linked (its create met a conflict, or it
	// was out of scope): set for a create that is a retry or a target
	// sync's.
	MoveChildren bool
	// FollowUp, for a SUCCESS, records further events for the object at
	// the end of its lane (an enable after a re-created orphan).
	FollowUp []string
	// RetryAt, when set with Status QUEUING, schedules the next attempt.
	RetryAt time.Time
	// Forget, with Status QUEUING, says the application does not hold the
	// object: the link forgets its id, last-synced values, state and
	// parent (it keeps the reserved unique values), so the event's next
	// attempt creates the object again, and the users it manages learn
	// the new id.
	Forget bool
	// Unattempted returns a claimed event to the queue as it was, its
	// attempt not counted: the run stopped before the event was sent (a
	// cancelled sync interrupts its mapping, or its wait for the rate
	// limit). Status and the other fields are ignored.
	Unattempted bool

	// synced is Synced encoded by Encode.
	synced []byte
}

// Encode encodes the result's last-synced values ahead of Finish, which
// otherwise does it while it holds the store: call it where results are
// made, beside the loop that records them.
func (r *Result) Encode() {
	if r.Synced != nil && !r.MergeSync {
		r.synced = EncodeAttributes(r.Synced)
	}
}

// Finish records results in one transaction: each event's status and
// details, the link, the next event of each lane released from PENDING,
// and the events WAITING on a success (or a SKIPPED) released.
func (s *Store) Finish(ctx context.Context, results []Result) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowUnix()
		released := map[string][]string{}
		// Probes for the batch rather than one per result: most batches
		// find nothing WAITING, and no user of their target waiting for a
		// manager.
		var waiting bool
		if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM events WHERE status = 'WAITING')`).Scan(&waiting); err != nil {
			return err
		}
		held, err := heldAccounts(tx, results)
		if err != nil {
			return err
		}
		managerWaits := map[string]bool{}
		mayWait := func(target string) (bool, error) {
			w, ok := managerWaits[target]
			if !ok {
				if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM manager_waits WHERE target = ?)`, target).Scan(&w); err != nil {
					return false, err
				}
				managerWaits[target] = w
			}
			return w, nil
		}
		for i, r := range results {
			if r.Status == Success && r.Op == string(sdk.OpCreate) && r.TargetID != "" {
				// Two live objects never share an account: a create the
				// application answered with an account linked to another
				// (one linked by hand, say, while the application still
				// knows it by this object's hub id) is a conflict, whatever
				// the answer says of it (not every application says it
				// matched).
				holder, name, err := liveHolder(tx, held[r.Target+"\x00"+r.TargetID], r)
				switch {
				case err == nil && holder != "":
					r = Result{EventID: r.EventID, Target: r.Target, HubID: r.HubID, Kind: r.Kind, Source: r.Source, ExternalID: r.ExternalID,
						Op: r.Op, Request: r.Request, RespStatus: r.RespStatus, RespID: r.RespID, Excerpt: r.Excerpt, Status: Failure,
						ErrCategory: string(sdk.CategoryConflict),
						ErrMessage:  fmt.Sprintf("the application answered with %s %s, which is linked to %s (%s): link this object to its own account with `midstream links set`", r.Kind, r.TargetID, name, holder)}
					results[i] = r
				case err != nil:
					return err
				default:
					// Also against a create later in this batch.
					k := r.Target + "\x00" + r.TargetID
					held[k] = append(held[k], r.HubID)
				}
			}
			if r.Unattempted {
				if _, err := tx.Exec(unattempted, now, r.EventID); err != nil {
					return err
				}
				continue
			}
			fin := any(now)
			next := int64(0)
			op := r.Op
			if !r.Status.Finished() {
				fin = nil
				next = r.RetryAt.UnixMilli()
				// An event to be tried again keeps its operation: the next
				// attempt is planned from it again (a re-hire's create runs
				// as an update with a move after it; recorded as an update,
				// its retry would send no move).
				op = ""
			}
			if _, err := tx.Exec(finishEvent, string(r.Status), op, r.Request, r.RespStatus, r.RespID, r.Excerpt, r.Outcome, r.ErrCategory, r.ErrCode,
				r.ErrMessage, r.Reason, next, now, fin, r.EventID); err != nil {
				return err
			}
			if r.Forget {
				if err := forgetLink(tx, r, now); err != nil {
					return err
				}
			}
			if r.Status == Success {
				if err := saveLink(tx, r, now); err != nil {
					return err
				}
				if r.Unlink && r.FollowReports && r.Kind == sdk.KindUser {
					// saveLink recorded its reports as waiting.
					managerWaits[r.Target] = true
				}
				if r.MoveChildren && r.Op == string(sdk.OpCreate) {
					// What was sent while the org could not be linked (its
					// create failed as a conflict, and is retried now) is
					// held elsewhere: moved in.
					if err := moveChildren(tx, r, now, true); err != nil {
						return err
					}
				}
				if r.Op == string(sdk.OpCreate) && r.FollowReports && r.Kind == sdk.KindUser {
					w, err := mayWait(r.Target)
					if err != nil {
						return err
					}
					if w {
						if err := followReports(tx, r, now); err != nil {
							return err
						}
					}
				}
				if r.ManagerWait != "" {
					var linked bool
					if err := tx.QueryRow(managerLinked, r.Target, r.Source, r.ManagerWait).Scan(&linked); err != nil {
						return err
					}
					if linked {
						r.FollowUp = append(r.FollowUp, "update")
					} else {
						if _, err := tx.Exec(`INSERT OR IGNORE INTO manager_waits (target, source, manager_ext, hub_id) VALUES (?, ?, ?, ?)`,
							r.Target, r.Source, r.ManagerWait, r.HubID); err != nil {
							return err
						}
						managerWaits[r.Target] = true
					}
				}
				for _, op := range r.FollowUp {
					if _, err := tx.Exec(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, created_at, updated_at, run_id)
						SELECT target, hub_id, kind, display_name, ?, CASE WHEN trigger = 'retry' THEN 'incremental' ELSE trigger END, 'PENDING', ?, ?, run_id
						FROM events WHERE id = ?`, op, now, now, r.EventID); err != nil {
						return err
					}
				}
			}
			if waiting && (r.Status == Success || r.Status == Skipped) {
				// What waits on the object is re-evaluated when it is
				// claimed: it waits again only on a failure.
				if _, err := tx.Exec(wakeWaiting, now, r.Target, r.HubID); err != nil {
					return err
				}
			}
			if r.Status == Skipped {
				// One SKIPPED per object is enough to say why it was not
				// sent: repeated target syncs do not grow the store.
				if _, err := tx.Exec(dropSkipped, r.Target, r.HubID, r.EventID); err != nil {
					return err
				}
			}
			if r.Status == Skipped && r.Unlink {
				if _, err := tx.Exec(`DELETE FROM links WHERE target = ? AND hub_id = ?`, r.Target, r.HubID); err != nil {
					return err
				}
			}
			if r.Status == Skipped && r.Orphan {
				if _, err := tx.Exec(`UPDATE links SET state = 'orphan' WHERE target = ? AND hub_id = ?`, r.Target, r.HubID); err != nil {
					return err
				}
			}
			if r.Status.Finished() {
				released[r.Target] = append(released[r.Target], r.HubID)
			}
		}
		// The next event of each finished lane, one statement per target.
		for target, hubs := range released {
			if _, err := tx.Exec(releaseNext, now, target, mustJSON(hubs)); err != nil {
				return err
			}
		}
		return nil
	})
}

// followReports records, for a user just created in r.Target, an update
// of each linked user that names it as manager, when one of them waits
// for its id (manager_waits).
func followReports(tx *sql.Tx, r Result, now int64) error {
	// Most users manage no one, or no one who went out before them: one
	// probe of manager_waits rules that out.
	var waits bool
	if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM manager_waits WHERE target = ? AND source = ? AND manager_ext = ?)`,
		r.Target, r.Source, r.ExternalID).Scan(&waits); err != nil || !waits {
		return err
	}
	// The directory decides who gets the update: a user that named this
	// manager when it went out but names another now gets none. The
	// manager's source and id are bound as parameters: only then does
	// SQLite use the objects_manager index.
	if _, err := tx.Exec(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, changed, created_at, updated_at, run_id)
		SELECT ?, u.hub_id, 'user', u.display_name, 'update', 'incremental',
			CASE WHEN EXISTS (SELECT 1 FROM events x INDEXED BY events_lane WHERE x.target = ? AND x.hub_id = u.hub_id AND x.status IN `+unfinished+`) THEN 'PENDING' ELSE 'QUEUING' END,
			'["manager"]', ?, ?, 0
		FROM objects u JOIN links l ON l.target = ? AND l.hub_id = u.hub_id AND l.target_id != ''
		WHERE u.source = ? AND u.kind = 'user' AND json_extract(u.attributes, '$.manager') = ? AND u.hub_id != ?`,
		r.Target, r.Target, now, now, r.Target, r.Source, r.ExternalID, r.HubID); err != nil {
		return err
	}
	_, err := tx.Exec(`DELETE FROM manager_waits WHERE target = ? AND source = ? AND manager_ext = ?`, r.Target, r.Source, r.ExternalID)
	return err
}

// heldAccounts finds, for the creates among results, who is already
// linked to the account each was answered with: one query per batch (one
// per create cost ~7 µs an event), by target and id.
func heldAccounts(tx *sql.Tx, results []Result) (map[string][]string, error) {
	ids := map[string][]string{}
	for _, r := range results {
		if r.Status == Success && r.Op == string(sdk.OpCreate) && r.TargetID != "" {
			ids[r.Target] = append(ids[r.Target], r.TargetID)
		}
	}
	held := map[string][]string{}
	for target, list := range ids {
		rows, err := tx.Query(sharedAccount, target, mustJSON(list))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, hub string
			if err := rows.Scan(&id, &hub); err != nil {
				rows.Close()
				return nil, err
			}
			held[target+"\x00"+id] = append(held[target+"\x00"+id], hub)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return held, nil
}

// liveHolder returns the live object of r's kind, other than r's, among
// holders, the objects linked to the account r names ("" when none).
func liveHolder(tx *sql.Tx, holders []string, r Result) (hubID, name string, err error) {
	for _, h := range holders {
		if h == r.HubID {
			continue
		}
		err := tx.QueryRow(`SELECT display_name FROM objects WHERE hub_id = ? AND kind = ? AND state != 'deleted'`, h, string(r.Kind)).Scan(&name)
		switch {
		case err == nil:
			return h, name, nil
		case !errors.Is(err, sql.ErrNoRows):
			return "", "", err
		}
	}
	return "", "", nil
}

// reportsWait records that the users r's user manages hold an id the
// application no longer has: should it be created again, they get its
// new one. Linked or not: one whose create is in flight goes out with the
// old id.
func reportsWait(tx *sql.Tx, r Result) error {
	if r.Kind != sdk.KindUser {
		return nil
	}
	_, err := tx.Exec(`INSERT OR IGNORE INTO manager_waits (target, source, manager_ext, hub_id)
		SELECT ?, u.source, ?, u.hub_id FROM objects u
		WHERE u.source = ? AND u.kind = 'user' AND json_extract(u.attributes, '$.manager') = ? AND u.hub_id != ?`,
		r.Target, r.ExternalID, r.Source, r.ExternalID, r.HubID)
	return err
}

// forgetLink unlinks an object the application no longer holds, keeping
// its reserved values, for a create to follow. The users it manages, and
// the departments and users an org holds, name its old id in the
// application: they learn the new one, reports by a follow-up update,
// children by a move at the end of their lanes (which waits for the
// org's create).
func forgetLink(tx *sql.Tx, r Result, now int64) error {
	if r.FollowReports {
		if err := reportsWait(tx, r); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(`UPDATE links SET target_id = '', synced = NULL, synced_state = '', synced_parent = ?, state = 'linked', updated_at = ?
		WHERE target = ? AND hub_id = ?`, ParentUnknown, now, r.Target, r.HubID); err != nil {
		return err
	}
	if r.Kind != sdk.KindOrg {
		return nil
	}
	return moveChildren(tx, r, now, false)
}

// moveChildren queues a move of each linked department and user in org r
// (only those the application does not hold under it, with stray), at
// the end of its lane: it waits for the org to be linked, and sends its
// id.
func moveChildren(tx *sql.Tx, r Result, now int64, stray bool) error {
	_, err := tx.Exec(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, created_at, updated_at)
		SELECT ?, c.hub_id, c.kind, c.display_name, 'move', 'incremental',
			CASE WHEN EXISTS (SELECT 1 FROM events x INDEXED BY events_lane WHERE x.target = ? AND x.hub_id = c.hub_id AND x.status IN `+unfinished+`)
				THEN 'PENDING' ELSE 'QUEUING' END, ?, ?
		FROM objects c INDEXED BY objects_parent CROSS JOIN links l ON l.target = ? AND l.hub_id = c.hub_id AND l.target_id != ''
		WHERE c.source = ? AND c.parent_ext = ? AND c.state != 'deleted' AND NOT (? AND l.synced_parent = ?)`,
		r.Target, r.Target, now, now, r.Target, r.Source, r.ExternalID, stray, r.HubID)
	return err
}

func saveLink(tx *sql.Tx, r Result, now int64) error {
	if r.Unlink {
		if r.FollowReports {
			if err := reportsWait(tx, r); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM unique_values WHERE target = ? AND hub_id = ?`, r.Target, r.HubID); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM links WHERE target = ? AND hub_id = ?`, r.Target, r.HubID)
		return err
	}
	synced := sql.NullString{}
	if r.Synced != nil {
		if r.MergeSync {
			l, err := loadLink(tx, r.Target, r.HubID)
			if err != nil {
				return err
			}
			if l.Synced != nil {
				merged := l.Synced.Clone()
				for k, v := range r.Synced {
					merged[k] = v
				}
				r.Synced = merged
			} else {
				r.Synced = nil
			}
		}
		switch {
		case r.synced != nil && !r.MergeSync:
			synced = sql.NullString{String: string(r.synced), Valid: true}
		case r.Synced != nil:
			synced = sql.NullString{String: string(EncodeAttributes(r.Synced)), Valid: true}
		}
	}
	// Only a result that says what the application now holds replaces
	// the last-synced values: a disable or a move leaves them.
	state := "linked"
	if r.Orphan {
		state = "orphan"
	}
	_, err := tx.Exec(saveLinkSQL, r.Target, r.HubID, r.TargetID, synced, now, state, r.SyncedState, r.SyncedParent, synced.Valid || r.ClearSynced)
	return err
}

// NextRetry returns when target's earliest retry scheduled after after
// (a claim's time) falls due. What was due by then and not claimed waits
// for another event, in flight or scheduled: counting it would make a
// caller waiting for the next retry wake at once, again and again.
func (s *Store) NextRetry(ctx context.Context, target string, after time.Time) (time.Time, bool, error) {
	var ms sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM events WHERE target = ? AND status = 'QUEUING' AND next_attempt_at > ?`,
		target, after.UnixMilli()).Scan(&ms)
	if err != nil || !ms.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(ms.Int64), true, nil
}

// StatusCounts counts target's events by status (all targets when target
// is empty).
func (s *Store) StatusCounts(ctx context.Context, target string) (map[Status]int, error) {
	q := `SELECT status, count(*) FROM events`
	var args []any
	if target != "" {
		q += ` WHERE target = ?`
		args = append(args, target)
	}
	rows, err := s.db.QueryContext(ctx, q+` GROUP BY status`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[Status]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[Status(st)] = n
	}
	return out, rows.Err()
}

// Filter selects events (the filters of `midstream events list`).
type Filter struct {
	Since, Until time.Time
	Statuses     []Status
	Ops          []string
	Kind         sdk.Kind
	Target       string
	// Object matches a hub id, or a display name or external id exactly.
	Object string
	Limit  int
	// Before, when set, lists events with smaller ids (paging).
	Before int64
}

// Events lists events matching f, newest first.
func (s *Store) Events(ctx context.Context, f Filter) ([]*Event, error) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, f.Until.UnixMilli())
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if len(f.Ops) > 0 {
		where = append(where, "op IN ("+placeholders(len(f.Ops))+")")
		for _, op := range f.Ops {
			args = append(args, op)
		}
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Target != "" {
		where = append(where, "target = ?")
		args = append(args, f.Target)
	}
	if f.Object != "" {
		where = append(where, "(hub_id = ? OR display_name = ? OR hub_id IN (SELECT hub_id FROM objects WHERE external_id = ?))")
		args = append(args, f.Object, f.Object, f.Object)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT ` + eventColumns + ` FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEvent returns one event.
func (s *Store) GetEvent(ctx context.Context, id int64) (*Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no event %d", id)
	}
	return e, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// ErrNotRetryable is a retry refused, with the reason.
type ErrNotRetryable struct{ Reason string }

func (e *ErrNotRetryable) Error() string { return e.Reason }

// Retry queues a manual retry of a FAILURE event: a new event (trigger
// retry) at the end of the object's lane, its operation derived afresh
// when it runs (PlannedOp); the failed event stays as history. Events
// WAITING on the failed one now wait on the retry, and are released when
// it succeeds or needs no call. A retry of an object deleted and never
// linked is refused.
func (s *Store) Retry(ctx context.Context, id int64) (int64, error) {
	var newID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		newID, err = retry(tx, id, s.nowUnix())
		return err
	})
	return newID, err
}

func retry(tx *sql.Tx, id, now int64) (int64, error) {
	var target, hubID, status string
	if err := tx.QueryRow(`SELECT target, hub_id, status FROM events WHERE id = ?`, id).Scan(&target, &hubID, &status); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, &ErrNotRetryable{fmt.Sprintf("no event %d", id)}
		}
		return 0, err
	}
	if Status(status) != Failure {
		return 0, &ErrNotRetryable{fmt.Sprintf("event %d is %s; only a FAILURE is retried", id, status)}
	}
	var state string
	var tid, syncedState sql.NullString
	var sent sql.NullBool
	if err := tx.QueryRow(`SELECT o.state, l.target_id, l.create_sent, l.synced_state FROM objects o LEFT JOIN links l ON l.hub_id = o.hub_id AND l.target = ? WHERE o.hub_id = ?`,
		target, hubID).Scan(&state, &tid, &sent, &syncedState); err != nil {
		return 0, err
	}
	if state == string(sdk.StateDeleted) && tid.String == "" && !sent.Bool {
		return 0, &ErrNotRetryable{fmt.Sprintf("event %d: the object was deleted and was never created in %s", id, target)}
	}
	// The retry is derived afresh from the object's state when it runs;
	// its operation says what that state calls for now, for whoever reads
	// the queue (the event records what ran once it has).
	op := string(sdk.OpUpdate)
	switch {
	case state == string(sdk.StateDeleted):
		op = string(sdk.OpDelete)
	case tid.String == "":
		op = string(sdk.OpCreate)
	case state == string(sdk.StateDisabled) && syncedState.String != string(sdk.StateDisabled):
		op = string(sdk.OpDisable)
	case state == string(sdk.StateActive) && syncedState.String == string(sdk.StateDisabled):
		op = string(sdk.OpEnable)
	}
	st, err := endOfLane(tx, target, hubID)
	if err != nil {
		return 0, err
	}
	res, err := tx.Exec(`INSERT INTO events (target, hub_id, kind, display_name, op, trigger, status, changed, seqs, created_at, updated_at, run_id, retry_of)
		SELECT target, hub_id, kind, display_name, ?, 'retry', ?, changed, seqs, ?, ?, run_id, id FROM events WHERE id = ?`, op, string(st), now, now, id)
	if err != nil {
		return 0, err
	}
	newID, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(`UPDATE events SET waits_on = ?, updated_at = ? WHERE status = 'WAITING' AND waits_on = ?`, newID, now, id)
	return newID, err
}

// firstInLane returns the first event of an object's lane in target whose
// status is among statuses (an SQL list such as unfinished), 0 when none.
func firstInLane(tx *sql.Tx, target, hubID, statuses string) (int64, error) {
	var id int64
	err := tx.QueryRow(`SELECT id FROM events INDEXED BY events_lane WHERE target = ? AND hub_id = ? AND status IN `+statuses+` ORDER BY id LIMIT 1`,
		target, hubID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// endOfLane is the status of an event queued at the end of an object's
// lane: PENDING behind an unfinished one, else QUEUING.
func endOfLane(tx *sql.Tx, target, hubID string) (Status, error) {
	busy, err := firstInLane(tx, target, hubID, unfinished)
	if busy != 0 {
		return Pending, err
	}
	return Queuing, err
}

// RetryFailures queues a manual retry of every FAILURE of target not yet
// retried, and returns the new events' ids. A failure followed by later
// events of its object is retried too: what it failed to send (say, an
// update of attributes before a move) is derived afresh when it runs.
func (s *Store) RetryFailures(ctx context.Context, target string) ([]int64, error) {
	var out []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.Query(`SELECT e.id FROM events e WHERE e.target = ? AND e.status = 'FAILURE'
			AND NOT EXISTS (SELECT 1 FROM events r WHERE r.retry_of = e.id)
			ORDER BY e.id`, target)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		now := s.nowUnix()
		for _, id := range ids {
			n, err := retry(tx, id, now)
			var nr *ErrNotRetryable
			if errors.As(err, &nr) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	return out, err
}

// Reserve claims value of a unique attribute for hubID among target's
// objects of kind. It returns "" when hubID holds the value (now or
// already), or the hub id of the object that holds it.
func (s *Store) Reserve(ctx context.Context, target string, kind sdk.Kind, attribute, value, hubID string) (string, error) {
	var holder string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO unique_values (target, kind, attribute, value, hub_id) VALUES (?, ?, ?, ?, ?)`,
			target, string(kind), attribute, value, hubID); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT hub_id FROM unique_values WHERE target = ? AND kind = ? AND attribute = ? AND value = ?`,
			target, string(kind), attribute, value).Scan(&holder)
	})
	if err != nil {
		return "", err
	}
	if holder == hubID {
		return "", nil
	}
	return holder, nil
}

// SaveReserved records the unique values an object holds, and releases
// those it held before and no longer does.
func (s *Store) SaveReserved(ctx context.Context, target string, kind sdk.Kind, hubID string, reserved map[string]string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT attribute, value FROM unique_values WHERE target = ? AND hub_id = ?`, target, hubID)
		if err != nil {
			return err
		}
		type av struct{ a, v string }
		var release []av
		for rows.Next() {
			var x av
			if err := rows.Scan(&x.a, &x.v); err != nil {
				rows.Close()
				return err
			}
			if reserved[x.a] != x.v {
				release = append(release, x)
			}
		}
		rows.Close()
		for _, x := range release {
			if _, err := tx.Exec(`DELETE FROM unique_values WHERE target = ? AND kind = ? AND attribute = ? AND value = ? AND hub_id = ?`,
				target, string(kind), x.a, x.v, hubID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(`INSERT INTO links (target, hub_id, reserved, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (target, hub_id) DO UPDATE SET reserved = excluded.reserved`, target, hubID, mustJSON(reserved), s.nowUnix())
		return err
	})
}
