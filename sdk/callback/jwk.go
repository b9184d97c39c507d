package callback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The JWS algorithms of asymmetric signatures.
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), with
	// 2048-bit (or longer) RSA keys.
	RS256 = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256 (RFC 7518 §3.4); the signature
	// is r and s as 32 big-endian bytes each.
	ES256 = "ES256"
)

// minRSABits is the smallest RSA modulus a JWK may have.
const minRSABits = 2048

var b64url = base64.RawURLEncoding

// JWK is a JSON Web Key (RFC 7517) for RS256 or ES256: an RSA key or an
// EC key on P-256. The private members are set only in a private key.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// RSA: modulus and exponent.
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC: curve and point.
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	// Private members: d (both), and the RSA primes and CRT values.
	D  string `json:"d,omitempty"`
	P  string `json:"p,omitempty"`
	Q  string `json:"q,omitempty"`
	DP string `json:"dp,omitempty"`
	DQ string `json:"dq,omitempty"`
	QI string `json:"qi,omitempty"`
}

// JWKS is a JSON Web Key Set, as served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// Find returns the key with id kid.
func (s *JWKS) Find(kid string) (*JWK, bool) {
	if s == nil {
		return nil, false
	}
	for i := range s.Keys {
		if s.Keys[i].Kid == kid {
			k := s.Keys[i]
			return &k, true
		}
	}
	return nil, false
}

// Public returns the key without its private members.
func (k JWK) Public() JWK {
	k.D, k.P, k.Q, k.DP, k.DQ, k.QI = "", "", "", "", "", ""
	return k
}

// Thumbprint returns the key's RFC 7638 thumbprint: base64url (no
// padding) of the SHA-256 of its required public members in lexical order.
// Midstream uses it as the key id.
func (k JWK) Thumbprint() (string, error) {
	var canon string
	switch k.Kty {
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, k.Crv, k.X, k.Y)
	default:
		return "", fmt.Errorf("unsupported key type %q", k.Kty)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64url.EncodeToString(sum[:]), nil
}

// PublicKey returns the key's public part as an *rsa.PublicKey or an
// *ecdsa.PublicKey, checking it is fit for alg (RS256: RSA of at least
// 2048 bits; ES256: a point on P-256).
func (k JWK) PublicKey(alg string) (crypto.PublicKey, error) {
	if k.Alg != "" && k.Alg != alg {
		return nil, fmt.Errorf("key %s is for %s, not %s", k.Kid, k.Alg, alg)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("key %s is for %q, not for signatures", k.Kid, k.Use)
	}
	switch alg {
	case RS256:
		if k.Kty != "RSA" {
			return nil, fmt.Errorf("key %s is of type %q, but %s needs an RSA key", k.Kid, k.Kty, alg)
		}
		n, err := bigInt("n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := bigInt("e", k.E)
		if err != nil {
			return nil, err
		}
		if n.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key %s has %d bits, fewer than %d", k.Kid, n.BitLen(), minRSABits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, fmt.Errorf("RSA key %s has an invalid exponent", k.Kid)
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case ES256:
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil, fmt.Errorf("key %s is %s %s, but %s needs an EC key on P-256", k.Kid, k.Kty, k.Crv, alg)
		}
		x, err := fixedBytes("x", k.X, 32)
		if err != nil {
			return nil, err
		}
		y, err := fixedBytes("y", k.Y, 32)
		if err != nil {
			return nil, err
		}
		// The uncompressed point form; ParseUncompressedPublicKey checks
		// that the point is on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("EC key %s: %w", k.Kid, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q (Midstream signs with %s or %s)", alg, RS256, ES256)
}

func bigInt(name, s string) (*big.Int, error) {
	b, err := b64url.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("JWK member %q is not base64url", name)
	}
	return new(big.Int).SetBytes(b), nil
}

func fixedBytes(name, s string, n int) ([]byte, error) {
	b, err := b64url.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("JWK member %q is not %d bytes of base64url", name, n)
	}
	return b, nil
}

func bigBytes(i *big.Int) string { return b64url.EncodeToString(i.Bytes()) }

// SigningKey is a private key that signs callbacks with JWS: the hub's
// key, handed to the callback target as its signing_key setting.
type SigningKey struct {
	// KID is the key id, sent in each signature's header and published
	// in the JWKS; Midstream uses the key's RFC 7638 thumbprint.
	KID string
	// Alg is RS256 or ES256.
	Alg string
	// Key is an *rsa.PrivateKey (RS256) or an *ecdsa.PrivateKey on P-256
	// (ES256).
	Key crypto.Signer
}

// GenerateSigningKey makes a new key for alg: RSA 2048 for RS256, P-256
// for ES256, with its thumbprint as KID.
func GenerateSigningKey(alg string) (*SigningKey, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case RS256:
		key, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q (use %s or %s)", alg, RS256, ES256)
	}
	if err != nil {
		return nil, err
	}
	return NewSigningKey(alg, key)
}

// NewSigningKey wraps key for alg, with its thumbprint as KID.
func NewSigningKey(alg string, key crypto.Signer) (*SigningKey, error) {
	k := &SigningKey{Alg: alg, Key: key}
	pub, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	if k.KID, err = pub.Thumbprint(); err != nil {
		return nil, err
	}
	if _, err := pub.PublicKey(alg); err != nil {
		return nil, err
	}
	return k, nil
}

// PublicJWK returns the public key as a JWK with kid, "use": "sig" and
// alg, as published in the JWKS.
func (k *SigningKey) PublicJWK() (JWK, error) {
	j, err := k.jwk(false)
	return j, err
}

// JWK returns the private key as a JWK: the form of the callback target's
// signing_key setting. It is a secret.
func (k *SigningKey) JWK() (JWK, error) { return k.jwk(true) }

func (k *SigningKey) jwk(private bool) (JWK, error) {
	j := JWK{Kid: k.KID, Use: "sig", Alg: k.Alg}
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		if k.Alg != RS256 {
			return JWK{}, fmt.Errorf("an RSA key cannot sign %s", k.Alg)
		}
		j.Kty, j.N, j.E = "RSA", bigBytes(key.N), bigBytes(big.NewInt(int64(key.E)))
		if private {
			if len(key.Primes) != 2 {
				return JWK{}, errors.New("multi-prime RSA keys are not supported")
			}
			key.Precompute()
			j.D, j.P, j.Q = bigBytes(key.D), bigBytes(key.Primes[0]), bigBytes(key.Primes[1])
			j.DP, j.DQ, j.QI = bigBytes(key.Precomputed.Dp), bigBytes(key.Precomputed.Dq), bigBytes(key.Precomputed.Qinv)
		}
	case *ecdsa.PrivateKey:
		if k.Alg != ES256 || key.Curve != elliptic.P256() {
			return JWK{}, fmt.Errorf("an EC key on %s cannot sign %s", key.Curve.Params().Name, k.Alg)
		}
		pt, err := key.PublicKey.Bytes()
		if err != nil {
			return JWK{}, err
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64url.EncodeToString(pt[1:33]), b64url.EncodeToString(pt[33:])
		if private {
			d, err := key.Bytes()
			if err != nil {
				return JWK{}, err
			}
			j.D = b64url.EncodeToString(d)
		}
	default:
		return JWK{}, fmt.Errorf("unsupported key type %T", k.Key)
	}
	return j, nil
}

// MarshalText encodes the private key as JWK JSON, the value of the
// callback target's signing_key setting.
func (k *SigningKey) MarshalText() ([]byte, error) {
	j, err := k.JWK()
	if err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

// ParseSigningKey reads a private key in JWK JSON (the signing_key
// setting): an RSA key for RS256 or a P-256 key for ES256, with its "alg".
// The key id is the JWK's "kid", or its thumbprint when it has none.
func ParseSigningKey(s string) (*SigningKey, error) {
	var j JWK
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&j); err != nil {
		return nil, errors.New("the signing key is not a JWK (JSON)")
	}
	if j.D == "" {
		return nil, errors.New("the signing key is a public key: it has no private member \"d\"")
	}
	alg := j.Alg
	if alg == "" {
		switch j.Kty {
		case "RSA":
			alg = RS256
		case "EC":
			alg = ES256
		}
	}
	pub, err := j.PublicKey(alg)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	switch p := pub.(type) {
	case *rsa.PublicKey:
		var ints [6]*big.Int
		for i, m := range []struct{ name, v string }{{"d", j.D}, {"p", j.P}, {"q", j.Q}, {"dp", j.DP}, {"dq", j.DQ}, {"qi", j.QI}} {
			if ints[i], err = bigInt(m.name, m.v); err != nil {
				return nil, err
			}
		}
		rk := &rsa.PrivateKey{PublicKey: *p, D: ints[0], Primes: []*big.Int{ints[1], ints[2]}}
		if err := rk.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA signing key: %w", err)
		}
		rk.Precompute()
		key = rk
	case *ecdsa.PublicKey:
		d, err := fixedBytes("d", j.D, 32)
		if err != nil {
			return nil, err
		}
		ek, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, fmt.Errorf("invalid EC signing key: %w", err)
		}
		if !ek.PublicKey.Equal(p) {
			return nil, errors.New("invalid EC signing key: d does not match x and y")
		}
		key = ek
	}
	k := &SigningKey{Alg: alg, Key: key, KID: j.Kid}
	if k.KID == "" {
		if k.KID, err = j.Thumbprint(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// jwsHeader is the protected header of a callback signature.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// SignDetached returns the detached compact JWS (RFC 7515 appendix F) of
// payload: BASE64URL(header) + ".." + BASE64URL(signature), the signature
// being over BASE64URL(header) + "." + BASE64URL(payload). The header is
// {"alg":ALG,"kid":KID}.
func (k *SigningKey) SignDetached(payload []byte) (string, error) {
	hdr, _ := json.Marshal(jwsHeader{Alg: k.Alg, Kid: k.KID})
	protected := b64url.EncodeToString(hdr)
	sig, err := k.sign(jwsSigningInput(protected, payload))
	if err != nil {
		return "", err
	}
	return protected + ".." + b64url.EncodeToString(sig), nil
}

// SignCompact returns the compact JWS of payload with the protected header
// {"alg":ALG,"kid":KID,"typ":typ} (typ left out when empty): header,
// payload and signature, base64url, joined by dots. With typ "JWT" and a
// JSON payload of claims it is a signed JWT.
func (k *SigningKey) SignCompact(payload []byte, typ string) (string, error) {
	hdr, _ := json.Marshal(struct {
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
		Alg string `json:"alg"`
	}{k.KID, typ, k.Alg})
	protected := b64url.EncodeToString(hdr)
	sig, err := k.sign(jwsSigningInput(protected, payload))
	if err != nil {
		return "", err
	}
	return protected + "." + b64url.EncodeToString(payload) + "." + b64url.EncodeToString(sig), nil
}

func jwsSigningInput(protected string, payload []byte) []byte {
	input := make([]byte, 0, len(protected)+1+b64url.EncodedLen(len(payload)))
	input = append(input, protected...)
	input = append(input, '.')
	return b64url.AppendEncode(input, payload)
}

// sign signs input with the key's algorithm: PKCS #1 v1.5 (RS256) or
// ECDSA with r ‖ s (ES256), over its SHA-256.
func (k *SigningKey) sign(input []byte) ([]byte, error) {
	digest := sha256.Sum256(input)
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k.Key)
}

// VerifyCompact checks a compact JWS (header.payload.signature) against
// the keys of set and returns its payload. The header's alg must be RS256
// or ES256 and its kid a key of set fit for it.
func VerifyCompact(ctx context.Context, jws string, set KeySet) ([]byte, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, errors.New("the JWS is not in compact form")
	}
	kid, alg, err := jwsKID(jws)
	if err != nil {
		return nil, err
	}
	jwk, err := set.Key(ctx, kid)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.PublicKey(alg)
	if err != nil {
		return nil, err
	}
	payload, err := b64url.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the JWS payload is not base64url")
	}
	if err := verifyDetached(parts[0]+".."+parts[2], payload, alg, pub); err != nil {
		return nil, err
	}
	return payload, nil
}

// jwsKID returns the key id and algorithm of a detached JWS's header.
func jwsKID(jws string) (kid, alg string, err error) {
	protected, _, ok := strings.Cut(jws, ".")
	if !ok {
		return "", "", errors.New("the JWS is not in compact form")
	}
	raw, err := b64url.DecodeString(protected)
	if err != nil {
		return "", "", errors.New("the JWS header is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", "", errors.New("the JWS header is not a JSON object")
	}
	if len(h.Crit) > 0 {
		return "", "", errors.New(`the JWS header has "crit" extensions, which this receiver does not understand`)
	}
	if h.Alg != RS256 && h.Alg != ES256 {
		return "", "", fmt.Errorf("the JWS algorithm %q is not accepted (only %s and %s)", h.Alg, RS256, ES256)
	}
	if h.Kid == "" {
		return "", "", errors.New("the JWS header has no kid")
	}
	return h.Kid, h.Alg, nil
}

// verifyDetached checks a detached compact JWS of payload against key.
func verifyDetached(jws string, payload []byte, alg string, key crypto.PublicKey) error {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		return errors.New("the JWS is not a detached compact JWS (header..signature)")
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil {
		return errors.New("the JWS signature is not base64url")
	}
	digest := sha256.Sum256(jwsSigningInput(parts[0], payload))
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if alg != RS256 || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return errors.New("the JWS signature does not match")
		}
	case *ecdsa.PublicKey:
		if alg != ES256 || len(sig) != 64 {
			return errors.New("the JWS signature does not match")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return errors.New("the JWS signature does not match")
		}
	default:
		return fmt.Errorf("unsupported key type %T", key)
	}
	return nil
}
