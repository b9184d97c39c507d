package callback_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// BenchmarkApply measures the target's cost per event, encrypted and
// signed, against sdk/receiver on loopback: in process, and through the
// plugin protocol as the host runs it.
func BenchmarkApply(b *testing.B) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: token, App: app, EncryptionKey: encKey, SignatureKey: sigKey})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := callback.New()
	cfg, diags := sdk.NewConfig(c.Schema(), secured(map[string]any{"url": srv.URL, "token": token}))
	if diags.HasError() {
		b.Fatal(diags.Err())
	}
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
	if err := resp.Diagnostics.Err(); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	attrs := sdk.Attributes{
		"userName": sdk.String("zhang.wei"), "displayName": sdk.String("张伟"), "email": sdk.String("zhang.wei@example.com"),
		"mobile": sdk.String("+86 138 0013 8000"), "title": sdk.String("高级工程师"), "employeeNumber": sdk.String("E012345"),
		"department": sdk.String("星河集团/研发中心/平台部"), "pinyin": sdk.String("zhangwei"), "hired": sdk.String("2021-03-01"),
		"level": sdk.Int(7), "active": sdk.Bool(true), "manager": sdk.String("u-000123"),
	}
	run := func(b *testing.B, t sdk.Target) {
		var n sync.Mutex
		i := 0
		b.SetParallelism(2) // 4 at once on 2 CPUs: the target's default concurrency
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Lock()
				i++
				id := fmt.Sprintf("%s-%d", b.Name(), i)
				n.Unlock()
				op := sdk.Operation{ID: "evt-" + id, Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u-" + id, DisplayName: "张伟",
					Parent: &sdk.Ref{HubID: "o-1", TargetID: "dept-1"}, Attributes: attrs}
				if _, err := t.Apply(context.Background(), op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("in-process", func(b *testing.B) { run(b, c) })
	b.Run("grpc", func(b *testing.B) {
		cl, stop := plugin.InProcess(b, c)
		defer stop()
		cl.SetConcurrency(4)
		run(b, cl)
	})
}
