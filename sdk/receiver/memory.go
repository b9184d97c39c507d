package receiver

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
)

// MemoryObject is one object a [MemoryApp] holds.
type MemoryObject struct {
	// ID is the id the application gave the object: "user-1", "org-2", ...
	ID          string
	Kind        sdk.Kind
	HubID       string
	DisplayName string
	// Attributes are the values last received: a create's, merged with
	// each update's; a null value removes an attribute.
	Attributes callback.Attributes
	// Parent and Orgs are as the last create, update or move sent them.
	Parent   *callback.Ref
	Orgs     []callback.Ref
	Disabled bool
	// Password is the last password received (create or password events,
	// from a target with password sync on). A real application stores a
	// hash of it, never the password itself.
	Password string
}

func (o *MemoryObject) clone() MemoryObject {
	c := *o
	c.Attributes = o.Attributes.Clone()
	if o.Parent != nil {
		p := *o.Parent
		c.Parent = &p
	}
	c.Orgs = slices.Clone(o.Orgs)
	return c
}

// MemoryApp is an in-memory reference [Application]: the peer the
// conformance kit runs the callback connector against, and a model for
// real applications. It is safe for concurrent use.
//
// It gives ids of the form "<kind>-<n>", merges update attributes into
// what it holds, and counts the events it handles per hub id, so a test
// can check that a re-applied create left one object.
type MemoryApp struct {
	mu      sync.Mutex
	next    int
	objects map[string]*MemoryObject // by id
	byHub   map[string]string        // kind + "\x00" + hub id → id
	ops     map[string]int           // hub id → events handled
	events  []*callback.Event
	fail    []error
}

var _ Application = (*MemoryApp)(nil)

// NewMemoryApp returns an empty application.
func NewMemoryApp() *MemoryApp {
	return &MemoryApp{objects: map[string]*MemoryObject{}, byHub: map[string]string{}, ops: map[string]int{}}
}

func hubKey(kind sdk.Kind, hubID string) string { return string(kind) + "\x00" + hubID }

// Lookup finds the object held under hubID.
func (m *MemoryApp) Lookup(_ context.Context, kind sdk.Kind, hubID string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byHub[hubKey(kind, hubID)]
	return id, ok, nil
}

// Handle applies ev. A create for a hub id already held is answered
// with a [Conflict] (the Handler never passes one); other events of an
// id not held with [ErrNotFound].
func (m *MemoryApp) Handle(_ context.Context, ev *callback.Event) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj := ev.Object
	if obj == nil {
		return "", nil // the test event
	}
	m.ops[obj.HubID]++
	m.events = append(m.events, ev.Clone())
	if len(m.fail) > 0 {
		err := m.fail[0]
		m.fail = m.fail[1:]
		return "", err
	}
	if ev.Type.Op() == sdk.OpCreate {
		if id, ok := m.byHub[hubKey(obj.Kind, obj.HubID)]; ok {
			return "", Conflict("%s %s is already held as %s", obj.Kind, obj.HubID, id)
		}
		m.next++
		o := &MemoryObject{
			ID:          string(obj.Kind) + "-" + strconv.Itoa(m.next),
			Kind:        obj.Kind,
			HubID:       obj.HubID,
			DisplayName: obj.DisplayName,
			Attributes:  callback.Attributes{},
		}
		o.merge(obj)
		m.objects[o.ID] = o
		m.byHub[hubKey(o.Kind, o.HubID)] = o.ID
		return o.ID, nil
	}
	o, ok := m.objects[obj.TargetID]
	if !ok || o.Kind != obj.Kind {
		return "", fmt.Errorf("%w: no %s with id %q", ErrNotFound, obj.Kind, obj.TargetID)
	}
	if obj.HubID != "" && obj.HubID != o.HubID && ev.Type.Op() != sdk.OpDelete {
		// Linked anew to another hub object (`midstream links set`):
		// looked up by that one from now on.
		delete(m.byHub, hubKey(o.Kind, o.HubID))
		o.HubID = obj.HubID
		m.byHub[hubKey(o.Kind, o.HubID)] = o.ID
	}
	switch ev.Type.Op() {
	case sdk.OpDelete:
		delete(m.objects, o.ID)
		delete(m.byHub, hubKey(o.Kind, o.HubID))
	case sdk.OpDisable:
		o.Disabled = true
	case sdk.OpEnable:
		o.Disabled = false
	case sdk.OpMove:
		o.Parent, o.Orgs = nil, nil
		o.merge(obj)
	default: // update, password
		o.merge(obj)
	}
	return o.ID, nil
}

func (o *MemoryObject) merge(obj *callback.Object) {
	if obj.Password != "" {
		o.Password = obj.Password
	}
	if obj.DisplayName != "" {
		o.DisplayName = obj.DisplayName
	}
	for k, v := range obj.Attributes {
		if v == nil {
			delete(o.Attributes, k)
			continue
		}
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		o.Attributes[k] = v
	}
	if obj.Parent != nil {
		p := *obj.Parent
		o.Parent = &p
	}
	if obj.Orgs != nil {
		o.Orgs = slices.Clone(obj.Orgs)
	}
}

// FailNext makes the next len(errs) calls of Handle return these errors,
// in order, without applying their events (they are still counted).
func (m *MemoryApp) FailNext(errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = append(m.fail, errs...)
}

// Objects returns a copy of every object held, ordered by kind, then by
// the number in the id.
func (m *MemoryApp) Objects() []MemoryObject {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MemoryObject, 0, len(m.objects))
	for _, o := range m.objects {
		out = append(out, o.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return idNumber(out[i].ID) < idNumber(out[j].ID)
	})
	return out
}

func idNumber(id string) int {
	_, n, _ := strings.Cut(id, "-")
	i, _ := strconv.Atoi(n)
	return i
}

// Object returns a copy of the object with id id.
func (m *MemoryApp) Object(id string) (MemoryObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[id]
	if !ok {
		return MemoryObject{}, false
	}
	return o.clone(), true
}

// ObjectByHubID returns a copy of the object held under hubID.
func (m *MemoryApp) ObjectByHubID(kind sdk.Kind, hubID string) (MemoryObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[m.byHub[hubKey(kind, hubID)]]
	if !ok {
		return MemoryObject{}, false
	}
	return o.clone(), true
}

// Ops returns how many events Handle received for hubID, failed ones
// included.
func (m *MemoryApp) Ops(hubID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops[hubID]
}

// Events returns copies of the events Handle received, in order. A create
// for a held object appears as the update the Handler made of it.
func (m *MemoryApp) Events() []*callback.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*callback.Event, len(m.events))
	for i, ev := range m.events {
		out[i] = ev.Clone()
	}
	return out
}
