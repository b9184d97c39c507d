#!/usr/bin/env python3
"""Computes testdata/vectors.json: crypto vectors of the callback wire
format made from the recipes in connectors/callback/README.md with Python's
`cryptography` package, independently of the Go code they check.

    python3 sdk/callback/testdata/vectors.py > sdk/callback/testdata/vectors.json

The RSA and EC keys are generated once and kept in the output; re-running
makes new keys and new vectors, which the tests accept just as well.
"""
import base64, hashlib, hmac, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(i, n=None):
    n = n or (i.bit_length() + 7) // 8
    return i.to_bytes(n, "big")


def thumbprint(canon):
    return b64u(hashlib.sha256(canon.encode()).digest())


TS = "1793697164512"
NONCE = "00112233445566778899aabbccddeeff"
BODY = '{"version":"1","eventId":"test-0001","eventType":"test","timestamp":"2026-11-03T09:12:44.512Z"}'
IV = bytes(range(12))

out = {"timestamp": TS, "nonce": NONCE, "body": BODY, "cases": []}


def signing_string(body):
    return (TS + "." + NONCE + ".").encode() + body.encode()


def hmac_sig(key, body):
    return "hmac-sha256=" + base64.b64encode(hmac.new(key.encode(), signing_string(body), hashlib.sha256).digest()).decode()


def envelope(key_bytes, name):
    ct = AESGCM(key_bytes).encrypt(IV, BODY.encode(), (TS + "." + NONCE).encode())
    return json.dumps({"version": "1", "encryption": name, "ciphertext": base64.b64encode(IV + ct).decode()}, separators=(",", ":"))


sig_key = "0123456789abcdef0123456789abcdef"
out["cases"].append({"name": "plain, hmac", "signature_key": sig_key, "http_body": BODY, "signature": hmac_sig(sig_key, BODY)})
k128 = "0123456789abcdef"
env = envelope(k128.encode(), "aes-128-gcm")
out["cases"].append({"name": "aes-128-gcm, hmac", "encryption_key": k128, "signature_key": sig_key, "http_body": env, "signature": hmac_sig(sig_key, env)})
k256 = bytes(range(32)).hex()
env = envelope(bytes.fromhex(k256), "aes-256-gcm")
out["cases"].append({"name": "aes-256-gcm, hmac", "encryption_key": k256, "signature_key": sig_key, "http_body": env, "signature": hmac_sig(sig_key, env)})

# RS256: deterministic, so the whole header value is a vector.
rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pn = rk.private_numbers()
n, e = pn.public_numbers.n, pn.public_numbers.e
rjwk = {"kty": "RSA", "n": b64u(uint(n)), "e": b64u(uint(e))}
rjwk["kid"] = thumbprint('{"e":"%s","kty":"RSA","n":"%s"}' % (rjwk["e"], rjwk["n"]))
rjwk.update({"use": "sig", "alg": "RS256"})
rpriv = dict(rjwk, d=b64u(uint(pn.d)), p=b64u(uint(pn.p)), q=b64u(uint(pn.q)), dp=b64u(uint(pn.dmp1)), dq=b64u(uint(pn.dmq1)), qi=b64u(uint(pn.iqmp)))

# ES256: randomized, so the vector is verified, not reproduced.
ek = ec.generate_private_key(ec.SECP256R1())
en = ek.private_numbers()
ejwk = {"kty": "EC", "crv": "P-256", "x": b64u(uint(en.public_numbers.x, 32)), "y": b64u(uint(en.public_numbers.y, 32))}
ejwk["kid"] = thumbprint('{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (ejwk["x"], ejwk["y"]))
ejwk.update({"use": "sig", "alg": "ES256"})
epriv = dict(ejwk, d=b64u(uint(en.private_value, 32)))


def jws(alg, kid, body):
    protected = b64u(json.dumps({"alg": alg, "kid": kid}, separators=(",", ":")).encode())
    payload = b64u(signing_string(body))
    data = (protected + "." + payload).encode()
    if alg == "RS256":
        sig = rk.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(ek.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = uint(r, 32) + uint(s, 32)
    return "jws=" + protected + ".." + b64u(sig)


out["jwks"] = {"keys": [rjwk, ejwk]}
out["private_keys"] = {"RS256": rpriv, "ES256": epriv}
out["cases"].append({"name": "plain, RS256", "alg": "RS256", "http_body": BODY, "signature": jws("RS256", rjwk["kid"], BODY)})
env = envelope(k128.encode(), "aes-128-gcm")
out["cases"].append({"name": "aes-128-gcm, ES256", "alg": "ES256", "encryption_key": k128, "http_body": env, "signature": jws("ES256", ejwk["kid"], env)})
json.dump(out, sys.stdout, indent=2)
sys.stdout.write("\n")
