// Package keys keeps the hub's signing keys: the key pairs that sign the
// requests of callback targets with signature = "jws".
//
// A key is generated the first time a target needs one (RSA 2048 for
// RS256, P-256 for ES256; one per algorithm, shared by every target that
// uses it), stored in the store with its private half encrypted with
// AES-256-GCM under the pipeline block's keys_encryption_key, handed to the
// target as its sensitive signing_key setting ([TargetConfig]), published
// at /.well-known/jwks.json by `midstream run` ([Handler]), exported as a
// static JWKS by `midstream keys export`, and replaced by `midstream keys
// rotate` ([Keyring.Rotate]), which keeps the previous key published until
// a given time.
package keys

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
)

// The callback connector's settings this package reads and sets.
const (
	// ConnectorName is the built-in connector whose targets sign with
	// the hub's keys.
	ConnectorName = "callback"
	// SignatureField selects the signature; SignatureJWS asks for the
	// hub's keys.
	SignatureField = "signature"
	SignatureJWS   = "jws"
	// SignatureAlgField names the algorithm, RS256 (the default) or ES256.
	SignatureAlgField = "signature_alg"
	// SigningKeyField is the sensitive setting that carries the private
	// key (a JWK) to the target.
	SigningKeyField = "signing_key"
	// FormatField selects a compatibility profile; FormatIDaaS always
	// signs with the hub's RS256 key.
	FormatField = "format"
	FormatIDaaS = "idaas"
)

// DefaultOverlap is how long `midstream keys rotate` keeps the previous
// key published.
const DefaultOverlap = 7 * 24 * time.Hour

// NoEncryptionKeyError is returned when a signing key is needed and the
// pipeline block sets no keys_encryption_key.
type NoEncryptionKeyError struct {
	// Target names the target that needed the key, if any.
	Target string
}

func (e *NoEncryptionKeyError) Error() string {
	who := "asymmetric signing"
	if e.Target != "" {
		who = fmt.Sprintf("target %s signs with the hub's keys (signature = \"jws\"), but", e.Target)
		return who + " the pipeline block sets no keys_encryption_key, which the hub needs to keep its private keys encrypted"
	}
	return who + " needs keys_encryption_key in the pipeline block, which the hub needs to keep its private keys encrypted"
}

// Hint says how to fix it.
func (e *NoEncryptionKeyError) Hint() string {
	return `add keys_encryption_key = env("MIDSTREAM_KEYS_KEY") to the pipeline block and set MIDSTREAM_KEYS_KEY to 64 hex characters (openssl rand -hex 32); keep it safe: it decrypts the hub's signing keys`
}

// Keyring reads and makes the hub's signing keys in a store.
type Keyring struct {
	st   *store.Store
	aead cipher.AEAD // nil: no encryption key (publishing only)
	// Now is the clock; nil means the store's.
	Now func() time.Time
}

// New returns the keyring of st. encryptionKey is the pipeline's
// keys_encryption_key (64 hex characters); without it the keyring can
// publish keys but not make or use them.
func New(st *store.Store, encryptionKey string) (*Keyring, error) {
	k := &Keyring{st: st}
	if encryptionKey = strings.TrimSpace(encryptionKey); encryptionKey != "" {
		raw, err := hex.DecodeString(encryptionKey)
		if err != nil || len(raw) != 32 {
			return nil, errors.New("keys_encryption_key must be 64 hex characters (32 bytes)")
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		if k.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ForPipeline returns the keyring of st with p's keys_encryption_key.
func ForPipeline(st *store.Store, p *config.Pipeline) (*Keyring, error) {
	return New(st, p.KeysEncryptionKey)
}

func (k *Keyring) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return k.st.Now()
}

// sealVersion prefixes a sealed private key: the format of what follows
// (IV, then AES-256-GCM of the PKCS #8 DER key with the tag).
const sealVersion = 1

// aad binds a sealed private key to its row: a key cannot be moved to
// another id or algorithm.
func aad(kid, alg string) []byte { return []byte("midstream signing key\x00" + kid + "\x00" + alg) }

func (k *Keyring) seal(sk *callback.SigningKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(sk.Key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+12, 1+12+len(der)+16)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[1:13], der, aad(sk.KID, sk.Alg)), nil
}

func (k *Keyring) open(row store.SigningKey) (*callback.SigningKey, error) {
	b := row.PrivateKey
	if len(b) < 1+12+16 || b[0] != sealVersion {
		return nil, fmt.Errorf("signing key %s is not stored in a form this midstream reads", row.KID)
	}
	der, err := k.aead.Open(nil, b[1:13], b[13:], aad(row.KID, row.Alg))
	if err != nil {
		return nil, fmt.Errorf("keys_encryption_key does not decrypt signing key %s (%s, made %s): the key was changed; restore the previous keys_encryption_key, or make new signing keys with `midstream keys rotate`",
			row.KID, row.Alg, row.CreatedAt.UTC().Format(time.RFC3339))
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", row.KID, priv)
	}
	sk, err := callback.NewSigningKey(row.Alg, signer)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	if sk.KID != row.KID {
		return nil, fmt.Errorf("signing key %s: the private key does not match its id", row.KID)
	}
	return sk, nil
}

func checkAlg(alg string) error {
	if alg != callback.RS256 && alg != callback.ES256 {
		return fmt.Errorf("unsupported signing algorithm %q: use %s or %s", alg, callback.RS256, callback.ES256)
	}
	return nil
}

// Signer returns the key that signs for alg, making and storing one when
// there is none.
func (k *Keyring) Signer(ctx context.Context, alg string) (*callback.SigningKey, error) {
	if err := checkAlg(alg); err != nil {
		return nil, err
	}
	if k.aead == nil {
		return nil, &NoEncryptionKeyError{}
	}
	for range 2 {
		row, ok, err := k.st.ActiveSigningKey(ctx, alg)
		if err != nil {
			return nil, err
		}
		if ok {
			return k.open(row)
		}
		sk, row, err := k.generate(alg)
		if err != nil {
			return nil, err
		}
		err = k.st.AddSigningKey(ctx, row)
		if errors.Is(err, store.ErrKeyExists) {
			continue // another process made one first: use it
		}
		if err != nil {
			return nil, err
		}
		return sk, nil
	}
	return nil, fmt.Errorf("could not make a %s signing key", alg)
}

func (k *Keyring) generate(alg string) (*callback.SigningKey, store.SigningKey, error) {
	sk, err := callback.GenerateSigningKey(alg)
	if err != nil {
		return nil, store.SigningKey{}, err
	}
	sealed, err := k.seal(sk)
	if err != nil {
		return nil, store.SigningKey{}, err
	}
	pub, err := sk.PublicJWK()
	if err != nil {
		return nil, store.SigningKey{}, err
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return nil, store.SigningKey{}, err
	}
	return sk, store.SigningKey{KID: sk.KID, Alg: alg, PublicJWK: string(pubJSON), PrivateKey: sealed, CreatedAt: k.now()}, nil
}

// Rotation is what [Keyring.Rotate] did.
type Rotation struct {
	// New is the key that signs from now on.
	New store.SigningKey
	// Old is the key it replaced (zero when there was none), published
	// until Old.ExpiresAt.
	Old store.SigningKey
}

// Rotate makes a new key for alg, which signs from now on; the previous
// one stops signing, its private key is erased, and it stays published
// until until. Keys whose publication ended are deleted.
func (k *Keyring) Rotate(ctx context.Context, alg string, until time.Time) (Rotation, error) {
	if err := checkAlg(alg); err != nil {
		return Rotation{}, err
	}
	if k.aead == nil {
		return Rotation{}, &NoEncryptionKeyError{}
	}
	_, row, err := k.generate(alg)
	if err != nil {
		return Rotation{}, err
	}
	old, err := k.st.RotateSigningKey(ctx, row, until)
	if err != nil {
		return Rotation{}, err
	}
	if _, err := k.st.PruneSigningKeys(ctx, k.now()); err != nil {
		return Rotation{}, err
	}
	return Rotation{New: row, Old: old}, nil
}

// JWKS returns the hub's published public keys: every key that signs and
// every retired key whose overlap has not ended, the newest first.
func (k *Keyring) JWKS(ctx context.Context) (*callback.JWKS, error) {
	return PublishedJWKS(ctx, k.st, k.now())
}

// PublishedJWKS returns the public keys st publishes at the time now.
func PublishedJWKS(ctx context.Context, st *store.Store, now time.Time) (*callback.JWKS, error) {
	rows, err := st.PublishedSigningKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	set := &callback.JWKS{Keys: []callback.JWK{}}
	for _, r := range rows {
		var j callback.JWK
		if err := json.Unmarshal([]byte(r.PublicJWK), &j); err != nil {
			return nil, fmt.Errorf("signing key %s: stored public key: %w", r.KID, err)
		}
		set.Keys = append(set.Keys, j.Public())
	}
	return set, nil
}

// JWKSPath is where `midstream run` serves the hub's public keys.
const JWKSPath = "/.well-known/jwks.json"

// Handler serves the public keys of st as a JWKS (GET and HEAD), for
// receivers to verify signatures with. It reads the store on every
// request, so a rotation shows at once; receivers may cache the answer
// for five minutes.
func Handler(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := PublishedJWKS(r.Context(), st, st.Now())
		if err != nil {
			http.Error(w, "cannot read the signing keys", http.StatusInternalServerError)
			return
		}
		b, _ := json.MarshalIndent(set, "", "  ")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(append(b, '\n'))
	})
}

// SigningAlg returns the algorithm target t signs with from the hub's
// keys, and whether it does: a built-in callback target with signature =
// "jws" (RS256 unless signature_alg says ES256), or with format = "idaas"
// (always RS256, as IDaaS).
func SigningAlg(t *config.Target) (string, bool) {
	if t.Connector != ConnectorName || t.Ref.Path != "" {
		return "", false
	}
	sig, format := t.Config.String(SignatureField), t.Config.String(FormatField)
	switch {
	case format == FormatIDaaS && (sig == "" || sig == SignatureJWS):
		return callback.RS256, true
	case sig != SignatureJWS:
		return "", false
	}
	alg := t.Config.String(SignatureAlgField)
	if alg == "" {
		alg = callback.RS256
	}
	return alg, true
}

// Algorithms returns the algorithms the targets of p sign with from the
// hub's keys, sorted.
func Algorithms(p *config.Pipeline) []string {
	var algs []string
	for _, t := range p.Targets {
		if alg, ok := SigningAlg(t); ok && !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	slices.Sort(algs)
	return algs
}

// TargetConfig returns the settings the hub adds to target t's
// configuration before configuring its connector: for a callback target
// with signature = "jws", its private signing key as the sensitive
// signing_key (made on first use); nothing for other targets. It fails
// when the pipeline sets no keys_encryption_key, when the stored keys do
// not decrypt with it, and when the target block sets signing_key itself.
// Merge the result with [Merge].
func TargetConfig(ctx context.Context, st *store.Store, p *config.Pipeline, t *config.Target) (map[string]any, error) {
	alg, ok := SigningAlg(t)
	if !ok {
		return nil, nil
	}
	if t.Config.String(SigningKeyField) != "" {
		return nil, fmt.Errorf("target %s: signing_key is set by the hub from its key store; remove it from the target block", t.Name)
	}
	if p.KeysEncryptionKey == "" {
		return nil, &NoEncryptionKeyError{Target: t.Name}
	}
	kr, err := ForPipeline(st, p)
	if err != nil {
		return nil, err
	}
	sk, err := kr.Signer(ctx, alg)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	text, err := sk.MarshalText()
	if err != nil {
		return nil, err
	}
	return map[string]any{SigningKeyField: string(text)}, nil
}

// Merge returns cfg with the values of extra added, checked against
// schema (the connector's). With no extra values it returns cfg.
func Merge(schema sdk.Schema, cfg sdk.Config, extra map[string]any) (sdk.Config, error) {
	if len(extra) == 0 {
		return cfg, nil
	}
	vals := cfg.Values()
	for k, v := range extra {
		vals[k] = v
	}
	merged, diags := sdk.NewConfig(schema, vals)
	if diags.HasError() {
		return cfg, fmt.Errorf("the hub's settings do not fit the connector's schema: %v", diags.Err())
	}
	return merged, nil
}

// Prepare makes the signing keys the targets of p need and that the store
// lacks, so that the JWKS holds them before the first request is signed.
// `midstream run` calls it when it starts.
func Prepare(ctx context.Context, st *store.Store, p *config.Pipeline) error {
	algs := Algorithms(p)
	if len(algs) == 0 {
		return nil
	}
	if p.KeysEncryptionKey == "" {
		for _, t := range p.Targets {
			if _, ok := SigningAlg(t); ok {
				return &NoEncryptionKeyError{Target: t.Name}
			}
		}
	}
	kr, err := ForPipeline(st, p)
	if err != nil {
		return err
	}
	for _, alg := range algs {
		if _, err := kr.Signer(ctx, alg); err != nil {
			return err
		}
	}
	return nil
}
