package callback_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

var update = flag.Bool("update", false, "rewrite the generated sections of README.md")

// TestREADME checks that the generated sections of README.md (the sample
// configuration, the field table, the event examples and the example
// exchange) match the code; `go test -run TestREADME -update` rewrites them.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{
		"example":  "```hcl\n" + callback.Example + "```\n",
		"fields":   renderFields(callback.New().Schema()),
		"events":   renderEvents(t),
		"exchange": renderExchange(t),
		"sealed":   renderSealed(t),
		"batch":    renderBatch(t),
	}
	got := string(readme)
	for _, name := range []string{"example", "fields", "events", "exchange", "sealed", "batch"} {
		got = replaceSection(t, got, name, sections[name])
	}
	if got == string(readme) {
		return
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md is stale; run: go test ./connectors/callback -run TestREADME -update")
}

func replaceSection(t *testing.T, doc, name, content string) string {
	t.Helper()
	begin, end := "<!-- generated: "+name+" -->\n", "<!-- end: "+name+" -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no section %q", name)
	}
	return doc[:i+len(begin)] + content + doc[j:]
}

func renderFields(s sdk.Schema) string {
	var b strings.Builder
	b.WriteString("| Field | Type | Default | Description |\n| --- | --- | --- | --- |\n")
	for _, f := range s.Fields {
		def := "none"
		switch d := f.Default.(type) {
		case nil:
			if f.Required {
				def = "required"
			} else if e, ok := effectiveDefaults[f.Name]; ok {
				def = e
			}
		case string:
			def = fmt.Sprintf("`%q`", d)
		case time.Duration:
			def = fmt.Sprintf("`%q`", d.String())
		default:
			def = fmt.Sprintf("`%v`", d)
		}
		desc := f.Description
		if f.Sensitive {
			desc += " Sensitive: masked wherever shown, never logged."
		}
		if f.Example != "" {
			desc += fmt.Sprintf(" Example: `%s`.", f.Example)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, f.Type, def, strings.ReplaceAll(desc, "|", `\|`))
	}
	return b.String()
}

// effectiveDefaults are the defaults Configure applies to fields whose
// schema declares none (so that a pipeline's decoded configuration shows
// only what it sets).
var effectiveDefaults = map[string]string{
	"encryption":               "`\"aes-gcm\"` with `encryption_key`, else `\"none\"`",
	"signature":                "`\"hmac\"` with `signature_key`, else `\"none\"`",
	"signature_alg":            "`\"RS256\"`",
	"password_sync":            "`false`",
	"format":                   "`\"midstream\"`",
	"oneaccess_iv":             "`\"prefix\"`",
	"oneaccess_timestamp_unit": "`\"ms\"`",
	"oneaccess_disable":        "`\"update\"`",
	"idaas_instance_id":        "`\"midstream\"`",
	"batch_wait":               "`\"5ms\"`",
}

var exampleTime = time.Date(2026, 11, 3, 9, 12, 44, 512_000_000, time.UTC)

// exampleOps are the README's event examples, one per event type.
func exampleOps() []sdk.Operation {
	rd := &sdk.Ref{HubID: "o_45c48cce", TargetID: "42"}
	ops := &sdk.Ref{HubID: "o_6512bd43", TargetID: "43"}
	root := &sdk.Ref{HubID: "o_c4ca4238", TargetID: "1"}
	return []sdk.Operation{
		{ID: "01JC7Q1V8X8Y4K2M3N5P6R7S8T", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f", DisplayName: "李雷",
			Attributes: sdk.Attributes{
				"userName": sdk.String("lilei"), "email": sdk.String("lilei@example.com"), "mobile": sdk.String("13800000001"),
				"employeeNumber": sdk.Int(10042), "hireDate": sdk.Time(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)),
				"disabled": sdk.Bool(false), "roles": sdk.StringList("developer", "oncall"), "title": sdk.Null(),
			},
			Parent: rd, Orgs: []sdk.Ref{*rd, {HubID: "o_aab32389"}}},
		{ID: "01JC7Q2B4C6D8E0F1G2H3J4K5M", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷",
			Attributes: sdk.Attributes{"email": sdk.String("lei.li@example.com"), "mobile": sdk.Null()}, Parent: rd, Orgs: []sdk.Ref{*rd}},
		{ID: "01JC7Q3N5P7R9S1T3V5W7X9Y1Z", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷"},
		{ID: "01JC7Q4A2B4C6D8E0F2G4H6J8K", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷"},
		{ID: "01JC7Q5M3N5P7Q9R1S3T5V7W9X", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷",
			Parent: ops, Orgs: []sdk.Ref{*ops}},
		{ID: "01JC7Q5Z2A4B6C8D0E2F4G6H8J", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷",
			Attributes: sdk.Attributes{"password": sdk.String("correct horse battery staple")}},
		{ID: "01JC7Q6Y4Z6A8B0C2D4E6F8G0H", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_8f14e45f", TargetID: "10042", DisplayName: "李雷"},
		{ID: "01JC7Q7J5K7M9N1P3Q5R7S9T1V", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o_45c48cce", DisplayName: "研发中心",
			Attributes: sdk.Attributes{"code": sdk.String("RD"), "name": sdk.String("研发中心")}, Parent: root},
		{ID: "01JC7Q8W6X8Y0Z2A4B6C8D0E2F", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "42", DisplayName: "研发与平台中心",
			Attributes: sdk.Attributes{"name": sdk.String("研发与平台中心")}, Parent: root},
		{ID: "01JC7Q9G7H9J1K3M5N7P9Q1R3S", Op: sdk.OpDisable, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "42", DisplayName: "研发与平台中心"},
		{ID: "01JC7QAT8V0W2X4Y6Z8A0B2C4D", Op: sdk.OpEnable, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "42", DisplayName: "研发与平台中心"},
		{ID: "01JC7QBE9F1G3H5J7K9M1N3P5Q", Op: sdk.OpMove, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "42", DisplayName: "研发与平台中心",
			Parent: &sdk.Ref{HubID: "o_1679091c", TargetID: "7"}},
		{ID: "01JC7QCR0S2T4V6W8X0Y2Z4A6B", Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "42", DisplayName: "研发与平台中心"},
	}
}

func renderEvents(t *testing.T) string {
	t.Helper()
	var evs []*wire.Event
	for _, op := range exampleOps() {
		ev, err := wire.NewEvent(op, exampleTime)
		if err != nil {
			t.Fatal(err)
		}
		if pw := op.Attributes["password"]; op.Op == sdk.OpPassword {
			ev.Object.Password = pw.Str() // as a target with password_sync sends it, encrypted
		}
		evs = append(evs, ev)
	}
	evs = append(evs, wire.NewTestEvent("test-5f1d3c2a9b7e4f60a1c2d3e4", exampleTime))
	var b strings.Builder
	for _, ev := range evs {
		body, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		// What the README shows must be what a receiver accepts.
		if _, err := wire.Unmarshal(body); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
		fmt.Fprintf(&b, "`%s`:\n\n```json\n%s\n```\n\n", ev.Type, body)
	}
	return b.String()
}

// recorder keeps the requests and answers that pass through it.
type recorder struct {
	h   http.Handler
	mu  sync.Mutex
	out strings.Builder
}

var shownRequestHeaders = []string{"Authorization", "Content-Type", "Idempotency-Key", "User-Agent", "X-Midstream-Event", "X-Midstream-Hub-Id",
	"X-Midstream-Nonce", "X-Midstream-Signature", "X-Midstream-Timestamp", "X-Midstream-Version"}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rw := httptest.NewRecorder()
	rec.h.ServeHTTP(rw, r)

	var indented bytes.Buffer
	_ = json.Indent(&indented, body, "", "  ")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	fmt.Fprintf(&rec.out, "```http\n%s %s HTTP/1.1\n", r.Method, r.URL.RequestURI())
	for _, k := range shownRequestHeaders {
		if v := r.Header.Get(k); v != "" {
			fmt.Fprintf(&rec.out, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(&rec.out, "\n%s\n```\n\n```http\nHTTP/1.1 %d %s\n", indented.String(), rw.Code, http.StatusText(rw.Code))
	var keys []string
	for k := range rw.Header() {
		if k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&rec.out, "%s: %s\n", k, rw.Header().Get(k))
	}
	fmt.Fprintf(&rec.out, "\n%s```\n\n", rw.Body.String())
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	_, _ = w.Write(rw.Body.Bytes())
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

func renderExchange(t *testing.T) string {
	t.Helper()
	const tok = "7Kq2xV9mRt4Lw8Zp"
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: tok, App: app, Now: func() time.Time { return exampleTime }})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{h: h}
	mux := http.NewServeMux()
	mux.Handle("POST /midstream/callback", rec)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := callback.New()
	callback.SetClock(c, func() time.Time { return exampleTime })
	callback.SetNonce(c, countingNonces(), nil)
	configureConnector(t, c, map[string]any{"url": srv.URL + "/midstream/callback", "token": tok, "encryption": "none"})

	create := sdk.Operation{ID: "01JC7Q1V8X8Y4K2M3N5P6R7S8T", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f", DisplayName: "李雷",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "email": sdk.String("lilei@example.com")},
		Parent:     &sdk.Ref{HubID: "o_45c48cce", TargetID: "42"}}
	upd := sdk.Operation{ID: "01JC7Q2B4C6D8E0F1G2H3J4K5M", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_8f14e45f", DisplayName: "李雷",
		Attributes: sdk.Attributes{"email": sdk.String("lei.li@example.com")}}

	var results strings.Builder
	for i, op := range []*sdk.Operation{&create, &create, &upd} {
		res, err := sdk.Apply(context.Background(), c, *op)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&results, "%d. %s %s: Result{TargetID: %q, Outcome: %q, Status: %d}\n", i+1, op.Op, op.HubID, res.TargetID, res.Outcome, res.Status)
		upd.TargetID = res.TargetID
	}
	out := rec.out.String() + "The results the host records:\n\n```text\n" + results.String() + "```\n"
	return portRE.ReplaceAllString(out, "app.example.com")
}

// countingNonces returns reproducible nonces: 32 hex digits counting up.
func countingNonces() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("5f1d3c2a9b7e4f60a1c2d3e4f5a6b7%02x", n)
	}
}

// configureConnector configures c with values, failing on any error.
func configureConnector(t *testing.T, c *callback.Connector, values map[string]any) {
	t.Helper()
	cfg, diags := sdk.NewConfig(c.Schema(), values)
	var resp sdk.ConfigureResponse
	if !diags.HasError() {
		c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
	}
	if diags = append(diags, resp.Diagnostics...); diags.HasError() {
		t.Fatalf("Configure: %v", diags.Err())
	}
	t.Cleanup(func() { _ = c.Close() })
}

// countingReader yields 0x00, 0x01, 0x02, ...: reproducible IVs.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// renderSealed renders the worked example of an encrypted and signed
// request: every intermediate value a receiver needs to check its code
// against, produced by the real connector.
func renderSealed(t *testing.T) string {
	t.Helper()
	const (
		encKey = "0123456789abcdef"
		sigKey = "0123456789abcdef0123456789abcdef"
		nonce  = "00112233445566778899aabbccddeeff"
	)
	rsKey, err := os.ReadFile("testdata/hub-rs256.jwk")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wire.ParseSigningKey(string(rsKey))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := signer.PublicJWK()
	pubJSON, _ := json.Marshal(wire.JWKS{Keys: []wire.JWK{pub}})

	op := sdk.Operation{ID: "01JC7Q1V8X8Y4K2M3N5P6R7S8T", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f", DisplayName: "李雷",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "password": sdk.String("Tr0ub4dor&3")}}
	capture := func(values map[string]any) (http.Header, []byte) {
		var (
			h    http.Header
			body []byte
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h = r.Header.Clone()
			body, _ = io.ReadAll(r.Body)
			fmt.Fprint(w, `{"id":"10042","status":"ok"}`)
		}))
		defer srv.Close()
		c := callback.New()
		callback.SetClock(c, func() time.Time { return exampleTime })
		callback.SetNonce(c, func() string { return nonce }, &countingReader{})
		values["url"], values["token"] = srv.URL+"/midstream/callback", "7Kq2xV9mRt4Lw8Zp"
		configureConnector(t, c, values)
		if _, err := c.Apply(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		return h, body
	}
	h, body := capture(map[string]any{"encryption_key": encKey, "signature_key": sigKey, "password_sync": true})
	jh, jbody := capture(map[string]any{"encryption_key": encKey, "signature": "jws", "signing_key": string(rsKey), "password_sync": true})
	if !bytes.Equal(body, jbody) {
		t.Fatalf("the same IVs gave different bodies")
	}
	ev, _ := wire.NewEvent(op, exampleTime)
	ev.Object.Password = op.Attributes["password"].Str()
	plain, _ := wire.Marshal(ev)
	var env wire.Envelope
	_ = json.Unmarshal(body, &env)
	raw, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
	ts := h.Get(wire.HeaderTimestamp)
	sigInput := string(wire.SigningString(ts, nonce, body))
	jws := strings.TrimPrefix(jh.Get(wire.HeaderSignature), "jws=")
	protected, _, _ := strings.Cut(jws, ".")
	header, _ := base64.RawURLEncoding.DecodeString(protected)

	// The example must verify and decrypt with the receiver.
	for _, o := range []receiver.Options{{EncryptionKey: encKey, SignatureKey: sigKey}, {EncryptionKey: encKey, Keys: &wire.JWKS{Keys: []wire.JWK{pub}}}} {
		o.Token, o.Now = "7Kq2xV9mRt4Lw8Zp", func() time.Time { return exampleTime }
		v, err := receiver.NewVerifier(o)
		if err != nil {
			t.Fatal(err)
		}
		hdr := h
		if o.Keys != nil {
			hdr = jh
		}
		r := httptest.NewRequest(http.MethodPost, "/midstream/callback", bytes.NewReader(body))
		r.Header = hdr
		if _, err := v.Decode(r); err != nil {
			t.Fatalf("the README's example does not verify: %v", err)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Settings: `encryption_key = \"%s\"` (16 characters: AES-128), `signature_key = \"%s\"`, `password_sync = true`; "+
		"the event is sent at %s, with nonce `%s` and, to make the example reproducible, the IV `%x`.\n\n",
		encKey, sigKey, exampleTime.Format(time.RFC3339Nano), nonce, raw[:12])
	fmt.Fprintf(&b, "1. The event, exactly as it would be sent unencrypted (%d bytes of UTF-8):\n\n   ```json\n   %s\n   ```\n\n", len(plain), plain)
	fmt.Fprintf(&b, "2. The additional authenticated data, `X-Midstream-Timestamp` + `.` + `X-Midstream-Nonce`:\n\n   ```text\n   %s.%s\n   ```\n\n", ts, nonce)
	fmt.Fprintf(&b, "3. AES-128-GCM of the event with the key's 16 bytes, that IV and that AAD gives %d bytes of ciphertext and a 16-byte tag; "+
		"IV ‖ ciphertext ‖ tag, in standard base64, is the envelope's `ciphertext`. The body sent is the envelope:\n\n   ```json\n   %s\n   ```\n\n", len(raw)-28, body)
	fmt.Fprintf(&b, "4. The signing string, timestamp `.` nonce `.` body:\n\n   ```text\n   %s\n   ```\n\n", sigInput)
	fmt.Fprintf(&b, "5. HMAC-SHA256 of the signing string with the signature key's bytes, in standard base64:\n\n   ```http\n   %s: %s\n   ```\n\n",
		wire.HeaderSignature, h.Get(wire.HeaderSignature))
	fmt.Fprintf(&b, "6. With `signature = \"jws\"` instead, the hub signs with its RS256 key, whose public half it publishes:\n\n   ```json\n   %s\n   ```\n\n", pubJSON)
	fmt.Fprintf(&b, "   The protected header is `%s`, base64url `%s`; the signature is RS256 over `%s.` + base64url(signing string), and the header carries the detached JWS "+
		"(the same body, timestamp and nonce; RS256 is deterministic, so this value is exact):\n\n   ```http\n   %s: %s\n   ```\n\n",
		header, protected, protected, wire.HeaderSignature, jh.Get(wire.HeaderSignature))
	fmt.Fprintf(&b, "The whole request with the HMAC signature:\n\n```http\nPOST /midstream/callback HTTP/1.1\n")
	for _, k := range shownRequestHeaders {
		if v := h.Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(&b, "\n%s\n```\n", body)
	return b.String()
}

// renderBatch renders a batch exchange: three creates sent together by
// the connector to an sdk/receiver application that refuses one of them,
// and what the host records for each.
func renderBatch(t *testing.T) string {
	t.Helper()
	const tok = "7Kq2xV9mRt4Lw8Zp"
	app := &failing{MemoryApp: receiver.NewMemoryApp(), fail: map[string]error{
		"u_c9f0f895": receiver.Reject("E_USERNAME", "user name %q is already taken", "wangfang"),
	}}
	h, err := receiver.New(receiver.Options{Token: tok, App: app, Now: func() time.Time { return exampleTime }})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, r)
		var req, answer bytes.Buffer
		_ = json.Indent(&req, body, "", "  ")
		_ = json.Indent(&answer, rw.Body.Bytes(), "", "  ")
		mu.Lock()
		fmt.Fprintf(&out, "```http\n%s %s HTTP/1.1\n", r.Method, r.URL.RequestURI())
		for _, k := range shownRequestHeaders {
			if v := r.Header.Get(k); v != "" {
				fmt.Fprintf(&out, "%s: %s\n", k, v)
			}
		}
		fmt.Fprintf(&out, "\n%s\n```\n\n```http\nHTTP/1.1 %d %s\nContent-Type: %s\n\n%s```\n\n",
			req.String(), rw.Code, http.StatusText(rw.Code), rw.Header().Get("Content-Type"), answer.String())
		mu.Unlock()
		for k, v := range rw.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rw.Code)
		_, _ = w.Write(rw.Body.Bytes())
	}))
	defer srv.Close()
	c := callback.New()
	callback.SetClock(c, func() time.Time { return exampleTime })
	callback.SetNonce(c, countingNonces(), nil)
	configureConnector(t, c, map[string]any{"url": srv.URL + "/midstream/callback", "token": tok, "encryption": "none", "batch_size": 3, "batch_wait": "1s"})

	rd := &sdk.Ref{HubID: "o_45c48cce", TargetID: "org-1"}
	ops := []sdk.Operation{
		{ID: "01JC7QD1A2B3C4D5E6F7G8H9J0", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_8f14e45f", DisplayName: "李雷",
			Attributes: sdk.Attributes{"userName": sdk.String("lilei")}, Parent: rd},
		{ID: "01JC7QD2K3M4N5P6Q7R8S9T0V1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_c9f0f895", DisplayName: "王芳",
			Attributes: sdk.Attributes{"userName": sdk.String("wangfang")}, Parent: rd},
		{ID: "01JC7QD3W4X5Y6Z7A8B9C0D1E2", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "o_45c48cce", TargetID: "org-1", DisplayName: "研发与平台中心",
			Attributes: sdk.Attributes{"name": sdk.String("研发与平台中心")}},
	}
	// Held by the application already, so that the update finds it.
	if _, err := app.Handle(context.Background(), &wire.Event{Version: "1", ID: "seed", Type: wire.EventOrgCreate, Timestamp: exampleTime,
		Object: &wire.Object{Kind: sdk.KindOrg, HubID: "o_45c48cce"}}); err != nil {
		t.Fatal(err)
	}
	type ret struct {
		res sdk.Result
		err error
	}
	rets := make([]chan ret, len(ops))
	for i, op := range ops {
		rets[i] = make(chan ret, 1)
		go func() { r, err := sdk.Apply(context.Background(), c, op); rets[i] <- ret{r, err} }()
		if i < len(ops)-1 {
			// One at a time, so that the batch holds them in this order.
			for deadline := time.Now().Add(5 * time.Second); callback.Waiting(c) < i+1; {
				if time.Now().After(deadline) {
					t.Fatal("the event was not queued for a batch")
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	var results strings.Builder
	for i, ch := range rets {
		r := <-ch
		var e *sdk.Error
		if errors.As(r.err, &e) {
			fmt.Fprintf(&results, "%d. %s %s: Error{Category: %q, HTTPStatus: %d, Code: %q, Message: %q}\n", i+1, ops[i].Op, ops[i].HubID, e.Category, e.HTTPStatus, e.Code, e.Message)
			continue
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		fmt.Fprintf(&results, "%d. %s %s: Result{TargetID: %q, Outcome: %q, Status: %d}\n", i+1, ops[i].Op, ops[i].HubID, r.res.TargetID, r.res.Outcome, r.res.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(out.String(), "X-Midstream-Event: batch") != 1 {
		t.Fatalf("the three events were not sent in one batch:\n%s", out.String())
	}
	s := out.String() + "The results the host records:\n\n```text\n" + results.String() + "```\n"
	return portRE.ReplaceAllString(s, "app.example.com")
}
