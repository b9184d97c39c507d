package callback_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// spy sits in front of a receiver and notes each request: the hub ids it
// carries (plain bodies only), whether it was a batch, and how many
// requests were in flight at most.
type spy struct {
	h     http.Handler
	delay time.Duration

	mu       sync.Mutex
	requests [][]string // hub ids, per request
	batches  int
	inFlight int
	most     int
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var hubs []string
	if wire.IsBatch(r.Header) {
		if entries, err := wire.UnmarshalBatch(body); err == nil {
			for _, e := range entries {
				if e.Event != nil && e.Event.Object != nil {
					hubs = append(hubs, e.Event.Object.HubID)
				}
			}
		}
	} else if ev, err := wire.Unmarshal(body); err == nil && ev.Object != nil {
		hubs = append(hubs, ev.Object.HubID)
	}
	s.mu.Lock()
	s.requests = append(s.requests, hubs)
	if wire.IsBatch(r.Header) {
		s.batches++
	}
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.mu.Unlock()
	time.Sleep(s.delay)
	s.h.ServeHTTP(w, r)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
}

// plainPeer starts a receiver that reads plain requests behind a spy.
func plainPeer(t *testing.T, app receiver.Application, delay time.Duration) (*httptest.Server, *spy) {
	t.Helper()
	h, err := receiver.New(receiver.Options{Token: token, App: app})
	if err != nil {
		t.Fatal(err)
	}
	s := &spy{h: h, delay: delay}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

func plainBatching(url string, size int, wait string) map[string]any {
	return map[string]any{"url": url, "token": token, "encryption": "none", "batch_size": size, "batch_wait": wait}
}

func userCreate(i int) sdk.Operation {
	return sdk.Operation{ID: fmt.Sprintf("e%d", i), Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: fmt.Sprintf("u%d", i),
		Attributes: sdk.Attributes{"n": sdk.Int(int64(i))}}
}

// applyAll applies ops at once, as the host does with its operations in
// flight, and returns each one's result and error.
func applyAll(c *callback.Connector, ops []sdk.Operation) ([]sdk.Result, []error) {
	res, errs := make([]sdk.Result, len(ops)), make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() { res[i], errs[i] = sdk.Apply(context.Background(), c, op) })
	}
	wg.Wait()
	return res, errs
}

func TestConfigureBatch(t *testing.T) {
	type diag struct {
		Severity sdk.Severity
		Path     string
		Summary  string
	}
	base := map[string]any{"url": "https://app.example.com/hook", "token": token}
	with := func(kv ...any) map[string]any {
		v := secured(base)
		for i := 0; i < len(kv); i += 2 {
			v[kv[i].(string)] = kv[i+1]
		}
		return v
	}
	tests := map[string]struct {
		values   map[string]any
		maxBatch int
		want     []diag
	}{
		"default":           {values: with(), maxBatch: 1},
		"batches":           {values: with("batch_size", 100), maxBatch: 100},
		"batches and wait":  {values: with("batch_size", 1000, "batch_wait", "20ms"), maxBatch: 1000},
		"no wait":           {values: with("batch_size", 10, "batch_wait", "0s"), maxBatch: 10},
		"size 0":            {values: with("batch_size", 0), want: []diag{{sdk.SeverityError, "batch_size", "Invalid batch size"}}},
		"size over the max": {values: with("batch_size", 1001), want: []diag{{sdk.SeverityError, "batch_size", "Invalid batch size"}}},
		"negative wait": {values: with("batch_size", 10, "batch_wait", "-1ms"),
			want: []diag{{sdk.SeverityError, "batch_wait", "Invalid batch wait"}}},
		"long wait": {values: with("batch_size", 10, "batch_wait", "2s"),
			want: []diag{{sdk.SeverityError, "batch_wait", "Invalid batch wait"}}},
		"wait without batches": {values: with("batch_wait", "10ms"), maxBatch: 1,
			want: []diag{{sdk.SeverityWarning, "batch_wait", "Setting not used"}}},
		"oneaccess": {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "format": "oneaccess",
			"encryption_key": "0123456789abcdef", "signature_key": sigKey, "batch_size": 10},
			want: []diag{{sdk.SeverityError, "batch_size", "Batches need the midstream format"}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := callback.New()
			cfg, diags := sdk.NewConfig(c.Schema(), tt.values)
			var resp sdk.ConfigureResponse
			if !diags.HasError() {
				c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
				t.Cleanup(func() { _ = c.Close() })
			}
			var got []diag
			for _, d := range append(diags, resp.Diagnostics...) {
				got = append(got, diag{d.Severity, d.Path.String(), d.Summary})
				if d.Detail == "" {
					t.Errorf("%s: no detail", d.Summary)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if !resp.Diagnostics.HasError() && resp.MaxBatch != tt.maxBatch {
				t.Errorf("MaxBatch = %d, want %d", resp.MaxBatch, tt.maxBatch)
			}
		})
	}
}

// TestBatchedApplies: concurrent applies share requests, each caller gets
// its own object's id, and a request never exceeds batch_size.
func TestBatchedApplies(t *testing.T) {
	app := receiver.NewMemoryApp()
	srv, s := plainPeer(t, app, 0)
	c := configure(t, plainBatching(srv.URL, 10, "50ms"))
	ops := make([]sdk.Operation, 40)
	for i := range ops {
		ops[i] = userCreate(i)
	}
	res, errs := applyAll(c, ops)
	for i := range ops {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		o, ok := app.Object(res[i].TargetID)
		if !ok || o.HubID != ops[i].HubID || res[i].Outcome != sdk.OutcomeCreated || res[i].Status != 200 {
			t.Errorf("create %d: %+v, linking %+v", i, res[i], o)
		}
	}
	if n := len(s.requests); n > 8 || s.batches == 0 {
		t.Errorf("%d requests (%d batches) for 40 concurrent creates in batches of 10", n, s.batches)
	}
	for _, hubs := range s.requests {
		if len(hubs) > 10 {
			t.Errorf("a request of %d events, over batch_size", len(hubs))
		}
	}
	// A later event of each object, one at a time, goes alone in today's
	// format.
	before := s.batches
	up := sdk.Operation{ID: "e-up", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u3", TargetID: res[3].TargetID, Attributes: sdk.Attributes{"n": sdk.Int(33)}}
	if r := apply(t, c, up); r.TargetID != res[3].TargetID {
		t.Errorf("update: %+v", r)
	}
	if s.batches != before {
		t.Errorf("a lone event was sent as a batch")
	}
}

// TestBatchedAppliesSecured: encrypted and signed batches reach an
// sdk/receiver application, each sealed once.
func TestBatchedAppliesSecured(t *testing.T) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: token, App: app, EncryptionKey: encKey, SignatureKey: sigKey})
	if err != nil {
		t.Fatal(err)
	}
	var batches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wire.IsBatch(r.Header) {
			batches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := configure(t, secured(map[string]any{"url": srv.URL, "token": token, "batch_size": 8, "batch_wait": "50ms", "password_sync": true,
		"encryption_key": encKey, "signature_key": sigKey}))
	ops := make([]sdk.Operation, 16)
	for i := range ops {
		ops[i] = userCreate(i)
		ops[i].Attributes["password"] = sdk.String(fmt.Sprintf("pw-%d", i))
	}
	_, errs := applyAll(c, ops)
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	if batches.Load() == 0 {
		t.Errorf("no batch request was sent")
	}
	for i := range ops {
		if o, ok := app.ObjectByHubID(sdk.KindUser, ops[i].HubID); !ok || o.Password != fmt.Sprintf("pw-%d", i) {
			t.Errorf("user %d: %+v", i, o)
		}
	}
}

// TestBatchMixedResults: each event of a batch gets its own result,
// classified as its answer alone would be.
func TestBatchMixedResults(t *testing.T) {
	app := &failing{MemoryApp: receiver.NewMemoryApp(), fail: map[string]error{
		"u1": receiver.Reject("E_NAME", "name not acceptable"),
		"u2": receiver.RetryLater(30*time.Second, "maintenance"),
		"u3": receiver.Conflict("held by another account"),
		"u4": &receiver.Error{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Message: "slow down"},
	}}
	srv, s := plainPeer(t, app, 0)
	c := configure(t, plainBatching(srv.URL, 6, "1s"))
	ops := make([]sdk.Operation, 6)
	for i := range ops {
		ops[i] = userCreate(i)
	}
	// An update of an account the application no longer holds.
	ops[5] = sdk.Operation{ID: "e-gone", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u-gone", TargetID: "user-404"}
	res, errs := applyAll(c, ops)
	if len(s.requests) != 1 {
		t.Fatalf("%d requests, want the 6 events in one batch: %v", len(s.requests), s.requests)
	}
	type view struct {
		Category   sdk.Category
		HTTPStatus int
		Code       string
		Message    string
		RetryAfter time.Duration
	}
	want := map[int]view{
		1: {sdk.CategoryPermanent, 422, "E_NAME", "name not acceptable", 0},
		2: {sdk.CategoryRetryable, 503, "", "maintenance", 30 * time.Second},
		3: {sdk.CategoryConflict, 409, "", "held by another account", 0},
		4: {sdk.CategoryRateLimited, 429, "", "slow down", 7 * time.Second},
		5: {sdk.CategoryNotFound, 404, "not_found", `object not found: no user with id "user-404"`, 0},
	}
	for i := range ops {
		w, fails := want[i]
		if !fails {
			if errs[i] != nil || res[i].Outcome != sdk.OutcomeCreated || res[i].TargetID == "" {
				t.Errorf("create %d: %+v, %v", i, res[i], errs[i])
			}
			continue
		}
		var e *sdk.Error
		if !errors.As(errs[i], &e) {
			t.Errorf("create %d: %v, want an *sdk.Error", i, errs[i])
			continue
		}
		if diff := cmp.Diff(w, view{e.Category, e.HTTPStatus, e.Code, e.Message, e.RetryAfter}); diff != "" {
			t.Errorf("create %d (-want +got):\n%s", i, diff)
		}
		if !strings.Contains(e.BodyExcerpt, `"eventId":"`+ops[i].ID+`"`) {
			t.Errorf("create %d: body excerpt %q is not its own result", i, e.BodyExcerpt)
		}
	}
}

// failing fails the events of chosen hub ids.
type failing struct {
	*receiver.MemoryApp
	fail map[string]error
}

func (a *failing) Handle(ctx context.Context, ev *wire.Event) (string, error) {
	if err := a.fail[ev.Object.HubID]; err != nil {
		return "", err
	}
	return a.MemoryApp.Handle(ctx, ev)
}

// TestBatchWholeAnswers: an answer to the whole batch is every event's
// answer.
func TestBatchWholeAnswers(t *testing.T) {
	tests := map[string]struct {
		answer func(w http.ResponseWriter)
		check  func(t *testing.T, e *sdk.Error)
	}{
		"503 with Retry-After": {
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryRetryable || e.RetryAfter != 5*time.Second || e.HTTPStatus != 503 {
					t.Errorf("%+v, want retryable after 5s", e)
				}
			},
		},
		"429": {
			answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) },
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryRateLimited {
					t.Errorf("%+v, want rate limited", e)
				}
			},
		},
		"a receiver without batches": {
			answer: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"status":"error","code":"invalid_request","message":"event has no eventId"}`)
			},
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "batch_size = 1") || !strings.HasPrefix(e.Message, "event has no eventId") {
					t.Errorf("%+v, want permanent, saying to accept batches", e)
				}
			},
		},
		"a bad signature": {
			answer: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"status":"error","code":"invalid_signature","message":"no"}`)
			},
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryPermanent || strings.Contains(e.Message, "batch") {
					t.Errorf("%+v, want permanent, about the signature only", e)
				}
			},
		},
		"200, not a batch answer": {
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"id":"1","status":"ok"}`) },
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "one result per event") {
					t.Errorf("%+v, want permanent", e)
				}
			},
		},
		"200, results missing": {
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"results":[]}`) },
			check: func(t *testing.T, e *sdk.Error) {
				if e.Category != sdk.CategoryRetryable || !strings.Contains(e.Message, "no result for this event") {
					t.Errorf("%+v, want retryable", e)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if !wire.IsBatch(r.Header) {
					t.Errorf("a single request")
				}
				tt.answer(w)
			}))
			t.Cleanup(srv.Close)
			c := configure(t, plainBatching(srv.URL, 3, "1s"))
			_, errs := applyAll(c, []sdk.Operation{userCreate(1), userCreate(2), userCreate(3)})
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			for i, err := range errs {
				var e *sdk.Error
				if !errors.As(err, &e) {
					t.Fatalf("create %d: %v", i, err)
				}
				tt.check(t, e)
			}
		})
	}
}

// TestBatchInFlightBound: with concurrency × batch_size events held (what
// the host keeps in flight), no more than concurrency requests run at once.
func TestBatchInFlightBound(t *testing.T) {
	app := receiver.NewMemoryApp()
	srv, s := plainPeer(t, app, 20*time.Millisecond)
	const concurrency, size = 4, 5
	c := configure(t, plainBatching(srv.URL, size, "0s"))
	ops := make([]sdk.Operation, concurrency*size)
	for i := range ops {
		ops[i] = userCreate(i)
	}
	_, errs := applyAll(c, ops)
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	if s.most > concurrency {
		t.Errorf("%d requests in flight at once, over the %d that %d events in batches of %d allow", s.most, concurrency, len(ops), size)
	}
	if len(app.Objects()) != len(ops) {
		t.Errorf("%d objects, want %d", len(app.Objects()), len(ops))
	}
}

// TestBatchOneObject: two events of one object (which the host never has
// in flight together) never share a request, and go in order.
func TestBatchOneObject(t *testing.T) {
	app := receiver.NewMemoryApp()
	srv, s := plainPeer(t, app, 10*time.Millisecond)
	c := configure(t, plainBatching(srv.URL, 10, "30ms"))
	create := userCreate(1)
	first := make(chan error, 1)
	go func() { _, err := sdk.Apply(context.Background(), c, create); first <- err }()
	time.Sleep(5 * time.Millisecond) // the create is queued first
	up := sdk.Operation{ID: "e-up", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", Attributes: sdk.Attributes{"n": sdk.Int(2)}}
	_, errs := applyAll(c, []sdk.Operation{up, userCreate(2)})
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, hubs := range s.requests {
		n := 0
		for _, h := range hubs {
			if h == "u1" {
				n++
			}
		}
		if n > 1 {
			t.Errorf("a request carries u1 %d times: %v", n, hubs)
		}
	}
	if o, _ := app.ObjectByHubID(sdk.KindUser, "u1"); o.Attributes["n"] != int64(2) {
		t.Errorf("u1 holds %v: the update was not applied after the create", o.Attributes)
	}
}

// TestBatchCancel: a caller that gives up does not break the others,
// whether its event was waiting or already sent.
func TestBatchCancel(t *testing.T) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: token, App: app})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var (
		arrived atomic.Int64
		mu      sync.Mutex
		seen    []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		seen = append(seen, string(body))
		mu.Unlock()
		arrived.Add(1)
		<-release
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	c := configure(t, plainBatching(srv.URL, 3, "300ms"))

	type ret struct {
		res sdk.Result
		err error
	}
	start := func(ctx context.Context, op sdk.Operation) chan ret {
		ch := make(chan ret, 1)
		go func() { r, err := sdk.Apply(ctx, c, op); ch <- ret{r, err} }()
		return ch
	}
	// Three events fill a batch at once, which the application holds.
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	a1, a2, a3 := start(ctx1, userCreate(1)), start(context.Background(), userCreate(2)), start(context.Background(), userCreate(3))
	deadline := time.Now().Add(5 * time.Second)
	for arrived.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// A fourth waits for the next batch (up to batch_wait); its caller
	// gives up: it is never sent.
	ctx4, cancel4 := context.WithCancel(context.Background())
	a4 := start(ctx4, userCreate(4))
	time.Sleep(20 * time.Millisecond)
	cancel4()
	// The first gives up while its request is in flight: it is answered
	// at once, and the others still get theirs.
	cancel1()
	for i, ch := range []chan ret{a1, a4} {
		select {
		case r := <-ch:
			var e *sdk.Error
			if !errors.As(r.err, &e) || !e.Category.Retryable() {
				t.Errorf("cancelled caller %d got %+v, %v; want a retryable error", i, r.res, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("cancelled caller %d still waits", i)
		}
	}
	released = true
	close(release)
	for i, ch := range []chan ret{a2, a3} {
		if r := <-ch; r.err != nil || r.res.TargetID == "" {
			t.Errorf("create %d: %+v, %v", i+2, r.res, r.err)
		}
	}
	// The first caller's event was in the request: the application applied
	// it, and the host's retry links it.
	if _, ok := app.ObjectByHubID(sdk.KindUser, "u1"); !ok {
		t.Errorf("u1 was not applied")
	}
	if r := apply(t, c, userCreate(1)); r.Outcome != sdk.OutcomeMatched {
		t.Errorf("the retried create: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !strings.Contains(seen[0], `"hubId":"u1"`) || !strings.Contains(seen[0], `"hubId":"u3"`) {
		t.Errorf("requests %q, want the batch of u1..u3 and the retry of u1", seen)
	}
	for _, b := range seen {
		if strings.Contains(b, `"hubId":"u4"`) {
			t.Errorf("the event of a caller that had given up was sent")
		}
	}
}

// TestBatchBytes: a batch is cut before its JSON outgrows the limit; the
// rest follows in another request.
func TestBatchBytes(t *testing.T) {
	app := receiver.NewMemoryApp()
	srv, s := plainPeer(t, app, 0)
	c := configure(t, plainBatching(srv.URL, 50, "100ms"))
	ops := make([]sdk.Operation, 12)
	for i := range ops {
		ops[i] = userCreate(i)
		ops[i].Attributes["photo"] = sdk.String(strings.Repeat("x", 100<<10)) // 100 KiB: five per batch
	}
	_, errs := applyAll(c, ops)
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	if len(app.Objects()) != len(ops) {
		t.Errorf("%d objects, want %d", len(app.Objects()), len(ops))
	}
	if len(s.requests) < 3 {
		t.Errorf("%d requests for %d events of 100 KiB: batches were not cut at 512 KiB", len(s.requests), len(ops))
	}
	for _, hubs := range s.requests {
		if len(hubs) > 5 {
			t.Errorf("a request carries %d events of 100 KiB", len(hubs))
		}
	}
}

// TestBatchClose: events waiting for a batch when the target closes are
// answered, retryable.
func TestBatchClose(t *testing.T) {
	app := receiver.NewMemoryApp()
	srv, _ := plainPeer(t, app, 0)
	c, diags := tryConfigure(t, plainBatching(srv.URL, 10, "1s"), "")
	if diags.HasError() {
		t.Fatal(diags.Err())
	}
	done := make(chan error, 1)
	go func() { _, err := sdk.Apply(context.Background(), c, userCreate(1)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-done:
		var e *sdk.Error
		if !errors.As(err, &e) || !e.Category.Retryable() {
			t.Errorf("a waiting event at Close: %v, want retryable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting event was not answered at Close")
	}
	if len(app.Events()) != 0 {
		t.Errorf("the application received an event after Close")
	}
}

// TestBatchTestConnection: test-connection checks that the application
// reads batches.
func TestBatchTestConnection(t *testing.T) {
	peer, _ := newPeer(t, token)
	c := configure(t, secured(map[string]any{"url": peer.URL, "token": token, "encryption": "none", "signature": "none", "batch_size": 20}))
	var resp sdk.TestConnectionResponse
	c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
	if resp.Diagnostics.HasError() || !strings.Contains(resp.Detail, "batches of up to 20 events accepted") {
		t.Errorf("against sdk/receiver: %v, detail %q", resp.Diagnostics, resp.Detail)
	}

	// An application that reads single requests only.
	v, err := receiver.NewVerifier(receiver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	single := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Decode(r); err != nil {
			receiver.WriteError(w, err)
			return
		}
		receiver.WriteResponse(w, http.StatusOK, wire.Response{Status: wire.StatusOK})
	}))
	t.Cleanup(single.Close)
	c = configure(t, map[string]any{"url": single.URL, "token": token, "encryption": "none", "batch_size": 20})
	resp = sdk.TestConnectionResponse{}
	c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
	if len(resp.Diagnostics) == 0 || !resp.Diagnostics.HasError() {
		t.Fatalf("against a receiver without batches: no error (detail %q)", resp.Detail)
	}
	var found bool
	for _, d := range resp.Diagnostics {
		if d.Path.String() == "batch_size" && d.Summary == "Application does not accept batches" && strings.Contains(d.Detail, "HTTP 400") {
			found = true
		}
	}
	if !found {
		t.Errorf("diagnostics %v, want one at batch_size", resp.Diagnostics)
	}
}

func TestBatchResultJSON(t *testing.T) {
	// What the connector keeps of a batched event's answer is its own
	// result, as JSON.
	app := receiver.NewMemoryApp()
	srv, _ := plainPeer(t, app, 0)
	c := configure(t, plainBatching(srv.URL, 4, "100ms"))
	res, errs := applyAll(c, []sdk.Operation{userCreate(1), userCreate(2)})
	for i, r := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var got wire.BatchResult
		if err := json.Unmarshal([]byte(r.BodyExcerpt), &got); err != nil || got.EventID != fmt.Sprintf("e%d", i+1) || got.ID != r.TargetID {
			t.Errorf("create %d: body excerpt %q (%v)", i+1, r.BodyExcerpt, err)
		}
	}
}

// TestBatchTooLargeIsRetriedSmaller: an application that refuses a batch
// as too large (413) gets the events again in smaller batches; none of
// them fails for good.
func TestBatchTooLargeIsRetriedSmaller(t *testing.T) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: token, App: app, EncryptionKey: encKey, SignatureKey: sigKey, MaxBodyBytes: 6 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusRequestEntityTooLarge {
			refused.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	c := configure(t, secured(map[string]any{"url": srv.URL, "token": token, "batch_size": 32, "batch_wait": "50ms"}))
	ops := make([]sdk.Operation, 32)
	for i := range ops {
		ops[i] = userCreate(i)
	}
	// As the host does: a retryable failure is applied again.
	_, errs := applyAll(c, ops)
	for round := 0; round < 6; round++ {
		var again []int
		for i, err := range errs {
			if err == nil {
				continue
			}
			if se := sdk.AsError(err); !se.Category.Retryable() {
				t.Fatalf("create %d failed for good: %v", i, err)
			}
			again = append(again, i)
		}
		if len(again) == 0 {
			break
		}
		retry := make([]sdk.Operation, len(again))
		for j, i := range again {
			retry[j] = ops[i]
		}
		_, errs2 := applyAll(c, retry)
		for j, i := range again {
			errs[i] = errs2[j]
		}
	}
	if refused.Load() == 0 {
		t.Fatal("no batch was refused as too large: the test's body cap is too high")
	}
	for i := range ops {
		if _, ok := app.ObjectByHubID(sdk.KindUser, ops[i].HubID); !ok {
			t.Errorf("user %d never reached the application (errors: %v)", i, errs[i])
		}
	}
}
