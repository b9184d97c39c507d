// Package callback is Midstream's callback wire format, version 1: the
// types and encoding shared by the callback target connector, which sends
// events, and package receiver, which applications use to receive them.
//
// # One request per event
//
// Every sync event becomes one HTTP POST of a JSON [Event] to the
// application's callback URL:
//
//	POST /midstream/callback HTTP/1.1
//	Authorization: Bearer <token>
//	Content-Type: application/json
//	Idempotency-Key: 01JC7Q1V8X8Y4K2M3N5P6R7S8T
//	X-Midstream-Version: 1
//	X-Midstream-Event: user.create
//	X-Midstream-Hub-Id: u_8f14e45f
//	X-Midstream-Timestamp: 1793697164512
//	X-Midstream-Nonce: 00112233445566778899aabbccddeeff
//
//	{"version":"1","eventId":"01JC7Q1V8X8Y4K2M3N5P6R7S8T","eventType":"user.create",
//	 "timestamp":"2026-11-03T09:12:44.512Z",
//	 "object":{"kind":"user","hubId":"u_8f14e45f","displayName":"Li Lei",
//	           "attributes":{"userName":"lilei","email":"lilei@example.com"},
//	           "parent":{"hubId":"o_45c48cce","targetId":"42"}}}
//
// The event id is the same on every attempt of one sync event: it is the
// request's idempotency key. The hub id is the object's stable id in the
// hub. An application must answer a create for a hub id it already holds
// by applying the create's values as an update and answering the id it
// gave before, with status "exists" (SPEC §4, "at-least-once with no
// duplicates"); package receiver does this for Go applications.
//
// The application answers with a JSON [Response]: 2xx with
// {"id":"...","status":"ok"} for a create (the id is the application's
// id of the object, linked by the hub and sent back as targetId in every
// later event), 2xx with any or no body for other events. A 503 or 429 with
// Retry-After asks for a retry later; other 4xx answers are permanent
// failures, shown to operators with the start of the body.
//
// # Versions
//
// [Version] is carried in the body and in the X-Midstream-Version header.
// Receivers must ignore JSON fields they do not know: later minor additions
// add fields; anything that changes the meaning of an existing field gets a
// new version, which a version 1 receiver rejects with 400.
//
// # Encryption, signatures, replay protection
//
// A request is built in two steps: [Encoder.NewRequest] marshals the event
// and sets the headers (the timestamp and a fresh nonce included), then
// hands body and headers to its [Sealer]. [NewSealer] makes the Sealer of
// version 1:
//
//   - Encryption: the body becomes an [Envelope] holding the event
//     encrypted with AES-GCM (a 16-character key: AES-128; 64 hex
//     characters: AES-256, see [ParseEncryptionKey]), a random 12-byte IV
//     per request, the 16-byte tag, and "<timestamp>.<nonce>" as additional
//     authenticated data.
//   - Signature: X-Midstream-Signature carries "hmac-sha256=" and the
//     base64 HMAC-SHA256 of the [SigningString] (timestamp "." nonce "."
//     body), or "jws=" and a detached compact JWS of it, RS256 or ES256, by
//     a [SigningKey] whose public half the hub publishes in its [JWKS].
//
// On the receiving side [Decoder.Decode] gives body and headers to its
// [Opener]; [NewVerifier] makes the Opener that checks the timestamp
// window, the signature (HMAC, or JWS with keys from a [KeySet]), decrypts,
// and refuses a nonce it has seen ([NonceStore]). What it refuses is a
// [*Rejection] whose code the application answers with, so that the hub
// can say what went wrong. Without a Sealer or Opener the body is plain
// JSON.
//
// The exact bytes, with a worked example, are in the callback connector's
// README (connectors/callback/README.md); testdata/vectors.json holds
// vectors computed independently from that description.
package callback
