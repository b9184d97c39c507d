package callback

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The headers of request security, sent on every request of version 1.
const (
	// HeaderTimestamp carries when the request was sent, in milliseconds
	// since the Unix epoch, as decimal digits; the same instant as the
	// event's timestamp. Each attempt of an event has its own.
	HeaderTimestamp = "X-Midstream-Timestamp"
	// HeaderNonce carries 32 lowercase hex characters (16 random bytes),
	// fresh for every request, attempts of one event included.
	HeaderNonce = "X-Midstream-Nonce"
	// HeaderSignature carries the request's signature as SCHEME=VALUE:
	// "hmac-sha256=<base64>" or "jws=<detached compact JWS>".
	HeaderSignature = "X-Midstream-Signature"
)

// The signature schemes, the part of the X-Midstream-Signature value
// before the first "=".
const (
	SchemeHMAC = "hmac-sha256"
	SchemeJWS  = "jws"
)

// The encryption names of an encrypted body's envelope.
const (
	EncryptionAES128GCM = "aes-128-gcm"
	EncryptionAES256GCM = "aes-256-gcm"
)

// DefaultReplayWindow is how far a request's timestamp may be from the
// receiver's clock, either way, before it is refused as stale.
const DefaultReplayWindow = 5 * time.Minute

// GCM parameters: a 96-bit IV, a 128-bit tag.
const (
	ivSize  = 12
	tagSize = 16
)

// Envelope is the body of an encrypted request: the event's JSON,
// encrypted with AES-GCM. Ciphertext is standard base64 (with padding) of
// IV (12 bytes) || ciphertext || tag (16 bytes); the additional
// authenticated data is the ASCII text "<timestamp>.<nonce>" of the
// request's X-Midstream-Timestamp and X-Midstream-Nonce headers.
type Envelope struct {
	Version    string `json:"version"`
	Encryption string `json:"encryption"`
	Ciphertext string `json:"ciphertext"`
}

// ParseEncryptionKey reads an encryption key: exactly 16 ASCII characters
// (their bytes are an AES-128 key), or exactly 64 hex characters (a
// 32-byte AES-256 key). Surrounding white space, as file() reads it, is
// ignored.
func ParseEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 16:
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return nil, errors.New("a 16-character key must be printable ASCII characters")
			}
		}
		return []byte(s), nil
	case 64:
		k, err := hex.DecodeString(s)
		if err != nil {
			return nil, errors.New("a 64-character key must be hex digits (32 bytes for AES-256)")
		}
		return k, nil
	}
	n := len([]rune(s))
	return nil, fmt.Errorf("the key has %d characters: it must be exactly 16 characters (AES-128) or exactly 64 hex characters (AES-256)", n)
}

// encryptionName names the AES-GCM of a key.
func encryptionName(key []byte) string {
	if len(key) == 32 {
		return EncryptionAES256GCM
	}
	return EncryptionAES128GCM
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 16 && len(key) != 32 {
		return nil, fmt.Errorf("an encryption key is 16 or 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewNonce returns a fresh request nonce: 32 lowercase hex characters.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FormatTimestamp returns the X-Midstream-Timestamp value of t.
func FormatTimestamp(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// SigningString returns the bytes a signature covers:
//
//	<timestamp> "." <nonce> "." <body>
//
// with timestamp and nonce as sent in their headers and body the exact
// bytes of the HTTP body (the envelope when encrypted).
func SigningString(timestamp, nonce string, body []byte) []byte {
	s := make([]byte, 0, len(timestamp)+len(nonce)+2+len(body))
	s = append(s, timestamp...)
	s = append(s, '.')
	s = append(s, nonce...)
	s = append(s, '.')
	return append(s, body...)
}

// HMACSignature returns the X-Midstream-Signature value of an HMAC-signed
// request: "hmac-sha256=" + base64 (standard, padded) of
// HMAC-SHA256(key, SigningString(timestamp, nonce, body)).
func HMACSignature(key []byte, timestamp, nonce string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(SigningString(timestamp, nonce, body))
	return SchemeHMAC + "=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// aad returns the additional authenticated data of an encrypted body.
func aad(timestamp, nonce string) []byte { return []byte(timestamp + "." + nonce) }

// SealConfig says how a sender protects its requests.
type SealConfig struct {
	// EncryptionKey, when set (16 or 32 bytes, see [ParseEncryptionKey]),
	// encrypts every body with AES-GCM into an [Envelope].
	EncryptionKey []byte
	// HMACKey, when set, signs every request with HMAC-SHA256.
	HMACKey []byte
	// SigningKey, when set, signs every request with a detached JWS.
	// At most one of HMACKey and SigningKey may be set.
	SigningKey *SigningKey
	// Rand is the source of the encryption IVs; nil means crypto/rand.
	// Set it only to make examples reproducible.
	Rand io.Reader
}

// NewSealer returns the [Sealer] that applies c. It needs the
// X-Midstream-Timestamp and X-Midstream-Nonce headers, which
// [Encoder.NewRequest] sets before it calls the Sealer.
func NewSealer(c SealConfig) (Sealer, error) {
	s := &sealer{hmacKey: c.HMACKey, signer: c.SigningKey, rand: c.Rand}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if c.HMACKey != nil && c.SigningKey != nil {
		return nil, errors.New("a request is signed with HMAC or with a JWS, not both")
	}
	if c.EncryptionKey != nil {
		gcm, err := newGCM(c.EncryptionKey)
		if err != nil {
			return nil, err
		}
		s.gcm, s.encryption = gcm, encryptionName(c.EncryptionKey)
	}
	return s, nil
}

type sealer struct {
	gcm        cipher.AEAD
	encryption string
	hmacKey    []byte
	signer     *SigningKey
	rand       io.Reader
}

func (s *sealer) Seal(body []byte, h http.Header) ([]byte, error) {
	ts, nonce := h.Get(HeaderTimestamp), h.Get(HeaderNonce)
	if ts == "" || nonce == "" {
		return nil, errors.New("the request has no timestamp or nonce header to seal with")
	}
	if s.gcm != nil {
		out := make([]byte, ivSize, ivSize+len(body)+tagSize)
		if _, err := io.ReadFull(s.rand, out); err != nil {
			return nil, err
		}
		out = s.gcm.Seal(out, out[:ivSize], body, aad(ts, nonce))
		env, err := json.Marshal(Envelope{Version: Version, Encryption: s.encryption, Ciphertext: base64.StdEncoding.EncodeToString(out)})
		if err != nil {
			return nil, err
		}
		body = env
	}
	switch {
	case s.hmacKey != nil:
		h.Set(HeaderSignature, HMACSignature(s.hmacKey, ts, nonce, body))
	case s.signer != nil:
		jws, err := s.signer.SignDetached(SigningString(ts, nonce, body))
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		h.Set(HeaderSignature, SchemeJWS+"="+jws)
	}
	return body, nil
}

// Rejection codes: the "code" of the answer to a request refused before
// its event was read. Every receiver of the wire format uses them, so that
// the hub can say what went wrong (see the callback connector's README).
const (
	CodeInvalidToken       = "invalid_token"       // 401: missing or wrong bearer token
	CodeInvalidSignature   = "invalid_signature"   // 401: missing, malformed or wrong signature
	CodeUnknownKey         = "unknown_key"         // 401: a JWS by a key id the JWKS does not hold
	CodeStaleTimestamp     = "stale_timestamp"     // 401: timestamp outside the replay window
	CodeReplayedNonce      = "replayed_nonce"      // 401: a nonce already seen
	CodeDecryptionFailed   = "decryption_failed"   // 400: the body cannot be decrypted
	CodeEncryptionRequired = "encryption_required" // 400: a plain body where encryption is expected
	CodeInvalidRequest     = "invalid_request"     // 400: missing or malformed headers or body
	CodeUnsupportedVersion = "unsupported_version" // 400: another wire format version
	CodeKeysUnavailable    = "keys_unavailable"    // 503: the receiver could not fetch the JWKS
	CodeNotFound           = "not_found"           // 404: the application does not hold the event's object
)

// Rejection is a request refused by a receiver's checks: the HTTP status
// and the code of the answer, and a reason for people.
type Rejection struct {
	Status int
	Code   string
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// Is makes a 401 rejection match [ErrUnauthorized].
func (r *Rejection) Is(target error) bool {
	return target == ErrUnauthorized && r.Status == http.StatusUnauthorized
}

func reject(status int, code, format string, args ...any) *Rejection {
	return &Rejection{Status: status, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ErrUnknownKey is returned (or wrapped) by a [KeySet] that holds no key
// with the asked id.
var ErrUnknownKey = errors.New("unknown key id")

// KeySet finds the public keys of JWS signatures by key id, such as a
// JWKS fetched from the hub's /.well-known/jwks.json (package receiver's
// JWKSClient) or a static [JWKS].
type KeySet interface {
	Key(ctx context.Context, kid string) (*JWK, error)
}

// Key implements [KeySet] for a fixed key set, such as the file `midstream
// keys export` writes.
func (s *JWKS) Key(_ context.Context, kid string) (*JWK, error) {
	if k, ok := s.Find(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// NonceStore remembers nonces for replay protection.
type NonceStore interface {
	// Remember records nonce until the time until (after which a request
	// carrying it is stale anyway) and reports whether it was new.
	Remember(nonce string, until time.Time) bool
}

// VerifyConfig says what a receiver requires of requests.
type VerifyConfig struct {
	// EncryptionKey, when set, requires every body to be encrypted with it
	// (see [ParseEncryptionKey]); without it, an encrypted body is refused.
	EncryptionKey []byte
	// HMACKey, when set, requires an hmac-sha256 signature by it.
	HMACKey []byte
	// Keys, when set, requires a JWS signature by one of its keys. At most
	// one of HMACKey and Keys may be set.
	Keys KeySet
	// Window is how far a request's timestamp may be from Now, either way;
	// 0 means DefaultReplayWindow.
	Window time.Duration
	// Nonces, when set, refuses a nonce seen before.
	Nonces NonceStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier is the [Opener] that checks a request's timestamp, nonce and
// signature and decrypts its body. It is safe for concurrent use.
type Verifier struct {
	gcm        cipher.AEAD
	encryption string
	hmacKey    []byte
	keys       KeySet
	window     time.Duration
	nonces     NonceStore
	now        func() time.Time
}

var _ Opener = (*Verifier)(nil)

// NewVerifier returns the Verifier that applies c.
func NewVerifier(c VerifyConfig) (*Verifier, error) {
	if c.HMACKey != nil && c.Keys != nil {
		return nil, errors.New("a receiver verifies HMAC or JWS signatures, not both")
	}
	v := &Verifier{hmacKey: c.HMACKey, keys: c.Keys, window: c.Window, nonces: c.Nonces, now: c.Now}
	if v.window <= 0 {
		v.window = DefaultReplayWindow
	}
	if v.now == nil {
		v.now = time.Now
	}
	if c.EncryptionKey != nil {
		gcm, err := newGCM(c.EncryptionKey)
		if err != nil {
			return nil, err
		}
		v.gcm, v.encryption = gcm, encryptionName(c.EncryptionKey)
	}
	return v, nil
}

// maxTimestampDigits bounds the timestamp header: 13 digits last until
// the year 2286.
const maxTimestampDigits = 15

// Open checks the request's timestamp (within the window), its signature,
// decrypts its body and records its nonce, in that order. Errors are
// [*Rejection]s.
func (v *Verifier) Open(ctx context.Context, body []byte, h http.Header) ([]byte, error) {
	ts, nonce := h.Get(HeaderTimestamp), h.Get(HeaderNonce)
	at, err := parseTimestamp(ts)
	if err != nil {
		return nil, err
	}
	if err := checkNonce(nonce); err != nil {
		return nil, err
	}
	now := v.now()
	if d := now.Sub(at); d > v.window || d < -v.window {
		return nil, reject(http.StatusUnauthorized, CodeStaleTimestamp,
			"request timestamp %s is %s from this receiver's clock, more than the %s allowed: a replayed request, or a clock out of sync",
			at.UTC().Format(time.RFC3339Nano), absDuration(d).Round(time.Millisecond), v.window)
	}
	if err := v.checkSignature(ctx, h.Get(HeaderSignature), ts, nonce, body); err != nil {
		return nil, err
	}
	if v.gcm != nil {
		if body, err = v.decrypt(body, ts, nonce); err != nil {
			return nil, err
		}
	} else if looksEncrypted(body) {
		return nil, reject(http.StatusBadRequest, CodeDecryptionFailed,
			"the body is encrypted, but this receiver has no encryption key: configure the target's encryption_key")
	}
	if v.nonces != nil && !v.nonces.Remember(nonce, at.Add(v.window)) {
		return nil, reject(http.StatusUnauthorized, CodeReplayedNonce, "nonce %s was already used: a replayed request", nonce)
	}
	return body, nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func parseTimestamp(ts string) (time.Time, error) {
	if ts == "" {
		return time.Time{}, reject(http.StatusBadRequest, CodeInvalidRequest, "the request has no %s header", HeaderTimestamp)
	}
	if len(ts) > maxTimestampDigits || strings.TrimLeft(ts, "0123456789") != "" {
		return time.Time{}, reject(http.StatusBadRequest, CodeInvalidRequest, "%s %q is not milliseconds since the Unix epoch", HeaderTimestamp, ts)
	}
	ms, _ := strconv.ParseInt(ts, 10, 64)
	return time.UnixMilli(ms), nil
}

func checkNonce(nonce string) error {
	if nonce == "" {
		return reject(http.StatusBadRequest, CodeInvalidRequest, "the request has no %s header", HeaderNonce)
	}
	if len(nonce) != 32 || strings.Trim(nonce, "0123456789abcdef") != "" {
		return reject(http.StatusBadRequest, CodeInvalidRequest, "%s %q is not 32 lowercase hex characters", HeaderNonce, nonce)
	}
	return nil
}

func (v *Verifier) checkSignature(ctx context.Context, sig, ts, nonce string, body []byte) error {
	if v.hmacKey == nil && v.keys == nil {
		return nil
	}
	want := SchemeHMAC
	if v.keys != nil {
		want = SchemeJWS
	}
	if sig == "" {
		return reject(http.StatusUnauthorized, CodeInvalidSignature, "the request is not signed: this receiver requires a %s signature in %s", want, HeaderSignature)
	}
	scheme, value, _ := strings.Cut(sig, "=")
	if scheme != want {
		return reject(http.StatusUnauthorized, CodeInvalidSignature, "the request is signed with %q, but this receiver requires %s", scheme, want)
	}
	if v.hmacKey != nil {
		got, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return reject(http.StatusUnauthorized, CodeInvalidSignature, "the hmac-sha256 signature is not base64")
		}
		m := hmac.New(sha256.New, v.hmacKey)
		m.Write(SigningString(ts, nonce, body))
		if !hmac.Equal(got, m.Sum(nil)) {
			return reject(http.StatusUnauthorized, CodeInvalidSignature,
				"the hmac-sha256 signature does not match: the signature key differs, or the request was altered")
		}
		return nil
	}
	kid, alg, err := jwsKID(value)
	if err != nil {
		return reject(http.StatusUnauthorized, CodeInvalidSignature, "%v", err)
	}
	jwk, err := v.keys.Key(ctx, kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return reject(http.StatusUnauthorized, CodeUnknownKey, "the request is signed by key %q, which the hub's JWKS does not hold", kid)
		}
		return reject(http.StatusServiceUnavailable, CodeKeysUnavailable, "cannot read the hub's public keys: %v", err)
	}
	pub, err := jwk.PublicKey(alg)
	if err != nil {
		return reject(http.StatusUnauthorized, CodeInvalidSignature, "%v", err)
	}
	if err := verifyDetached(value, SigningString(ts, nonce, body), alg, pub); err != nil {
		return reject(http.StatusUnauthorized, CodeInvalidSignature, "%v: the request was altered, or signed by another key", err)
	}
	return nil
}

// looksEncrypted reports whether body is an envelope.
func looksEncrypted(body []byte) bool {
	if !bytes.Contains(body, []byte(`"ciphertext"`)) {
		return false
	}
	var probe struct {
		Ciphertext *string `json:"ciphertext"`
	}
	return json.Unmarshal(body, &probe) == nil && probe.Ciphertext != nil
}

func (v *Verifier) decrypt(body []byte, ts, nonce string) ([]byte, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, reject(http.StatusBadRequest, CodeInvalidRequest, "the body is not a JSON object: %v", err)
	}
	if env.Ciphertext == "" {
		return nil, reject(http.StatusBadRequest, CodeEncryptionRequired,
			"the body is not encrypted, but this receiver requires encryption: configure the target's encryption_key")
	}
	if env.Version != Version {
		return nil, &VersionError{Version: env.Version}
	}
	if env.Encryption != v.encryption {
		return nil, reject(http.StatusBadRequest, CodeDecryptionFailed,
			"the body is encrypted with %q, but this receiver's key is for %s: the encryption keys differ", env.Encryption, v.encryption)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Ciphertext)
	if err != nil {
		return nil, reject(http.StatusBadRequest, CodeDecryptionFailed, "the ciphertext is not standard base64")
	}
	if len(raw) < ivSize+tagSize {
		return nil, reject(http.StatusBadRequest, CodeDecryptionFailed,
			"the ciphertext is truncated: %d bytes, less than the %d of IV and tag", len(raw), ivSize+tagSize)
	}
	plain, err := v.gcm.Open(nil, raw[:ivSize], raw[ivSize:], aad(ts, nonce))
	if err != nil {
		return nil, reject(http.StatusBadRequest, CodeDecryptionFailed,
			"decryption failed: the encryption key differs, or the ciphertext, timestamp or nonce was altered")
	}
	return plain, nil
}

// NonceCache is an in-memory [NonceStore] for one receiver process. It
// forgets a nonce once its request would be stale anyway. Receivers that
// run several instances need a shared store instead.
type NonceCache struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	m         map[string]time.Time
	sweepSize int
}

// Remember records nonce until until, reporting whether it was new.
func (c *NonceCache) Remember(nonce string, until time.Time) bool {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]time.Time{}
		c.sweepSize = 1024
	}
	t := now()
	if exp, seen := c.m[nonce]; seen && exp.After(t) {
		return false
	}
	c.m[nonce] = until
	if len(c.m) >= c.sweepSize {
		for k, exp := range c.m {
			if !exp.After(t) {
				delete(c.m, k)
			}
		}
		c.sweepSize = max(1024, 2*len(c.m))
	}
	return true
}

// Len returns how many nonces the cache holds.
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
