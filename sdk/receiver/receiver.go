package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
)

// Application is what an application implements to receive callbacks.
// Both methods may be called concurrently, never for the same hub id at
// once.
type Application interface {
	// Lookup returns the application's id of the object of kind kind that
	// it holds under hubID, and whether it holds one. The handler calls it
	// for every create (to recognise an object it already holds) and for
	// other events that arrive without a target id.
	Lookup(ctx context.Context, kind sdk.Kind, hubID string) (id string, found bool, err error)
	// Handle applies ev and returns the application's id of the object:
	// required for a create, optional otherwise (a non-empty id replaces
	// the hub's link). ev.Object.TargetID is set for every event but a
	// create. The handler never passes a create for a hub id that Lookup
	// finds: it passes an update with the create's values instead.
	// Return the errors of this package to choose the answer (see the
	// package documentation); ev must not be kept after Handle returns.
	Handle(ctx context.Context, ev *callback.Event) (id string, err error)
}

// Options configure a [Handler].
type Options struct {
	// Token is the bearer token the hub sends (the callback target's
	// token). Required: a request without it is answered 401.
	Token string
	// App receives the events. Required.
	App Application
	// Opener, when set, verifies and decrypts each body before it is
	// decoded (encryption and signatures, a later wire format version).
	Opener callback.Opener
	// MaxBodyBytes caps a request body; 0 means
	// callback.DefaultMaxBodyBytes. A larger body is answered 413.
	MaxBodyBytes int64
}

// Handler is the http.Handler that receives callbacks. It is safe for
// concurrent use.
type Handler struct {
	token string
	app   Application
	dec   callback.Decoder
	locks keyedMutex
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler receiving callbacks for opts.App.
func New(opts Options) (*Handler, error) {
	if opts.Token == "" {
		return nil, errors.New("receiver: a bearer token is required")
	}
	if opts.App == nil {
		return nil, errors.New("receiver: an application is required")
	}
	return &Handler{
		token: opts.Token,
		app:   opts.App,
		dec:   callback.Decoder{Opener: opts.Opener, MaxBodyBytes: opts.MaxBodyBytes},
	}, nil
}

// ServeHTTP checks, decodes and applies one callback request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Message: "callbacks are POST requests"})
		return
	}
	if !callback.CheckBearer(r.Header, h.token) {
		writeError(w, &Error{Status: http.StatusUnauthorized, Message: "missing or wrong bearer token"})
		return
	}
	ev, err := h.dec.Decode(r)
	if err != nil {
		writeError(w, decodeError(err))
		return
	}
	if ev.Type == callback.EventTest {
		writeJSON(w, http.StatusOK, callback.Response{Status: callback.StatusOK, Message: "test event received"})
		return
	}
	unlock, err := h.locks.lock(r.Context(), string(ev.Object.Kind)+"\x00"+ev.Object.HubID)
	if err != nil {
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Message: "request cancelled while waiting for an earlier event of the same object", Err: err})
		return
	}
	defer unlock()
	resp, err := h.apply(r.Context(), ev)
	if err != nil {
		writeError(w, asError(err))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// apply hands ev to the application with the rules of SPEC §4.
func (h *Handler) apply(ctx context.Context, ev *callback.Event) (callback.Response, error) {
	obj := ev.Object
	op := ev.Type.Op()
	if op == sdk.OpCreate {
		held, found, err := h.app.Lookup(ctx, obj.Kind, obj.HubID)
		if err != nil {
			return callback.Response{}, err
		}
		if found {
			// Already held: a create re-sent after a lost answer or a crash.
			// Apply its values as an update and answer the id given before.
			up := ev.Clone()
			up.Type, _ = callback.TypeOf(obj.Kind, sdk.OpUpdate)
			up.Object.TargetID = held
			id, err := h.app.Handle(ctx, up)
			if err != nil {
				return callback.Response{}, err
			}
			if id == "" {
				id = held
			}
			return callback.Response{ID: id, Status: callback.StatusExists}, nil
		}
		id, err := h.app.Handle(ctx, ev)
		if err != nil {
			return callback.Response{}, err
		}
		if id == "" {
			// Answered 500 so that the hub retries: the retry finds the
			// object by Lookup and links it.
			return callback.Response{}, fmt.Errorf("the application created %s %s but returned no id", obj.Kind, obj.HubID)
		}
		return callback.Response{ID: id, Status: callback.StatusOK}, nil
	}
	if obj.TargetID == "" {
		held, found, err := h.app.Lookup(ctx, obj.Kind, obj.HubID)
		if err != nil {
			return callback.Response{}, err
		}
		if !found {
			if op == sdk.OpDelete {
				return callback.Response{Status: callback.StatusOK, Message: "not held"}, nil
			}
			return callback.Response{}, fmt.Errorf("%w: no %s with hub id %s", ErrNotFound, obj.Kind, obj.HubID)
		}
		ev = ev.Clone()
		ev.Object.TargetID = held
	}
	id, err := h.app.Handle(ctx, ev)
	if err != nil {
		if op == sdk.OpDelete && errors.Is(err, ErrNotFound) {
			return callback.Response{Status: callback.StatusOK, Message: "not held"}, nil
		}
		return callback.Response{}, err
	}
	if id == "" {
		id = ev.Object.TargetID
	}
	return callback.Response{ID: id, Status: callback.StatusOK}, nil
}

// ErrNotFound is returned (or wrapped) by Handle when the application does
// not hold the event's object. It is answered 404, except for a delete,
// which it answers 200: the object is already gone.
var ErrNotFound = errors.New("object not found")

// Error is an error answer: Handle returns one (usually through
// [RetryLater], [Reject] or [Conflict]) to choose the HTTP status.
type Error struct {
	// Status is the HTTP status of the answer. 503 and 429 (and any 5xx)
	// make the hub retry; other 4xx are permanent failures.
	Status int
	// Code is the application's own error code, shown with the event.
	Code string
	// Message says what went wrong, shown with the event.
	Message string
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up): the hub waits that long before retrying.
	RetryAfter time.Duration
	// Err is the underlying error, if any; it is not sent.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// RetryLater asks the hub to retry after d (0: the hub's own backoff): the
// answer is 503 with Retry-After. Use it while a dependency is down or the
// application is overloaded.
func RetryLater(d time.Duration, format string, args ...any) error {
	return &Error{Status: http.StatusServiceUnavailable, Message: fmt.Sprintf(format, args...), RetryAfter: d}
}

// Reject refuses an event for good (invalid or unacceptable data): the
// answer is 422 with the message and the application's code (may be empty).
// The hub records a permanent failure; an operator fixes the data or the
// mapping and retries.
func Reject(code, format string, args ...any) error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Conflict refuses a create because the application already holds the
// object under another identity (a user name taken by an account not
// linked to this hub id): the answer is 409. The hub records a conflict
// for an operator to link.
func Conflict(format string, args ...any) error {
	return &Error{Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Status < 400 || e.Status > 599 {
			c := *e
			c.Status = http.StatusInternalServerError
			return &c
		}
		return e
	}
	if errors.Is(err, ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Message: err.Error(), Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusServiceUnavailable, Message: err.Error(), Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: err.Error(), Err: err}
}

func decodeError(err error) *Error {
	var ve *callback.VersionError
	switch {
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: "unsupported_version", Message: err.Error(), Err: err}
	case errors.Is(err, callback.ErrBodyTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: err.Error(), Err: err}
	case errors.Is(err, callback.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Message: err.Error(), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: err.Error(), Err: err}
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="midstream"`)
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set(callback.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	writeJSON(w, e.Status, callback.Response{Status: callback.StatusError, Code: e.Code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, resp callback.Response) {
	b, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", callback.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// keyedMutex serializes work per key; the entry of a key lives only while
// someone holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch      chan struct{}
	waiters int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.waiters++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; k.release(key, l) }, nil
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
}

func (k *keyedMutex) release(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l.waiters--
	if l.waiters == 0 {
		delete(k.m, key)
	}
}
