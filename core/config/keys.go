package config

import (
	"encoding/hex"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// keysEncryptionKeyAttr is the pipeline block's setting holding the key
// that encrypts the hub's signing keys at rest (package core/keys).
const keysEncryptionKeyAttr = "keys_encryption_key"

// keysEncryptionKey decodes the pipeline block's keys_encryption_key: 64
// hex characters (32 bytes, an AES-256 key), from env() or file().
func (l *loader) keysEncryptionKey(a *hcl.Attribute) {
	if a == nil {
		return
	}
	s, ok := l.stringValue(a)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		// Never echo the value: it is a secret.
		l.errorf(a.Expr.Range(), "Invalid keys encryption key",
			"keys_encryption_key must be exactly 64 hex characters (32 bytes, an AES-256 key), not %d characters. Generate one with `openssl rand -hex 32`, keep it out of the pipeline file and set it with env() or file(), as in keys_encryption_key = env(\"MIDSTREAM_KEYS_KEY\").", len([]rune(s)))
		return
	}
	l.p.KeysEncryptionKey = s
}
