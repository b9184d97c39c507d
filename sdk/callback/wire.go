package callback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// The HTTP headers of a callback request.
const (
	// HeaderAuthorization carries "Bearer <token>" when the target has a
	// token.
	HeaderAuthorization = "Authorization"
	// HeaderContentType is "application/json" for a plain body.
	HeaderContentType = "Content-Type"
	// HeaderIdempotencyKey carries the event id: the same on every attempt
	// of one sync event.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderVersion carries the wire format version, [Version].
	HeaderVersion = "X-Midstream-Version"
	// HeaderEvent carries the event type, such as "user.create", so a
	// receiver can route before decoding.
	HeaderEvent = "X-Midstream-Event"
	// HeaderHubID carries the object's hub id (absent for the test event).
	HeaderHubID = "X-Midstream-Hub-Id"
	// HeaderUserAgent names the sender: "Midstream-Callback/1".
	HeaderUserAgent = "User-Agent"
	// HeaderRetryAfter, in an answer, asks the hub to wait: a number of
	// seconds or an HTTP date.
	HeaderRetryAfter = "Retry-After"
)

// ContentType is the media type of a plain (unsealed) body.
const ContentType = "application/json"

// UserAgent is the User-Agent of callback requests.
const UserAgent = "Midstream-Callback/" + Version

// DefaultMaxBodyBytes is the largest request body a [Decoder] reads
// when its MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 4 << 20

// A Sealer is the last step of building a request: it may transform the
// marshalled body and add headers. Encryption and signatures are a Sealer
// ([NewSealer]); without one the body is plain JSON. Seal must not keep
// body or h after it returns.
type Sealer interface {
	Seal(body []byte, h http.Header) ([]byte, error)
}

// An Opener is a Sealer's inverse on the receiving side: it verifies and
// decrypts a body before it is unmarshalled ([Verifier]). An error it
// returns is answered with its status and code when it is a
// [*Rejection], with 401 when it wraps [ErrUnauthorized], else with 400.
type Opener interface {
	Open(ctx context.Context, body []byte, h http.Header) ([]byte, error)
}

// ErrUnauthorized is wrapped by errors of a missing or wrong credential
// (bearer token, signature, replay).
var ErrUnauthorized = errors.New("unauthorized")

// ErrBodyTooLarge is returned by [Decoder.Decode] for a body over its
// limit.
var ErrBodyTooLarge = errors.New("callback request body too large")

// Marshal encodes ev as a plain JSON body: compact, UTF-8, without
// escaping <, > and & (receivers parse it; nobody embeds it in HTML).
func Marshal(ev *Event) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Unmarshal decodes a plain JSON body and validates the event (see
// [Event.Validate]). Unknown fields are ignored, as the versioning rules
// require.
func Unmarshal(body []byte) (*Event, error) {
	// Check the version first, so that a later version whose body this
	// version cannot read is reported as such.
	var probe struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("callback body is not a JSON object: %w", err)
	}
	var v string
	if len(probe.Version) > 0 && json.Unmarshal(probe.Version, &v) != nil {
		return nil, &VersionError{Version: string(probe.Version)}
	}
	if v != Version {
		return nil, &VersionError{Version: v}
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("invalid callback body: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// SetHeaders sets the headers of a plain request carrying ev on h:
// version, event type, idempotency key, hub id, content type, user agent,
// and the bearer token when token is not empty.
func SetHeaders(h http.Header, ev *Event, token string) {
	h.Set(HeaderContentType, ContentType)
	h.Set(HeaderUserAgent, UserAgent)
	h.Set(HeaderVersion, ev.Version)
	h.Set(HeaderEvent, string(ev.Type))
	h.Set(HeaderIdempotencyKey, ev.ID)
	if ev.Object != nil {
		h.Set(HeaderHubID, ev.Object.HubID)
	}
	if token != "" {
		h.Set(HeaderAuthorization, "Bearer "+token)
	}
}

// An Encoder builds callback requests for one application.
type Encoder struct {
	// URL is the application's callback URL.
	URL string
	// Token is sent as a bearer token; empty sends no Authorization header.
	Token string
	// Sealer, when set, transforms each marshalled body and its headers
	// (encryption, signatures; see [NewSealer]).
	Sealer Sealer
	// Nonce returns each request's nonce; nil means [NewNonce]. Tests set
	// it to get reproducible requests.
	Nonce func() string
	// MaxBatchBytes caps the plain body of a batch request
	// ([Encoder.NewBatchRequest]); 0 means [DefaultMaxBatchBytes].
	MaxBatchBytes int
}

// NewRequest builds the POST request carrying ev, with the event's
// timestamp (in milliseconds) in X-Midstream-Timestamp and a fresh nonce
// in X-Midstream-Nonce. The request's GetBody is set, so a client may
// resend it; a new attempt of an event should be a new request (a new
// timestamp and nonce), since receivers refuse a nonce they have seen.
func (e *Encoder) NewRequest(ctx context.Context, ev *Event) (*http.Request, error) {
	body, err := Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	h := make(http.Header)
	SetHeaders(h, ev, e.Token)
	nonce := NewNonce
	if e.Nonce != nil {
		nonce = e.Nonce
	}
	h.Set(HeaderTimestamp, FormatTimestamp(ev.Timestamp))
	h.Set(HeaderNonce, nonce())
	if e.Sealer != nil {
		if body, err = e.Sealer.Seal(body, h); err != nil {
			return nil, fmt.Errorf("seal event %s: %w", ev.ID, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req, nil
}

// A Decoder reads callback requests. The zero Decoder reads plain JSON
// bodies of up to [DefaultMaxBodyBytes].
type Decoder struct {
	// Opener, when set, verifies and decrypts each body before it is
	// unmarshalled.
	Opener Opener
	// MaxBodyBytes caps the body read; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Decode reads, opens, unmarshals and validates the event of request r.
// Besides the body's own checks it requires the X-Midstream-Version header
// to be [Version] (a [*VersionError] otherwise), and the Idempotency-Key,
// X-Midstream-Event, X-Midstream-Hub-Id and X-Midstream-Timestamp headers,
// when present, to agree with the body. A batch request is [ErrBatch]:
// see [Decoder.DecodeBatch]. It does not check the bearer token: see
// [CheckBearer].
func (d *Decoder) Decode(r *http.Request) (*Event, error) {
	if IsBatch(r.Header) {
		return nil, ErrBatch
	}
	body, err := d.read(r)
	if err != nil {
		return nil, err
	}
	ev, err := Unmarshal(body)
	if err != nil {
		return nil, err
	}
	if k := r.Header.Get(HeaderIdempotencyKey); k != "" && k != ev.ID {
		return nil, fmt.Errorf("header %s %q does not match eventId %q", HeaderIdempotencyKey, k, ev.ID)
	}
	if t := r.Header.Get(HeaderEvent); t != "" && t != string(ev.Type) {
		return nil, fmt.Errorf("header %s %q does not match eventType %q", HeaderEvent, t, ev.Type)
	}
	if id := r.Header.Get(HeaderHubID); id != "" && (ev.Object == nil || id != ev.Object.HubID) {
		return nil, fmt.Errorf("header %s %q does not match the object's hubId", HeaderHubID, id)
	}
	if ts := r.Header.Get(HeaderTimestamp); ts != "" && !ev.Timestamp.IsZero() && ts != FormatTimestamp(ev.Timestamp) {
		return nil, fmt.Errorf("header %s %q does not match the event's timestamp %s", HeaderTimestamp, ts, ev.Timestamp.Format(time.RFC3339Nano))
	}
	return ev, nil
}

// read checks the version and content type of a request, reads its body
// within the limit and opens it.
func (d *Decoder) read(r *http.Request) ([]byte, error) {
	if v := r.Header.Get(HeaderVersion); v != Version {
		return nil, &VersionError{Version: v}
	}
	if d.Opener == nil {
		if ct := r.Header.Get(HeaderContentType); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt != ContentType {
				return nil, fmt.Errorf("content type %q is not %s", ct, ContentType)
			}
		}
	}
	limit := d.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read callback body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrBodyTooLarge, limit)
	}
	if d.Opener != nil {
		if body, err = d.Opener.Open(r.Context(), body, r.Header); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, and whether there was one. The scheme is case-insensitive.
func BearerToken(h http.Header) (string, bool) {
	scheme, tok, ok := strings.Cut(h.Get(HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// CheckBearer reports whether h carries the bearer token want, comparing
// in constant time (the lengths are hidden too).
func CheckBearer(h http.Header, want string) bool {
	got, ok := BearerToken(h)
	if !ok || want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// Status is a response's status.
type Status string

// The response statuses of version 1.
const (
	// StatusOK: the event was applied; a create made a new object.
	StatusOK Status = "ok"
	// StatusExists: a create found the object already there (the
	// application holds its hub id): the application applied the create's
	// values to it as an update and answers the id it gave before.
	StatusExists Status = "exists"
	// StatusError: the event failed; the HTTP status says how.
	StatusError Status = "error"
)

// Response is the JSON body an application answers with.
//
// For a create, a 2xx answer must carry ID. For other events ID is
// optional: when present and different from the linked one, it replaces
// it. An error answer (non-2xx) should carry Message, and may carry the
// application's own error Code; both are shown with the sync event.
//
// ID and Code are strings; a JSON number is accepted too and read as its
// text, since many applications number their objects.
type Response struct {
	// ID is the application's id of the object.
	ID string `json:"id,omitempty"`
	// Status is "ok", "exists" or "error"; empty means "ok" on 2xx.
	Status Status `json:"status,omitempty"`
	// Code is the application's own error code, if any.
	Code string `json:"code,omitempty"`
	// Message says what happened, for people.
	Message string `json:"message,omitempty"`
}

// UnmarshalJSON reads a response, accepting a number for id and code.
func (r *Response) UnmarshalJSON(b []byte) error {
	type plain Response
	var raw struct {
		plain
		ID   json.RawMessage `json:"id"`
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	id, code, err := idAndCode(raw.ID, raw.Code)
	if err != nil {
		return err
	}
	*r = Response(raw.plain)
	r.ID, r.Code = id, code
	return nil
}

// idAndCode reads the id and code of an answer, each a string or a number.
func idAndCode(id, code json.RawMessage) (string, string, error) {
	i, err := stringOrNumber("id", id)
	if err != nil {
		return "", "", err
	}
	c, err := stringOrNumber("code", code)
	return i, c, err
}

func stringOrNumber(name string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("response %s must be a string or a number, not %s", name, raw)
}
