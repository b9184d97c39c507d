package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// BenchmarkFullSync10k measures a first full sync of a 10,000-row HR
// export through the real machinery: the csv source and the callback
// target as plugin processes, the outbound JavaScript mapping, the SQLite
// store, and a receiver on loopback. objects/s counts users and
// departments delivered per second, read included.
func BenchmarkFullSync10k(b *testing.B) {
	const rows = 10000
	h := newHR(rows)
	e := newEnv(b, h)
	e.write()
	p, diags := config.Load(context.Background(), e.dir, config.DefaultResolver())
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	var objects int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		db := filepath.Join(b.TempDir(), "m.db")
		app := receiver.NewMemoryApp()
		hd, _ := receiver.New(receiver.Options{Token: "t0ken", App: app})
		srv := startServer(hd)
		p.Targets[0].Config = withURL(b, p, srv.URL+"/")
		st, err := store.Open(db)
		if err != nil {
			b.Fatal(err)
		}
		eng := engine.New(p, st, engine.Options{})
		if err := eng.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep := eng.Sync(context.Background(), engine.SyncOptions{})
		b.StopTimer()
		if rep.Failed() {
			b.Fatalf("iteration %d failed: %+v", i, rep.Targets[0])
		}
		objects += len(app.Objects())
		eng.Close()
		st.Close()
		srv.Close()
		_ = os.Remove(db)
		b.StartTimer()
	}
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
}
