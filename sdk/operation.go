package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Op is what an operation does to an object in the application.
type Op string

// The operations a target applies (the names shown in events).
const (
	OpCreate   Op = "create"
	OpUpdate   Op = "update"
	OpDelete   Op = "delete"
	OpDisable  Op = "disable"
	OpEnable   Op = "enable"
	OpMove     Op = "move"
	OpPassword Op = "password"
)

// Valid reports whether o is one of the defined operations.
func (o Op) Valid() bool {
	switch o {
	case OpCreate, OpUpdate, OpDelete, OpDisable, OpEnable, OpMove, OpPassword:
		return true
	}
	return false
}

// Ref names an object both in the hub and in the application.
type Ref struct {
	// HubID is the hub's stable id of the object.
	HubID string
	// TargetID is the application's id of the object; empty when it is not
	// linked yet.
	TargetID string
}

// Operation is one change of one object to apply to a target.
type Operation struct {
	// ID is the sync event's id. It is the same on every attempt of the
	// event, so it serves as an idempotency key.
	ID string
	// Op is what to do.
	Op Op
	// Kind is the kind of object.
	Kind Kind
	// HubID is the hub's stable id of the object.
	HubID string
	// TargetID is the application's id of the object from its link; empty
	// for a create.
	TargetID string
	// DisplayName names the object for logs and for the application.
	DisplayName string
	// Attributes are the target attribute values to send: all mapped
	// attributes for a create or a full-sync update, the changed ones for an
	// incremental update, none for delete, disable and enable.
	Attributes Attributes
	// Parent is an org's parent org, or a user's primary org.
	Parent *Ref
	// Orgs are a user's org memberships, the primary one first.
	Orgs []Ref
}

// Outcome says what an operation did.
type Outcome string

// The outcomes of a successful operation.
const (
	// OutcomeApplied: the operation was applied as asked.
	OutcomeApplied Outcome = "applied"
	// OutcomeCreated: a create made a new object.
	OutcomeCreated Outcome = "created"
	// OutcomeMatched: a create found the object already there and applied
	// the create's values to it; the link is current.
	OutcomeMatched Outcome = "matched"
	// OutcomeMatchedStale: a create found the object already there but did
	// not apply the create's values; the host records no last-synced values
	// so that a full update follows.
	OutcomeMatchedStale Outcome = "matched_stale"
)

// Result is a successful operation's answer.
type Result struct {
	// TargetID is the application's id of the object. Required for a
	// create; for other operations an empty TargetID keeps the link's.
	TargetID string
	// Outcome says what the operation did. Empty means OutcomeApplied, or
	// OutcomeCreated for a create.
	Outcome Outcome
	// Status and BodyExcerpt describe the application's answer for the
	// event's record (HTTP status and the first bytes of the body).
	Status      int
	BodyExcerpt string
}

// Apply applies op to t the way every host must: a create on a target with
// lookup first looks the object up and, when found, is applied as an update
// of it and answered OutcomeMatched ("no duplicates"). It also
// fills the outcome and checks the result.
func Apply(ctx context.Context, t Target, op Operation) (Result, error) {
	if op.Op == OpCreate {
		if lt, ok := t.(TargetWithLookup); ok {
			id, found, err := lt.Lookup(ctx, op)
			if err != nil {
				return Result{}, err
			}
			if found {
				up := op
				up.Op = OpUpdate
				up.TargetID = id
				res, err := t.Apply(ctx, up)
				if err != nil {
					return Result{}, err
				}
				if res.TargetID == "" {
					res.TargetID = id
				}
				res.Outcome = OutcomeMatched
				return res, nil
			}
		}
	}
	res, err := t.Apply(ctx, op)
	if err != nil {
		return Result{}, err
	}
	if res.Outcome == "" {
		res.Outcome = OutcomeApplied
		if op.Op == OpCreate {
			res.Outcome = OutcomeCreated
		}
	}
	if op.Op == OpCreate && res.TargetID == "" {
		return Result{}, &Error{Category: CategoryPermanent, Message: fmt.Sprintf("create of %s %s returned no id", op.Kind, op.HubID)}
	}
	return res, nil
}

// Category classifies an operation's failure for the host's retry policy.
type Category string

// The failure categories.
const (
	// CategoryRetryable: transient (timeout, connection error, HTTP 5xx);
	// retried with backoff.
	CategoryRetryable Category = "retryable"
	// CategoryRateLimited: the application asked to slow down (HTTP 429, a
	// vendor's rate-limit code); retried after RetryAfter when given.
	CategoryRateLimited Category = "rate_limited"
	// CategoryPermanent: retrying cannot help (HTTP 4xx, bad data).
	CategoryPermanent Category = "permanent"
	// CategoryConflict: the application holds the object under an id the
	// hub does not know (an "already exists" answer); an operator links it.
	CategoryConflict Category = "conflict"
	// CategoryNotFound: the application does not hold the object the
	// operation names (it was deleted there, behind the hub's back). The
	// host forgets the link and creates the object again; a delete, or
	// the disable of an object gone from the hub, has nothing left to do.
	// Never returned for a create.
	CategoryNotFound Category = "not_found"
)

// Retryable reports whether the host should retry a failure of category c.
func (c Category) Retryable() bool {
	return c == CategoryRetryable || c == CategoryRateLimited
}

// Error is a typed data-path failure. Connectors return it from Apply (and
// may from Read) so the host can classify, retry and show it.
type Error struct {
	Category Category
	// Code and Message are the vendor's error code and message (DingTalk's
	// errcode and errmsg, a SCIM scimType and detail), when it gave them.
	Code    string
	Message string
	// HTTPStatus is the application's HTTP status, 0 when there was no
	// HTTP answer.
	HTTPStatus int
	// BodyExcerpt is the first bytes of the application's answer.
	BodyExcerpt string
	// RetryAfter is how long the application asked to wait, 0 when it did
	// not say.
	RetryAfter time.Duration
	// Err is the underlying error, if any. It does not cross the plugin
	// boundary; its text is kept in Message when Message is empty.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := string(e.Category)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		s += fmt.Sprintf(": code %s", e.Code)
	}
	if msg != "" {
		s += ": " + msg
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as an *Error: err itself when it is one (or wraps
// one), a retryable error for a cancelled context, and a permanent error
// carrying the text of any other error.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Category: CategoryRetryable, Message: err.Error(), Err: err}
	}
	var r retryabler
	if errors.As(err, &r) && r.Retryable() {
		return &Error{Category: CategoryRetryable, Message: err.Error(), Err: err}
	}
	return &Error{Category: CategoryPermanent, Message: err.Error(), Err: err}
}

// retryabler is implemented by errors that know they are transient, such
// as the plugin package's PluginCrashedError.
type retryabler interface{ Retryable() bool }
