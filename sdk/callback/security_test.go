package callback_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
)

// vectors are testdata/vectors.json, computed by testdata/vectors.py with
// Python's cryptography package from the README's recipes.
type vectors struct {
	Timestamp   string                  `json:"timestamp"`
	Nonce       string                  `json:"nonce"`
	Body        string                  `json:"body"`
	JWKS        callback.JWKS           `json:"jwks"`
	PrivateKeys map[string]callback.JWK `json:"private_keys"`
	Cases       []struct {
		Name          string `json:"name"`
		Alg           string `json:"alg"`
		EncryptionKey string `json:"encryption_key"`
		SignatureKey  string `json:"signature_key"`
		HTTPBody      string `json:"http_body"`
		Signature     string `json:"signature"`
	} `json:"cases"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustKey(t *testing.T, s string) []byte {
	t.Helper()
	if s == "" {
		return nil
	}
	k, err := callback.ParseEncryptionKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVectors checks the Go implementation against vectors computed
// independently from the documented recipes.
func TestVectors(t *testing.T) {
	v := loadVectors(t)
	at, _ := time.Parse(time.RFC3339, "2026-11-03T09:12:44.512Z")
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := callback.VerifyConfig{EncryptionKey: mustKey(t, c.EncryptionKey), Now: func() time.Time { return at }}
			if c.SignatureKey != "" {
				cfg.HMACKey = []byte(c.SignatureKey)
				if got := callback.HMACSignature(cfg.HMACKey, v.Timestamp, v.Nonce, []byte(c.HTTPBody)); got != c.Signature {
					t.Errorf("HMACSignature = %s, want %s", got, c.Signature)
				}
			}
			if c.Alg != "" {
				cfg.Keys = &v.JWKS
				priv, _ := json.Marshal(v.PrivateKeys[c.Alg])
				sk, err := callback.ParseSigningKey(string(priv))
				if err != nil {
					t.Fatal(err)
				}
				pub, _ := v.JWKS.Find(sk.KID)
				if th, _ := pub.Thumbprint(); th != sk.KID {
					t.Errorf("thumbprint %s, want the vector's kid %s", th, sk.KID)
				}
				if c.Alg == callback.RS256 {
					// RS256 is deterministic: Go must sign exactly as the recipe.
					jws, err := sk.SignDetached(callback.SigningString(v.Timestamp, v.Nonce, []byte(c.HTTPBody)))
					if err != nil || "jws="+jws != c.Signature {
						t.Errorf("SignDetached = %s, %v; want %s", jws, err, c.Signature)
					}
				}
			}
			ver, err := callback.NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(callback.HeaderTimestamp, v.Timestamp)
			h.Set(callback.HeaderNonce, v.Nonce)
			h.Set(callback.HeaderSignature, c.Signature)
			got, err := ver.Open(context.Background(), []byte(c.HTTPBody), h)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if string(got) != v.Body {
				t.Errorf("Open = %s, want %s", got, v.Body)
			}
		})
	}
}

func TestParseEncryptionKey(t *testing.T) {
	tests := map[string]struct {
		key     string
		wantLen int
		wantErr string
	}{
		"16 characters":          {key: "0123456789abcdef", wantLen: 16},
		"16 with a line break":   {key: "0123456789ABCDEF\n", wantLen: 16},
		"16 with inner space":    {key: "0123456789 bcdef", wantLen: 16},
		"64 hex":                 {key: strings.Repeat("0f", 32), wantLen: 32},
		"64 upper hex":           {key: strings.Repeat("AB", 32), wantLen: 32},
		"15 characters":          {key: "0123456789abcde", wantErr: "15 characters"},
		"32 characters":          {key: strings.Repeat("ab", 16), wantErr: "32 characters"},
		"64 not hex":             {key: strings.Repeat("zz", 32), wantErr: "hex"},
		"16 non-ASCII":           {key: "0123456789abcdé", wantErr: "printable ASCII"},
		"16 runes, not 16 bytes": {key: "密钥密钥密钥密钥密钥密钥密钥密钥", wantErr: "16 characters"},
		"empty":                  {key: "", wantErr: "0 characters"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			k, err := callback.ParseEncryptionKey(tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(k) != tt.wantLen {
				t.Errorf("key of %d bytes, %v; want %d bytes", len(k), err, tt.wantLen)
			}
		})
	}
}

// keys are generated once per test binary: RSA generation is slow.
var testKeys = map[string]*callback.SigningKey{}

func signingKey(t testing.TB, alg string) *callback.SigningKey {
	t.Helper()
	if k := testKeys[alg]; k != nil {
		return k
	}
	k, err := callback.GenerateSigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	testKeys[alg] = k
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

func TestSigningKeyJWK(t *testing.T) {
	for _, alg := range []string{callback.RS256, callback.ES256} {
		t.Run(alg, func(t *testing.T) {
			k := signingKey(t, alg)
			text, err := k.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			back, err := callback.ParseSigningKey(string(text))
			if err != nil {
				t.Fatal(err)
			}
			if back.KID != k.KID || back.Alg != alg {
				t.Errorf("parsed %s %s, want %s %s", back.Alg, back.KID, alg, k.KID)
			}
			pub, _ := k.PublicJWK()
			if pub.D != "" || pub.Kid != k.KID || pub.Use != "sig" || pub.Alg != alg {
				t.Errorf("public JWK %+v", pub)
			}
			if _, err := callback.ParseSigningKey(mustJSON(t, pub)); err == nil {
				t.Errorf("a public key parsed as a signing key")
			}
			if _, err := pub.PublicKey(map[string]string{callback.RS256: callback.ES256, callback.ES256: callback.RS256}[alg]); err == nil {
				t.Errorf("a %s key was accepted for the other algorithm", alg)
			}
		})
	}
	if _, err := callback.ParseSigningKey("not json"); err == nil {
		t.Errorf("junk parsed as a signing key")
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mode is one security configuration, both ends.
type mode struct {
	encKey  []byte
	hmacKey []byte
	signer  *callback.SigningKey
}

func (m mode) sealer(t testing.TB) callback.Sealer {
	t.Helper()
	s, err := callback.NewSealer(callback.SealConfig{EncryptionKey: m.encKey, HMACKey: m.hmacKey, SigningKey: m.signer})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (m mode) verifier(t testing.TB, now time.Time, keys callback.KeySet) *callback.Verifier {
	t.Helper()
	cfg := callback.VerifyConfig{EncryptionKey: m.encKey, HMACKey: m.hmacKey, Nonces: &callback.NonceCache{Now: func() time.Time { return now }},
		Now: func() time.Time { return now }}
	if m.signer != nil {
		cfg.Keys = keys
	}
	v, err := callback.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	key128 = []byte("0123456789abcdef")
	key256 = []byte("0123456789abcdef0123456789abcdef")
	hmacK  = []byte("a-signature-key-of-some-length!!")
)

func modes(t testing.TB) map[string]mode {
	rs, es := signingKey(t, callback.RS256), signingKey(t, callback.ES256)
	return map[string]mode{
		"plain":              {},
		"hmac":               {hmacKey: hmacK},
		"RS256":              {signer: rs},
		"ES256":              {signer: es},
		"aes-128-gcm":        {encKey: key128},
		"aes-256-gcm":        {encKey: key256},
		"aes-128-gcm, hmac":  {encKey: key128, hmacKey: hmacK},
		"aes-256-gcm, hmac":  {encKey: key256, hmacKey: hmacK},
		"aes-128-gcm, RS256": {encKey: key128, signer: rs},
		"aes-256-gcm, ES256": {encKey: key256, signer: es},
	}
}

// seal builds the request carrying ev in mode m and returns its body and
// headers.
func seal(t testing.TB, m mode, ev *callback.Event) ([]byte, http.Header) {
	t.Helper()
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: "t", Sealer: m.sealer(t)}
	req, err := enc.NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := req.GetBody()
	b := make([]byte, req.ContentLength)
	if _, err := body.Read(b); err != nil && req.ContentLength > 0 {
		t.Fatal(err)
	}
	return b, req.Header
}

func TestSealOpen(t *testing.T) {
	ev, err := callback.NewEvent(userCreate(), at)
	if err != nil {
		t.Fatal(err)
	}
	ev.Object.Password = "correct horse battery staple"
	keys := jwksOf(t, signingKey(t, callback.RS256), signingKey(t, callback.ES256))
	for name, m := range modes(t) {
		t.Run(name, func(t *testing.T) {
			body, h := seal(t, m, ev)
			plain, _ := callback.Marshal(ev)
			if m.encKey != nil {
				if strings.Contains(string(body), "correct horse") || strings.Contains(string(body), "lilei") {
					t.Errorf("encrypted body shows the event: %s", body)
				}
				var env callback.Envelope
				if err := json.Unmarshal(body, &env); err != nil || env.Version != "1" || env.Ciphertext == "" {
					t.Errorf("envelope %s: %v", body, err)
				}
			} else if string(body) != string(plain) {
				t.Errorf("plain body %s, want %s", body, plain)
			}
			switch sig := h.Get(callback.HeaderSignature); {
			case m.hmacKey != nil && !strings.HasPrefix(sig, "hmac-sha256="),
				m.signer != nil && !strings.HasPrefix(sig, "jws="),
				m.hmacKey == nil && m.signer == nil && sig != "":
				t.Errorf("signature header %q", sig)
			}
			got, err := m.verifier(t, ev.Timestamp, keys).Open(context.Background(), body, h)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(plain) {
				t.Errorf("Open = %s, want %s", got, plain)
			}
		})
	}
}

// TestRejections: each attack or mistake is refused with its code.
func TestRejections(t *testing.T) {
	ev, _ := callback.NewEvent(userCreate(), at)
	now := ev.Timestamp
	rs, es := signingKey(t, callback.RS256), signingKey(t, callback.ES256)
	other, err := callback.GenerateSigningKey(callback.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys := jwksOf(t, rs, es)
	encHMAC := mode{encKey: key128, hmacKey: hmacK}
	tests := map[string]struct {
		send, recv mode
		// tamper changes the request after sealing.
		tamper   func(body []byte, h http.Header) []byte
		now      time.Time
		wantCode string
		wantIn   string
	}{
		"tampered body, hmac": {send: mode{hmacKey: hmacK}, recv: mode{hmacKey: hmacK},
			tamper:   func(b []byte, h http.Header) []byte { return []byte(strings.Replace(string(b), "lilei", "lilej", 1)) },
			wantCode: callback.CodeInvalidSignature, wantIn: "does not match"},
		"tampered body, jws": {send: mode{signer: es}, recv: mode{signer: es},
			tamper:   func(b []byte, h http.Header) []byte { return []byte(strings.Replace(string(b), "lilei", "lilej", 1)) },
			wantCode: callback.CodeInvalidSignature, wantIn: "altered"},
		"tampered ciphertext, unsigned": {send: mode{encKey: key128}, recv: mode{encKey: key128},
			tamper:   flipCiphertext,
			wantCode: callback.CodeDecryptionFailed, wantIn: "decryption failed"},
		"tampered ciphertext, hmac": {send: encHMAC, recv: encHMAC, tamper: flipCiphertext,
			wantCode: callback.CodeInvalidSignature},
		"wrong signature": {send: mode{hmacKey: hmacK}, recv: mode{hmacKey: hmacK},
			tamper: func(b []byte, h http.Header) []byte {
				h.Set(callback.HeaderSignature, "hmac-sha256="+base64.StdEncoding.EncodeToString(make([]byte, 32)))
				return b
			},
			wantCode: callback.CodeInvalidSignature},
		"wrong signature key": {send: mode{hmacKey: []byte("another-key-0123456789")}, recv: mode{hmacKey: hmacK},
			wantCode: callback.CodeInvalidSignature, wantIn: "signature key differs"},
		"wrong encryption key": {send: mode{encKey: []byte("fedcba9876543210")}, recv: mode{encKey: key128},
			wantCode: callback.CodeDecryptionFailed},
		"wrong encryption key size": {send: mode{encKey: key256}, recv: mode{encKey: key128},
			wantCode: callback.CodeDecryptionFailed, wantIn: "aes-256-gcm"},
		"signed by a key not in the JWKS": {send: mode{signer: other}, recv: mode{signer: es},
			wantCode: callback.CodeUnknownKey},
		"JWS by a published key under another kid": {send: mode{signer: &callback.SigningKey{KID: rs.KID, Alg: callback.ES256, Key: es.Key}}, recv: mode{signer: es},
			wantCode: callback.CodeInvalidSignature},
		"expired timestamp": {send: mode{hmacKey: hmacK}, recv: mode{hmacKey: hmacK}, now: now.Add(6 * time.Minute),
			wantCode: callback.CodeStaleTimestamp, wantIn: "6m0s"},
		"future timestamp": {send: mode{hmacKey: hmacK}, recv: mode{hmacKey: hmacK}, now: now.Add(-6 * time.Minute),
			wantCode: callback.CodeStaleTimestamp},
		"timestamp changed": {send: mode{hmacKey: hmacK}, recv: mode{hmacKey: hmacK},
			tamper: func(b []byte, h http.Header) []byte {
				h.Set(callback.HeaderTimestamp, callback.FormatTimestamp(now.Add(time.Second)))
				return b
			},
			wantCode: callback.CodeInvalidSignature},
		"nonce changed, unsigned encrypted": {send: mode{encKey: key256}, recv: mode{encKey: key256},
			tamper:   func(b []byte, h http.Header) []byte { h.Set(callback.HeaderNonce, callback.NewNonce()); return b },
			wantCode: callback.CodeDecryptionFailed},
		"truncated ciphertext": {send: mode{encKey: key128}, recv: mode{encKey: key128},
			tamper:   func(b []byte, h http.Header) []byte { return envelopeWith(t, b, "AAECAwQFBgcICQoLDA0ODxAREhM=") },
			wantCode: callback.CodeDecryptionFailed, wantIn: "truncated"},
		"ciphertext cut short": {send: mode{encKey: key128}, recv: mode{encKey: key128},
			tamper: func(b []byte, h http.Header) []byte {
				var env callback.Envelope
				_ = json.Unmarshal(b, &env)
				raw, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
				return envelopeWith(t, b, base64.StdEncoding.EncodeToString(raw[:len(raw)-5]))
			},
			wantCode: callback.CodeDecryptionFailed, wantIn: "decryption failed"},
		"ciphertext not base64": {send: mode{encKey: key128}, recv: mode{encKey: key128},
			tamper:   func(b []byte, h http.Header) []byte { return envelopeWith(t, b, "***") },
			wantCode: callback.CodeDecryptionFailed, wantIn: "base64"},
		"unsigned where a signature is required": {send: mode{}, recv: mode{hmacKey: hmacK},
			wantCode: callback.CodeInvalidSignature, wantIn: "not signed"},
		"hmac where jws is required": {send: mode{hmacKey: hmacK}, recv: mode{signer: es},
			wantCode: callback.CodeInvalidSignature, wantIn: `signed with "hmac-sha256"`},
		"plain where encryption is required": {send: mode{}, recv: mode{encKey: key128},
			wantCode: callback.CodeEncryptionRequired},
		"encrypted without a key": {send: mode{encKey: key128}, recv: mode{},
			wantCode: callback.CodeDecryptionFailed, wantIn: "no encryption key"},
		"no timestamp": {send: mode{}, recv: mode{},
			tamper:   func(b []byte, h http.Header) []byte { h.Del(callback.HeaderTimestamp); return b },
			wantCode: callback.CodeInvalidRequest},
		"bad timestamp": {send: mode{}, recv: mode{},
			tamper:   func(b []byte, h http.Header) []byte { h.Set(callback.HeaderTimestamp, "-1"); return b },
			wantCode: callback.CodeInvalidRequest},
		"bad nonce": {send: mode{}, recv: mode{},
			tamper:   func(b []byte, h http.Header) []byte { h.Set(callback.HeaderNonce, "a.b"); return b },
			wantCode: callback.CodeInvalidRequest},
		"JWS with alg none": {send: mode{signer: es}, recv: mode{signer: es},
			tamper: func(b []byte, h http.Header) []byte {
				h.Set(callback.HeaderSignature, "jws="+base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+es.KID+`"}`))+"..")
				return b
			},
			wantCode: callback.CodeInvalidSignature, wantIn: `"none"`},
		"JWS with HS256": {send: mode{signer: es}, recv: mode{signer: es},
			tamper: func(b []byte, h http.Header) []byte {
				h.Set(callback.HeaderSignature, "jws="+base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"`+es.KID+`"}`))+"..AAAA")
				return b
			},
			wantCode: callback.CodeInvalidSignature, wantIn: `"HS256"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			body, h := seal(t, tt.send, ev)
			if tt.tamper != nil {
				body = tt.tamper(body, h)
			}
			clock := now
			if !tt.now.IsZero() {
				clock = tt.now
			}
			_, err := tt.recv.verifier(t, clock, keys).Open(context.Background(), body, h)
			var rej *callback.Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("Open: %v, want a rejection %s", err, tt.wantCode)
			}
			if rej.Code != tt.wantCode || !strings.Contains(rej.Reason, tt.wantIn) {
				t.Errorf("rejection %s: %s; want %s containing %q", rej.Code, rej.Reason, tt.wantCode, tt.wantIn)
			}
			if (rej.Status == http.StatusUnauthorized) != errors.Is(err, callback.ErrUnauthorized) {
				t.Errorf("status %d, errors.Is(ErrUnauthorized) = %t", rej.Status, errors.Is(err, callback.ErrUnauthorized))
			}
		})
	}
}

func flipCiphertext(b []byte, h http.Header) []byte {
	var env callback.Envelope
	_ = json.Unmarshal(b, &env)
	raw, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
	raw[len(raw)/2] ^= 1
	env.Ciphertext = base64.StdEncoding.EncodeToString(raw)
	out, _ := json.Marshal(env)
	return out
}

func envelopeWith(t *testing.T, b []byte, ciphertext string) []byte {
	t.Helper()
	var env callback.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	env.Ciphertext = ciphertext
	out, _ := json.Marshal(env)
	return out
}

func TestReplayedNonce(t *testing.T) {
	ev, _ := callback.NewEvent(userCreate(), at)
	m := mode{hmacKey: hmacK}
	v := m.verifier(t, ev.Timestamp, nil)
	body, h := seal(t, m, ev)
	if _, err := v.Open(context.Background(), body, h); err != nil {
		t.Fatal(err)
	}
	_, err := v.Open(context.Background(), body, h)
	var rej *callback.Rejection
	if !errors.As(err, &rej) || rej.Code != callback.CodeReplayedNonce {
		t.Errorf("replay: %v, want %s", err, callback.CodeReplayedNonce)
	}
	// The same event sent again (a retry) has a new nonce: accepted.
	body, h = seal(t, m, ev)
	if _, err := v.Open(context.Background(), body, h); err != nil {
		t.Errorf("a retry with a fresh nonce: %v", err)
	}
}

func TestNonceCacheForgets(t *testing.T) {
	now := at
	c := &callback.NonceCache{Now: func() time.Time { return now }}
	if !c.Remember("n1", now.Add(time.Minute)) || c.Remember("n1", now.Add(time.Minute)) {
		t.Fatal("a nonce was not remembered")
	}
	now = now.Add(2 * time.Minute)
	if !c.Remember("n1", now.Add(time.Minute)) {
		t.Errorf("an expired nonce is still refused (its request is stale anyway)")
	}
	for i := range 5000 {
		c.Remember(callback.NewNonce(), now.Add(time.Duration(i%2)*time.Hour))
	}
	now = now.Add(time.Minute)
	c.Remember("last", now.Add(time.Hour))
	for i := range 5000 {
		c.Remember(callback.NewNonce()+string(rune(i)), now.Add(time.Hour))
	}
	if n := c.Len(); n > 8000 {
		t.Errorf("the cache holds %d nonces; expired ones are not swept", n)
	}
}

func TestNewSealerAndVerifier(t *testing.T) {
	if _, err := callback.NewSealer(callback.SealConfig{HMACKey: hmacK, SigningKey: signingKey(t, callback.ES256)}); err == nil {
		t.Errorf("a sealer signing twice was accepted")
	}
	if _, err := callback.NewSealer(callback.SealConfig{EncryptionKey: []byte("short")}); err == nil {
		t.Errorf("a 5-byte encryption key was accepted")
	}
	if _, err := callback.NewVerifier(callback.VerifyConfig{HMACKey: hmacK, Keys: &callback.JWKS{}}); err == nil {
		t.Errorf("a verifier of both signatures was accepted")
	}
	// Sealing needs the encoder's timestamp and nonce.
	s, _ := callback.NewSealer(callback.SealConfig{HMACKey: hmacK})
	if _, err := s.Seal([]byte("{}"), http.Header{}); err == nil {
		t.Errorf("sealing without timestamp and nonce succeeded")
	}
}

func TestPasswordOnlyInCreateAndPassword(t *testing.T) {
	op := userCreate()
	op.Attributes["password"] = op.Attributes["userName"]
	ev, err := callback.NewEvent(op, at)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Object.Attributes.Has("password") || ev.Object.Password != "" {
		t.Errorf("NewEvent sent the password attribute: %+v", ev.Object)
	}
	ev.Object.Password = "pw"
	if err := ev.Validate(); err != nil {
		t.Errorf("a create with a password: %v", err)
	}
	back, _ := ev.Operation()
	if back.Attributes["password"].Str() != "pw" {
		t.Errorf("Operation lost the password: %v", back.Attributes)
	}
	ev.Type = callback.EventUserUpdate
	if err := ev.Validate(); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("an update with a password: %v", err)
	}
}
