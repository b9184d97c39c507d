package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
)

const testKeysKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// TestKeysCommands drives `midstream keys` and the JWKS of `midstream run`
// in their own processes.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "midstream.db")
	pipeline := `
pipeline "p" {
  keys_encryption_key = env("MIDSTREAM_KEYS_KEY")
}
source "csv" "hr" {
  path      = "hr.csv"
  id_column = "id"
}
target "callback" "app" {
  url            = "http://127.0.0.1:1/callback"
  token          = "t0ken"
  encryption_key = "0123456789abcdef"
  signature      = "jws"
}
`
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(pipeline), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte("id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := midstream(t, append([]string{"--db", db}, args...)...)
		cmd.Env = append(cmd.Env, "MIDSTREAM_KEYS_KEY="+testKeysKey)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("midstream %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	jwks := func(s string) []string {
		t.Helper()
		var set callback.JWKS
		if err := json.Unmarshal([]byte(s), &set); err != nil {
			t.Fatalf("not a JWKS: %v\n%s", err, s)
		}
		var kids []string
		for _, k := range set.Keys {
			if k.D != "" {
				t.Fatalf("a private key in the JWKS")
			}
			kids = append(kids, k.Kid+" "+k.Alg)
		}
		return kids
	}

	if out := must("keys", "list"); !strings.Contains(out, "no signing keys") {
		t.Errorf("keys list on a new store: %s", out)
	}
	first := jwks(must("keys", "export", dir))
	if len(first) != 1 || !strings.HasSuffix(first[0], " RS256") {
		t.Fatalf("keys export made %v, want one RS256 key", first)
	}
	out := must("keys", "rotate", dir, "--overlap", "1h")
	oldKID := strings.Fields(first[0])[0]
	if !strings.Contains(out, "RS256: key ") || !strings.Contains(out, "key "+oldKID+" stays published until") {
		t.Errorf("keys rotate: %s", out)
	}
	both := jwks(must("keys", "export"))
	if len(both) != 2 || both[1] != first[0] {
		t.Errorf("after rotation the JWKS is %v, want the new key, then %s", both, first[0])
	}
	if out := must("keys", "list"); !strings.Contains(out, "signing") || !strings.Contains(out, "retired, published until") {
		t.Errorf("keys list: %s", out)
	}
	if out, err := run("keys", "rotate", dir, "--alg", "HS256"); err == nil || !strings.Contains(out, "unsupported signing algorithm") {
		t.Errorf("rotate --alg HS256: %v\n%s", err, out)
	}

	// midstream run serves the same keys.
	cmd := midstream(t, "--db", db, "run", "--http", "127.0.0.1:0", dir)
	cmd.Env = append(cmd.Env, "MIDSTREAM_KEYS_KEY="+testKeysKey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(line, "http://"), strings.Index(line, "/healthz")
	if i < 0 || j < i {
		t.Fatalf("run printed %q", line)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(line[i:j] + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set callback.JWKS
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /.well-known/jwks.json: %d, %v", resp.StatusCode, err)
	}
	if len(set.Keys) != 2 || resp.Header.Get("Cache-Control") == "" {
		t.Errorf("run serves %d keys (%v), want 2", len(set.Keys), resp.Header)
	}
}

func TestKeysRotateNeedsEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.hcl"), []byte(`
source "csv" "hr" {
  path      = "hr.csv"
  id_column = "id"
}
target "callback" "app" {
  url       = "http://127.0.0.1:1/callback"
  signature = "jws"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := midstream(t, "--db", filepath.Join(dir, "m.db"), "keys", "rotate", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "keys_encryption_key") || !strings.Contains(string(out), "hint: ") {
		t.Errorf("rotate without keys_encryption_key: %v\n%s", err, out)
	}
}
