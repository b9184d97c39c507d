// Package receiver is the library a Go application uses to receive
// Midstream's callbacks: an [http.Handler] that checks the bearer token,
// decodes each request into a typed [callback.Event], hands it to the
// application, and answers in the wire format the callback connector
// expects.
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
//	h, err := receiver.New(receiver.Options{Token: os.Getenv("MIDSTREAM_TOKEN"), App: &app{db}})
//	http.Handle("/midstream/callback", h)
//
// Store the hub id with each object: it is what makes delivery safe.
//
// # What the handler guarantees
//
// Midstream delivers at least once: after a crash or a lost answer it
// sends an event again, with the same event id. The handler turns that into
// "no duplicates" (SPEC §4):
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
// # Errors
//
// Handle's error decides the answer: [RetryLater] gives 503 with
// Retry-After (the hub retries), [Reject] gives 422 and [Conflict] 409
// (permanent failures shown to the operator), [ErrNotFound] gives 404 (200
// for a delete), and any other error 500 (retried). The error's text is the
// answer's message, shown with the sync event in the hub: keep secrets out
// of it.
package receiver
