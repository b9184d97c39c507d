package keys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/keys"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

const (
	keysKey  = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	otherKey = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
)

func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "midstream.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func keyring(t *testing.T, st *store.Store, key string) *keys.Keyring {
	t.Helper()
	kr, err := keys.New(st, key)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSignerMadeOnceAndKeptEncrypted(t *testing.T) {
	ctx := context.Background()
	st, path := openStore(t)
	kr := keyring(t, st, keysKey)
	var wg sync.WaitGroup
	kids := make([]string, 4)
	for i := range kids {
		wg.Go(func() {
			sk, err := kr.Signer(ctx, callback.ES256)
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = sk.KID
		})
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("concurrent first uses made several keys: %v", kids)
		}
	}
	rs, err := kr.Signer(ctx, callback.RS256)
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := rs.PublicJWK(); pub.Kty != "RSA" || len(pub.N) < 340 {
		t.Errorf("RS256 key %+v, want RSA 2048", pub)
	}

	// The private key is in the store encrypted only.
	der, _ := x509.MarshalPKCS8PrivateKey(rs.Key)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if wal, err := os.ReadFile(path + "-wal"); err == nil {
		raw = append(raw, wal...)
	}
	if bytes.Contains(raw, der[len(der)-64:]) {
		t.Errorf("the store holds the private key in clear")
	}

	// Another process (a new keyring) reads the same keys.
	again, err := keyring(t, st, keysKey).Signer(ctx, callback.RS256)
	if err != nil || again.KID != rs.KID {
		t.Fatalf("reopened: %v, %v; want %s", again, err, rs.KID)
	}

	// A changed keys_encryption_key cannot read them, and says so.
	_, err = keyring(t, st, otherKey).Signer(ctx, callback.RS256)
	if err == nil || !strings.Contains(err.Error(), "does not decrypt signing key "+rs.KID) {
		t.Errorf("wrong keys_encryption_key: %v", err)
	}
	// No keys_encryption_key: no signing.
	var nk *keys.NoEncryptionKeyError
	if _, err := keyring(t, st, "").Signer(ctx, callback.RS256); !errors.As(err, &nk) || nk.Hint() == "" {
		t.Errorf("no keys_encryption_key: %v", err)
	}
	if _, err := keys.New(st, "abc"); err == nil {
		t.Errorf("a short keys_encryption_key was accepted")
	}
	if _, err := kr.Signer(ctx, "HS256"); err == nil {
		t.Errorf("HS256 accepted")
	}
}

func TestRotateAndPublish(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	kr := keyring(t, st, keysKey)
	first, err := kr.Signer(ctx, callback.RS256)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(keys.Handler(st))
	t.Cleanup(srv.Close)
	published := func() []string {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "public, max-age=300" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", resp.Header)
		}
		var set callback.JWKS
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			if k.D != "" || k.P != "" {
				t.Errorf("the JWKS holds a private key")
			}
			kids = append(kids, k.Kid)
		}
		return kids
	}
	if got := published(); len(got) != 1 || got[0] != first.KID {
		t.Fatalf("published %v, want %s", got, first.KID)
	}

	now = now.Add(time.Hour)
	rot, err := kr.Rotate(ctx, callback.RS256, now.Add(keys.DefaultOverlap))
	if err != nil {
		t.Fatal(err)
	}
	if rot.Old.KID != first.KID || rot.New.KID == first.KID || !rot.Old.ExpiresAt.Equal(now.Add(keys.DefaultOverlap)) {
		t.Errorf("rotation %+v", rot)
	}
	if sk, _ := kr.Signer(ctx, callback.RS256); sk.KID != rot.New.KID {
		t.Errorf("after rotation the signer is %s, want %s", sk.KID, rot.New.KID)
	}
	if got := published(); len(got) != 2 || got[0] != rot.New.KID || got[1] != first.KID {
		t.Errorf("during the overlap: %v, want the new key then the old", got)
	}
	now = now.Add(keys.DefaultOverlap + time.Second)
	if got := published(); len(got) != 1 || got[0] != rot.New.KID {
		t.Errorf("after the overlap: %v, want the new key only", got)
	}
	// The next rotation deletes what expired.
	if _, err := kr.Rotate(ctx, callback.RS256, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	all, _ := st.SigningKeys(ctx)
	if len(all) != 2 {
		t.Errorf("%d keys stored, want the active one and the one just retired", len(all))
	}
}

// loadPipeline loads HCL as the CLI does.
func loadPipeline(t *testing.T, hcl string) *config.Pipeline {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := config.Load(context.Background(), dir, config.DefaultResolver())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return p
}

func pipelineHCL(keysLine, target string) string {
	return `pipeline "p" {
` + keysLine + `
}
source "csv" "hr" {
  path      = "hr.csv"
  id_column = "id"
}
` + target
}

// TestTargetConfig: the whole path, from HCL to a verified request: the
// hub's key handed to a real callback connector, and the request it signs
// verified by sdk/receiver against the JWKS the hub serves.
func TestTargetConfig(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	jwks := httptest.NewServer(keys.Handler(st))
	t.Cleanup(jwks.Close)
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: "tok", EncryptionKey: "0123456789abcdef", JWKSURL: jwks.URL, App: app})
	if err != nil {
		t.Fatal(err)
	}
	peer := httptest.NewServer(h)
	t.Cleanup(peer.Close)

	p := loadPipeline(t, pipelineHCL(`  keys_encryption_key = "`+keysKey+`"`, `
target "callback" "app" {
  url            = "`+peer.URL+`"
  token          = "tok"
  encryption_key = "0123456789abcdef"
  signature      = "jws"
  signature_alg  = "ES256"
}
target "callback" "plain" {
  url   = "`+peer.URL+`"
  token = "tok"
}
`))
	if got := keys.Algorithms(p); len(got) != 1 || got[0] != callback.ES256 {
		t.Errorf("Algorithms = %v", got)
	}
	if err := keys.Prepare(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	tgt, _ := p.Target("app")
	extra, err := keys.TargetConfig(ctx, st, p, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := extra[keys.SigningKeyField].(string); !ok || len(extra) != 1 {
		t.Fatalf("TargetConfig = %v", extra)
	}
	// What the engine does with it.
	b, _ := plugins.Lookup(tgt.Connector)
	c := b.New()
	cfg, err := keys.Merge(c.Schema(), tgt.Config, extra)
	if err != nil {
		t.Fatal(err)
	}
	var resp sdk.ConfigureResponse
	c.Configure(ctx, sdk.ConfigureRequest{Config: cfg, Dir: p.Dir}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics.Err())
	}
	res, err := sdk.Apply(ctx, c.(sdk.Target), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
	if err != nil {
		t.Fatalf("a request signed with the hub's key: %v", err)
	}
	if res.TargetID == "" || len(app.Objects()) != 1 {
		t.Errorf("result %+v", res)
	}

	// Other targets get nothing.
	plain, _ := p.Target("plain")
	if extra, err := keys.TargetConfig(ctx, st, p, plain); err != nil || extra != nil {
		t.Errorf("TargetConfig of a target without jws: %v, %v", extra, err)
	}
	if cfg, err := keys.Merge(c.Schema(), plain.Config, nil); err != nil || cfg.String("url") != peer.URL {
		t.Errorf("Merge without extras: %v", err)
	}
}

func TestTargetConfigRefusals(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	target := `
target "callback" "app" {
  url       = "https://app.example.com/hook"
  token     = "tok"
  signature = "jws"
%s
}
`
	t.Run("no keys_encryption_key", func(t *testing.T) {
		p := loadPipeline(t, pipelineHCL("", strings.Replace(target, "%s", "", 1)))
		tgt, _ := p.Target("app")
		_, err := keys.TargetConfig(ctx, st, p, tgt)
		var nk *keys.NoEncryptionKeyError
		if !errors.As(err, &nk) || !strings.Contains(err.Error(), "target app") {
			t.Errorf("TargetConfig: %v", err)
		}
		if err := keys.Prepare(ctx, st, p); !errors.As(err, &nk) {
			t.Errorf("Prepare: %v", err)
		}
	})
	t.Run("signing_key in the block", func(t *testing.T) {
		p := loadPipeline(t, pipelineHCL(`  keys_encryption_key = "`+keysKey+`"`, strings.Replace(target, "%s", `  signing_key = "{}"`, 1)))
		tgt, _ := p.Target("app")
		if _, err := keys.TargetConfig(ctx, st, p, tgt); err == nil || !strings.Contains(err.Error(), "set by the hub") {
			t.Errorf("TargetConfig: %v", err)
		}
	})
}

// The names this package uses are the callback connector's.
func TestConnectorFields(t *testing.T) {
	b, ok := plugins.Lookup(keys.ConnectorName)
	if !ok {
		t.Fatal("no built-in callback connector")
	}
	s := b.New().Schema()
	for _, name := range []string{keys.SignatureField, keys.SignatureAlgField, keys.SigningKeyField, keys.FormatField} {
		if _, ok := s.Field(name); !ok {
			t.Errorf("the callback connector has no field %q", name)
		}
	}
	if f, _ := s.Field(keys.SigningKeyField); !f.Sensitive {
		t.Errorf("signing_key is not sensitive")
	}
	if f, _ := s.Field(keys.SignatureField); !strings.Contains(strings.Join(f.Options, ","), keys.SignatureJWS) {
		t.Errorf("signature does not offer %q", keys.SignatureJWS)
	}
	if f, _ := s.Field(keys.FormatField); !strings.Contains(strings.Join(f.Options, ","), keys.FormatIDaaS) {
		t.Errorf("format does not offer %q", keys.FormatIDaaS)
	}
}

func TestIDaaSTargetsSignWithRS256(t *testing.T) {
	p := loadPipeline(t, pipelineHCL(`  keys_encryption_key = "`+keysKey+`"`, `
target "callback" "idaas" {
  url                  = "https://app.example.com/push"
  format               = "idaas"
  idaas_application_id = "app_x"
  encryption_key       = "`+keysKey+`"
}
`))
	tgt, _ := p.Target("idaas")
	if alg, ok := keys.SigningAlg(tgt); !ok || alg != callback.RS256 {
		t.Fatalf("SigningAlg = %s, %t; want RS256", alg, ok)
	}
	st, _ := openStore(t)
	extra, err := keys.TargetConfig(context.Background(), st, p, tgt)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := callback.ParseSigningKey(extra[keys.SigningKeyField].(string))
	if err != nil || sk.Alg != callback.RS256 {
		t.Errorf("signing key %v, %v", sk, err)
	}
}
