package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// benchConcurrency is the target's concurrency in BenchmarkCallback.
const benchConcurrency = 8

// BenchmarkCallback measures the callback target's requests per second at
// concurrency 8 against this example's handler on loopback: the real
// connector (sdk.Apply) sending user updates over HTTP to newHandler, in
// each security mode. "file" is the example as it ships (each event saved
// to the data file, fsync included, before it is answered); "memory" is the
// same receiver.Handler over an in-memory application, which isolates what
// the protocol and its crypto cost.
//
//	go test ./examples/receiver -run '^$' -bench BenchmarkCallback -benchtime 3s
func BenchmarkCallback(b *testing.B) {
	es, err := wire.GenerateSigningKey(wire.ES256)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := wire.GenerateSigningKey(wire.RS256)
	if err != nil {
		b.Fatal(err)
	}
	keyText := func(k *wire.SigningKey) string { t, _ := k.MarshalText(); return string(t) }
	jwks := func(k *wire.SigningKey) *wire.JWKS { j, _ := k.PublicJWK(); return &wire.JWKS{Keys: []wire.JWK{j}} }
	modes := []struct {
		name   string
		target map[string]any
		recv   receiver.Options
	}{
		{"plain", map[string]any{"encryption": "none"}, receiver.Options{}},
		{"hmac", map[string]any{"encryption": "none", "signature_key": sigKey}, receiver.Options{SignatureKey: sigKey}},
		{"aes-256-gcm", map[string]any{"encryption_key": encKey}, receiver.Options{EncryptionKey: encKey}},
		{"aes-256-gcm+hmac", map[string]any{"encryption_key": encKey, "signature_key": sigKey}, receiver.Options{EncryptionKey: encKey, SignatureKey: sigKey}},
		{"aes-256-gcm+ES256", map[string]any{"encryption_key": encKey, "signature": "jws", "signature_alg": "ES256", "signing_key": keyText(es)},
			receiver.Options{EncryptionKey: encKey, Keys: jwks(es)}},
		{"aes-256-gcm+RS256", map[string]any{"encryption_key": encKey, "signature": "jws", "signing_key": keyText(rs)},
			receiver.Options{EncryptionKey: encKey, Keys: jwks(rs)}},
	}
	for _, app := range []string{"file", "memory"} {
		for _, m := range modes {
			b.Run(app+"/"+m.name, func(b *testing.B) {
				opts := m.recv
				opts.Token = token
				h := newBenchHandler(b, app, opts)
				srv := httptest.NewServer(h)
				defer srv.Close()
				target := map[string]any{"url": srv.URL + "/callback", "token": token}
				for k, v := range m.target {
					target[k] = v
				}
				c := callback.New()
				cfg, diags := sdk.NewConfig(c.Schema(), target)
				var resp sdk.ConfigureResponse
				if !diags.HasError() {
					c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
				}
				if diags = append(diags, resp.Diagnostics...); diags.HasError() {
					b.Fatal(diags.Err())
				}
				defer c.Close()

				// One user per worker, so that no two requests wait for
				// each other in the receiver's per-object lock.
				ids := make([]string, benchConcurrency)
				for w := range benchConcurrency {
					res, err := sdk.Apply(context.Background(), c, sdk.Operation{ID: fmt.Sprintf("c%d", w), Op: sdk.OpCreate, Kind: sdk.KindUser,
						HubID: fmt.Sprintf("u%d", w), DisplayName: "Li Lei", Attributes: sdk.Attributes{"userName": sdk.String(fmt.Sprintf("user%d", w))}})
					if err != nil {
						b.Fatal(err)
					}
					ids[w] = res.TargetID
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range benchConcurrency {
					wg.Go(func() {
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							op := sdk.Operation{ID: fmt.Sprintf("e%d", i), Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: fmt.Sprintf("u%d", w), TargetID: ids[w],
								DisplayName: "Li Lei", Attributes: sdk.Attributes{"title": sdk.String(fmt.Sprintf("engineer %d", i)), "mail": sdk.String("lilei@example.com")}}
							if _, err := sdk.Apply(context.Background(), c, op); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			})
		}
	}
}

// newBenchHandler returns this example's handler over its data file
// ("file"), or the receiver's handler over an in-memory application.
func newBenchHandler(b *testing.B, app string, opts receiver.Options) http.Handler {
	b.Helper()
	if app == "memory" {
		opts.App = receiver.NewMemoryApp()
		h, err := receiver.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/callback", h)
		return mux
	}
	store, err := OpenStore(filepath.Join(b.TempDir(), "receiver.json"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := newHandler(store, opts)
	if err != nil {
		b.Fatal(err)
	}
	return h
}
