package receiver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// hubRequest builds the request the hub's callback target sends for op,
// encrypted with encKey and signed with sigKey, as a handler receives it.
func hubRequest(op sdk.Operation, encKey, sigKey string) *http.Request {
	k, _ := callback.ParseEncryptionKey(encKey)
	sealer, _ := callback.NewSealer(callback.SealConfig{EncryptionKey: k, HMACKey: []byte(sigKey)})
	enc := callback.Encoder{URL: "https://app.example.com/midstream/callback", Token: "app-token", Sealer: sealer}
	ev, _ := callback.NewEvent(op, time.Now())
	req, _ := enc.NewRequest(context.Background(), ev)
	r := httptest.NewRequest(req.Method, req.URL.String(), req.Body)
	r.Header = req.Header
	return r
}

// An application receives the hub's encrypted and signed callbacks with
// the Handler. The options repeat the callback target's settings: token,
// encryption_key and signature_key (or, for signature = "jws", the hub's
// JWKS URL).
func Example() {
	app := receiver.NewMemoryApp() // your Application: Lookup and Handle
	h, err := receiver.New(receiver.Options{
		Token:         "app-token",                        // os.Getenv("MIDSTREAM_TOKEN")
		EncryptionKey: "0123456789abcdef",                 // os.Getenv("MIDSTREAM_ENCRYPTION_KEY")
		SignatureKey:  "a-long-random-signature-key-here", // os.Getenv("MIDSTREAM_SIGNATURE_KEY")
		// JWKSURL: "https://hub.example.com/.well-known/jwks.json", instead of SignatureKey
		App: app,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /midstream/callback", h) // and serve mux with net/http

	// What the hub sends: a create, then the same create again after its
	// answer was lost.
	op := sdk.Operation{ID: "01JC7Q1V8X8Y4K2M3N5P6R7S8T", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f",
		DisplayName: "Li Lei", Attributes: sdk.Attributes{"userName": sdk.String("lilei")}}
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hubRequest(op, "0123456789abcdef", "a-long-random-signature-key-here"))
		fmt.Print(w.Code, " ", w.Body.String())
	}
	o, _ := app.ObjectByHubID(sdk.KindUser, "u_8f14e45f")
	fmt.Println(o.ID, o.Attributes.String("userName"))

	// A request signed with another key never reaches the application.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hubRequest(op, "0123456789abcdef", "somebody-else's-signature-key"))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 {"id":"user-1","status":"ok"}
	// 200 {"id":"user-1","status":"exists"}
	// user-1 lilei
	// 401 {"status":"error","code":"invalid_signature","message":"the hmac-sha256 signature does not match: the signature key differs, or the request was altered"}
}

// An application that routes and answers requests itself uses a Verifier:
// Decode checks the token, timestamp, nonce and signature, decrypts and
// decodes; WriteError answers a refusal in the wire format.
func ExampleVerifier_Decode() {
	v, err := receiver.NewVerifier(receiver.Options{
		Token:         "app-token",
		EncryptionKey: "0123456789abcdef",
		SignatureKey:  "a-long-random-signature-key-here",
	})
	if err != nil {
		panic(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.Decode(r)
		if err != nil {
			receiver.WriteError(w, err)
			return
		}
		// Apply ev (ev.Object.Password is set in user.create and
		// user.password events when the target syncs passwords).
		fmt.Println(ev.Type, ev.Object.HubID, ev.Object.Attributes.String("userName"), ev.Object.Password != "")
		receiver.WriteResponse(w, http.StatusOK, callback.Response{ID: "10042", Status: callback.StatusOK})
	}

	op := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei")}}
	w := httptest.NewRecorder()
	handler(w, hubRequest(op, "0123456789abcdef", "a-long-random-signature-key-here"))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// user.create u_8f14e45f lilei false
	// 200 {"id":"10042","status":"ok"}
}
