package receiver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

const (
	encKey128 = "0123456789abcdef"
	encKey256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	sigKey    = "a-signature-key-of-some-length!!"
)

var (
	keyOnce          sync.Once
	rsaKey, ecKey    *callback.SigningKey
	otherKey         *callback.SigningKey
	errGenerateOnce  error
	generatedForTest = func(t testing.TB) {
		t.Helper()
		keyOnce.Do(func() {
			if rsaKey, errGenerateOnce = callback.GenerateSigningKey(callback.RS256); errGenerateOnce != nil {
				return
			}
			if ecKey, errGenerateOnce = callback.GenerateSigningKey(callback.ES256); errGenerateOnce != nil {
				return
			}
			otherKey, errGenerateOnce = callback.GenerateSigningKey(callback.ES256)
		})
		if errGenerateOnce != nil {
			t.Fatal(errGenerateOnce)
		}
	}
)

// jwksServer serves the public keys of keys (changeable with set) and
// counts its requests.
type jwksServer struct {
	*httptest.Server
	mu    sync.Mutex
	keys  []*callback.SigningKey
	down  bool
	reads atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...*callback.SigningKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reads.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := callback.JWKS{Keys: []callback.JWK{}}
		for _, k := range s.keys {
			j, _ := k.PublicJWK()
			set.Keys = append(set.Keys, j)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(down bool, keys ...*callback.SigningKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.keys = down, keys
}

// sender builds requests the way the callback target does.
type sender struct {
	enc  callback.Encoder
	seal callback.SealConfig
}

func newSender(t testing.TB, tok string, c callback.SealConfig) *sender {
	t.Helper()
	s, err := callback.NewSealer(c)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{enc: callback.Encoder{URL: "https://app.example.com/hook", Token: tok, Sealer: s}, seal: c}
}

// request returns the server side of the request carrying ev, after
// tamper (when set) changed its body or headers.
func (s *sender) request(t testing.TB, ev *callback.Event, tamper func([]byte, http.Header) []byte) *http.Request {
	t.Helper()
	req, err := s.enc.NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	h := req.Header.Clone()
	if tamper != nil {
		body = tamper(body, h)
	}
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header = h
	return r
}

func serve(t testing.TB, h http.Handler, r *http.Request) answer {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{Status: w.Code, RetryAfter: w.Header().Get("Retry-After")}
	if err := json.Unmarshal(w.Body.Bytes(), &a.Body); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", w.Code, w.Body, err)
	}
	return a
}

// everyEvent returns one event of every type, in an order a receiver can
// apply: orgs and users created, changed, then deleted.
func everyEvent(now time.Time) []*callback.Event {
	ev := func(id string, typ callback.EventType, hub string, obj callback.Object) *callback.Event {
		obj.Kind, obj.HubID = typ.Kind(), hub
		if obj.DisplayName == "" {
			obj.DisplayName = "研发中心"
		}
		return &callback.Event{Version: callback.Version, ID: id, Type: typ, Timestamp: now.UTC().Truncate(time.Millisecond), Object: &obj}
	}
	root := &callback.Ref{HubID: "o_root", TargetID: "org-1"}
	return []*callback.Event{
		callback.NewTestEvent("test-1", now.UTC().Truncate(time.Millisecond)),
		ev("e1", callback.EventOrgCreate, "o_root", callback.Object{Attributes: callback.Attributes{"code": "ROOT", "name": "星河集团"}}),
		ev("e2", callback.EventOrgCreate, "o_rd", callback.Object{Attributes: callback.Attributes{"code": "RD"}, Parent: root}),
		ev("e3", callback.EventUserCreate, "u_1", callback.Object{DisplayName: "李雷", Password: "s3cret & \"quoted\" ✓",
			Attributes: callback.Attributes{"userName": "lilei", "employeeNo": int64(42), "active": true, "groups": []string{"dev", "ops"}, "title": nil},
			Parent:     root, Orgs: []callback.Ref{*root}}),
		ev("e4", callback.EventUserUpdate, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷", Attributes: callback.Attributes{"email": "lilei@example.com"}}),
		ev("e5", callback.EventUserPassword, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷", Password: "n3w-pässword"}),
		ev("e6", callback.EventUserDisable, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷"}),
		ev("e7", callback.EventUserEnable, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷"}),
		ev("e8", callback.EventUserMove, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷",
			Parent: &callback.Ref{HubID: "o_rd", TargetID: "org-2"}, Orgs: []callback.Ref{{HubID: "o_rd", TargetID: "org-2"}}}),
		ev("e9", callback.EventOrgUpdate, "o_rd", callback.Object{TargetID: "org-2", Attributes: callback.Attributes{"name": "研发与平台中心"}}),
		ev("e10", callback.EventOrgDisable, "o_rd", callback.Object{TargetID: "org-2"}),
		ev("e11", callback.EventOrgEnable, "o_rd", callback.Object{TargetID: "org-2"}),
		ev("e12", callback.EventOrgMove, "o_rd", callback.Object{TargetID: "org-2"}),
		ev("e13", callback.EventUserDelete, "u_1", callback.Object{TargetID: "user-3", DisplayName: "李雷"}),
		ev("e14", callback.EventOrgDelete, "o_rd", callback.Object{TargetID: "org-2"}),
	}
}

// TestSecureRoundTrips sends every event type through every security mode
// and checks the application received exactly what was sent.
func TestSecureRoundTrips(t *testing.T) {
	generatedForTest(t)
	jwks := newJWKSServer(t, rsaKey, ecKey)
	tests := map[string]struct {
		send callback.SealConfig
		opts receiver.Options
	}{
		"plain":              {},
		"hmac":               {send: callback.SealConfig{HMACKey: []byte(sigKey)}, opts: receiver.Options{SignatureKey: sigKey}},
		"aes-128-gcm":        {send: callback.SealConfig{EncryptionKey: []byte(encKey128)}, opts: receiver.Options{EncryptionKey: encKey128}},
		"aes-128-gcm, hmac":  {send: callback.SealConfig{EncryptionKey: []byte(encKey128), HMACKey: []byte(sigKey)}, opts: receiver.Options{EncryptionKey: encKey128, SignatureKey: sigKey}},
		"aes-256-gcm, RS256": {send: callback.SealConfig{EncryptionKey: key(t, encKey256), SigningKey: rsaKey}, opts: receiver.Options{EncryptionKey: encKey256, JWKSURL: jwks.URL}},
		"aes-256-gcm, ES256": {send: callback.SealConfig{EncryptionKey: key(t, encKey256), SigningKey: ecKey}, opts: receiver.Options{EncryptionKey: encKey256, JWKSURL: jwks.URL}},
		"ES256, static keys": {send: callback.SealConfig{SigningKey: ecKey}, opts: receiver.Options{Keys: jwksOf(t, ecKey)}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			app := receiver.NewMemoryApp()
			tt.opts.Token, tt.opts.App = token, app
			h, err := receiver.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			s := newSender(t, token, tt.send)
			var want []*callback.Event
			for _, ev := range everyEvent(time.Now()) {
				if got := serve(t, h, s.request(t, ev, nil)); got.Status != 200 {
					t.Fatalf("%s answered %+v", ev.Type, got)
				}
				if ev.Type != callback.EventTest {
					want = append(want, ev)
				}
			}
			if diff := cmp.Diff(want, app.Events()); diff != "" {
				t.Errorf("events received (-sent +got):\n%s", diff)
			}
			if n := len(app.Objects()); n != 1 {
				t.Errorf("%d objects left, want the root org", n)
			}
		})
	}
}

func key(t testing.TB, s string) []byte {
	t.Helper()
	k, err := callback.ParseEncryptionKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwksOf(t testing.TB, keys ...*callback.SigningKey) *callback.JWKS {
	t.Helper()
	s := &callback.JWKS{}
	for _, k := range keys {
		j, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		s.Keys = append(s.Keys, j)
	}
	return s
}

// TestSecureRejections: the attacks and mistakes of the issue, each
// refused by the handler with its status, code and a clear reason, and
// none reaching the application.
func TestSecureRejections(t *testing.T) {
	generatedForTest(t)
	jwks := newJWKSServer(t, ecKey)
	now := time.Now()
	encHMAC := callback.SealConfig{EncryptionKey: []byte(encKey128), HMACKey: []byte(sigKey)}
	recvEncHMAC := receiver.Options{EncryptionKey: encKey128, SignatureKey: sigKey}
	tests := map[string]struct {
		tok     string
		send    callback.SealConfig
		recv    receiver.Options
		tamper  func([]byte, http.Header) []byte
		clock   time.Duration // the receiver's clock, ahead of the sender's
		twice   bool
		status  int
		code    string
		message string
	}{
		"tampered body": {send: encHMAC, recv: recvEncHMAC,
			tamper: func(b []byte, h http.Header) []byte { b[len(b)-5] ^= 1; return b },
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"tampered body, JWS": {send: callback.SealConfig{SigningKey: ecKey}, recv: receiver.Options{JWKSURL: jwks.URL},
			tamper: func(b []byte, h http.Header) []byte { return bytes.Replace(b, []byte("lilei"), []byte("hacker"), 1) },
			status: 401, code: "invalid_signature", message: "the JWS signature does not match"},
		"wrong signature": {send: encHMAC, recv: recvEncHMAC,
			tamper: func(b []byte, h http.Header) []byte {
				h.Set("X-Midstream-Signature", "hmac-sha256="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
				return b
			},
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"wrong signature key": {send: callback.SealConfig{EncryptionKey: []byte(encKey128), HMACKey: []byte("not-the-right-signature-key")}, recv: recvEncHMAC,
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match: the signature key differs"},
		"wrong encryption key": {send: callback.SealConfig{EncryptionKey: []byte("fedcba9876543210"), HMACKey: []byte(sigKey)}, recv: recvEncHMAC,
			status: 400, code: "decryption_failed", message: "decryption failed: the encryption key differs"},
		"wrong signing key": {send: callback.SealConfig{SigningKey: otherKey}, recv: receiver.Options{JWKSURL: jwks.URL},
			status: 401, code: "unknown_key", message: "the request is signed by key"},
		"expired timestamp": {send: encHMAC, recv: recvEncHMAC, clock: 10 * time.Minute,
			status: 401, code: "stale_timestamp", message: "request timestamp"},
		"replayed nonce": {send: encHMAC, recv: recvEncHMAC, twice: true,
			status: 401, code: "replayed_nonce", message: "nonce "},
		"wrong token": {tok: "not-the-token", send: encHMAC, recv: recvEncHMAC,
			status: 401, code: "invalid_token", message: "missing or wrong bearer token"},
		"truncated ciphertext": {send: callback.SealConfig{EncryptionKey: []byte(encKey128)}, recv: receiver.Options{EncryptionKey: encKey128},
			tamper: func(b []byte, h http.Header) []byte {
				return []byte(`{"version":"1","encryption":"aes-128-gcm","ciphertext":"AAECAwQFBgcICQoL"}`)
			},
			status: 400, code: "decryption_failed", message: "the ciphertext is truncated"},
		"not encrypted": {send: callback.SealConfig{HMACKey: []byte(sigKey)}, recv: recvEncHMAC,
			status: 400, code: "encryption_required", message: "the body is not encrypted"},
		"not signed": {send: callback.SealConfig{EncryptionKey: []byte(encKey128)}, recv: recvEncHMAC,
			status: 401, code: "invalid_signature", message: "the request is not signed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			app := receiver.NewMemoryApp()
			tt.recv.Token, tt.recv.App = token, app
			tt.recv.Now = func() time.Time { return now.Add(tt.clock) }
			h, err := receiver.New(tt.recv)
			if err != nil {
				t.Fatal(err)
			}
			tok := token
			if tt.tok != "" {
				tok = tt.tok
			}
			s := newSender(t, tok, tt.send)
			ev := everyEvent(now)[3] // the user create, with a password
			r := s.request(t, ev, tt.tamper)
			if tt.twice {
				body, _ := io.ReadAll(r.Body)
				first := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
				first.Header = r.Header.Clone()
				if got := serve(t, h, first); got.Status != 200 {
					t.Fatalf("first request answered %+v", got)
				}
				r = httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
				r.Header = first.Header
				app = receiver.NewMemoryApp() // count only what the replay reaches
			}
			got := serve(t, h, r)
			if got.Status != tt.status || got.Body.Code != tt.code || !strings.HasPrefix(got.Body.Message, tt.message) {
				t.Errorf("answer %d %s %q; want %d %s %q…", got.Status, got.Body.Code, got.Body.Message, tt.status, tt.code, tt.message)
			}
			if !tt.twice && len(app.Events()) != 0 {
				t.Errorf("a refused request reached the application")
			}
			if strings.Contains(got.Body.Message, "s3cret") {
				t.Errorf("the answer shows the password: %s", got.Body.Message)
			}
		})
	}
}

func TestJWKSRotation(t *testing.T) {
	generatedForTest(t)
	srv := newJWKSServer(t, rsaKey)
	now := time.Now()
	clock := now
	c := &receiver.JWKSClient{URL: srv.URL, Now: func() time.Time { return clock }}
	h, err := receiver.New(receiver.Options{Token: token, App: receiver.NewMemoryApp(), Keys: c, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	send := func(k *callback.SigningKey) answer {
		ev := callback.NewTestEvent("t", clock)
		return serve(t, h, newSender(t, token, callback.SealConfig{SigningKey: k}).request(t, ev, nil))
	}
	if a := send(rsaKey); a.Status != 200 {
		t.Fatalf("signed by the published key: %+v", a)
	}
	if a := send(rsaKey); a.Status != 200 || srv.reads.Load() != 1 {
		t.Fatalf("second request: %+v after %d reads, want the cached keys", a, srv.reads.Load())
	}

	// The hub rotates: the new key signs, both are published. The cache
	// was read just now; the unknown key id waits for MinRefresh.
	srv.set(false, rsaKey, ecKey)
	if a := send(ecKey); a.Status != 401 || a.Body.Code != "unknown_key" {
		t.Errorf("a new key within MinRefresh of the last read: %+v", a)
	}
	clock = clock.Add(receiver.DefaultJWKSMinRefresh)
	if a := send(ecKey); a.Status != 200 {
		t.Errorf("the rotated key after MinRefresh: %+v", a)
	}
	// Made-up key ids cannot make the client read the JWKS on every request.
	before := srv.reads.Load()
	for range 20 {
		if a := send(otherKey); a.Body.Code != "unknown_key" {
			t.Fatalf("unknown key: %+v", a)
		}
	}
	if n := srv.reads.Load() - before; n > 1 {
		t.Errorf("%d JWKS reads for 20 requests by an unknown key", n)
	}

	// The hub is unreachable: the keys held keep working, even past MaxAge.
	srv.set(true)
	clock = clock.Add(2 * receiver.DefaultJWKSMaxAge)
	if a := send(ecKey); a.Status != 200 {
		t.Errorf("a cached key while the JWKS is down: %+v", a)
	}
	// A fresh receiver with no keys yet answers 503: the hub retries.
	c2 := &receiver.JWKSClient{URL: srv.URL}
	h2, _ := receiver.New(receiver.Options{Token: token, App: receiver.NewMemoryApp(), Keys: c2})
	ev := callback.NewTestEvent("t", time.Now())
	a := serve(t, h2, newSender(t, token, callback.SealConfig{SigningKey: ecKey}).request(t, ev, nil))
	if a.Status != 503 || a.Body.Code != "keys_unavailable" || !strings.Contains(a.Body.Message, "HTTP 503") {
		t.Errorf("no keys and the JWKS down: %+v", a)
	}
}

func TestNewOptions(t *testing.T) {
	app := receiver.NewMemoryApp()
	tests := map[string]receiver.Options{
		"bad encryption key":   {Token: token, App: app, EncryptionKey: "short"},
		"two signature kinds":  {Token: token, App: app, SignatureKey: sigKey, JWKSURL: "https://hub.example.com/.well-known/jwks.json"},
		"JWKS URL not http(s)": {Token: token, App: app, JWKSURL: "file:///etc/jwks.json"},
	}
	for name, opts := range tests {
		if _, err := receiver.New(opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestVerifierDecode is the plain-function form.
func TestVerifierDecode(t *testing.T) {
	v, err := receiver.NewVerifier(receiver.Options{Token: token, EncryptionKey: encKey256, SignatureKey: sigKey})
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t, token, callback.SealConfig{EncryptionKey: key(t, encKey256), HMACKey: []byte(sigKey)})
	op := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1", Attributes: sdk.Attributes{"userName": sdk.String("lilei")}}
	ev, _ := callback.NewEvent(op, time.Now())
	got, err := v.Decode(s.request(t, ev, nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	_, err = v.Decode(s.request(t, ev, func(b []byte, h http.Header) []byte { h.Del("X-Midstream-Signature"); return b }))
	e, ok := err.(*receiver.Error)
	if !ok || e.Status != 401 || e.Code != "invalid_signature" {
		t.Errorf("unsigned: %#v", err)
	}
	w := httptest.NewRecorder()
	receiver.WriteError(w, err)
	if w.Code != 401 || !strings.Contains(w.Body.String(), `"code":"invalid_signature"`) {
		t.Errorf("WriteError: %d %s", w.Code, w.Body)
	}
}
