// Package callback is Midstream's callback wire format, version 1: the
// types and encoding shared by the callback target connector, which sends
// events, and package receiver, which applications use to receive them.
//
// # One request per event
//
// Every sync event becomes one HTTP POST of a JSON [Event] to the
// application's callback URL (or travels with others in a batch request,
// when the target is configured so: see Batches below):
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
// gave before, with status "exists" ("at-least-once with no
// duplicates"); package receiver does this for Go applications.
//
// The application answers with a JSON [Response]: 2xx with
// {"id":"...","status":"ok"} for a create (the id is the application's
// id of the object, linked by the hub and sent back as targetId in every
// later event), 2xx with any or no body for other events. A 503 or 429 with
// Retry-After asks for a retry later; other 4xx answers are permanent
// failures, shown to operators with the start of the body.
//
// # Batches
//
// A target with batch_size above 1 may carry many events in one request,
// to save the per-request cost of HTTP, encryption and signing. It is
// additive to version 1: a target sends batches only when configured to,
// and a receiver that does not accept them never sees one. A batch request
// has the headers of a single request but for X-Midstream-Event, which is
// [EventBatch] ("batch"), and Idempotency-Key and X-Midstream-Hub-Id,
// which it has not: each event carries its own eventId and hubId, and a
// retry may group events differently. Its body ([MarshalBatch]) holds 1
// to [MaxBatchEvents] events, each exactly the JSON of its single request,
// all with the request's timestamp, at most one per object:
//
//	POST /midstream/callback HTTP/1.1
//	Authorization: Bearer <token>
//	Content-Type: application/json
//	X-Midstream-Version: 1
//	X-Midstream-Event: batch
//	X-Midstream-Timestamp: 1793697164512
//	X-Midstream-Nonce: 00112233445566778899aabbccddeeff
//
//	{"version":"1","events":[
//	 {"version":"1","eventId":"01JC7QD1A2B3C4D5E6F7G8H9J0","eventType":"user.create",...},
//	 {"version":"1","eventId":"01JC7QD2K3M4N5P6Q7R8S9T0V1","eventType":"user.create",...}]}
//
// The Sealer seals the whole body once: one envelope, one signature. A
// receiver verifies and decrypts it once ([Decoder.DecodeBatch]), applies
// the events in order, each as if alone, and answers 200 with a
// [BatchResponse], one [BatchResult] per event: the [Response] the event
// alone would have had, its HTTP status and its event id, by which the
// sender matches results ([UnmarshalBatchResponse]):
//
//	{"results":[
//	 {"eventId":"01JC7QD1A2B3C4D5E6F7G8H9J0","status":"ok","httpStatus":200,"id":"user-2"},
//	 {"eventId":"01JC7QD2K3M4N5P6Q7R8S9T0V1","status":"error","httpStatus":422,
//	  "code":"E_USERNAME","message":"user name \"wangfang\" is already taken"}]}
//
// Each result is classified as a single answer with its status would be,
// so one event's failure is its own. A non-2xx answer to a batch request is
// every event's answer (a 503 or 429 with Retry-After retries them all);
// an event without a result is retried.
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
