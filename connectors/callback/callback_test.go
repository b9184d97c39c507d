package callback_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/hcldecode"
	"github.com/midstream-io/midstream/sdk/receiver"
)

const (
	token  = "s3cret"
	encKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sigKey = "a-signature-key-of-some-length!!"
)

// secured adds encryption and signature keys to values that set none of
// the security settings, so that the tests of other settings see no
// warning about them.
func secured(values map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range values {
		out[k] = v
	}
	for _, k := range []string{"encryption", "encryption_key", "signature", "signature_key", "signing_key", "password_sync"} {
		if _, ok := values[k]; ok {
			return out
		}
	}
	out["encryption_key"], out["signature_key"] = encKey, sigKey
	return out
}

// configure returns a connector configured with values, failing the test
// on any error diagnostic.
func configure(t *testing.T, values map[string]any) *callback.Connector {
	t.Helper()
	c, diags := tryConfigure(t, values, "")
	if diags.HasError() {
		t.Fatalf("Configure: %v", diags.Err())
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func tryConfigure(t *testing.T, values map[string]any, dir string) (*callback.Connector, sdk.Diagnostics) {
	t.Helper()
	c := callback.New()
	cfg, diags := sdk.NewConfig(c.Schema(), values)
	if diags.HasError() {
		return c, diags
	}
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: dir}, &resp)
	return c, append(diags, resp.Diagnostics...)
}

// newPeer starts an application built on sdk/receiver with a MemoryApp.
func newPeer(t *testing.T, tok string) (*httptest.Server, *receiver.MemoryApp) {
	t.Helper()
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: tok, App: app})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, app
}

func TestMetadataAndSchema(t *testing.T) {
	c := callback.New()
	if got := c.Metadata().Name; got != "callback" {
		t.Errorf("name %q", got)
	}
	if err := c.Schema().Validate(); err != nil {
		t.Fatal(err)
	}
	caps := sdk.CapabilitiesOf(c)
	if diff := cmp.Diff(sdk.Capabilities{Target: true, ConnectionTester: true, Closer: true}, caps); diff != "" {
		t.Errorf("capabilities (-want +got):\n%s", diff)
	}
}

func TestExampleConfig(t *testing.T) {
	c := callback.New()
	env := func(name string) (string, bool) {
		switch name {
		case "APP_ENCRYPTION_KEY":
			return encKey, true
		case "APP_SIGNATURE_KEY":
			return sigKey, true
		}
		return "value-of-" + name, true
	}
	cfg, diags := hcldecode.DecodeFile("example.hcl", []byte(callback.Example), c.Schema(), hcldecode.EvalContext(t.TempDir(), env))
	if diags.HasErrors() {
		t.Fatalf("example.hcl: %s", diags.Error())
	}
	if got := cfg.String("token"); got != "value-of-APP_TOKEN" {
		t.Errorf("token = %q, want it read from env(\"APP_TOKEN\")", got)
	}
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &resp)
	if len(resp.Diagnostics) > 0 {
		t.Errorf("Configure(example.hcl): %v", resp.Diagnostics)
	}
	// Every field is documented in the example, set or as a commented
	// default.
	for _, f := range c.Schema().Fields {
		if !strings.Contains(callback.Example, "\n"+f.Name+" = ") && !strings.Contains(callback.Example, "\n# "+f.Name+" = ") {
			t.Errorf("example.hcl does not show %s", f.Name)
		}
	}
}

func TestConfigure(t *testing.T) {
	caDir := t.TempDir()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Close()
	writePEM(t, filepath.Join(caDir, "ca.pem"), tlsSrv)
	if err := os.WriteFile(filepath.Join(caDir, "junk.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	type diag struct {
		Severity sdk.Severity
		Path     string
		Summary  string
	}
	tests := map[string]struct {
		values map[string]any
		want   []diag
	}{
		"https":             {values: map[string]any{"url": "https://app.example.com/hook", "token": token}},
		"http on loopback":  {values: map[string]any{"url": "http://127.0.0.1:8080/hook", "token": token}},
		"http on localhost": {values: map[string]any{"url": "http://localhost:8080/hook", "token": token}},
		"token from a file": {values: map[string]any{"url": "https://app.example.com/hook", "token": token + "\n"}},
		"ca_file relative":  {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "ca_file": "ca.pem"}},
		"all settings":      {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "timeout": "1m"}},
		"http on another host": {
			values: map[string]any{"url": "http://app.example.com/hook", "token": token},
			want:   []diag{{sdk.SeverityWarning, "url", "Unencrypted callback URL"}},
		},
		"no token": {
			values: map[string]any{"url": "https://app.example.com/hook"},
			want:   []diag{{sdk.SeverityWarning, "token", "No bearer token"}},
		},
		"token with a space": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": "two words"},
			want:   []diag{{sdk.SeverityError, "token", "Invalid bearer token"}},
		},
		"no scheme": {
			values: map[string]any{"url": "app.example.com/hook", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Invalid callback URL"}},
		},
		"ftp": {
			values: map[string]any{"url": "ftp://app.example.com/hook", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Invalid callback URL"}},
		},
		"no host": {
			values: map[string]any{"url": "https:///hook", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Invalid callback URL"}},
		},
		"unparsable": {
			values: map[string]any{"url": "https://app example.com/", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Invalid callback URL"}},
		},
		"credentials in URL": {
			values: map[string]any{"url": "https://me:pw@app.example.com/hook", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Credentials in the callback URL"}},
		},
		"fragment": {
			values: map[string]any{"url": "https://app.example.com/hook#x", "token": token},
			want:   []diag{{sdk.SeverityError, "url", "Fragment in the callback URL"}},
		},
		"zero timeout": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "timeout": "0s"},
			want:   []diag{{sdk.SeverityError, "timeout", "Invalid timeout"}},
		},
		"long timeout": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "timeout": "6m"},
			want:   []diag{{sdk.SeverityError, "timeout", "Invalid timeout"}},
		},
		"missing ca_file": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "ca_file": "nope.pem"},
			want:   []diag{{sdk.SeverityError, "ca_file", "Cannot read CA file"}},
		},
		"ca_file without certificates": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "ca_file": "junk.pem"},
			want:   []diag{{sdk.SeverityError, "ca_file", "No certificates in CA file"}},
		},
		"everything wrong at once": {
			values: map[string]any{"url": "ftp://x", "token": "a b", "timeout": "0s"},
			want: []diag{
				{sdk.SeverityError, "url", "Invalid callback URL"},
				{sdk.SeverityError, "token", "Invalid bearer token"},
				{sdk.SeverityError, "timeout", "Invalid timeout"},
			},
		},
		"plain": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "none"},
			want:   []diag{{sdk.SeverityWarning, "encryption", "Unencrypted callbacks"}},
		},
		"no security settings": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "password_sync": false},
			want:   []diag{{sdk.SeverityWarning, "encryption", "Unencrypted callbacks"}},
		},
		"AES-128 key":                  {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": "0123456789abcdef", "signature_key": sigKey}},
		"AES-256 key, aes-gcm":         {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "aes-gcm", "encryption_key": encKey + "\n"}},
		"encryption, signature none":   {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "none"}},
		"hmac explicitly":              {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "hmac", "signature_key": sigKey}},
		"password sync, encrypted":     {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "password_sync": true}},
		"jws with the hub's RS256 key": {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "jws", "signing_key": signingKeyText(wire.RS256)}},
		"jws with the hub's ES256 key": {values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "jws", "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)}},
		"encryption none with a key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "none", "encryption_key": encKey, "signature_key": sigKey},
			want:   []diag{{sdk.SeverityWarning, "encryption_key", "Encryption key not used"}, {sdk.SeverityWarning, "encryption", "Unencrypted callbacks"}},
		},
		"aes-gcm without a key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "aes-gcm", "signature_key": sigKey},
			want:   []diag{{sdk.SeverityError, "encryption_key", "Missing encryption key"}},
		},
		"15-character key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": "0123456789abcde", "signature_key": sigKey},
			want:   []diag{{sdk.SeverityError, "encryption_key", "Invalid encryption key"}},
		},
		"64 characters, not hex": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": strings.Repeat("xy", 32), "signature_key": sigKey},
			want:   []diag{{sdk.SeverityError, "encryption_key", "Invalid encryption key"}},
		},
		"unknown encryption": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "aes-cbc"},
			want:   []diag{{sdk.SeverityError, "encryption", "Invalid value"}},
		},
		"hmac without a key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "hmac"},
			want:   []diag{{sdk.SeverityError, "signature_key", "Missing signature key"}},
		},
		"short signature key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature_key": "too-short"},
			want:   []diag{{sdk.SeverityError, "signature_key", "Signature key too short"}},
		},
		"signature none with a key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "none", "signature_key": sigKey},
			want:   []diag{{sdk.SeverityWarning, "signature_key", "Signature key not used"}},
		},
		"jws without the hub's key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "jws"},
			want:   []diag{{sdk.SeverityError, "signature", "No signing key from the hub"}},
		},
		"jws with a key of the other algorithm": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "jws", "signing_key": signingKeyText(wire.ES256)},
			want:   []diag{{sdk.SeverityError, "signature_alg", "Signing key of another algorithm"}},
		},
		"jws with a junk key": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption_key": encKey, "signature": "jws", "signing_key": "-----BEGIN PRIVATE KEY-----"},
			want:   []diag{{sdk.SeverityError, "signing_key", "Invalid signing key"}},
		},
		"password sync without encryption": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "signature_key": sigKey, "password_sync": true},
			want:   []diag{{sdk.SeverityWarning, "encryption", "Unencrypted callbacks"}, {sdk.SeverityError, "password_sync", "Password sync needs encryption"}},
		},
		"password sync, encryption none": {
			values: map[string]any{"url": "https://app.example.com/hook", "token": token, "encryption": "none", "signature_key": sigKey, "password_sync": true},
			want:   []diag{{sdk.SeverityWarning, "encryption", "Unencrypted callbacks"}, {sdk.SeverityError, "password_sync", "Password sync needs encryption"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, diags := tryConfigure(t, secured(tt.values), caDir)
			var got []diag
			for _, d := range diags {
				got = append(got, diag{d.Severity, d.Path.String(), d.Summary})
				if d.Detail == "" {
					t.Errorf("%s: no detail", d.Summary)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%v", diff, diags)
			}
		})
	}

	t.Run("required url", func(t *testing.T) {
		_, diags := tryConfigure(t, map[string]any{}, "")
		if !diags.HasError() || diags[0].Path.String() != "url" {
			t.Errorf("no url: %v", diags)
		}
	})
}

func writePEM(t *testing.T, path string, srv *httptest.Server) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// apply applies op the way the host does (sdk.Apply fills the outcome).
func apply(t *testing.T, c *callback.Connector, op sdk.Operation) sdk.Result {
	t.Helper()
	res, err := sdk.Apply(context.Background(), c, op)
	if err != nil {
		t.Fatalf("%s %s: %v", op.Op, op.HubID, err)
	}
	return res
}

var resultCmp = cmpopts.IgnoreFields(sdk.Result{}, "BodyExcerpt")

func TestLifecycleAgainstReceiver(t *testing.T) {
	srv, app := newPeer(t, token)
	c := configure(t, map[string]any{"url": srv.URL + "/hook", "token": token})

	org := apply(t, c, sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o1", DisplayName: "R&D",
		Attributes: sdk.Attributes{"code": sdk.String("rd")}})
	if diff := cmp.Diff(sdk.Result{TargetID: "org-1", Outcome: sdk.OutcomeCreated, Status: 200}, org, resultCmp); diff != "" {
		t.Errorf("create org (-want +got):\n%s", diff)
	}
	if org.BodyExcerpt != `{"id":"org-1","status":"ok"}`+"\n" {
		t.Errorf("body excerpt %q", org.BodyExcerpt)
	}
	org2 := apply(t, c, sdk.Operation{ID: "e2", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o2", DisplayName: "Ops"})

	hired := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	create := sdk.Operation{ID: "e3", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1", DisplayName: "Li Lei",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "mail": sdk.String("old@example.com"),
			"employeeNo": sdk.Int(42), "hiredAt": sdk.Time(hired), "groups": sdk.StringList("dev")},
		Parent: &sdk.Ref{HubID: "o1", TargetID: org.TargetID},
		Orgs:   []sdk.Ref{{HubID: "o1", TargetID: org.TargetID}},
	}
	user := apply(t, c, create)
	if diff := cmp.Diff(sdk.Result{TargetID: "user-3", Outcome: sdk.OutcomeCreated, Status: 200}, user, resultCmp); diff != "" {
		t.Errorf("create user (-want +got):\n%s", diff)
	}

	// The answer was lost: the host re-runs the create (a new attempt, or
	// a full sync's new event) with today's values.
	again := create
	again.ID = "e4"
	again.Attributes = create.Attributes.Clone()
	again.Attributes["mail"] = sdk.String("new@example.com")
	res := apply(t, c, again)
	if diff := cmp.Diff(sdk.Result{TargetID: "user-3", Outcome: sdk.OutcomeMatched, Status: 200}, res, resultCmp); diff != "" {
		t.Errorf("re-applied create (-want +got):\n%s", diff)
	}
	if got, _ := app.ObjectByHubID(sdk.KindUser, "u1"); got.Attributes.String("mail") != "new@example.com" {
		t.Errorf("the re-applied create did not update the object: %+v", got)
	}
	if n := len(app.Objects()); n != 3 {
		t.Errorf("%d objects after a re-applied create, want 3", n)
	}

	steps := []sdk.Operation{
		{ID: "e5", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID,
			Attributes: sdk.Attributes{"title": sdk.String("dev"), "groups": sdk.Null()}},
		{ID: "e6", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID},
		{ID: "e7", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID,
			Parent: &sdk.Ref{HubID: "o2", TargetID: org2.TargetID}, Orgs: []sdk.Ref{{HubID: "o2", TargetID: org2.TargetID}}},
	}
	for _, op := range steps {
		res := apply(t, c, op)
		if diff := cmp.Diff(sdk.Result{TargetID: "user-3", Outcome: sdk.OutcomeApplied, Status: 200}, res, resultCmp); diff != "" {
			t.Errorf("%s (-want +got):\n%s", op.Op, diff)
		}
	}
	want := receiver.MemoryObject{
		ID: "user-3", Kind: sdk.KindUser, HubID: "u1", DisplayName: "Li Lei",
		Attributes: wire.Attributes{"userName": "lilei", "mail": "new@example.com", "employeeNo": int64(42),
			"hiredAt": "2024-03-01T08:00:00Z", "title": "dev"},
		Parent:   &wire.Ref{HubID: "o2", TargetID: "org-2"},
		Orgs:     []wire.Ref{{HubID: "o2", TargetID: "org-2"}},
		Disabled: true,
	}
	got, _ := app.Object("user-3")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user at the application (-want +got):\n%s", diff)
	}

	apply(t, c, sdk.Operation{ID: "e8", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
	if got, _ := app.Object("user-3"); got.Disabled {
		t.Errorf("enable left the user disabled")
	}
	// A delete of an object whose create answer was lost carries no target
	// id: the receiver finds it by hub id.
	apply(t, c, sdk.Operation{ID: "e9", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u1"})
	if _, ok := app.Object("user-3"); ok {
		t.Errorf("the user survived its delete")
	}
	// A delete re-run after a crash finds nothing and succeeds.
	apply(t, c, sdk.Operation{ID: "e9", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})

	// Every request carried the hub id: the application saw all eight
	// events of u1 (the re-applied create as an update, the second delete
	// answered "not held").
	if n := app.Ops("u1"); n != 8 {
		t.Errorf("the application handled %d events of u1, want 8", n)
	}
}

// fixed is the connector's clock in error tests, so that an HTTP-date
// Retry-After gives an exact duration.
var fixed = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

func TestErrors(t *testing.T) {
	longBody := strings.Repeat("é", 400) // 800 bytes of 2-byte runes: 512 is a rune boundary
	oddBody := "x" + longBody            // 512 cuts a rune in half: the excerpt stops before it
	update := sdk.Operation{ID: "e1", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: "7"}
	create := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"}
	tests := map[string]struct {
		op      sdk.Operation
		status  int
		headers map[string]string
		body    string
		want    *sdk.Error
	}{
		"500": {
			op: update, status: 500, body: "oops",
			want: &sdk.Error{Category: sdk.CategoryRetryable, Message: "Internal Server Error", HTTPStatus: 500, BodyExcerpt: "oops"},
		},
		"503 with Retry-After": {
			op: update, status: 503, headers: map[string]string{"Retry-After": "30"},
			body: `{"status":"error","message":"database down"}`,
			want: &sdk.Error{Category: sdk.CategoryRetryable, Message: "database down", HTTPStatus: 503,
				BodyExcerpt: `{"status":"error","message":"database down"}`, RetryAfter: 30 * time.Second},
		},
		"429 with seconds": {
			op: update, status: 429, headers: map[string]string{"Retry-After": "7"},
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429, RetryAfter: 7 * time.Second},
		},
		"429 with an HTTP date": {
			op: update, status: 429, headers: map[string]string{"Retry-After": fixed.Add(90 * time.Second).Format(http.TimeFormat)},
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429, RetryAfter: 90 * time.Second},
		},
		"429 with a past date": {
			op: update, status: 429, headers: map[string]string{"Retry-After": fixed.Add(-time.Hour).Format(http.TimeFormat)},
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429},
		},
		"429 with an unparsable wait": {
			op: update, status: 429, headers: map[string]string{"Retry-After": "99999999999999999999"},
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429},
		},
		"429 with a year": {
			op: update, status: 429, headers: map[string]string{"Retry-After": "31536000"},
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429, RetryAfter: 24 * time.Hour},
		},
		"429 without Retry-After": {
			op: update, status: 429,
			want: &sdk.Error{Category: sdk.CategoryRateLimited, Message: "the application asked to slow down", HTTPStatus: 429},
		},
		"408": {
			op: update, status: 408,
			want: &sdk.Error{Category: sdk.CategoryRetryable, Message: "Request Timeout", HTTPStatus: 408},
		},
		"400 with code and message": {
			op: update, status: 400, body: `{"status":"error","code":"E_MAIL","message":"mail is invalid"}`,
			want: &sdk.Error{Category: sdk.CategoryPermanent, Code: "E_MAIL", Message: "mail is invalid", HTTPStatus: 400,
				BodyExcerpt: `{"status":"error","code":"E_MAIL","message":"mail is invalid"}`},
		},
		"400 with a 503's Retry-After ignored": {
			op: update, status: 400, headers: map[string]string{"Retry-After": "5"},
			want: &sdk.Error{Category: sdk.CategoryPermanent, Message: "Bad Request", HTTPStatus: 400},
		},
		"404": {
			op: update, status: 404, body: "no such page",
			want: &sdk.Error{Category: sdk.CategoryPermanent, Message: "Not Found", HTTPStatus: 404, BodyExcerpt: "no such page"},
		},
		"404 not_found": {
			op: update, status: 404, body: `{"status":"error","code":"not_found","message":"no user with id 7"}`,
			want: &sdk.Error{Category: sdk.CategoryNotFound, Code: "not_found", Message: "no user with id 7", HTTPStatus: 404,
				BodyExcerpt: `{"status":"error","code":"not_found","message":"no user with id 7"}`},
		},
		"404 not_found to a create": {
			op: create, status: 404, body: `{"status":"error","code":"not_found"}`,
			want: &sdk.Error{Category: sdk.CategoryPermanent, Code: "not_found", Message: "Not Found", HTTPStatus: 404,
				BodyExcerpt: `{"status":"error","code":"not_found"}`},
		},
		"422 with a long body": {
			op: update, status: 422, body: longBody,
			want: &sdk.Error{Category: sdk.CategoryPermanent, Message: "Unprocessable Entity", HTTPStatus: 422, BodyExcerpt: longBody[:512]},
		},
		"422 cut in a rune": {
			op: update, status: 422, body: oddBody,
			want: &sdk.Error{Category: sdk.CategoryPermanent, Message: "Unprocessable Entity", HTTPStatus: 422, BodyExcerpt: oddBody[:511]},
		},
		"403": {
			op: update, status: 403,
			want: &sdk.Error{Category: sdk.CategoryPermanent, Message: "the application rejected the bearer token; check the target's token", HTTPStatus: 403},
		},
		"409": {
			op: create, status: 409, body: `{"status":"error","message":"userName lilei exists"}`,
			want: &sdk.Error{Category: sdk.CategoryConflict, Message: "userName lilei exists", HTTPStatus: 409,
				BodyExcerpt: `{"status":"error","message":"userName lilei exists"}`},
		},
		"409 naming the holder": {
			op: create, status: 409, body: `{"id":"88"}`,
			want: &sdk.Error{Category: sdk.CategoryConflict, HTTPStatus: 409, BodyExcerpt: `{"id":"88"}`,
				Message: "the application already holds this object under an id the hub does not know (88); link it with `midstream links set`"},
		},
		"302": {
			op: update, status: 302, headers: map[string]string{"Location": "https://elsewhere.example.com/hook"},
			want: &sdk.Error{Category: sdk.CategoryPermanent, HTTPStatus: 302,
				Message: `the application redirected to "https://elsewhere.example.com/hook"; set url to the final address (redirects are not followed)`},
		},
		"create answered without id": {
			op: create, status: 200, body: `{"status":"ok"}`,
			want: &sdk.Error{Category: sdk.CategoryPermanent, HTTPStatus: 200, BodyExcerpt: `{"status":"ok"}`,
				Message: `the application answered the create of user u1 without an id: a create's answer must be JSON such as {"id": "..."}`},
		},
		"create answered with text": {
			op: create, status: 201, body: `created`,
			want: &sdk.Error{Category: sdk.CategoryPermanent, HTTPStatus: 201, BodyExcerpt: `created`,
				Message: `the application answered the create of user u1 without an id: a create's answer must be JSON such as {"id": "..."}`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			c := configure(t, map[string]any{"url": srv.URL, "token": token})
			callback.SetClock(c, func() time.Time { return fixed })
			res, err := c.Apply(context.Background(), tt.op)
			if err == nil {
				t.Fatalf("Apply = %+v, want an error", res)
			}
			var got *sdk.Error
			if !errors.As(err, &got) {
				t.Fatalf("error %v is not an *sdk.Error", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	create := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"}
	update := sdk.Operation{ID: "e2", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: "7"}
	del := sdk.Operation{ID: "e3", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u1", TargetID: "7"}
	tests := map[string]struct {
		op     sdk.Operation
		status int
		body   string
		want   sdk.Result
	}{
		"create, 201":           {op: create, status: 201, body: `{"id":"7"}`, want: sdk.Result{TargetID: "7", Status: 201, BodyExcerpt: `{"id":"7"}`}},
		"create, numeric id":    {op: create, status: 200, body: `{"id":10042,"status":"ok"}`, want: sdk.Result{TargetID: "10042", Status: 200, BodyExcerpt: `{"id":10042,"status":"ok"}`}},
		"create, exists":        {op: create, status: 200, body: `{"id":"7","status":"exists"}`, want: sdk.Result{TargetID: "7", Outcome: sdk.OutcomeMatched, Status: 200, BodyExcerpt: `{"id":"7","status":"exists"}`}},
		"update, 204":           {op: update, status: 204, want: sdk.Result{Status: 204}},
		"update, text":          {op: update, status: 200, body: "OK", want: sdk.Result{Status: 200, BodyExcerpt: "OK"}},
		"update, new id":        {op: update, status: 200, body: `{"id":"8"}`, want: sdk.Result{TargetID: "8", Status: 200, BodyExcerpt: `{"id":"8"}`}},
		"update, unknown field": {op: update, status: 200, body: `{"data":[1]}`, want: sdk.Result{Status: 200, BodyExcerpt: `{"data":[1]}`}},
		"delete, not held":      {op: del, status: 404, body: `{"status":"error","code":"not_found"}`, want: sdk.Result{Status: 404, BodyExcerpt: `{"status":"error","code":"not_found"}`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			c := configure(t, map[string]any{"url": srv.URL, "token": token})
			got, err := c.Apply(context.Background(), tt.op)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBearerRejected(t *testing.T) {
	srv, app := newPeer(t, "the-right-one")
	c := configure(t, map[string]any{"url": srv.URL, "token": token})
	_, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
	want := &sdk.Error{Category: sdk.CategoryPermanent, Code: "invalid_token", Message: "missing or wrong bearer token; check the target's token", HTTPStatus: 401,
		BodyExcerpt: `{"status":"error","code":"invalid_token","message":"missing or wrong bearer token"}` + "\n"}
	var got *sdk.Error
	if !errors.As(err, &got) {
		t.Fatalf("error %v, want an *sdk.Error", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(app.Objects()) != 0 {
		t.Errorf("a request with a wrong token reached the application")
	}
}

func TestReceiverAsksForRetry(t *testing.T) {
	srv, app := newPeer(t, token)
	c := configure(t, map[string]any{"url": srv.URL, "token": token})
	app.FailNext(receiver.RetryLater(3*time.Second, "maintenance"), &receiver.Error{Status: 429, RetryAfter: 7 * time.Second, Message: "slow down"})
	op := sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"}
	for _, want := range []struct {
		cat   sdk.Category
		after time.Duration
	}{{sdk.CategoryRetryable, 3 * time.Second}, {sdk.CategoryRateLimited, 7 * time.Second}} {
		_, err := c.Apply(context.Background(), op)
		e := sdk.AsError(err)
		if e == nil || e.Category != want.cat || e.RetryAfter != want.after {
			t.Errorf("Apply: %#v, want %s after %s", e, want.cat, want.after)
		}
	}
	res := apply(t, c, op)
	if res.Outcome != sdk.OutcomeCreated || len(app.Objects()) != 1 {
		t.Errorf("after the retries: %+v, %d objects", res, len(app.Objects()))
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		c := configure(t, map[string]any{"url": "http://" + closedAddr(t) + "/hook", "token": token})
		_, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
		e := sdk.AsError(err)
		if e == nil || e.Category != sdk.CategoryRetryable || !strings.Contains(e.Message, "connection refused") || e.HTTPStatus != 0 {
			t.Errorf("Apply: %#v, want retryable, connection refused", e)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		c := configure(t, map[string]any{"url": srv.URL, "token": token, "timeout": "100ms"})
		_, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
		e := sdk.AsError(err)
		if e == nil || e.Category != sdk.CategoryRetryable || !strings.HasPrefix(e.Message, "no answer within 100ms") {
			t.Errorf("Apply: %#v, want retryable, no answer within 100ms", e)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv, _ := newPeer(t, token)
		c := configure(t, map[string]any{"url": srv.URL, "token": token})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Apply(ctx, sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
		if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryRetryable {
			t.Errorf("Apply: %#v, want retryable", e)
		}
	})
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestConcurrentApplies(t *testing.T) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: token, App: app})
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := configure(t, map[string]any{"url": srv.URL, "token": token})

	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := sdk.Apply(context.Background(), c, sdk.Operation{ID: fmt.Sprintf("e%d", i), Op: sdk.OpCreate, Kind: sdk.KindUser,
				HubID: fmt.Sprintf("u%d", i), Attributes: sdk.Attributes{"n": sdk.Int(int64(i))}})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ids[i] = res.TargetID
		})
	}
	wg.Wait()
	if got := most.Load(); got < 2 {
		t.Errorf("at most %d request in flight at once: concurrent applies were serialized", got)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		o, ok := app.Object(id)
		if !ok || o.HubID != fmt.Sprintf("u%d", i) || seen[id] {
			t.Errorf("create %d linked %q, which holds %+v", i, id, o)
		}
		seen[id] = true
	}
	if len(app.Objects()) != n {
		t.Errorf("%d objects, want %d", len(app.Objects()), n)
	}
}

func TestTestConnection(t *testing.T) {
	peer, _ := newPeer(t, token)
	tlsPeer := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsPeer.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes this test fails on purpose
	tlsPeer.StartTLS()
	t.Cleanup(tlsPeer.Close)
	caDir := t.TempDir()
	writePEM(t, filepath.Join(caDir, "ca.pem"), tlsPeer)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	t.Cleanup(failing.Close)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	tlsPort := tlsPeer.Listener.Addr().(*net.TCPAddr).Port

	tests := map[string]struct {
		values  map[string]any
		path    string
		summary string // "" for success
	}{
		"ok":                  {values: map[string]any{"url": peer.URL + "/hook", "token": token}},
		"ok with ca_file":     {values: map[string]any{"url": tlsPeer.URL, "token": token, "ca_file": "ca.pem"}},
		"wrong token":         {values: map[string]any{"url": peer.URL, "token": "nope"}, path: "token", summary: "Token rejected"},
		"not found":           {values: map[string]any{"url": notFound.URL, "token": token}, path: "url", summary: "Callback endpoint not found"},
		"failing application": {values: map[string]any{"url": failing.URL, "token": token}, path: "url", summary: "Application unavailable"},
		"refused":             {values: map[string]any{"url": "http://" + closedAddr(t), "token": token}, path: "url", summary: "Connection refused"},
		"unknown host":        {values: map[string]any{"url": "https://no-such-host.invalid/hook", "token": token}, path: "url", summary: "Host not found"},
		"untrusted":           {values: map[string]any{"url": tlsPeer.URL, "token": token}, path: "ca_file", summary: "Untrusted certificate"},
		"wrong host name": {values: map[string]any{"url": fmt.Sprintf("https://localhost:%d", tlsPort), "token": token, "ca_file": "ca.pem"},
			path: "url", summary: "Certificate does not match the host"},
		"https to http": {values: map[string]any{"url": strings.Replace(peer.URL, "http:", "https:", 1), "token": token},
			path: "url", summary: "Not a TLS server"},
		"timeout": {values: map[string]any{"url": slow.URL, "token": token, "timeout": "100ms"}, path: "url", summary: "No answer"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, diags := tryConfigure(t, tt.values, caDir)
			if diags.HasError() {
				t.Fatal(diags.Err())
			}
			t.Cleanup(func() { _ = c.Close() })
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if tt.summary == "" {
				if len(resp.Diagnostics) > 0 || !strings.HasPrefix(resp.Detail, "HTTP 200 from ") {
					t.Errorf("TestConnection: %v, detail %q", resp.Diagnostics, resp.Detail)
				}
				return
			}
			if len(resp.Diagnostics) != 1 {
				t.Fatalf("diagnostics %v, want one", resp.Diagnostics)
			}
			d := resp.Diagnostics[0]
			if d.Severity != sdk.SeverityError || d.Path.String() != tt.path || d.Summary != tt.summary || d.Detail == "" {
				t.Errorf("diagnostic %v, want error at %s: %s", d, tt.path, tt.summary)
			}
		})
	}
}

func TestTestEventReachesReceiver(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		ev, err := (&wire.Decoder{}).Decode(r)
		if err != nil || ev.Type != wire.EventTest || !strings.HasPrefix(ev.ID, "test-") {
			t.Errorf("test event %+v, %v", ev, err)
		}
	}))
	t.Cleanup(srv.Close)
	c := configure(t, map[string]any{"url": srv.URL, "token": token})
	var resp sdk.TestConnectionResponse
	c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
	if got.Get("Authorization") != "Bearer "+token || got.Get("X-Midstream-Event") != "test" || got.Get("X-Midstream-Hub-Id") != "" {
		t.Errorf("test event headers %v", got)
	}
}

func TestUnconfigured(t *testing.T) {
	c := callback.New()
	if _, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"}); err == nil {
		t.Errorf("Apply before Configure succeeded")
	}
	var resp sdk.TestConnectionResponse
	c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
	if !resp.Diagnostics.HasError() {
		t.Errorf("TestConnection before Configure succeeded")
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

var (
	keyMu      sync.Mutex
	signingKey = map[string]*wire.SigningKey{}
)

// hubKey returns a signing key for alg, generated once per test binary.
func hubKey(alg string) *wire.SigningKey {
	keyMu.Lock()
	defer keyMu.Unlock()
	if k := signingKey[alg]; k != nil {
		return k
	}
	k, err := wire.GenerateSigningKey(alg)
	if err != nil {
		panic(err)
	}
	signingKey[alg] = k
	return k
}

// signingKeyText is the signing_key value the hub hands over for alg.
func signingKeyText(alg string) string {
	b, err := hubKey(alg).MarshalText()
	if err != nil {
		panic(err)
	}
	return string(b)
}
