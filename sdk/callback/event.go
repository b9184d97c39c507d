package callback

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/midstream-io/midstream/sdk"
)

// Version is the wire format version this package speaks, sent in every
// event's "version" field and in the X-Midstream-Version header.
const Version = "1"

// EventType says what an event asks the application to do: the object's
// kind and the operation joined by a dot ("user.create", "org.move"), or
// "test" for a connectivity test.
type EventType string

// The event types of version 1.
const (
	// EventTest is the connectivity test sent by `midstream
	// test-connection`. It carries no object; answer it with 2xx.
	EventTest EventType = "test"

	EventUserCreate   EventType = "user.create"
	EventUserUpdate   EventType = "user.update"
	EventUserDelete   EventType = "user.delete"
	EventUserDisable  EventType = "user.disable"
	EventUserEnable   EventType = "user.enable"
	EventUserMove     EventType = "user.move"
	EventUserPassword EventType = "user.password"

	EventOrgCreate  EventType = "org.create"
	EventOrgUpdate  EventType = "org.update"
	EventOrgDelete  EventType = "org.delete"
	EventOrgDisable EventType = "org.disable"
	EventOrgEnable  EventType = "org.enable"
	EventOrgMove    EventType = "org.move"
)

// TypeOf returns the event type of operation op on an object of kind k.
// Organizations have no password, so (org, password) is an error.
func TypeOf(k sdk.Kind, op sdk.Op) (EventType, error) {
	if !k.Valid() {
		return "", fmt.Errorf("unknown object kind %q", k)
	}
	if !op.Valid() {
		return "", fmt.Errorf("unknown operation %q", op)
	}
	if k == sdk.KindOrg && op == sdk.OpPassword {
		return "", errors.New("organizations have no password")
	}
	return EventType(string(k) + "." + string(op)), nil
}

// Kind returns the kind of object t is about, "" for the test event and
// unknown types.
func (t EventType) Kind() sdk.Kind {
	k, _, ok := t.split()
	if !ok {
		return ""
	}
	return k
}

// Op returns the operation t asks for, "" for the test event and unknown
// types.
func (t EventType) Op() sdk.Op {
	_, op, ok := t.split()
	if !ok {
		return ""
	}
	return op
}

// Valid reports whether t is an event type of version 1.
func (t EventType) Valid() bool {
	if t == EventTest {
		return true
	}
	_, _, ok := t.split()
	return ok
}

func (t EventType) split() (sdk.Kind, sdk.Op, bool) {
	k, op, found := strings.Cut(string(t), ".")
	if !found {
		return "", "", false
	}
	typ, err := TypeOf(sdk.Kind(k), sdk.Op(op))
	if err != nil || typ != t {
		return "", "", false
	}
	return sdk.Kind(k), sdk.Op(op), true
}

// Event is the body of one callback request: one change of one object.
type Event struct {
	// Version is the wire format version, [Version].
	Version string `json:"version"`
	// ID is the sync event's id, the same on every attempt of the event:
	// the request's idempotency key, also sent as the Idempotency-Key
	// header. A receiver may use it to recognise a request it has already
	// applied.
	ID string `json:"eventId"`
	// Type says what to do, such as "user.create".
	Type EventType `json:"eventType"`
	// Timestamp is when this attempt was sent, in UTC (RFC 3339 in JSON).
	// Retries of one event carry the same ID and a later Timestamp.
	Timestamp time.Time `json:"timestamp"`
	// Object is the object the event is about; nil only for the test
	// event.
	Object *Object `json:"object,omitempty"`
}

// Object is the object an event is about, as the hub holds it after the
// target's outbound mapping.
type Object struct {
	// Kind is "user" or "org".
	Kind sdk.Kind `json:"kind"`
	// HubID is the object's stable id in the hub, present in every event.
	// It is how a receiver recognises a create for an object it already
	// holds, and how it finds the object of an event that has no TargetID.
	HubID string `json:"hubId"`
	// TargetID is the application's own id of the object, as it answered
	// the create; empty in a create, and in a later event of an object the
	// hub never linked (a delete after a lost create answer): find the
	// object by HubID then.
	TargetID string `json:"targetId,omitempty"`
	// DisplayName names the object for people.
	DisplayName string `json:"displayName,omitempty"`
	// Attributes are the target attribute values: all mapped attributes in
	// a create or a full-sync update, the changed ones in an incremental
	// update, none in delete, disable and enable. A null value clears an
	// attribute.
	Attributes Attributes `json:"attributes,omitempty"`
	// Parent is an org's parent org, or a user's primary org; nil for a
	// root org or a user without an org.
	Parent *Ref `json:"parent,omitempty"`
	// Orgs are a user's org memberships, the primary one first.
	Orgs []Ref `json:"orgs,omitempty"`
	// Password is a user's plaintext password: only in user.create and
	// user.password events, only from a target with password sync on, and
	// only in encrypted requests. Never log it.
	Password string `json:"password,omitempty"`
}

// PasswordAttribute is the name under which an operation carries a
// plaintext password in its attributes. [NewEvent] never sends it as an
// attribute: the callback target moves it to [Object.Password] when
// password sync is on, and drops it otherwise.
const PasswordAttribute = "password"

// Ref names a related object (an org) by hub id and, once the application
// has answered its create, by the application's id.
type Ref struct {
	HubID    string `json:"hubId"`
	TargetID string `json:"targetId,omitempty"`
}

// NewEvent builds the event that applies op, sent at the time at. The
// attribute named [PasswordAttribute] is left out: see [Object.Password].
func NewEvent(op sdk.Operation, at time.Time) (*Event, error) {
	typ, err := TypeOf(op.Kind, op.Op)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", op.ID, err)
	}
	if op.ID == "" {
		return nil, fmt.Errorf("%s of %s: operation has no event id", typ, op.HubID)
	}
	if op.HubID == "" {
		return nil, fmt.Errorf("event %s: %s without a hub id", op.ID, typ)
	}
	obj := &Object{
		Kind:        op.Kind,
		HubID:       op.HubID,
		TargetID:    op.TargetID,
		DisplayName: op.DisplayName,
		Attributes:  FromValues(op.Attributes),
	}
	if _, ok := obj.Attributes[PasswordAttribute]; ok {
		delete(obj.Attributes, PasswordAttribute)
		if len(obj.Attributes) == 0 {
			obj.Attributes = nil
		}
	}
	if op.Parent != nil {
		obj.Parent = &Ref{HubID: op.Parent.HubID, TargetID: op.Parent.TargetID}
	}
	for _, o := range op.Orgs {
		obj.Orgs = append(obj.Orgs, Ref{HubID: o.HubID, TargetID: o.TargetID})
	}
	return &Event{Version: Version, ID: op.ID, Type: typ, Timestamp: stamp(at), Object: obj}, nil
}

// NewTestEvent builds the connectivity test event with event id id.
func NewTestEvent(id string, at time.Time) *Event {
	return &Event{Version: Version, ID: id, Type: EventTest, Timestamp: stamp(at)}
}

// stamp keeps a timestamp in UTC with millisecond precision.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Validate reports the first structural problem of ev: a version other
// than [Version] (as a [*VersionError]), no event id, an unknown type, or
// an object missing, without a hub id or of the wrong kind.
func (ev *Event) Validate() error {
	if ev.Version != Version {
		return &VersionError{Version: ev.Version}
	}
	if ev.ID == "" {
		return errors.New("event has no eventId")
	}
	if !ev.Type.Valid() {
		return fmt.Errorf("event %s: unknown eventType %q", ev.ID, ev.Type)
	}
	if ev.Type == EventTest {
		return nil
	}
	switch {
	case ev.Object == nil:
		return fmt.Errorf("event %s: %s without an object", ev.ID, ev.Type)
	case ev.Object.HubID == "":
		return fmt.Errorf("event %s: object has no hubId", ev.ID)
	case ev.Object.Kind != ev.Type.Kind():
		return fmt.Errorf("event %s: object kind %q does not match eventType %q", ev.ID, ev.Object.Kind, ev.Type)
	}
	if ev.Object.Password != "" && ev.Type != EventUserCreate && ev.Type != EventUserPassword {
		return fmt.Errorf("event %s: a password in a %s event (only user.create and user.password carry one)", ev.ID, ev.Type)
	}
	if ev.Object.Parent != nil && ev.Object.Parent.HubID == "" {
		return fmt.Errorf("event %s: parent has no hubId", ev.ID)
	}
	for i, o := range ev.Object.Orgs {
		if o.HubID == "" {
			return fmt.Errorf("event %s: orgs[%d] has no hubId", ev.ID, i)
		}
	}
	return nil
}

// Operation converts ev back to the operation it was built from.
// Attribute values take the types of their JSON forms (see
// [Attributes.Values]): a datetime comes back as its RFC 3339 string. A
// password comes back as the attribute [PasswordAttribute].
func (ev *Event) Operation() (sdk.Operation, error) {
	if err := ev.Validate(); err != nil {
		return sdk.Operation{}, err
	}
	if ev.Type == EventTest {
		return sdk.Operation{}, errors.New("the test event is no operation")
	}
	attrs, err := ev.Object.Attributes.Values()
	if err != nil {
		return sdk.Operation{}, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	op := sdk.Operation{
		ID:          ev.ID,
		Op:          ev.Type.Op(),
		Kind:        ev.Object.Kind,
		HubID:       ev.Object.HubID,
		TargetID:    ev.Object.TargetID,
		DisplayName: ev.Object.DisplayName,
		Attributes:  attrs,
	}
	if ev.Object.Password != "" {
		if op.Attributes == nil {
			op.Attributes = sdk.Attributes{}
		}
		op.Attributes[PasswordAttribute] = sdk.String(ev.Object.Password)
	}
	if p := ev.Object.Parent; p != nil {
		op.Parent = &sdk.Ref{HubID: p.HubID, TargetID: p.TargetID}
	}
	for _, o := range ev.Object.Orgs {
		op.Orgs = append(op.Orgs, sdk.Ref{HubID: o.HubID, TargetID: o.TargetID})
	}
	return op, nil
}

// Clone returns a deep copy of ev.
func (ev *Event) Clone() *Event {
	c := *ev
	if ev.Object != nil {
		o := *ev.Object
		o.Attributes = ev.Object.Attributes.Clone()
		if o.Parent != nil {
			p := *o.Parent
			o.Parent = &p
		}
		o.Orgs = append([]Ref(nil), o.Orgs...)
		c.Object = &o
	}
	return &c
}

// VersionError reports an event of a wire format version this package
// does not speak. A receiver answers it with 400 so that the hub shows a
// permanent failure naming both versions.
type VersionError struct {
	// Version is the version the request carried, "" when it carried none.
	Version string
}

func (e *VersionError) Error() string {
	if e.Version == "" {
		return fmt.Sprintf("callback request carries no wire format version (this receiver speaks version %s)", Version)
	}
	return fmt.Sprintf("unsupported callback wire format version %q (this receiver speaks version %s)", e.Version, Version)
}
