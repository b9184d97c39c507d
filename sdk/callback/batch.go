package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// EventBatch is the X-Midstream-Event value of a batch request, whose body
// carries many events. It is never an event's eventType.
const EventBatch = "batch"

// MaxBatchEvents is the most events one batch request may carry; a
// receiver refuses a larger batch whole.
const MaxBatchEvents = 1000

// DefaultMaxBatchBytes caps the plain JSON body of a batch built by an
// [Encoder] whose MaxBatchBytes is zero. Sealed (base64 inside an
// envelope) it stays under 1 MiB, the request body limit of common
// front proxies (nginx's client_max_body_size default), and well under a
// [Decoder]'s [DefaultMaxBodyBytes].
const DefaultMaxBatchBytes = 512 << 10

// ErrBatch is returned by [Decoder.Decode] for a batch request: read those
// with [Decoder.DecodeBatch].
var ErrBatch = errors.New("a batch request (X-Midstream-Event: batch), which this receiver does not read: set the target's batch_size to 1, or accept batches")

// IsBatch reports whether the request with headers h is a batch request.
func IsBatch(h http.Header) bool { return h.Get(HeaderEvent) == EventBatch }

// batchPrefix opens a batch body; each element is then exactly the body
// [Marshal] gives the event, so a receiver decodes it as it decodes a
// single request.
const batchPrefix = `{"version":"` + Version + `","events":[`

// MarshalBatch encodes events as the plain JSON body of a batch request:
//
//	{"version":"1","events":[<event>,<event>,...]}
//
// where each <event> is exactly the bytes [Marshal] gives it.
func MarshalBatch(events []*Event) ([]byte, error) {
	b := []byte(batchPrefix)
	for i, ev := range events {
		if i > 0 {
			b = append(b, ',')
		}
		body, err := Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		b = append(b, body...)
	}
	return append(b, ']', '}'), nil
}

// SetBatchHeaders sets the headers of a plain batch request on h: version,
// X-Midstream-Event: batch, content type, user agent, and the bearer token
// when token is not empty. A batch has no Idempotency-Key nor
// X-Midstream-Hub-Id: each event carries its own eventId and hubId, and
// retries may group events differently.
func SetBatchHeaders(h http.Header, token string) {
	h.Set(HeaderContentType, ContentType)
	h.Set(HeaderUserAgent, UserAgent)
	h.Set(HeaderVersion, Version)
	h.Set(HeaderEvent, EventBatch)
	if token != "" {
		h.Set(HeaderAuthorization, "Bearer "+token)
	}
}

// NewBatchRequest builds the POST request carrying the longest prefix of
// events whose plain body stays within the Encoder's MaxBatchBytes
// (always at least the first event), and returns how many events it
// carries; the caller sends the rest in another request. The body is
// sealed once, as a whole.
//
// Every event must carry the same timestamp, when the batch is sent, which
// is also the X-Midstream-Timestamp; at most [MaxBatchEvents] are taken.
// As with NewRequest, a new attempt should be a new request.
func (e *Encoder) NewBatchRequest(ctx context.Context, events []*Event) (*http.Request, int, error) {
	if len(events) == 0 {
		return nil, 0, errors.New("a batch request needs at least one event")
	}
	limit := e.MaxBatchBytes
	if limit <= 0 {
		limit = DefaultMaxBatchBytes
	}
	at := events[0].Timestamp
	body := []byte(batchPrefix)
	n := 0
	for _, ev := range events[:min(len(events), MaxBatchEvents)] {
		if !ev.Timestamp.Equal(at) {
			return nil, 0, fmt.Errorf("event %s has timestamp %s, not the batch's %s: the events of a batch carry the time it is sent",
				ev.ID, ev.Timestamp.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
		}
		b, err := Marshal(ev)
		if err != nil {
			return nil, 0, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		if n > 0 && len(body)+1+len(b)+2 > limit {
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
		n++
	}
	body = append(body, ']', '}')
	h := make(http.Header)
	SetBatchHeaders(h, e.Token)
	nonce := NewNonce
	if e.Nonce != nil {
		nonce = e.Nonce
	}
	h.Set(HeaderTimestamp, FormatTimestamp(at))
	h.Set(HeaderNonce, nonce())
	if e.Sealer != nil {
		var err error
		if body, err = e.Sealer.Seal(body, h); err != nil {
			return nil, 0, fmt.Errorf("seal a batch of %d events: %w", n, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req, n, nil
}

// BatchEntry is one element of a decoded batch: its event, or why it
// could not be read.
type BatchEntry struct {
	// Event is the element's event, validated; nil when Err is set.
	Event *Event
	// ID is the element's eventId, when it has one, even if Err is set:
	// the key of its result.
	ID string
	// Err says why the element is not a valid event of this version (a
	// [*VersionError] for another version). It fails this event only.
	Err error
}

// UnmarshalBatch decodes a plain batch body. It fails when the body is not
// a batch of this version or holds no events or more than
// [MaxBatchEvents]; an element that is not a valid event fails alone, in
// its entry's Err.
func UnmarshalBatch(body []byte) ([]BatchEntry, error) {
	var b struct {
		Version json.RawMessage   `json:"version"`
		Events  []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("batch body is not a JSON object with an events array: %w", err)
	}
	var v string
	if len(b.Version) > 0 && json.Unmarshal(b.Version, &v) != nil {
		return nil, &VersionError{Version: string(b.Version)}
	}
	if v != Version {
		return nil, &VersionError{Version: v}
	}
	switch {
	case len(b.Events) == 0:
		return nil, errors.New("batch body holds no events")
	case len(b.Events) > MaxBatchEvents:
		return nil, fmt.Errorf("batch of %d events, more than the %d a batch may hold", len(b.Events), MaxBatchEvents)
	}
	entries := make([]BatchEntry, len(b.Events))
	seen := make(map[string]bool, len(b.Events))
	for i, raw := range b.Events {
		ev, err := Unmarshal(raw)
		if err != nil {
			var probe struct {
				ID string `json:"eventId"`
			}
			_ = json.Unmarshal(raw, &probe)
			entries[i] = BatchEntry{ID: probe.ID, Err: fmt.Errorf("events[%d]: %w", i, err)}
			continue
		}
		if seen[ev.ID] {
			entries[i] = BatchEntry{ID: ev.ID, Err: fmt.Errorf("events[%d]: event %s appears twice in the batch", i, ev.ID)}
			continue
		}
		seen[ev.ID] = true
		entries[i] = BatchEntry{Event: ev, ID: ev.ID}
	}
	return entries, nil
}

// DecodeBatch reads, opens and decodes the batch request r: the body is
// verified and decrypted once, as a whole. It requires X-Midstream-Event:
// batch and the X-Midstream-Version header to be [Version]. A failure of
// the whole request is an error (as [Decoder.Decode]'s); an element that
// is not a valid event, or whose timestamp is not X-Midstream-Timestamp,
// fails alone, in its entry. It does not check the bearer token.
func (d *Decoder) DecodeBatch(r *http.Request) ([]BatchEntry, error) {
	if !IsBatch(r.Header) {
		return nil, fmt.Errorf("header %s is %q, not %q: not a batch request", HeaderEvent, r.Header.Get(HeaderEvent), EventBatch)
	}
	body, err := d.read(r)
	if err != nil {
		return nil, err
	}
	entries, err := UnmarshalBatch(body)
	if err != nil {
		return nil, err
	}
	if ts := r.Header.Get(HeaderTimestamp); ts != "" {
		for i, e := range entries {
			if e.Event != nil && FormatTimestamp(e.Event.Timestamp) != ts {
				entries[i] = BatchEntry{ID: e.ID, Err: fmt.Errorf("events[%d]: event %s has timestamp %s, not the request's %s %s",
					i, e.ID, e.Event.Timestamp.Format(time.RFC3339Nano), HeaderTimestamp, ts)}
			}
		}
	}
	return entries, nil
}

// BatchResponse is the JSON body of the 200 answer to a batch request:
// one result per event, in the request's order, each naming the eventId
// it answers (required: results are matched by it, and an event without
// one is taken as not applied, and sent again).
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// BatchResult is one event's result in a [BatchResponse]: the [Response]
// the application would have answered the event alone with, its HTTP
// status, and the event id it answers.
type BatchResult struct {
	// EventID is the eventId of the event this result answers.
	EventID string `json:"eventId"`
	// Status is "ok", "exists" or "error"; empty means "ok" unless
	// HTTPStatus is an error status.
	Status Status `json:"status,omitempty"`
	// HTTPStatus is the status the event alone would have been answered
	// with; 0 means 200, or 500 when Status is "error". It is classified
	// as a single request's status is: 5xx and 429 are retried, 409 is a
	// conflict, other 4xx are permanent.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// ID is the application's id of the object, required when a create
	// succeeded.
	ID string `json:"id,omitempty"`
	// Code is the application's own error code, if any.
	Code string `json:"code,omitempty"`
	// Message says what happened, for people.
	Message string `json:"message,omitempty"`
	// RetryAfter, in whole seconds, asks the hub to wait before retrying
	// this event, as Retry-After would for a single request.
	RetryAfter int64 `json:"retryAfter,omitempty"`
}

// StatusCode returns the HTTP status r stands for: HTTPStatus, or its
// default.
func (r *BatchResult) StatusCode() int {
	switch {
	case r.HTTPStatus != 0:
		return r.HTTPStatus
	case r.Status == StatusError:
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// Response returns r as the answer to a single request would carry it.
func (r *BatchResult) Response() Response {
	return Response{ID: r.ID, Status: r.Status, Code: r.Code, Message: r.Message}
}

// UnmarshalJSON reads a result, accepting a number for id and code, as
// [Response] does.
func (r *BatchResult) UnmarshalJSON(b []byte) error {
	type plain BatchResult
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
	*r = BatchResult(raw.plain)
	r.ID, r.Code = id, code
	return nil
}

// UnmarshalBatchResponse decodes the answer to a batch request and
// returns the result of each event of ids, in that order, matched by
// event id: nil for an event the answer has no result for (a receiver
// short of time may leave out events it did not apply; they are retried).
// Results for other ids are ignored; the first of two for one id counts.
func UnmarshalBatchResponse(body []byte, ids []string) ([]*BatchResult, error) {
	var resp struct {
		Results *[]BatchResult `json:"results"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("the answer to a batch is not a JSON object with a results array: %w", err)
	}
	if resp.Results == nil {
		return nil, errors.New(`the answer to a batch has no "results" array`)
	}
	byID := make(map[string]*BatchResult, len(*resp.Results))
	for i := range *resp.Results {
		r := &(*resp.Results)[i]
		if _, dup := byID[r.EventID]; !dup {
			byID[r.EventID] = r
		}
	}
	out := make([]*BatchResult, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}
