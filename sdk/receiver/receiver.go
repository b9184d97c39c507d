package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// Options configure a [Handler] or a [Verifier]. Copy the values from the
// hub's callback target block: what it sends, the receiver requires.
type Options struct {
	// Token is the bearer token the hub sends (the callback target's
	// token). Required: a request without it is answered 401.
	Token string
	// App receives the events. Required by [New], unused by
	// [NewVerifier].
	App Application

	// EncryptionKey is the target's encryption_key: 16 characters
	// (AES-128) or 64 hex characters (AES-256). When set, every request
	// must be encrypted with it; when empty, an encrypted request is
	// refused.
	EncryptionKey string
	// SignatureKey is the target's signature_key. When set, every request
	// must carry its HMAC-SHA256 signature.
	SignatureKey string
	// JWKSURL is where the hub publishes its public keys, such as
	// "https://hub.example.com/.well-known/jwks.json" (`midstream run`
	// serves it). When set, every request must carry a JWS signature by
	// one of them (signature = "jws" in the target). Keys are cached; an
	// unknown key id makes the handler read the JWKS again (at most every
	// 10 seconds), so a rotation on the hub needs nothing here.
	JWKSURL string
	// Keys, instead of JWKSURL, gives the hub's public keys directly: a
	// *callback.JWKS read from the file `midstream keys export` writes, or
	// any callback.KeySet. At most one of SignatureKey, JWKSURL and Keys
	// may be set.
	Keys callback.KeySet
	// HTTPClient fetches the JWKS; nil means a client with a 10-second
	// timeout.
	HTTPClient *http.Client

	// ReplayWindow is how far a request's timestamp may be from this
	// machine's clock, either way; 0 means 5 minutes. Keep clocks in sync
	// (NTP): a request outside the window is refused as stale.
	ReplayWindow time.Duration
	// Nonces remembers the nonces of accepted requests, so that a replayed
	// request is refused; nil means an in-memory cache, right for one
	// process. Applications running several instances behind a load
	// balancer share one store (such as Redis SET NX with an expiry).
	Nonces callback.NonceStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MaxBodyBytes caps a request body; 0 means
	// callback.DefaultMaxBodyBytes. A larger body is answered 413.
	MaxBodyBytes int64
}

// Verifier checks, verifies, decrypts and decodes callback requests,
// without applying them: the plain-function form of the [Handler], for
// applications that route and answer requests themselves. It is safe for
// concurrent use; keep one per target, since it remembers nonces and
// caches keys.
type Verifier struct {
	token string
	dec   callback.Decoder
}

// NewVerifier returns a verifier requiring what opts say (opts.App is not
// used).
func NewVerifier(opts Options) (*Verifier, error) {
	if opts.Token == "" {
		return nil, errors.New("receiver: a bearer token is required")
	}
	cfg := callback.VerifyConfig{Window: opts.ReplayWindow, Nonces: opts.Nonces, Now: opts.Now}
	if cfg.Nonces == nil {
		cfg.Nonces = &callback.NonceCache{Now: opts.Now}
	}
	if opts.EncryptionKey != "" {
		k, err := callback.ParseEncryptionKey(opts.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("receiver: encryption key: %w", err)
		}
		cfg.EncryptionKey = k
	}
	n := 0
	if opts.SignatureKey != "" {
		n++
		cfg.HMACKey = []byte(strings.TrimSpace(opts.SignatureKey))
	}
	if opts.JWKSURL != "" {
		n++
		u, err := url.Parse(opts.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("receiver: the JWKS URL %q is not an http(s) URL", opts.JWKSURL)
		}
		cfg.Keys = &JWKSClient{URL: opts.JWKSURL, Client: opts.HTTPClient, Now: opts.Now}
	}
	if opts.Keys != nil {
		n++
		cfg.Keys = opts.Keys
	}
	if n > 1 {
		return nil, errors.New("receiver: set one of SignatureKey, JWKSURL and Keys: a request carries one signature")
	}
	v, err := callback.NewVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	return &Verifier{token: opts.Token, dec: callback.Decoder{Opener: v, MaxBodyBytes: opts.MaxBodyBytes}}, nil
}

// Decode checks request r's bearer token, timestamp, nonce and signature,
// decrypts its body and decodes its event. A failure is an [*Error]
// whose Status and Code are the answer to give (see [WriteError]): 401
// invalid_token, invalid_signature, unknown_key, stale_timestamp or
// replayed_nonce; 400 decryption_failed, encryption_required,
// invalid_request or unsupported_version; 413 for a body too large; 503
// keys_unavailable when the hub's JWKS cannot be read.
func (v *Verifier) Decode(r *http.Request) (*callback.Event, error) {
	if !callback.CheckBearer(r.Header, v.token) {
		return nil, &Error{Status: http.StatusUnauthorized, Code: callback.CodeInvalidToken, Message: "missing or wrong bearer token"}
	}
	ev, err := v.dec.Decode(r)
	if err != nil {
		return nil, decodeError(err)
	}
	return ev, nil
}

// DecodeBatch checks batch request r's bearer token, timestamp, nonce and
// signature, decrypts its body once and decodes its events. A failure of
// the whole request is an [*Error], as [Verifier.Decode] returns; an event
// that cannot be read fails alone, in its entry's Err, an [*Error] too
// (answer it with [ResultOf]).
func (v *Verifier) DecodeBatch(r *http.Request) ([]callback.BatchEntry, error) {
	if !callback.CheckBearer(r.Header, v.token) {
		return nil, &Error{Status: http.StatusUnauthorized, Code: callback.CodeInvalidToken, Message: "missing or wrong bearer token"}
	}
	entries, err := v.dec.DecodeBatch(r)
	if err != nil {
		return nil, decodeError(err)
	}
	for i := range entries {
		if entries[i].Err != nil {
			entries[i].Err = decodeError(entries[i].Err)
		}
	}
	return entries, nil
}

// Handler is the http.Handler that receives callbacks. It is safe for
// concurrent use.
type Handler struct {
	v     *Verifier
	app   Application
	locks keyedMutex
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler receiving callbacks for opts.App.
func New(opts Options) (*Handler, error) {
	if opts.App == nil {
		return nil, errors.New("receiver: an application is required")
	}
	v, err := NewVerifier(opts)
	if err != nil {
		return nil, err
	}
	return &Handler{v: v, app: opts.App}, nil
}

// ServeHTTP checks, decodes and applies one callback request: one event,
// or a batch of them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, &Error{Status: http.StatusMethodNotAllowed, Message: "callbacks are POST requests"})
		return
	}
	if callback.IsBatch(r.Header) {
		h.serveBatch(w, r)
		return
	}
	ev, err := h.v.Decode(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp, err := h.handle(r.Context(), ev)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteResponse(w, http.StatusOK, resp)
}

// serveBatch applies the events of a batch one after the other, in order,
// and answers each event's result: one event's failure is its own.
func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request) {
	entries, err := h.v.DecodeBatch(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	results := make([]callback.BatchResult, len(entries))
	for i, e := range entries {
		if e.Err != nil {
			results[i] = ResultOf(e.ID, callback.Response{}, e.Err)
			continue
		}
		if err := r.Context().Err(); err != nil {
			// The hub gave up on the request (its timeout): nobody reads
			// the answer, and the rest is sent again.
			results[i] = ResultOf(e.ID, callback.Response{}, err)
			continue
		}
		resp, err := h.handle(r.Context(), e.Event)
		results[i] = ResultOf(e.ID, resp, err)
	}
	WriteBatchResponse(w, results)
}

// handle applies one decoded event, after any event of the same object
// that is being applied.
func (h *Handler) handle(ctx context.Context, ev *callback.Event) (callback.Response, error) {
	if ev.Type == callback.EventTest {
		return callback.Response{Status: callback.StatusOK, Message: "test event received"}, nil
	}
	unlock, err := h.locks.lock(ctx, string(ev.Object.Kind)+"\x00"+ev.Object.HubID)
	if err != nil {
		return callback.Response{}, &Error{Status: http.StatusServiceUnavailable, Message: "request cancelled while waiting for an earlier event of the same object", Err: err}
	}
	defer unlock()
	return h.apply(ctx, ev)
}

// apply hands ev to the application with the hub's delivery rules: at least once, no duplicates.
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
// not hold the event's object. It is answered 404 with code "not_found",
// and the hub creates the object again; a delete is answered 200: the
// object is already gone.
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
		return &Error{Status: http.StatusNotFound, Code: callback.CodeNotFound, Message: err.Error(), Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusServiceUnavailable, Message: err.Error(), Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: err.Error(), Err: err}
}

func decodeError(err error) *Error {
	var (
		ve  *callback.VersionError
		rej *callback.Rejection
	)
	switch {
	case errors.As(err, &rej):
		return &Error{Status: rej.Status, Code: rej.Code, Message: rej.Reason, Err: err}
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: callback.CodeUnsupportedVersion, Message: err.Error(), Err: err}
	case errors.Is(err, callback.ErrBodyTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error(), Err: err}
	case errors.Is(err, callback.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Message: err.Error(), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: callback.CodeInvalidRequest, Message: err.Error(), Err: err}
}

// WriteError answers a callback request with err in the wire format:
// the status, code and message of an [*Error] (as [Verifier.Decode] and
// the helpers of this package return), 404 for [ErrNotFound], 503 for a
// cancelled request, 500 for anything else.
func WriteError(w http.ResponseWriter, err error) {
	e := asError(err)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="midstream"`)
	}
	if secs := retryAfterSeconds(e.RetryAfter); secs > 0 {
		w.Header().Set(callback.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	WriteResponse(w, e.Status, callback.Response{Status: callback.StatusError, Code: e.Code, Message: msg})
}

// ResultOf returns the result of event eventID in the answer to a batch:
// resp when err is nil, else err as [WriteError] would answer it alone
// (its status, code, message and Retry-After).
func ResultOf(eventID string, resp callback.Response, err error) callback.BatchResult {
	if err == nil {
		st := resp.Status
		if st == "" {
			st = callback.StatusOK
		}
		return callback.BatchResult{EventID: eventID, Status: st, HTTPStatus: http.StatusOK, ID: resp.ID, Code: resp.Code, Message: resp.Message}
	}
	e := asError(err)
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return callback.BatchResult{EventID: eventID, Status: callback.StatusError, HTTPStatus: e.Status, Code: e.Code, Message: msg,
		RetryAfter: retryAfterSeconds(e.RetryAfter)}
}

// WriteBatchResponse answers a batch request: 200 with one result per
// event, in the request's order.
func WriteBatchResponse(w http.ResponseWriter, results []callback.BatchResult) {
	b, _ := json.Marshal(callback.BatchResponse{Results: results})
	w.Header().Set("Content-Type", callback.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// retryAfterSeconds rounds d up to whole seconds, as Retry-After carries
// it; 0 for none.
func retryAfterSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// WriteResponse answers a callback request with status and resp as JSON.
func WriteResponse(w http.ResponseWriter, status int, resp callback.Response) {
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
