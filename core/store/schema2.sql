-- Version 2: the hub's signing keys (signature = "jws" callback targets).
-- One key per algorithm signs at a time; retired keys stay published until
-- expires_at, so that receivers with a cached JWKS and requests in flight
-- still verify.
CREATE TABLE signing_keys (
	kid         TEXT PRIMARY KEY,      -- the key's RFC 7638 thumbprint
	alg         TEXT NOT NULL,         -- RS256 or ES256
	public_jwk  TEXT NOT NULL,         -- the public key, as published (JSON)
	-- The private key, sealed by package core/keys with the pipeline's
	-- keys_encryption_key (AES-256-GCM); empty once the key is retired.
	private_key BLOB NOT NULL,
	created_at  INTEGER NOT NULL,      -- Unix ms
	retired_at  INTEGER,               -- Unix ms; NULL while the key signs
	expires_at  INTEGER                -- Unix ms: published until; NULL while it signs
);
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (alg) WHERE retired_at IS NULL;
