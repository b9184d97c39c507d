// Package receiver is the library a Go application uses to receive
// Midstream's callbacks: an [http.Handler] that checks the bearer token,
// verifies the signature (HMAC, or a JWS checked against the hub's JWKS),
// refuses replays, decrypts, decodes each request into a typed
// [callback.Event], hands it to the application, and answers in the wire
// format the callback connector expects. [Verifier.Decode] does the same
// checks for applications that route and answer requests themselves.
//
// # Implement an Application
//
// An [Application] has two methods: Lookup finds the object the
// application holds for a hub id, and Handle applies one event:
//
//	type app struct{ db *sql.DB }
//
//	func (a *app) Lookup(ctx context.Context, kind sdk.Kind, hubID string) (string, bool, error) {
//		// SELECT id FROM accounts WHERE midstream_hub_id = ?
//	}
//
//	func (a *app) Handle(ctx context.Context, ev *callback.Event) (string, error) {
//		switch ev.Type {
//		case callback.EventUserCreate:
//			// INSERT ... (midstream_hub_id = ev.Object.HubID); return the new id
//		case callback.EventUserUpdate:
//			// UPDATE ... WHERE id = ev.Object.TargetID
//		case callback.EventUserDelete:
//			// DELETE ... WHERE id = ev.Object.TargetID
//		}
//		return "", nil
//	}
//
//	h, err := receiver.New(receiver.Options{
//		Token:         os.Getenv("MIDSTREAM_TOKEN"),          // the target's token
//		EncryptionKey: os.Getenv("MIDSTREAM_ENCRYPTION_KEY"), // its encryption_key
//		SignatureKey:  os.Getenv("MIDSTREAM_SIGNATURE_KEY"),  // its signature_key, or:
//		// JWKSURL: "https://hub.example.com/.well-known/jwks.json" (signature = "jws")
//		App: &app{db},
//	})
//	http.Handle("/midstream/callback", h)
//
// Store the hub id with each object: it is what makes delivery safe.
//
// # Security
//
// Give the handler the target's settings: what the hub sends, the handler
// requires. With an EncryptionKey every request must be encrypted with it,
// and an encrypted request is refused without one; with a SignatureKey (or
// a JWKSURL, or Keys) every request must carry a valid HMAC (or JWS)
// signature. Every request must carry a timestamp within ReplayWindow (5
// minutes) of this machine's clock and a nonce not seen before. A request
// that fails a check never reaches the application: it is answered 401
// or 400 (503 when the hub's JWKS cannot be read) with the code of the
// wire format (invalid_token, invalid_signature, unknown_key,
// stale_timestamp, replayed_nonce, decryption_failed, encryption_required,
// invalid_request, unsupported_version, keys_unavailable) and the reason,
// which the hub shows with the event and in its connectivity test.
//
// JWKS keys are fetched once and cached (JWKSClient): a signature by an
// unknown key id makes the handler read the JWKS again, at most every 10
// seconds, so a key rotation on the hub needs nothing here; cached keys keep
// working while the hub is unreachable.
//
// Passwords (when the target has password_sync = true) arrive in
// ev.Object.Password, in user.create and user.password events only: store
// a hash, never the password, and never log it.
//
// # What the handler guarantees
//
// Midstream delivers at least once: after a crash or a lost answer it
// sends an event again, with the same event id. The handler turns that into
// "no duplicates":
//
//   - A create for a hub id the application already holds (Lookup finds
//     it) is handed to Handle as an update of that object, with all the
//     create's values, and answered with the id the application gave
//     before and status "exists". Handle never sees a create for an object
//     it holds.
//   - Any other event without a target id (the hub never learnt it) is
//     given the id Lookup finds. A delete of an object the application does
//     not hold is answered 200: it is already gone. Other events of an
//     object it does not hold are answered 404.
//   - Events of one hub id are handled one at a time.
//
// The test event is answered 200 without calling the application.
//
// # Batches
//
// A target with batch_size above 1 sends batch requests, many events in
// one request, verified and decrypted once. The Handler reads them with
// nothing to do on the application's side: it hands each event to Handle
// as if it had come alone (the guarantees above included), one after the
// other in order, and answers 200 with each event's result, the status
// and message its error would have given alone: one event's failure does
// not fail the others. A request that fails the checks (see Security) is
// refused whole, as a single one is. Applications that answer requests
// themselves read batches with [Verifier.DecodeBatch] and answer them with
// [ResultOf] and [WriteBatchResponse]; [Verifier.Decode] refuses them
// with 400.
//
// # Errors
//
// Handle's error decides the answer: [RetryLater] gives 503 with
// Retry-After (the hub retries), [Reject] gives 422 and [Conflict] 409
// (permanent failures shown to the operator), [ErrNotFound] gives 404 (200
// for a delete), and any other error 500 (retried). The error's text is the
// answer's message, shown with the sync event in the hub: keep secrets out
// of it.
package receiver
