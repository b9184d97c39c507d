package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// The receiver is the application: `midstream-bench receiver` runs it in
// its own process, built on sdk/receiver as a real application would be
// (bearer token, timestamp, nonce, signature and decryption checked on
// every request; batch requests read as sdk/receiver reads them), holding
// what it is sent in memory. Beside the callback
// endpoint it serves the bench's own endpoints under /bench/: its state,
// the time each request was acknowledged, the events of the full sync (for
// the raw sender to replay) and a reset.

// callbackPath is where the receiver takes callbacks.
const callbackPath = "/callback"

// ack is one answered event: a single request's, or one of a batch's.
type ack struct {
	// Key is the event id, "evt-<event id>": a single request's
	// Idempotency-Key, or the eventId of a batch answer's result.
	Key string `json:"key"`
	// AtUs is when the answer was written, in microseconds since the epoch.
	AtUs int64 `json:"at_us"`
	// Status is the event's HTTP status: the request's, or its result's in
	// a batch.
	Status int `json:"status"`
}

// ackLog is what /bench/acks serves: the requests answered, and the
// events they answered, in order.
type ackLog struct {
	Requests int   `json:"requests"`
	Acks     []ack `json:"acks"`
}

// heldObject is what the application holds for one object.
type heldObject struct {
	ID          string              `json:"id"`
	Kind        sdk.Kind            `json:"kind"`
	HubID       string              `json:"hubId"`
	DisplayName string              `json:"displayName"`
	Attributes  callback.Attributes `json:"attributes"`
	Parent      string              `json:"parent,omitempty"` // the parent's hub id
	Disabled    bool                `json:"disabled,omitempty"`
}

// app is the in-memory application. Its ids are derived from hub ids
// ("user-<hub id>"), so a replay of the same requests against a fresh app
// finds the target ids the events carry.
type app struct {
	mu      sync.Mutex
	objects map[string]*heldObject // by id
}

func newApp() *app { return &app{objects: map[string]*heldObject{}} }

func appID(kind sdk.Kind, hubID string) string { return string(kind) + "-" + hubID }

func (a *app) Lookup(_ context.Context, kind sdk.Kind, hubID string) (string, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := appID(kind, hubID)
	_, ok := a.objects[id]
	return id, ok, nil
}

func (a *app) Handle(_ context.Context, ev *callback.Event) (string, error) {
	obj := ev.Object
	if obj == nil {
		return "", nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	op := ev.Type.Op()
	if op == sdk.OpCreate {
		id := appID(obj.Kind, obj.HubID)
		if _, ok := a.objects[id]; ok {
			return "", receiver.Conflict("%s %s is already held", obj.Kind, obj.HubID)
		}
		o := &heldObject{ID: id, Kind: obj.Kind, HubID: obj.HubID, Attributes: callback.Attributes{}}
		o.merge(obj)
		a.objects[id] = o
		return id, nil
	}
	o, ok := a.objects[obj.TargetID]
	if !ok || o.Kind != obj.Kind {
		return "", fmt.Errorf("%w: no %s with id %q", receiver.ErrNotFound, obj.Kind, obj.TargetID)
	}
	switch op {
	case sdk.OpDelete:
		delete(a.objects, o.ID)
	case sdk.OpDisable:
		o.Disabled = true
	case sdk.OpEnable:
		o.Disabled = false
	case sdk.OpMove:
		o.Parent = ""
		o.merge(obj)
	default:
		o.merge(obj)
	}
	return o.ID, nil
}

func (o *heldObject) merge(obj *callback.Object) {
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
		o.Parent = obj.Parent.HubID
	}
}

// recorder wraps the sdk/receiver handler to note when each event was
// answered and, while capture is on, to keep each request as it came, for
// the raw sender to replay its events. Decoding them again is left for
// later (events): a real application keeps no such copy, and the copy is
// not to cost the full sync it measures.
type recorder struct {
	h        http.Handler
	mu       sync.Mutex
	requests int
	acks     []ack
	capture  bool
	captured []capturedRequest
}

// capturedRequest is a request as it came: its headers and body.
type capturedRequest struct {
	header http.Header
	body   []byte
}

// statusWriter notes the status of an answer and, when body is set, keeps
// a copy of it.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   *bytes.Buffer
}

func (w *statusWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.body != nil {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	capture := rc.capture
	rc.mu.Unlock()
	var captured *capturedRequest
	if capture {
		body, err := io.ReadAll(io.LimitReader(r.Body, callback.DefaultMaxBodyBytes+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		captured = &capturedRequest{header: r.Header, body: body}
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	batch := callback.IsBatch(r.Header)
	if batch {
		// A batch's events are answered in its body.
		sw.body = &bytes.Buffer{}
	}
	rc.h.ServeHTTP(sw, r)
	at := time.Now().UnixMicro()
	var acks []ack
	if !batch {
		acks = []ack{{Key: r.Header.Get(callback.HeaderIdempotencyKey), AtUs: at, Status: sw.status}}
	} else if sw.status == http.StatusOK {
		var resp callback.BatchResponse
		if err := json.Unmarshal(sw.body.Bytes(), &resp); err == nil {
			for _, res := range resp.Results {
				acks = append(acks, ack{Key: res.EventID, AtUs: at, Status: res.StatusCode()})
			}
		}
	}
	rc.mu.Lock()
	rc.requests++
	rc.acks = append(rc.acks, acks...)
	if captured != nil {
		// Whatever the answer: what the receiver refused before the
		// application saw it, decodeCaptured refuses again.
		rc.captured = append(rc.captured, *captured)
	}
	rc.mu.Unlock()
}

// receiverOptions are what the receiver requires of requests.
type receiverOptions struct {
	token, encryptionKey, signatureKey string
}

func receiverMain(args []string) int {
	fs := flag.NewFlagSet("midstream-bench receiver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "the address to listen on")
	var o receiverOptions
	fs.StringVar(&o.token, "token", os.Getenv("BENCH_TOKEN"), "the bearer token (default $BENCH_TOKEN)")
	fs.StringVar(&o.encryptionKey, "encryption-key", os.Getenv("BENCH_ENCRYPTION_KEY"), "require bodies encrypted with this key (default $BENCH_ENCRYPTION_KEY)")
	fs.StringVar(&o.signatureKey, "signature-key", os.Getenv("BENCH_SIGNATURE_KEY"), "require HMAC signatures by this key (default $BENCH_SIGNATURE_KEY)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveReceiver(ctx, *addr, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		return 1
	}
	return 0
}

// serveReceiver listens on addr, prints "listening on ADDR" and serves
// until ctx ends.
func serveReceiver(ctx context.Context, addr string, o receiverOptions, out io.Writer) error {
	var (
		mu  sync.Mutex
		a   = newApp()
		rec *recorder
	)
	build := func(capture bool) error {
		h, err := receiver.New(receiver.Options{Token: o.token, App: a, EncryptionKey: o.encryptionKey, SignatureKey: o.signatureKey})
		if err != nil {
			return err
		}
		rec = &recorder{h: h, capture: capture}
		return nil
	}
	if err := build(true); err != nil {
		return err
	}
	current := func() (*app, *recorder) {
		mu.Lock()
		defer mu.Unlock()
		return a, rec
	}
	mux := http.NewServeMux()
	mux.HandleFunc(callbackPath, func(w http.ResponseWriter, r *http.Request) {
		_, rc := current()
		rc.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /bench/state", func(w http.ResponseWriter, _ *http.Request) {
		ap, _ := current()
		ap.mu.Lock()
		list := make([]*heldObject, 0, len(ap.objects))
		for _, o := range ap.objects {
			list = append(list, o)
		}
		writeJSON(w, list)
		ap.mu.Unlock()
	})
	mux.HandleFunc("GET /bench/acks", func(w http.ResponseWriter, _ *http.Request) {
		_, rc := current()
		rc.mu.Lock()
		log := ackLog{Requests: rc.requests, Acks: slices.Clone(rc.acks)}
		rc.mu.Unlock()
		writeJSON(w, log)
	})
	mux.HandleFunc("GET /bench/events", func(w http.ResponseWriter, _ *http.Request) {
		_, rc := current()
		rc.mu.Lock()
		captured := rc.captured
		rc.mu.Unlock()
		list, err := decodeCaptured(o, captured)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, list)
	})
	mux.HandleFunc("POST /bench/capture", func(w http.ResponseWriter, r *http.Request) {
		_, rc := current()
		rc.mu.Lock()
		rc.capture = r.URL.Query().Get("on") == "1"
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /bench/reset", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		a = newApp()
		err := build(false)
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// decodeCaptured decodes the events of captured requests, in order, as
// the receiver decoded them when they came: checked with a verifier whose
// clock reads each request's own timestamp. A request the receiver
// refused (a replayed nonce, say) is refused again and left out, as is a
// batch's event it could not read.
func decodeCaptured(o receiverOptions, captured []capturedRequest) ([]*callback.Event, error) {
	var at time.Time
	v, err := receiver.NewVerifier(receiver.Options{Token: o.token, EncryptionKey: o.encryptionKey, SignatureKey: o.signatureKey,
		Now: func() time.Time { return at }})
	if err != nil {
		return nil, err
	}
	var events []*callback.Event
	for _, c := range captured {
		ms, err := strconv.ParseInt(c.header.Get(callback.HeaderTimestamp), 10, 64)
		if err != nil {
			continue // refused when it came
		}
		at = time.UnixMilli(ms)
		r := &http.Request{Method: http.MethodPost, Header: c.header, Body: io.NopCloser(bytes.NewReader(c.body))}
		if !callback.IsBatch(c.header) {
			if ev, err := v.Decode(r); err == nil {
				events = append(events, ev)
			}
			continue
		}
		entries, err := v.DecodeBatch(r)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Event != nil {
				events = append(events, e.Event)
			}
		}
	}
	return events, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
