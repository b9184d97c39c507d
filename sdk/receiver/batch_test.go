package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// batchAnswer is a decoded answer to a batch request.
type batchAnswer struct {
	Status  int
	Results []callback.BatchResult
	Error   callback.Response // when Status is not 200
}

// postBatch sends evs to h in one batch request built by s (plain when s
// is nil), after tamper (when set) changed its body or headers.
func postBatch(t *testing.T, h http.Handler, s *sender, evs []*callback.Event, tamper func([]byte, http.Header) []byte) batchAnswer {
	t.Helper()
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: token}
	if s != nil {
		enc = s.enc
	}
	req, n, err := enc.NewBatchRequest(context.Background(), evs)
	if err != nil || n != len(evs) {
		t.Fatalf("NewBatchRequest: %d of %d events, %v", n, len(evs), err)
	}
	body, _ := io.ReadAll(req.Body)
	hdr := req.Header.Clone()
	if tamper != nil {
		body = tamper(body, hdr)
	}
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header = hdr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := batchAnswer{Status: w.Code}
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &a.Error); err != nil {
			t.Fatalf("answer %d %q is not JSON: %v", w.Code, w.Body, err)
		}
		return a
	}
	var resp callback.BatchResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("answer %q is not a batch answer: %v", w.Body, err)
	}
	a.Results = resp.Results
	return a
}

// hubFailures fails the events of chosen hub ids, and hands the others to
// a MemoryApp.
type hubFailures struct {
	*receiver.MemoryApp
	fail map[string]error
}

func (a hubFailures) Handle(ctx context.Context, ev *callback.Event) (string, error) {
	if err := a.fail[ev.Object.HubID]; err != nil {
		return "", err
	}
	return a.MemoryApp.Handle(ctx, ev)
}

func TestBatchMixedOutcomes(t *testing.T) {
	mem := receiver.NewMemoryApp()
	app := hubFailures{MemoryApp: mem, fail: map[string]error{
		"h-bad":   receiver.Reject("E_NAME", "user name %q is not acceptable", "li lei"),
		"h-later": receiver.RetryLater(30*time.Second, "database in maintenance"),
		"h-taken": receiver.Conflict("lilei is held by another account"),
	}}
	h := newHandler(t, app)
	evs := []*callback.Event{
		event("e1", callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "a"}),
		event("e2", callback.EventUserCreate, "h-bad", "", callback.Attributes{"userName": "li lei"}),
		event("e3", callback.EventUserCreate, "h3", "", callback.Attributes{"userName": "c"}),
		event("e4", callback.EventUserUpdate, "h-missing", "", callback.Attributes{"userName": "d"}),
		event("e5", callback.EventUserDelete, "h-gone", "", nil),
		event("e6", callback.EventUserCreate, "h-later", "", nil),
		event("e7", callback.EventUserCreate, "h-taken", "", nil),
		callback.NewTestEvent("e8", at),
	}
	a := postBatch(t, h, nil, evs, nil)
	want := []callback.BatchResult{
		{EventID: "e1", Status: callback.StatusOK, HTTPStatus: 200, ID: "user-1"},
		{EventID: "e2", Status: callback.StatusError, HTTPStatus: 422, Code: "E_NAME", Message: `user name "li lei" is not acceptable`},
		{EventID: "e3", Status: callback.StatusOK, HTTPStatus: 200, ID: "user-2"},
		{EventID: "e4", Status: callback.StatusError, HTTPStatus: 404, Code: "not_found", Message: "object not found: no user with hub id h-missing"},
		{EventID: "e5", Status: callback.StatusOK, HTTPStatus: 200, Message: "not held"},
		{EventID: "e6", Status: callback.StatusError, HTTPStatus: 503, Message: "database in maintenance", RetryAfter: 30},
		{EventID: "e7", Status: callback.StatusError, HTTPStatus: 409, Message: "lilei is held by another account"},
		{EventID: "e8", Status: callback.StatusOK, HTTPStatus: 200, Message: "test event received"},
	}
	if a.Status != http.StatusOK {
		t.Fatalf("answer %d: %+v", a.Status, a.Error)
	}
	if diff := cmp.Diff(want, a.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// The failed event left nothing; the others were applied.
	var held []string
	for _, o := range mem.Objects() {
		held = append(held, o.HubID)
	}
	if diff := cmp.Diff([]string{"h1", "h3"}, held); diff != "" {
		t.Errorf("objects held (-want +got):\n%s", diff)
	}
}

// TestBatchOrder: the events of a batch are applied in order, so a batch
// may carry a create and a later event of the same object.
func TestBatchOrder(t *testing.T) {
	app := receiver.NewMemoryApp()
	h := newHandler(t, app)
	a := postBatch(t, h, nil, []*callback.Event{
		event("e1", callback.EventOrgCreate, "o1", "", callback.Attributes{"name": "R&D"}),
		event("e2", callback.EventOrgUpdate, "o1", "", callback.Attributes{"name": "Research"}),
		event("e3", callback.EventOrgDisable, "o1", "", nil),
	}, nil)
	for _, r := range a.Results {
		if r.Status != callback.StatusOK || r.ID != "org-1" {
			t.Errorf("result %+v", r)
		}
	}
	o, ok := app.ObjectByHubID(sdk.KindOrg, "o1")
	if !ok || o.Attributes.String("name") != "Research" || !o.Disabled {
		t.Errorf("org %+v (held: %t)", o, ok)
	}
}

// TestBatchIdempotent: a batch sent again (after a lost answer), or a
// later batch holding an event already applied, applies no create twice:
// the create is answered "exists" with the id given before.
func TestBatchIdempotent(t *testing.T) {
	app := receiver.NewMemoryApp()
	h := newHandler(t, app)
	first := []*callback.Event{
		event("e1", callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "a"}),
		event("e2", callback.EventUserCreate, "h2", "", callback.Attributes{"userName": "b"}),
	}
	a := postBatch(t, h, nil, first, nil)
	if a.Results[0].ID != "user-1" || a.Results[1].ID != "user-2" {
		t.Fatalf("first batch: %+v", a.Results)
	}
	// The retry regroups: e2 again, with a new event.
	a = postBatch(t, h, nil, []*callback.Event{
		event("e2", callback.EventUserCreate, "h2", "", callback.Attributes{"userName": "b2"}),
		event("e3", callback.EventUserCreate, "h3", "", callback.Attributes{"userName": "c"}),
	}, nil)
	want := []callback.BatchResult{
		{EventID: "e2", Status: callback.StatusExists, HTTPStatus: 200, ID: "user-2"},
		{EventID: "e3", Status: callback.StatusOK, HTTPStatus: 200, ID: "user-3"},
	}
	if diff := cmp.Diff(want, a.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if n := len(app.Objects()); n != 3 {
		t.Errorf("%d objects held, want 3", n)
	}
	if o, _ := app.ObjectByHubID(sdk.KindUser, "h2"); o.ID != "user-2" || o.Attributes.String("userName") != "b2" {
		t.Errorf("h2 is %+v: the resent create must update the object held", o)
	}
}

func TestBatchSecurity(t *testing.T) {
	mk := func(t *testing.T) (*receiver.Handler, *receiver.MemoryApp) {
		app := receiver.NewMemoryApp()
		h, err := receiver.New(receiver.Options{Token: token, App: app, EncryptionKey: encKey256, SignatureKey: sigKey, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		return h, app
	}
	s := newSender(t, token, callback.SealConfig{EncryptionKey: key(t, encKey256), HMACKey: []byte(sigKey)})
	evs := []*callback.Event{
		event("e1", callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "a"}),
		event("e2", callback.EventUserCreate, "h2", "", callback.Attributes{"userName": "b"}),
	}
	tests := map[string]struct {
		tamper func([]byte, http.Header) []byte
		status int
		code   string
	}{
		"signature of another body": {tamper: func(b []byte, _ http.Header) []byte {
			b[len(b)/2] ^= 1
			return b
		}, status: 401, code: callback.CodeInvalidSignature},
		"no signature": {tamper: func(b []byte, h http.Header) []byte {
			h.Del(callback.HeaderSignature)
			return b
		}, status: 401, code: callback.CodeInvalidSignature},
		"wrong token": {tamper: func(b []byte, h http.Header) []byte {
			h.Set("Authorization", "Bearer nope")
			return b
		}, status: 401, code: callback.CodeInvalidToken},
		"stale": {tamper: func(b []byte, h http.Header) []byte {
			h.Set(callback.HeaderTimestamp, callback.FormatTimestamp(at.Add(-time.Hour)))
			return b
		}, status: 401, code: callback.CodeStaleTimestamp},
		"another version": {tamper: func(b []byte, h http.Header) []byte {
			h.Set(callback.HeaderVersion, "2")
			return b
		}, status: 400, code: callback.CodeUnsupportedVersion},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h, app := mk(t)
			a := postBatch(t, h, s, evs, tt.tamper)
			if a.Status != tt.status || a.Error.Code != tt.code {
				t.Errorf("answer %d %+v, want %d %s", a.Status, a.Error, tt.status, tt.code)
			}
			if n := len(app.Events()); n != 0 {
				t.Errorf("the application received %d events of a refused batch", n)
			}
		})
	}
	t.Run("replayed", func(t *testing.T) {
		h, app := mk(t)
		var body []byte
		var hdr http.Header
		a := postBatch(t, h, s, evs, func(b []byte, h http.Header) []byte {
			body, hdr = bytes.Clone(b), h.Clone()
			return b
		})
		if a.Status != 200 || len(a.Results) != 2 {
			t.Fatalf("first answer %d %+v", a.Status, a)
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		r.Header = hdr
		if got := serve(t, h, r); got.Status != 401 || got.Body.Code != callback.CodeReplayedNonce {
			t.Errorf("replayed batch answered %+v", got)
		}
		if n := len(app.Events()); n != 2 {
			t.Errorf("the application received %d events, want the first batch's 2", n)
		}
	})
	t.Run("sealed round trip", func(t *testing.T) {
		h, app := mk(t)
		a := postBatch(t, h, s, evs, nil)
		if a.Status != 200 || a.Results[1].ID != "user-2" || len(app.Objects()) != 2 {
			t.Errorf("answer %+v, objects %d", a, len(app.Objects()))
		}
	})
}

// TestBatchBadEvents: an event the receiver cannot read fails alone; a
// body that is no batch fails whole.
func TestBatchBadEvents(t *testing.T) {
	app := receiver.NewMemoryApp()
	h := newHandler(t, app)
	raw := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		callback.SetBatchHeaders(r.Header, token)
		r.Header.Set(callback.HeaderTimestamp, callback.FormatTimestamp(at))
		r.Header.Set(callback.HeaderNonce, callback.NewNonce())
		return r
	}
	good := `{"version":"1","eventId":"e1","eventType":"org.create","timestamp":"2026-11-03T09:00:00Z","object":{"kind":"org","hubId":"o1"}}`
	w := httptest.NewRecorder()
	h.ServeHTTP(w, raw(`{"version":"1","events":[`+good+`,{"version":"1","eventId":"e2","eventType":"org.create"},{"version":"2","eventId":"e3"}]}`))
	var resp callback.BatchResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != 200 || len(resp.Results) != 3 {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	if r := resp.Results[0]; r.Status != callback.StatusOK || r.ID != "org-1" {
		t.Errorf("good event: %+v", r)
	}
	if r := resp.Results[1]; r.EventID != "e2" || r.HTTPStatus != 400 || r.Code != callback.CodeInvalidRequest {
		t.Errorf("event without an object: %+v", r)
	}
	if r := resp.Results[2]; r.EventID != "e3" || r.HTTPStatus != 400 || r.Code != callback.CodeUnsupportedVersion {
		t.Errorf("event of version 2: %+v", r)
	}
	for _, body := range []string{`{"version":"1","events":[]}`, `{"version":"1"}`, `not json`} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, raw(body))
		var e callback.Response
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Code != callback.CodeInvalidRequest {
			t.Errorf("%s: answer %d %s", body, w.Code, w.Body)
		}
	}
	// MaxBodyBytes (4096 here) bounds the whole batch.
	big := `{"version":"1","events":[` + strings.TrimSuffix(strings.Repeat(good+",", 40), ",") + `]}`
	w = httptest.NewRecorder()
	h.ServeHTTP(w, raw(big))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("batch over the body limit: answer %d %s", w.Code, w.Body)
	}
}

// TestVerifierDecodeBatch: applications that answer requests themselves
// read batches with DecodeBatch; Decode refuses them with a clear answer.
func TestVerifierDecodeBatch(t *testing.T) {
	v, err := receiver.NewVerifier(receiver.Options{Token: token, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: token}
	evs := []*callback.Event{event("e1", callback.EventUserDelete, "h1", "7", nil), event("e2", callback.EventUserDelete, "h2", "8", nil)}
	request := func() *http.Request {
		req, _, err := enc.NewBatchRequest(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", req.Body)
		r.Header = req.Header
		return r
	}
	entries, err := v.DecodeBatch(request())
	if err != nil || len(entries) != 2 || entries[1].Event.Object.TargetID != "8" {
		t.Fatalf("DecodeBatch: %v, %+v", err, entries)
	}
	_, err = v.Decode(request())
	var e *receiver.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != callback.CodeInvalidRequest || !errors.Is(err, callback.ErrBatch) {
		t.Errorf("Decode of a batch: %v", err)
	}
	r := request()
	r.Header.Set("Authorization", "Bearer nope")
	if _, err := v.DecodeBatch(r); !errors.As(err, &e) || e.Status != 401 {
		t.Errorf("DecodeBatch with a wrong token: %v", err)
	}
}

// TestBatchesOfOneObjectConcurrently: concurrent batches holding events of
// one object apply them one at a time, as single requests do.
func TestBatchesOfOneObjectConcurrently(t *testing.T) {
	app := &slowApp{MemoryApp: receiver.NewMemoryApp(), running: map[string]int{}}
	h := newHandler(t, app)
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: token}
	var reqs []*http.Request
	for i := range 8 {
		req, _, err := enc.NewBatchRequest(context.Background(), []*callback.Event{
			event(fmt.Sprintf("e%d", i), callback.EventUserCreate, "h1", "", nil),
			event(fmt.Sprintf("f%d", i), callback.EventUserCreate, fmt.Sprintf("h%d", i+2), "", nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/hook", req.Body)
		r.Header = req.Header
		reqs = append(reqs, r)
	}
	answers := make([]*httptest.ResponseRecorder, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		answers[i] = httptest.NewRecorder()
		wg.Go(func() { h.ServeHTTP(answers[i], r) })
	}
	wg.Wait()
	if app.overlap {
		t.Errorf("two events of one hub id ran at once")
	}
	h1, _ := app.ObjectByHubID(sdk.KindUser, "h1")
	created := 0
	for _, w := range answers {
		var resp callback.BatchResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Results) != 2 {
			t.Fatalf("answer %d %s", w.Code, w.Body)
		}
		if r := resp.Results[0]; r.ID != h1.ID || r.HTTPStatus != 200 {
			t.Errorf("result %+v, want h1's id %q", r, h1.ID)
		}
		if resp.Results[0].Status == callback.StatusOK {
			created++
		}
	}
	if created != 1 || len(app.Objects()) != 9 {
		t.Errorf("%d creates of h1 answered ok, %d objects held; want 1 and 9", created, len(app.Objects()))
	}
}
