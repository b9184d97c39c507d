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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// jwksHandler serves the public keys of keys.
func jwksHandler(keys ...*wire.SigningKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := wire.JWKS{Keys: []wire.JWK{}}
		for _, k := range keys {
			j, _ := k.PublicJWK()
			set.Keys = append(set.Keys, j)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
}

// wiretap keeps the raw bodies of the requests that pass through it.
type wiretap struct {
	h      http.Handler
	mu     sync.Mutex
	bodies [][]byte
}

func (w *wiretap) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	w.bodies = append(w.bodies, b)
	w.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	w.h.ServeHTTP(rw, r)
}

func (w *wiretap) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(bytes.Join(w.bodies, []byte("\n")))
}

// securePeer starts a receiver with opts (token and app filled in).
func securePeer(t *testing.T, opts receiver.Options) (*httptest.Server, *receiver.MemoryApp, *wiretap) {
	t.Helper()
	app := receiver.NewMemoryApp()
	opts.Token, opts.App = token, app
	h, err := receiver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tap := &wiretap{h: h}
	srv := httptest.NewServer(tap)
	t.Cleanup(srv.Close)
	return srv, app, tap
}

// TestSecureLifecycle runs a create, a resent create, updates and a
// delete through each security mode against sdk/receiver.
func TestSecureLifecycle(t *testing.T) {
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.RS256), hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)
	tests := map[string]struct {
		target map[string]any
		recv   receiver.Options
	}{
		"aes-256-gcm, hmac": {
			target: map[string]any{"encryption_key": encKey, "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey}},
		"aes-128-gcm, RS256": {
			target: map[string]any{"encryption_key": "0123456789abcdef", "signature": "jws", "signing_key": signingKeyText(wire.RS256)},
			recv:   receiver.Options{EncryptionKey: "0123456789abcdef", JWKSURL: jwks.URL}},
		"plain, ES256": {
			target: map[string]any{"signature": "jws", "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)},
			recv:   receiver.Options{JWKSURL: jwks.URL}},
		"plain, unsigned": {target: map[string]any{}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv, app, tap := securePeer(t, tt.recv)
			tt.target["url"], tt.target["token"] = srv.URL+"/hook", token
			c := configure(t, tt.target)
			create := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1", DisplayName: "Li Lei",
				Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "mail": sdk.String("lilei@example.com")}}
			res := apply(t, c, create)
			if res.Outcome != sdk.OutcomeCreated {
				t.Fatalf("create: %+v", res)
			}
			if res := apply(t, c, create); res.Outcome != sdk.OutcomeMatched || res.TargetID != "user-1" {
				t.Errorf("resent create: %+v", res)
			}
			apply(t, c, sdk.Operation{ID: "e2", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID,
				Attributes: sdk.Attributes{"mail": sdk.String("lei.li@example.com")}})
			apply(t, c, sdk.Operation{ID: "e3", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID})
			got, _ := app.Object(res.TargetID)
			if got.Attributes.String("mail") != "lei.li@example.com" || !got.Disabled {
				t.Errorf("the application holds %+v", got)
			}
			encrypted := tt.recv.EncryptionKey != ""
			if strings.Contains(tap.all(), "lilei@example.com") == encrypted {
				t.Errorf("encrypted %t, but the wire shows the attributes: %t", encrypted, !encrypted)
			}
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if resp.Diagnostics.HasError() || !strings.HasPrefix(resp.Detail, "HTTP 200 from ") {
				t.Errorf("TestConnection: %v %q", resp.Diagnostics, resp.Detail)
			}
		})
	}
}

func TestPasswordSync(t *testing.T) {
	pw := sdk.String("Tr0ub4dor&3 «密码»")
	create := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "password": pw}}

	t.Run("off", func(t *testing.T) {
		srv, app, tap := securePeer(t, receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey})
		c := configure(t, map[string]any{"url": srv.URL, "token": token, "encryption_key": encKey, "signature_key": sigKey})
		res := apply(t, c, create)
		o, _ := app.Object(res.TargetID)
		if o.Password != "" || o.Attributes.Has("password") {
			t.Errorf("password sync is off, yet the application holds %+v", o)
		}
		_, err := c.Apply(context.Background(), sdk.Operation{ID: "e2", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID,
			Attributes: sdk.Attributes{"password": pw}})
		e := sdk.AsError(err)
		if e == nil || e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "password_sync") {
			t.Errorf("a password change with sync off: %v", err)
		}
		if n := len(app.Events()); n != 1 {
			t.Errorf("%d events reached the application, want the create only", n)
		}
		_ = tap
	})

	t.Run("on", func(t *testing.T) {
		srv, app, tap := securePeer(t, receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey})
		c := configure(t, map[string]any{"url": srv.URL, "token": token, "encryption_key": encKey, "signature_key": sigKey, "password_sync": true})
		res := apply(t, c, create)
		if o, _ := app.Object(res.TargetID); o.Password != pw.Str() || o.Attributes.Has("password") {
			t.Errorf("after the create the application holds %+v", o)
		}
		apply(t, c, sdk.Operation{ID: "e2", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID,
			Attributes: sdk.Attributes{"password": sdk.String("n3w")}})
		// An update carries no password, even if the host left one in.
		apply(t, c, sdk.Operation{ID: "e3", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID,
			Attributes: sdk.Attributes{"title": sdk.String("dev"), "password": sdk.String("leaked")}})
		evs := app.Events()
		want := []string{pw.Str(), "n3w", ""}
		for i, ev := range evs {
			if ev.Object.Password != want[i] || ev.Object.Attributes.Has("password") {
				t.Errorf("event %d (%s): password %q, attributes %v; want %q", i, ev.Type, ev.Object.Password, ev.Object.Attributes, want[i])
			}
		}
		if wireText := tap.all(); strings.Contains(wireText, "n3w") || strings.Contains(wireText, "Tr0ub4dor") || strings.Contains(wireText, "leaked") {
			t.Errorf("a password is readable on the wire")
		}
		_, err := c.Apply(context.Background(), sdk.Operation{ID: "e4", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u1", TargetID: res.TargetID})
		if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "no password") {
			t.Errorf("a password change without a password: %v", err)
		}
	})
}

// TestRejectedBySecurity: what the hub records when the receiver refuses a
// request for a security reason.
func TestRejectedBySecurity(t *testing.T) {
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)
	tests := map[string]struct {
		target  map[string]any
		recv    receiver.Options
		cat     sdk.Category
		code    string
		message string
	}{
		"wrong signature key": {
			target: map[string]any{"encryption_key": encKey, "signature_key": "another-signature-key-entirely"},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			cat:    sdk.CategoryPermanent, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"wrong encryption key": {
			target: map[string]any{"encryption_key": "fedcba9876543210", "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: "0123456789abcdef", SignatureKey: sigKey},
			cat:    sdk.CategoryPermanent, code: "decryption_failed", message: "decryption failed"},
		"key unknown to the receiver": {
			target: map[string]any{"encryption_key": encKey, "signature": "jws", "signing_key": signingKeyText(wire.RS256)},
			recv:   receiver.Options{EncryptionKey: encKey, JWKSURL: jwks.URL},
			cat:    sdk.CategoryRetryable, code: "unknown_key", message: "the request is signed by key"},
		"clock skew": {
			target: map[string]any{"encryption_key": encKey, "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey, Now: func() time.Time { return time.Now().Add(time.Hour) }},
			cat:    sdk.CategoryRetryable, code: "stale_timestamp", message: "request timestamp"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv, app, _ := securePeer(t, tt.recv)
			tt.target["url"], tt.target["token"] = srv.URL, token
			c := configure(t, tt.target)
			_, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("Apply: %v, want an *sdk.Error", err)
			}
			if e.Category != tt.cat || e.Code != tt.code || !strings.HasPrefix(e.Message, tt.message) || e.HTTPStatus == 0 {
				t.Errorf("error %#v, want %s %s %q…", e, tt.cat, tt.code, tt.message)
			}
			if len(app.Events()) != 0 {
				t.Errorf("a refused request reached the application")
			}
		})
	}
}

// TestTestConnectionSecurity: the connectivity test reports what the
// receiver refused, located at the setting to fix.
func TestTestConnectionSecurity(t *testing.T) {
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(down.Close)
	tests := map[string]struct {
		target  map[string]any
		recv    receiver.Options
		path    string
		summary string
		detail  string
	}{
		"ok, encrypted and signed": {
			target: map[string]any{"encryption_key": encKey, "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			detail: "(encrypted with AES-256-GCM, signed with HMAC-SHA256)"},
		"ok, jws": {
			target: map[string]any{"encryption_key": "0123456789abcdef", "signature": "jws", "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)},
			recv:   receiver.Options{EncryptionKey: "0123456789abcdef", JWKSURL: jwks.URL},
			detail: "(encrypted with AES-128-GCM, signed with ES256 key " + hubKey(wire.ES256).KID + ")"},
		"signature rejected": {
			target: map[string]any{"encryption_key": encKey, "signature_key": "another-signature-key-entirely"},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			path:   "signature_key", summary: "Signature rejected", detail: "same signature_key"},
		"signature required": {
			target: map[string]any{"encryption_key": encKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			path:   "signature", summary: "Signature rejected", detail: "requires signed requests"},
		"decryption failed": {
			target: map[string]any{"encryption_key": strings.Repeat("ab", 32), "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			path:   "encryption_key", summary: "Decryption failed at the application", detail: "same encryption_key"},
		"encryption expected": {
			target: map[string]any{"signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey},
			path:   "encryption_key", summary: "Application expects encrypted callbacks"},
		"encryption unexpected": {
			target: map[string]any{"encryption_key": encKey, "signature_key": sigKey},
			recv:   receiver.Options{SignatureKey: sigKey},
			path:   "encryption_key", summary: "Decryption failed at the application", detail: "no encryption key"},
		"key not in the JWKS": {
			target: map[string]any{"encryption_key": encKey, "signature": "jws", "signing_key": signingKeyText(wire.RS256)},
			recv:   receiver.Options{EncryptionKey: encKey, JWKSURL: jwks.URL},
			path:   "signature", summary: "Signing key unknown to the application", detail: "/.well-known/jwks.json"},
		"JWKS unreachable": {
			target: map[string]any{"encryption_key": encKey, "signature": "jws", "signing_key": signingKeyText(wire.RS256)},
			recv:   receiver.Options{EncryptionKey: encKey, JWKSURL: down.URL + "/jwks.json"},
			path:   "signature", summary: "Application cannot read the hub's keys", detail: "HTTP 404"},
		"clocks": {
			target: map[string]any{"encryption_key": encKey, "signature_key": sigKey},
			recv:   receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }},
			path:   "", summary: "Clocks out of sync", detail: "NTP"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv, _, _ := securePeer(t, tt.recv)
			tt.target["url"], tt.target["token"] = srv.URL, token
			c := configure(t, tt.target)
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if tt.summary == "" {
				if len(resp.Diagnostics) > 0 || !strings.Contains(resp.Detail, tt.detail) {
					t.Errorf("TestConnection: %v, detail %q", resp.Diagnostics, resp.Detail)
				}
				return
			}
			if len(resp.Diagnostics) != 1 {
				t.Fatalf("diagnostics %v, want one", resp.Diagnostics)
			}
			d := resp.Diagnostics[0]
			got := struct{ Path, Summary string }{d.Path.String(), d.Summary}
			if diff := cmp.Diff(struct{ Path, Summary string }{tt.path, tt.summary}, got); diff != "" || !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("diagnostic %v (-want +got):\n%s\nwant the detail to contain %q", d, diff, tt.detail)
			}
		})
	}
}

// The hub's signing key never shows: not in diagnostics, not in errors.
func TestSigningKeyStaysSecret(t *testing.T) {
	key := signingKeyText(wire.RS256)
	var priv wire.JWK
	_ = json.Unmarshal([]byte(key), &priv)
	_, diags := tryConfigure(t, map[string]any{"url": "https://app.example.com", "token": token, "signature": "jws", "signature_alg": "ES256", "signing_key": key}, "")
	if strings.Contains(fmt.Sprint(diags), priv.D) || strings.Contains(fmt.Sprint(diags), priv.P) {
		t.Errorf("a diagnostic shows the private key: %v", diags)
	}
	if f, _ := callback.New().Schema().Field("signing_key"); !f.Sensitive {
		t.Errorf("signing_key is not sensitive")
	}
}
