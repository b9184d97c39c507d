package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

const token = "s3cret"

var at = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

type answer struct {
	Status     int
	RetryAfter string
	Body       callback.Response
}

// post sends ev (or, when raw is not empty, raw) to h as the connector
// would, with the headers changed by mod.
func post(t *testing.T, h http.Handler, ev *callback.Event, raw string, mod func(http.Header)) answer {
	t.Helper()
	enc := callback.Encoder{URL: "http://app.test/hook", Token: token}
	var r *http.Request
	if raw == "" {
		req, err := enc.NewRequest(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest(http.MethodPost, "/hook", req.Body)
		r.Header = req.Header
	} else {
		r = httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(raw))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("X-Midstream-Version", "1")
		r.Header.Set("X-Midstream-Timestamp", callback.FormatTimestamp(at))
		r.Header.Set("X-Midstream-Nonce", callback.NewNonce())
	}
	if mod != nil {
		mod(r.Header)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{Status: w.Code, RetryAfter: w.Header().Get("Retry-After")}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("answer Content-Type %q", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a.Body); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", w.Code, w.Body, err)
	}
	return a
}

func event(id string, typ callback.EventType, hubID, targetID string, attrs callback.Attributes) *callback.Event {
	return &callback.Event{
		Version: callback.Version, ID: id, Type: typ, Timestamp: at,
		Object: &callback.Object{Kind: typ.Kind(), HubID: hubID, TargetID: targetID, DisplayName: "Li Lei", Attributes: attrs},
	}
}

func newHandler(t *testing.T, app receiver.Application) *receiver.Handler {
	t.Helper()
	h, err := receiver.New(receiver.Options{Token: token, App: app, MaxBodyBytes: 4096, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNew(t *testing.T) {
	if _, err := receiver.New(receiver.Options{App: receiver.NewMemoryApp()}); err == nil {
		t.Errorf("New without a token succeeded")
	}
	if _, err := receiver.New(receiver.Options{Token: token}); err == nil {
		t.Errorf("New without an application succeeded")
	}
}

func TestRejectedRequests(t *testing.T) {
	create := event("e1", callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "lilei"})
	tests := map[string]struct {
		raw        string
		mod        func(http.Header)
		wantStatus int
		wantMsg    string
	}{
		"no token": {
			mod:        func(h http.Header) { h.Del("Authorization") },
			wantStatus: 401, wantMsg: "missing or wrong bearer token",
		},
		"wrong token": {
			mod:        func(h http.Header) { h.Set("Authorization", "Bearer nope") },
			wantStatus: 401, wantMsg: "missing or wrong bearer token",
		},
		"unknown version header": {
			mod:        func(h http.Header) { h.Set("X-Midstream-Version", "2") },
			wantStatus: 400, wantMsg: `unsupported callback wire format version "2" (this receiver speaks version 1)`,
		},
		"unknown version body": {
			raw:        `{"version":"2","eventId":"e","eventType":"test"}`,
			wantStatus: 400, wantMsg: `unsupported callback wire format version "2" (this receiver speaks version 1)`,
		},
		"not JSON": {
			raw:        `<xml/>`,
			wantStatus: 400, wantMsg: "callback body is not a JSON object",
		},
		"unknown event type": {
			raw:        `{"version":"1","eventId":"e","eventType":"user.rename","object":{"kind":"user","hubId":"h"}}`,
			wantStatus: 400, wantMsg: `event e: unknown eventType "user.rename"`,
		},
		"too large": {
			raw:        `{"version":"1","eventId":"e","eventType":"test","pad":"` + strings.Repeat("x", 5000) + `"}`,
			wantStatus: 413, wantMsg: "callback request body too large (over 4096 bytes)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			app := receiver.NewMemoryApp()
			got := post(t, newHandler(t, app), create, tt.raw, tt.mod)
			if got.Status != tt.wantStatus || got.Body.Status != callback.StatusError || !strings.HasPrefix(got.Body.Message, tt.wantMsg) {
				t.Errorf("answer %+v, want %d with message %q", got, tt.wantStatus, tt.wantMsg)
			}
			if n := len(app.Events()); n != 0 {
				t.Errorf("the application received %d events", n)
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		w := httptest.NewRecorder()
		newHandler(t, receiver.NewMemoryApp()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hook", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
			t.Errorf("GET answered %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
	})
	t.Run("WWW-Authenticate", func(t *testing.T) {
		w := httptest.NewRecorder()
		newHandler(t, receiver.NewMemoryApp()).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("{}")))
		if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("answered %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	})
}

func TestTestEvent(t *testing.T) {
	app := receiver.NewMemoryApp()
	got := post(t, newHandler(t, app), callback.NewTestEvent("t1", at), "", nil)
	if got.Status != 200 || got.Body.Status != callback.StatusOK {
		t.Errorf("test event answered %+v", got)
	}
	if n := len(app.Events()); n != 0 {
		t.Errorf("the test event reached the application (%d events)", n)
	}
}

func TestIdempotentCreate(t *testing.T) {
	app := receiver.NewMemoryApp()
	h := newHandler(t, app)

	first := post(t, h, event("e1", callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "lilei", "mail": "old@example.com", "title": "dev"}), "", nil)
	if diff := cmp.Diff(answer{Status: 200, Body: callback.Response{ID: "user-1", Status: callback.StatusOK}}, first); diff != "" {
		t.Fatalf("first create (-want +got):\n%s", diff)
	}

	// The answer was lost; the hub re-runs the event (same or new event id)
	// with today's values.
	for _, id := range []string{"e1", "e2"} {
		again := post(t, h, event(id, callback.EventUserCreate, "h1", "", callback.Attributes{"userName": "lilei", "mail": "new@example.com", "title": nil}), "", nil)
		if diff := cmp.Diff(answer{Status: 200, Body: callback.Response{ID: "user-1", Status: callback.StatusExists}}, again); diff != "" {
			t.Errorf("create %s again (-want +got):\n%s", id, diff)
		}
	}

	want := []receiver.MemoryObject{{
		ID: "user-1", Kind: sdk.KindUser, HubID: "h1", DisplayName: "Li Lei",
		Attributes: callback.Attributes{"userName": "lilei", "mail": "new@example.com"},
	}}
	if diff := cmp.Diff(want, app.Objects()); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if n := app.Ops("h1"); n != 3 {
		t.Errorf("Ops(h1) = %d, want 3", n)
	}
	var types []callback.EventType
	for _, ev := range app.Events() {
		types = append(types, ev.Type)
		if ev.Type == callback.EventUserUpdate && ev.Object.TargetID != "user-1" {
			t.Errorf("the update made of a create has target id %q", ev.Object.TargetID)
		}
	}
	if diff := cmp.Diff([]callback.EventType{"user.create", "user.update", "user.update"}, types); diff != "" {
		t.Errorf("the application saw (-want +got):\n%s", diff)
	}
}

func TestLifecycle(t *testing.T) {
	app := receiver.NewMemoryApp()
	h := newHandler(t, app)
	steps := []struct {
		name string
		ev   *callback.Event
		want answer
	}{
		{"create org", &callback.Event{Version: "1", ID: "e1", Type: callback.EventOrgCreate, Timestamp: at,
			Object: &callback.Object{Kind: sdk.KindOrg, HubID: "o1", DisplayName: "R&D"}},
			answer{Status: 200, Body: callback.Response{ID: "org-1", Status: "ok"}}},
		{"create org 2", &callback.Event{Version: "1", ID: "e2", Type: callback.EventOrgCreate, Timestamp: at,
			Object: &callback.Object{Kind: sdk.KindOrg, HubID: "o2", DisplayName: "Ops"}},
			answer{Status: 200, Body: callback.Response{ID: "org-2", Status: "ok"}}},
		{"create user", func() *callback.Event {
			ev := event("e3", callback.EventUserCreate, "u1", "", callback.Attributes{"userName": "lilei"})
			ev.Object.Parent = &callback.Ref{HubID: "o1", TargetID: "org-1"}
			ev.Object.Orgs = []callback.Ref{{HubID: "o1", TargetID: "org-1"}}
			return ev
		}(), answer{Status: 200, Body: callback.Response{ID: "user-3", Status: "ok"}}},
		{"update", event("e4", callback.EventUserUpdate, "u1", "user-3", callback.Attributes{"mail": "li@example.com"}),
			answer{Status: 200, Body: callback.Response{ID: "user-3", Status: "ok"}}},
		{"update without target id", event("e5", callback.EventUserUpdate, "u1", "", callback.Attributes{"title": "dev"}),
			answer{Status: 200, Body: callback.Response{ID: "user-3", Status: "ok"}}},
		{"disable", event("e6", callback.EventUserDisable, "u1", "user-3", nil),
			answer{Status: 200, Body: callback.Response{ID: "user-3", Status: "ok"}}},
		{"move", func() *callback.Event {
			ev := event("e7", callback.EventUserMove, "u1", "user-3", nil)
			ev.Object.Parent = &callback.Ref{HubID: "o2", TargetID: "org-2"}
			ev.Object.Orgs = []callback.Ref{{HubID: "o2", TargetID: "org-2"}}
			return ev
		}(), answer{Status: 200, Body: callback.Response{ID: "user-3", Status: "ok"}}},
		{"update unknown", event("e8", callback.EventUserUpdate, "nobody", "", nil),
			answer{Status: 404, Body: callback.Response{Status: "error", Code: "not_found", Message: "object not found: no user with hub id nobody"}}},
		{"delete unknown", event("e9", callback.EventUserDelete, "nobody", "", nil),
			answer{Status: 200, Body: callback.Response{Status: "ok", Message: "not held"}}},
		{"delete unknown target id", event("e10", callback.EventUserDelete, "nobody", "user-99", nil),
			answer{Status: 200, Body: callback.Response{Status: "ok", Message: "not held"}}},
	}
	for _, s := range steps {
		got := post(t, h, s.ev, "", nil)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	want := receiver.MemoryObject{
		ID: "user-3", Kind: sdk.KindUser, HubID: "u1", DisplayName: "Li Lei",
		Attributes: callback.Attributes{"userName": "lilei", "mail": "li@example.com", "title": "dev"},
		Parent:     &callback.Ref{HubID: "o2", TargetID: "org-2"},
		Orgs:       []callback.Ref{{HubID: "o2", TargetID: "org-2"}},
		Disabled:   true,
	}
	got, _ := app.Object("user-3")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}

	post(t, h, event("e11", callback.EventUserEnable, "u1", "user-3", nil), "", nil)
	if got, _ := app.ObjectByHubID(sdk.KindUser, "u1"); got.Disabled {
		t.Errorf("enable left the user disabled")
	}
	post(t, h, event("e12", callback.EventUserDelete, "u1", "", nil), "", nil)
	if _, ok := app.Object("user-3"); ok {
		t.Errorf("the deleted user is still held")
	}
	if n := len(app.Objects()); n != 2 {
		t.Errorf("%d objects left, want the 2 orgs", n)
	}
}

func TestApplicationErrors(t *testing.T) {
	tests := map[string]struct {
		err  error
		typ  callback.EventType
		want answer
	}{
		"retry later": {
			err:  receiver.RetryLater(90*time.Second+time.Millisecond, "database %s is down", "main"),
			want: answer{Status: 503, RetryAfter: "91", Body: callback.Response{Status: "error", Message: "database main is down"}},
		},
		"rate limited": {
			err:  &receiver.Error{Status: 429, RetryAfter: 7 * time.Second, Message: "slow down"},
			want: answer{Status: 429, RetryAfter: "7", Body: callback.Response{Status: "error", Message: "slow down"}},
		},
		"reject": {
			err:  receiver.Reject("E_MAIL", "mail %q is invalid", "x@"),
			want: answer{Status: 422, Body: callback.Response{Status: "error", Code: "E_MAIL", Message: `mail "x@" is invalid`}},
		},
		"conflict": {
			err:  receiver.Conflict("user name lilei is taken"),
			want: answer{Status: 409, Body: callback.Response{Status: "error", Message: "user name lilei is taken"}},
		},
		"not found": {
			err:  fmt.Errorf("user 7: %w", receiver.ErrNotFound),
			want: answer{Status: 404, Body: callback.Response{Status: "error", Code: "not_found", Message: "user 7: object not found"}},
		},
		"not found delete": {
			err:  receiver.ErrNotFound,
			typ:  callback.EventUserDelete,
			want: answer{Status: 200, Body: callback.Response{Status: "ok", Message: "not held"}},
		},
		"other error": {
			err:  errors.New("disk full"),
			want: answer{Status: 500, Body: callback.Response{Status: "error", Message: "disk full"}},
		},
		"error with a 2xx status": {
			err:  &receiver.Error{Status: 200, Message: "confused"},
			want: answer{Status: 500, Body: callback.Response{Status: "error", Message: "confused"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			app := receiver.NewMemoryApp()
			h := newHandler(t, app)
			post(t, h, event("e1", callback.EventUserCreate, "h1", "", nil), "", nil)
			app.FailNext(tt.err)
			typ := tt.typ
			if typ == "" {
				typ = callback.EventUserUpdate
			}
			got := post(t, h, event("e2", typ, "h1", "user-1", callback.Attributes{"x": "y"}), "", nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// noID is an application that forgets to return the id of what it created.
type noID struct{ *receiver.MemoryApp }

func (a noID) Handle(ctx context.Context, ev *callback.Event) (string, error) {
	_, err := a.MemoryApp.Handle(ctx, ev)
	return "", err
}

func TestCreateWithoutID(t *testing.T) {
	app := noID{receiver.NewMemoryApp()}
	h := newHandler(t, app)
	got := post(t, h, event("e1", callback.EventUserCreate, "h1", "", nil), "", nil)
	if got.Status != 500 {
		t.Errorf("a create answered without id: %+v, want 500 so that the hub retries", got)
	}
	// The retry finds the object and links it.
	got = post(t, h, event("e1", callback.EventUserCreate, "h1", "", nil), "", nil)
	if diff := cmp.Diff(answer{Status: 200, Body: callback.Response{ID: "user-1", Status: callback.StatusExists}}, got); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
}

// slowApp records how many Handle calls run at once per hub id.
type slowApp struct {
	*receiver.MemoryApp
	mu      sync.Mutex
	running map[string]int
	overlap bool
}

func (a *slowApp) Handle(ctx context.Context, ev *callback.Event) (string, error) {
	a.mu.Lock()
	a.running[ev.Object.HubID]++
	if a.running[ev.Object.HubID] > 1 {
		a.overlap = true
	}
	a.mu.Unlock()
	time.Sleep(time.Millisecond)
	defer func() { a.mu.Lock(); a.running[ev.Object.HubID]--; a.mu.Unlock() }()
	return a.MemoryApp.Handle(ctx, ev)
}

func TestConcurrentCreatesOfOneObject(t *testing.T) {
	app := &slowApp{MemoryApp: receiver.NewMemoryApp(), running: map[string]int{}}
	h := newHandler(t, app)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			hub := fmt.Sprintf("h%d", i%4)
			ev := event(fmt.Sprintf("e%d", i), callback.EventUserCreate, hub, "", callback.Attributes{"n": int64(i)})
			if got := post(t, h, ev, "", nil); got.Status != 200 {
				t.Errorf("create %d answered %+v", i, got)
			}
		})
	}
	wg.Wait()
	if app.overlap {
		t.Errorf("two events of one hub id ran at once")
	}
	if n := len(app.Objects()); n != 4 {
		t.Errorf("%d objects, want 4 (one per hub id)", n)
	}
}
