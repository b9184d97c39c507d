package callback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk/callback"
)

// batchEvents returns n user creates sent at the same time.
func batchEvents(t *testing.T, n int) []*callback.Event {
	t.Helper()
	evs := make([]*callback.Event, n)
	for i := range evs {
		op := userCreate()
		op.ID = fmt.Sprintf("evt-%d", i+1)
		op.HubID = fmt.Sprintf("u_%d", i+1)
		ev, err := callback.NewEvent(op, at)
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}

func TestMarshalBatch(t *testing.T) {
	evs := batchEvents(t, 3)
	evs[1].Object.Attributes["note"] = "<b>&</b>" // not HTML-escaped, as in a single body
	body, err := callback.MarshalBatch(evs)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, ev := range evs {
		b, _ := callback.Marshal(ev)
		parts = append(parts, string(b))
	}
	// Each element is byte for byte the body of the event's single request.
	want := `{"version":"1","events":[` + strings.Join(parts, ",") + `]}`
	if string(body) != want {
		t.Errorf("MarshalBatch =\n%s\nwant\n%s", body, want)
	}
	entries, err := callback.UnmarshalBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Err != nil || e.ID != evs[i].ID {
			t.Fatalf("entry %d: %+v", i, e)
		}
		if diff := cmp.Diff(evs[i], e.Event); diff != "" {
			t.Errorf("entry %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestUnmarshalBatchErrors(t *testing.T) {
	ev := `{"version":"1","eventId":"e1","eventType":"user.delete","timestamp":"2026-11-03T09:12:44.512Z","object":{"kind":"user","hubId":"h1","targetId":"7"}}`
	many := `{"version":"1","events":[` + strings.TrimSuffix(strings.Repeat(ev+",", callback.MaxBatchEvents+1), ",") + `]}`
	for name, tt := range map[string]struct {
		body    string
		version bool
	}{
		"not JSON":       {body: `[`},
		"events absent":  {body: `{"version":"1"}`},
		"no events":      {body: `{"version":"1","events":[]}`},
		"too many":       {body: many},
		"no version":     {body: `{"events":[` + ev + `]}`, version: true},
		"version 2":      {body: `{"version":"2","events":[` + ev + `]}`, version: true},
		"events a value": {body: `{"version":"1","events":{}}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := callback.UnmarshalBatch([]byte(tt.body))
			var ve *callback.VersionError
			if err == nil || errors.As(err, &ve) != tt.version {
				t.Errorf("UnmarshalBatch = %v, want an error (a version error: %t)", err, tt.version)
			}
		})
	}

	// A bad element fails alone.
	body := `{"version":"1","events":[` + ev + `,{"version":"1","eventId":"e2","eventType":"user.rename"},` +
		`{"version":"2","eventId":"e3"},` + strings.Replace(ev, `"h1"`, `"h4"`, 1) + `,42]}`
	entries, err := callback.UnmarshalBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("%d entries, want 5", len(entries))
	}
	if entries[0].Err != nil || entries[0].Event.Object.HubID != "h1" {
		t.Errorf("entry 0: %+v", entries[0])
	}
	if entries[1].Err == nil || entries[1].ID != "e2" || entries[1].Event != nil {
		t.Errorf("entry 1 (unknown type): %+v", entries[1])
	}
	var ve *callback.VersionError
	if !errors.As(entries[2].Err, &ve) || entries[2].ID != "e3" {
		t.Errorf("entry 2 (version 2): %+v", entries[2])
	}
	if entries[3].Err == nil || !strings.Contains(entries[3].Err.Error(), "twice") {
		t.Errorf("entry 3 (the same event id again): %+v", entries[3])
	}
	if entries[4].Err == nil || entries[4].ID != "" {
		t.Errorf("entry 4 (not an object): %+v", entries[4])
	}
}

func TestBatchRequest(t *testing.T) {
	evs := batchEvents(t, 3)
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: "s3cret", Nonce: func() string { return "00112233445566778899aabbccddeeff" }}
	req, n, err := enc.NewBatchRequest(context.Background(), evs)
	if err != nil || n != 3 {
		t.Fatalf("NewBatchRequest: %d events, %v", n, err)
	}
	wantHeaders := map[string]string{
		"Authorization":         "Bearer s3cret",
		"Content-Type":          "application/json",
		"User-Agent":            "Midstream-Callback/1",
		"X-Midstream-Event":     "batch",
		"X-Midstream-Version":   "1",
		"X-Midstream-Timestamp": "1793697164512",
		"X-Midstream-Nonce":     "00112233445566778899aabbccddeeff",
	}
	gotHeaders := map[string]string{}
	for k := range req.Header {
		gotHeaders[k] = req.Header.Get(k)
	}
	// No Idempotency-Key nor hub id: those are per event.
	if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	body, _ := req.GetBody()
	b, _ := io.ReadAll(body)
	if want, _ := callback.MarshalBatch(evs); !bytes.Equal(b, want) {
		t.Errorf("body %s, want %s", b, want)
	}

	var dec callback.Decoder
	entries, err := dec.DecodeBatch(serverRequest(t, req))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if diff := cmp.Diff(evs[i], e.Event); diff != "" || e.Err != nil {
			t.Errorf("entry %d: %v (-want +got):\n%s", i, e.Err, diff)
		}
	}
	// Decode, which reads single events, says what it was given.
	req, _, _ = enc.NewBatchRequest(context.Background(), evs)
	if _, err := dec.Decode(serverRequest(t, req)); !errors.Is(err, callback.ErrBatch) {
		t.Errorf("Decode of a batch = %v, want ErrBatch", err)
	}
	// And DecodeBatch refuses a single request.
	req, _ = enc.NewRequest(context.Background(), evs[0])
	if _, err := dec.DecodeBatch(serverRequest(t, req)); err == nil {
		t.Errorf("DecodeBatch read a single request")
	}

	// Sealed once, as a whole.
	enc.Sealer = b64{}
	req, _, _ = enc.NewBatchRequest(context.Background(), evs)
	if _, err := dec.DecodeBatch(serverRequest(t, req)); err == nil {
		t.Errorf("a plain decoder read a sealed batch")
	}
	req, _, _ = enc.NewBatchRequest(context.Background(), evs)
	entries, err = (&callback.Decoder{Opener: b64{}}).DecodeBatch(serverRequest(t, req))
	if err != nil || len(entries) != 3 || entries[2].Event == nil {
		t.Fatalf("DecodeBatch of a sealed batch: %v, %+v", err, entries)
	}
}

func TestBatchRequestLimits(t *testing.T) {
	evs := batchEvents(t, 5)
	one, _ := callback.Marshal(evs[0])
	// Room for two events and a bit: the request takes two, the caller
	// sends the rest later.
	enc := callback.Encoder{URL: "https://app.example.com/hook", MaxBatchBytes: 2*len(one) + 40}
	req, n, err := enc.NewBatchRequest(context.Background(), evs)
	if err != nil || n != 2 {
		t.Fatalf("NewBatchRequest: %d events, %v; want 2", n, err)
	}
	if req.ContentLength > int64(enc.MaxBatchBytes) {
		t.Errorf("body of %d bytes, over the %d allowed", req.ContentLength, enc.MaxBatchBytes)
	}
	// An event larger than the limit still goes, alone.
	enc.MaxBatchBytes = 10
	if _, n, err := enc.NewBatchRequest(context.Background(), evs); err != nil || n != 1 {
		t.Errorf("NewBatchRequest over the limit: %d events, %v; want 1", n, err)
	}
	enc.MaxBatchBytes = 0
	if _, _, err := enc.NewBatchRequest(context.Background(), nil); err == nil {
		t.Errorf("an empty batch was built")
	}
	// The events of a batch are sent at one time, the request's.
	evs[3].Timestamp = evs[3].Timestamp.Add(time.Millisecond)
	if _, _, err := enc.NewBatchRequest(context.Background(), evs); err == nil {
		t.Errorf("a batch of events with different timestamps was built")
	}
	evs[3].Timestamp = evs[0].Timestamp

	// An event whose timestamp is not the request's fails alone.
	req, _, _ = enc.NewBatchRequest(context.Background(), evs)
	r := serverRequest(t, req)
	r.Header.Set(callback.HeaderTimestamp, "1793697164000")
	entries, err := (&callback.Decoder{}).DecodeBatch(r)
	if err != nil || len(entries) != 5 || entries[0].Err == nil || entries[0].ID != "evt-1" {
		t.Errorf("DecodeBatch with another timestamp header: %v, %+v", err, entries)
	}
	// The body limit applies to the whole batch.
	req, _, _ = enc.NewBatchRequest(context.Background(), evs)
	if _, err := (&callback.Decoder{MaxBodyBytes: 100}).DecodeBatch(serverRequest(t, req)); !errors.Is(err, callback.ErrBodyTooLarge) {
		t.Errorf("DecodeBatch over the body limit = %v", err)
	}
}

func TestBatchSealOpen(t *testing.T) {
	evs := batchEvents(t, 4)
	evs[2].Object.Password = "correct horse battery staple"
	keys := jwksOf(t, signingKey(t, callback.RS256), signingKey(t, callback.ES256))
	for name, m := range modes(t) {
		t.Run(name, func(t *testing.T) {
			enc := callback.Encoder{URL: "https://app.example.com/hook", Token: "t", Sealer: m.sealer(t)}
			req, _, err := enc.NewBatchRequest(context.Background(), evs)
			if err != nil {
				t.Fatal(err)
			}
			if m.encKey != nil {
				b, _ := req.GetBody()
				body, _ := io.ReadAll(b)
				if strings.Contains(string(body), "correct horse") || strings.Contains(string(body), "u_1") {
					t.Errorf("encrypted batch shows its events: %s", body)
				}
			}
			dec := callback.Decoder{Opener: m.verifier(t, at, keys)}
			entries, err := dec.DecodeBatch(serverRequest(t, req))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 4 || entries[2].Event.Object.Password != "correct horse battery staple" {
				t.Errorf("entries %+v", entries)
			}
			if m.hmacKey == nil && m.signer == nil && m.encKey == nil {
				return
			}
			// Changing one byte of the body refuses the whole batch.
			req, _, _ = enc.NewBatchRequest(context.Background(), evs)
			r := serverRequest(t, req)
			body, _ := io.ReadAll(r.Body)
			body[len(body)/2] ^= 1
			r.Body = io.NopCloser(bytes.NewReader(body))
			var rej *callback.Rejection
			if _, err := dec.DecodeBatch(r); !errors.As(err, &rej) {
				t.Errorf("tampered batch: %v, want a rejection", err)
			}
		})
	}
}

func TestBatchResponse(t *testing.T) {
	body := `{"results":[
		{"eventId":"e1","status":"ok","httpStatus":200,"id":"user-1"},
		{"eventId":"e2","status":"exists","id":42},
		{"eventId":"e3","status":"error","httpStatus":422,"code":7,"message":"name taken"},
		{"eventId":"e4","status":"error","message":"boom"},
		{"eventId":"e5","status":"error","httpStatus":503,"retryAfter":30},
		{"eventId":"e1","status":"error","httpStatus":500},
		{"eventId":"other","status":"ok"}
	]}`
	got, err := callback.UnmarshalBatchResponse([]byte(body), []string{"e5", "e1", "e2", "e3", "e4", "e6"})
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Status int
		Resp   callback.Response
		Retry  int64
	}
	var views []*view
	for _, r := range got {
		if r == nil {
			views = append(views, nil)
			continue
		}
		views = append(views, &view{r.StatusCode(), r.Response(), r.RetryAfter})
	}
	want := []*view{
		{503, callback.Response{Status: callback.StatusError}, 30},
		{200, callback.Response{ID: "user-1", Status: callback.StatusOK}, 0}, // the first result of e1 counts
		{200, callback.Response{ID: "42", Status: callback.StatusExists}, 0},
		{422, callback.Response{Status: callback.StatusError, Code: "7", Message: "name taken"}, 0},
		{500, callback.Response{Status: callback.StatusError, Message: "boom"}, 0},
		nil, // no result: the caller retries the event
	}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	for _, bad := range []string{``, `{"id":"1","status":"ok"}`, `{"results":{}}`, `{"results":[{"eventId":"e1","id":true}]}`} {
		if _, err := callback.UnmarshalBatchResponse([]byte(bad), []string{"e1"}); err == nil {
			t.Errorf("UnmarshalBatchResponse(%s) accepted it", bad)
		}
	}
	// What a receiver writes, a sender reads.
	out, _ := json.Marshal(callback.BatchResponse{Results: []callback.BatchResult{{EventID: "e1", Status: callback.StatusOK, HTTPStatus: 200, ID: "u-1"}}})
	if string(out) != `{"results":[{"eventId":"e1","status":"ok","httpStatus":200,"id":"u-1"}]}` {
		t.Errorf("BatchResponse JSON %s", out)
	}
}
