package config

import (
	"context"
	"strings"
	"testing"
)

func TestKeysEncryptionKey(t *testing.T) {
	key := strings.Repeat("0f", 32)
	t.Setenv("MIDSTREAM_TEST_KEYS_KEY", key+"\n")
	src := `
pipeline "p" {
  keys_encryption_key = env("MIDSTREAM_TEST_KEYS_KEY")
}` + minimalPipeline
	p, diags := load(context.Background(), "testdata", "keys", []file{{name: "keys.hcl", src: []byte(src)}}, testResolver{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if p.KeysEncryptionKey != key {
		t.Errorf("KeysEncryptionKey = %q, want the variable's value without its line break", p.KeysEncryptionKey)
	}
}
