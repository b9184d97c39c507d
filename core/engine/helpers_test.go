package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/sdk"
)

func startServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

// withURL reloads the pipeline's target config with another url.
func withURL(b *testing.B, p *config.Pipeline, url string) sdk.Config {
	b.Helper()
	src, err := os.ReadFile(filepath.Join(p.Dir, "pipeline.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	i := strings.Index(string(src), "url ")
	j := strings.Index(string(src)[i:], "\n")
	patched := string(src[:i]) + `url = "` + url + `"` + string(src[i+j:])
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(patched), 0o600); err != nil {
		b.Fatal(err)
	}
	q, diags := config.Load(context.Background(), dir, config.DefaultResolver())
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	return q.Targets[0].Config
}
