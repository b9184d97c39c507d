package main

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// State is everything the application holds: the content of the data file.
type State struct {
	// Objects are the departments and users, by the application's own id:
	// "D101", "D102", ... for departments, "U1001", ... for users.
	Objects map[string]*Object `json:"objects"`
	// Creates counts, per hub id, the objects created for it. With the
	// receiver's look-up a resent create never makes a second object, so
	// every count is 1 unless an object was deleted and created again.
	Creates map[string]int `json:"creates"`
	// NextUser and NextOrg are the numbers of the next ids to give.
	NextUser int `json:"nextUser"`
	NextOrg  int `json:"nextOrg"`
}

// Object is one department (kind "org") or user.
type Object struct {
	Kind        sdk.Kind `json:"kind"`
	HubID       string   `json:"hubId"`
	DisplayName string   `json:"displayName,omitempty"`
	Active      bool     `json:"active"`
	// Parent is the application id of an org's parent, or of a user's
	// department; empty for a root org or a user in no department.
	Parent string `json:"parent,omitempty"`
	// ParentHubID is the hub id the hub gave for the parent. It is kept so
	// that a parent this application does not hold yet is linked as soon as
	// it is created.
	ParentHubID string              `json:"parentHubId,omitempty"`
	Attributes  callback.Attributes `json:"attributes"`
	// Password is a PBKDF2 hash of the user's password, when the hub syncs
	// passwords (see hashPassword); the password itself is never kept.
	Password string    `json:"password,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

func newState() *State {
	return &State{Objects: map[string]*Object{}, Creates: map[string]int{}, NextUser: 1001, NextOrg: 101}
}

// loadState reads a data file; a missing file is an empty state.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, err
	}
	return decodeState(b, path)
}

func decodeState(b []byte, path string) (*State, error) {
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if st.Objects == nil {
		st.Objects = map[string]*Object{}
	}
	if st.Creates == nil {
		st.Creates = map[string]int{}
	}
	for id, o := range st.Objects {
		if o == nil || !o.Kind.Valid() || o.HubID == "" {
			return nil, fmt.Errorf("read %s: object %q has no kind or hub id", path, id)
		}
		if o.Attributes == nil {
			o.Attributes = callback.Attributes{}
		}
	}
	return st, nil
}

// Store is the application: it implements [receiver.Application] over a
// State kept in memory and written to the data file after every change.
type Store struct {
	path string
	now  func() time.Time
	logf func(format string, args ...any)

	mu    sync.Mutex
	st    *State
	saved []byte            // the data file's content: the last state saved
	byHub map[string]string // kind + "\x00" + hub id → id
}

var _ receiver.Application = (*Store)(nil)

// OpenStore loads the data file at path (an empty state when there is none).
func OpenStore(path string) (*Store, error) {
	st, err := loadState(path)
	if err != nil {
		return nil, err
	}
	saved, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, now: time.Now, logf: func(string, ...any) {}, st: st, saved: saved}
	s.reindex()
	return s, nil
}

func hubKey(kind sdk.Kind, hubID string) string { return string(kind) + "\x00" + hubID }

func (s *Store) reindex() {
	s.byHub = make(map[string]string, len(s.st.Objects))
	for id, o := range s.st.Objects {
		s.byHub[hubKey(o.Kind, o.HubID)] = id
	}
}

// Lookup finds the object held for a hub id. The receiver calls it for
// every create, so a create sent again (after a lost answer) is applied as
// an update of the object made the first time and answered "exists".
func (s *Store) Lookup(_ context.Context, kind sdk.Kind, hubID string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byHub[hubKey(kind, hubID)]
	return id, ok, nil
}

// Handle applies one event and saves the state before answering: the hub
// records the event as applied only once it is on disk.
func (s *Store) Handle(_ context.Context, ev *callback.Event) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.apply(ev)
	if err != nil {
		s.restore() // undo what apply changed before it failed
		s.logf("%s %s: %v", ev.Type, ev.Object.HubID, err)
		return "", err
	}
	if err := s.save(); err != nil {
		// Forget the change and ask the hub to send the event again.
		s.restore()
		s.logf("%s %s: %v", ev.Type, ev.Object.HubID, err)
		return "", receiver.RetryLater(10*time.Second, "the application could not save its data")
	}
	s.logf("%s %s %q -> %s", ev.Type, ev.Object.HubID, ev.Object.DisplayName, id)
	return id, nil
}

func (s *Store) apply(ev *callback.Event) (string, error) {
	obj := ev.Object
	now := s.now().UTC().Truncate(time.Millisecond)
	if ev.Type.Op() == sdk.OpCreate {
		o := &Object{Kind: obj.Kind, HubID: obj.HubID, Active: true, Attributes: callback.Attributes{}, Created: now, Updated: now}
		var id string
		if obj.Kind == sdk.KindOrg {
			id = "D" + strconv.Itoa(s.st.NextOrg)
			s.st.NextOrg++
		} else {
			id = "U" + strconv.Itoa(s.st.NextUser)
			s.st.NextUser++
		}
		o.merge(obj)
		if obj.Password != "" {
			o.Password = hashPassword(obj.Password)
		}
		s.st.Objects[id] = o
		s.st.Creates[obj.HubID]++
		s.byHub[hubKey(o.Kind, o.HubID)] = id
		if err := s.setParent(id, obj.Parent); err != nil {
			return "", err
		}
		if o.Kind == sdk.KindOrg {
			s.adopt(id)
		}
		return id, nil
	}

	id := obj.TargetID
	o := s.st.Objects[id]
	if o == nil || o.Kind != obj.Kind {
		return "", fmt.Errorf("%w: no %s with id %q", receiver.ErrNotFound, obj.Kind, id)
	}
	if obj.HubID != "" && obj.HubID != o.HubID && ev.Type.Op() != sdk.OpDelete {
		// The hub linked this object anew, to another of its objects (an
		// operator's `midstream links set`): a resent create finds it
		// under that one, and the object it was made for gets its own.
		delete(s.byHub, hubKey(o.Kind, o.HubID))
		o.HubID = obj.HubID
		s.byHub[hubKey(o.Kind, o.HubID)] = id
	}
	switch ev.Type.Op() {
	case sdk.OpUpdate:
		o.merge(obj)
		if obj.Parent != nil {
			if err := s.setParent(id, obj.Parent); err != nil {
				return "", err
			}
		}
	case sdk.OpMove:
		if err := s.setParent(id, obj.Parent); err != nil {
			return "", err
		}
	case sdk.OpPassword:
		o.Password = hashPassword(obj.Password)
	case sdk.OpDisable:
		o.Active = false
	case sdk.OpEnable:
		o.Active = true
	case sdk.OpDelete:
		// The hub deletes users and sub-departments first. Refuse to leave
		// objects without their department.
		for _, cid := range sortedIDs(s.st.Objects) {
			if c := s.st.Objects[cid]; c.Parent == id {
				return "", receiver.Reject("department_not_empty", "department %s still holds %s %s", id, c.Kind, cid)
			}
		}
		delete(s.st.Objects, id)
		delete(s.byHub, hubKey(o.Kind, o.HubID))
		return id, nil
	default:
		return "", receiver.Reject("unsupported", "this application does not handle %s events", ev.Type)
	}
	o.Updated = now
	return id, nil
}

// pbkdf2Iterations is PBKDF2-HMAC-SHA256's cost (OWASP's 2023 advice);
// tests lower it.
var pbkdf2Iterations = 600_000

// hashPassword returns "pbkdf2-sha256$<iterations>$<salt>$<hash>" (salt
// and hash in base64): what an application keeps instead of a password.
func hashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, pbkdf2Iterations, 32)
	if err != nil {
		panic(err) // only for parameters out of range
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iterations, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword reports whether pw matches a hash made by hashPassword.
func checkPassword(hash, pw string) bool {
	var iter int
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	if _, err := fmt.Sscan(parts[1], &iter); err != nil || iter <= 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// merge applies an event's display name and attributes: a null value
// removes an attribute, absent ones stay as they are.
func (o *Object) merge(obj *callback.Object) {
	if obj.DisplayName != "" {
		o.DisplayName = obj.DisplayName
	}
	for k, v := range obj.Attributes {
		if v == nil {
			delete(o.Attributes, k)
		} else {
			o.Attributes[k] = v
		}
	}
}

// setParent puts object id under the org ref names: by the application id
// the hub sent, or else by hub id. A parent not held yet is linked when it
// is created (see adopt). A nil ref makes a root org or a user in no
// department.
func (s *Store) setParent(id string, ref *callback.Ref) error {
	o := s.st.Objects[id]
	if ref == nil {
		o.Parent, o.ParentHubID = "", ""
		return nil
	}
	parent := ""
	if p := s.st.Objects[ref.TargetID]; p != nil && p.Kind == sdk.KindOrg && p.HubID == ref.HubID {
		parent = ref.TargetID
	} else if pid, ok := s.byHub[hubKey(sdk.KindOrg, ref.HubID)]; ok {
		parent = pid
	}
	for p, n := parent, 0; p != "" && n <= len(s.st.Objects); p, n = s.st.Objects[p].Parent, n+1 {
		if p == id {
			return receiver.Reject("cycle", "department %s cannot be placed under itself or one of its sub-departments", id)
		}
		if s.st.Objects[p] == nil {
			break
		}
	}
	o.Parent, o.ParentHubID = parent, ref.HubID
	return nil
}

// adopt links the objects waiting for the org just created as their parent.
func (s *Store) adopt(orgID string) {
	hub := s.st.Objects[orgID].HubID
	for _, o := range s.st.Objects {
		if o.Parent == "" && o.ParentHubID == hub {
			o.Parent = orgID
		}
	}
}

// save writes the state to the data file atomically: a temporary file in
// the same directory, flushed to disk, renamed over the old one. A crash at
// any point leaves either the old file or the new one, never half of one.
func (s *Store) save() error {
	b, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(b, '\n')); err != nil {
		return err
	}
	s.saved = b
	return nil
}

// restore goes back to the last state saved.
func (s *Store) restore() {
	st, err := decodeState(s.saved, s.path)
	if err != nil {
		panic(err) // it was marshalled by save or OpenStore
	}
	s.st = st
	s.reindex()
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Snapshot returns a copy of the state, for showing it.
func (s *Store) Snapshot() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := decodeState(s.saved, s.path)
	if err != nil {
		panic(err)
	}
	return st
}

// JSON returns the data file's content.
func (s *Store) JSON() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.saved...)
}
