## The application's callback endpoint, an absolute https:// (or http://)
## URL. Every event is POSTed to it as one JSON request.
url = "https://app.example.com/midstream/callback"

## The bearer token sent as "Authorization: Bearer <token>" on every
## request. Read it from the environment or a file, never inline.
token = env("APP_TOKEN")

## The key that encrypts every request body with AES-GCM, shared with the
## application: 16 characters (AES-128) or 64 hex characters (AES-256,
## `openssl rand -hex 32`). Without it, requests travel unencrypted.
encryption_key = env("APP_ENCRYPTION_KEY")

## "aes-gcm" when encryption_key is set, else "none".
# encryption = "aes-gcm"

## The HMAC-SHA256 key that signs every request (timestamp, nonce and
## body), shared with the application: at least 16 characters.
signature_key = env("APP_SIGNATURE_KEY")

## "hmac" when signature_key is set, else "none". "jws" signs with the
## hub's own key instead: applications verify with the hub's public keys
## at https://HUB/.well-known/jwks.json, and the pipeline block must set
## keys_encryption_key so the hub can keep its keys.
# signature = "hmac"

## The algorithm of signature = "jws": "RS256" or "ES256".
# signature_alg = "RS256"

## Set by the hub for signature = "jws"; never set it here.
# signing_key = "(the hub's private key)"

## Send plaintext passwords, encrypted, in user.create and user.password
## events. Needs encryption.
# password_sync = false

## The request format: "midstream" (this README's wire format), or a
## compatibility profile for an application written for another hub:
## "oneaccess" or "idaas" (see "Compatibility profiles" in the README).
# format = "midstream"

## format = "oneaccess" only: where the AES-GCM IV goes ("prefix" or
## "key"), the timestamp's unit ("ms" or "s"), and how a disable is sent
## ("update": disabled = true; or "delete").
# oneaccess_iv = "prefix"
# oneaccess_timestamp_unit = "ms"
# oneaccess_disable = "update"

## format = "idaas" only: the application id (the JWT's audience) and the
## SyncEvent's instanceId.
# idaas_application_id = "app_mxxxxxxxxxxxxxxx"
# idaas_instance_id = "midstream"

## How many events one request may carry (1 to 1000): above 1, events
## waiting at the same time go together in one batch request, which the
## application must accept (sdk/receiver does). batch_wait is how long the
## first waits for others.
# batch_size = 1
# batch_wait = "5ms"

## How long one request may take, connecting and reading the answer
## included (at most 5m). A request that times out is retried.
# timeout = "10s"

## A PEM file of extra CA certificates for an application behind a
## private CA, relative to the pipeline file.
# ca_file = "certs/app-ca.pem"
