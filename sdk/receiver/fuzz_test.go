package receiver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// fuzzTime is the receivers' clock in FuzzDecode: the timestamp of the
// seed corpus (testdata/fuzz/FuzzDecode).
var fuzzTime = time.UnixMilli(1793697164512)

// FuzzDecode feeds the receiver's decoder arbitrary requests: body,
// timestamp, nonce and signature headers, each read by a plain, an
// encrypting and an HMAC-verifying receiver; and the body once more as the
// plaintext of a properly encrypted and signed request, so that the
// decryption, JSON and event checks see arbitrary input past the crypto.
// Each request is read once as a single event and once as a batch.
// Whatever the input, the decoder must not panic, and an event it accepts
// must be valid and survive a round trip.
//
//	go test ./sdk/receiver -run '^$' -fuzz FuzzDecode -fuzztime 1m
func FuzzDecode(f *testing.F) {
	now := func() time.Time { return fuzzTime }
	newV := func(o receiver.Options) *receiver.Verifier {
		o.Token, o.Now, o.MaxBodyBytes = token, now, 64<<10
		// A fresh nonce store per input: a seed accepted by one receiver
		// must not look replayed to the next.
		o.Nonces = nonceless{}
		v, err := receiver.NewVerifier(o)
		if err != nil {
			f.Fatal(err)
		}
		return v
	}
	verifiers := []*receiver.Verifier{
		newV(receiver.Options{}),
		newV(receiver.Options{EncryptionKey: encKey128}),
		newV(receiver.Options{SignatureKey: sigKey}),
	}
	full := newV(receiver.Options{EncryptionKey: encKey256, SignatureKey: sigKey})
	sealer, err := callback.NewSealer(callback.SealConfig{EncryptionKey: key(f, encKey256), HMACKey: []byte(sigKey)})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig string) {
		for _, v := range verifiers {
			check(t, v, request(body, ts, nonce, sig))
			checkBatch(t, v, batchRequest(request(body, ts, nonce, sig)))
		}
		h := http.Header{}
		h.Set(callback.HeaderTimestamp, callback.FormatTimestamp(fuzzTime))
		h.Set(callback.HeaderNonce, "00112233445566778899aabbccddeeff")
		sealed, err := sealer.Seal(body, h)
		if err != nil {
			t.Fatal(err)
		}
		check(t, full, request(sealed, h.Get(callback.HeaderTimestamp), h.Get(callback.HeaderNonce), h.Get(callback.HeaderSignature)))
		checkBatch(t, full, batchRequest(request(sealed, h.Get(callback.HeaderTimestamp), h.Get(callback.HeaderNonce), h.Get(callback.HeaderSignature))))
	})
}

type nonceless struct{}

func (nonceless) Remember(string, time.Time) bool { return true }

func request(body []byte, ts, nonce, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(callback.HeaderVersion, callback.Version)
	for k, v := range map[string]string{callback.HeaderTimestamp: ts, callback.HeaderNonce: nonce, callback.HeaderSignature: sig} {
		if v != "" {
			r.Header[k] = []string{v}
		}
	}
	return r
}

func batchRequest(r *http.Request) *http.Request {
	r.Header.Set(callback.HeaderEvent, callback.EventBatch)
	return r
}

func check(t *testing.T, v *receiver.Verifier, r *http.Request) {
	t.Helper()
	ev, err := v.Decode(r)
	if err != nil {
		checkAnswerable(t, err)
		return
	}
	checkEvent(t, ev)
}

func checkBatch(t *testing.T, v *receiver.Verifier, r *http.Request) {
	t.Helper()
	entries, err := v.DecodeBatch(r)
	if err != nil {
		checkAnswerable(t, err)
		return
	}
	if len(entries) == 0 || len(entries) > callback.MaxBatchEvents {
		t.Fatalf("DecodeBatch accepted a batch of %d events", len(entries))
	}
	for _, e := range entries {
		if e.Err != nil {
			if e.Event != nil {
				t.Fatalf("an entry has both an event and an error: %+v", e)
			}
			if r := receiver.ResultOf(e.ID, callback.Response{}, e.Err); r.HTTPStatus != 400 || r.Message == "" {
				t.Fatalf("an unreadable event is answered %+v", r)
			}
			continue
		}
		if e.ID != e.Event.ID {
			t.Fatalf("entry id %q, event id %q", e.ID, e.Event.ID)
		}
		checkEvent(t, e.Event)
	}
}

func checkAnswerable(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*receiver.Error)
	if !ok || e.Status < 400 || e.Status > 599 || e.Message == "" {
		t.Fatalf("Decode error %#v is not an answerable *receiver.Error", err)
	}
}

func checkEvent(t *testing.T, ev *callback.Event) {
	t.Helper()
	if err := ev.Validate(); err != nil {
		t.Fatalf("Decode accepted an invalid event: %v", err)
	}
	b, err := callback.Marshal(ev)
	if err != nil {
		t.Fatalf("an accepted event does not marshal: %v", err)
	}
	back, err := callback.Unmarshal(b)
	if err != nil {
		t.Fatalf("an accepted event does not survive a round trip: %v\n%s", err, b)
	}
	b2, _ := json.Marshal(back)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the event:\n%s\n%s", b, b2)
	}
}

// TestFuzzSeedsAccepted makes sure the seed corpus reaches the decoder's
// deep paths: the valid seeds are accepted by the receiver they target.
func TestFuzzSeedsAccepted(t *testing.T) {
	plain, _ := receiver.NewVerifier(receiver.Options{Token: token, Now: func() time.Time { return fuzzTime }})
	body := `{"version":"1","eventId":"e1","eventType":"user.create","timestamp":"2026-11-03T09:12:44.512Z","object":{"kind":"user","hubId":"u1","attributes":{"userName":"lilei"}}}`
	if _, err := plain.Decode(request([]byte(body), "1793697164512", "00112233445566778899aabbccddeeff", "")); err != nil {
		t.Errorf("the plain seed is refused: %v", err)
	}
	batch, err := os.ReadFile("testdata/fuzz/FuzzDecode/plain_batch")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(batch, []byte(`\"events\":[`)) {
		t.Fatalf("the batch seed holds no batch:\n%s", batch)
	}
	entries, err := plain.DecodeBatch(batchRequest(request([]byte(`{"version":"1","events":[`+body+`]}`), "1793697164512", "00112233445566778899aabbccddeefe", "")))
	if err != nil || len(entries) != 1 || entries[0].Err != nil {
		t.Errorf("a batch of the plain seed is refused: %v %+v", err, entries)
	}
}
