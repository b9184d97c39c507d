package callback_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// nodeServer is the path of the Node.js receiver, written from README.md
// alone (examples/receiver-node).
var nodeServer = filepath.Join("..", "..", "examples", "receiver-node", "server.js")

// requireNode returns the node binary, or skips the test (fails it when
// MIDSTREAM_REQUIRE_INTEGRATION=1).
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		msg := "node not found: install Node.js 18 or later (Debian package nodejs) to run the Node receiver"
		if os.Getenv("MIDSTREAM_REQUIRE_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// nodeReceiver is a running examples/receiver-node.
type nodeReceiver struct {
	url    string // http://127.0.0.1:PORT
	stderr *bytes.Buffer
}

// startNode starts the Node receiver with args and waits for its ready
// line and open port.
func startNode(t *testing.T, node string, args ...string) *nodeReceiver {
	t.Helper()
	cmd := exec.Command(node, append([]string{nodeServer, "--port", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "RECEIVER_TOKEN=", "RECEIVER_ENCRYPTION_KEY=", "RECEIVER_SIGNATURE_KEY=", "RECEIVER_JWKS_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &nodeReceiver{stderr: &bytes.Buffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && r.stderr.Len() > 0 {
			t.Logf("node receiver's stderr:\n%s", r.stderr)
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready: listening on "); ok {
				ready <- addr
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			t.Fatalf("the node receiver exited before it was ready: %s", r.stderr)
		}
		r.url = addr
	case <-time.After(15 * time.Second):
		t.Fatalf("the node receiver printed no ready line in 15s: %s", r.stderr)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(r.url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatalf("the node receiver's port is not open: %v", err)
	}
	conn.Close()
	return r
}

// nodeState is what GET /state shows.
type nodeState struct {
	Objects []struct {
		ID             string         `json:"id"`
		Kind           string         `json:"kind"`
		HubID          string         `json:"hubId"`
		DisplayName    string         `json:"displayName"`
		Attributes     map[string]any `json:"attributes"`
		Parent         *wire.Ref      `json:"parent"`
		Disabled       bool           `json:"disabled"`
		PasswordSHA256 string         `json:"passwordSha256"`
	} `json:"objects"`
	Events     []json.RawMessage `json:"events"`
	Rejections []struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"rejections"`
	Tests int `json:"tests"`
}

func (r *nodeReceiver) state(t *testing.T) nodeState {
	t.Helper()
	resp, err := http.Get(r.url + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st nodeState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// lifecycle is every event type, in an order an application can apply,
// with the id each answer must carry.
func lifecycle(password bool) []struct {
	op     sdk.Operation
	wantID string
	exists bool
} {
	root := &sdk.Ref{HubID: "o_root", TargetID: "org-1"}
	rd := &sdk.Ref{HubID: "o_rd", TargetID: "org-2"}
	pw := func(s string) sdk.Attributes {
		if !password {
			return nil
		}
		return sdk.Attributes{"password": sdk.String(s)}
	}
	userCreate := sdk.Operation{ID: "e3", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_1", DisplayName: "李雷",
		Attributes: sdk.Attributes{"userName": sdk.String("lilei"), "employeeNo": sdk.Int(10042), "active": sdk.Bool(true),
			"groups": sdk.StringList("dev", "ops"), "hiredAt": sdk.Time(time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)), "title": sdk.Null(),
			"quote": sdk.String(`"&<>\` + "\u2028 ✓")},
		Parent: root, Orgs: []sdk.Ref{*root}}
	for k, v := range pw("Tr0ub4dor&3 «密码»") {
		userCreate.Attributes[k] = v
	}
	return []struct {
		op     sdk.Operation
		wantID string
		exists bool
	}{
		{op: sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o_root", DisplayName: "星河集团", Attributes: sdk.Attributes{"code": sdk.String("ROOT")}}, wantID: "org-1"},
		{op: sdk.Operation{ID: "e2", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o_rd", DisplayName: "研发中心", Attributes: sdk.Attributes{"code": sdk.String("RD")}, Parent: root}, wantID: "org-2"},
		{op: userCreate, wantID: "user-3"},
		{op: userCreate, wantID: "user-3", exists: true}, // resent after a lost answer
		{op: sdk.Operation{ID: "e4", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_1", TargetID: "user-3", Attributes: sdk.Attributes{"mail": sdk.String("lilei@example.com"), "active": sdk.Null()}}, wantID: "user-3"},
		{op: sdk.Operation{ID: "e5", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u_1", TargetID: "user-3"}, wantID: "user-3"},
		{op: sdk.Operation{ID: "e6", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "u_1", TargetID: "user-3"}, wantID: "user-3"},
		{op: sdk.Operation{ID: "e7", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u_1", TargetID: "user-3", Parent: rd, Orgs: []sdk.Ref{*rd}}, wantID: "user-3"},
		{op: sdk.Operation{ID: "e8", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "org-2", DisplayName: "研发与平台中心", Attributes: sdk.Attributes{"name": sdk.String("研发与平台中心")}}, wantID: "org-2"},
		{op: sdk.Operation{ID: "e9", Op: sdk.OpDisable, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "org-2"}, wantID: "org-2"},
		{op: sdk.Operation{ID: "e10", Op: sdk.OpEnable, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "org-2"}, wantID: "org-2"},
		{op: sdk.Operation{ID: "e11", Op: sdk.OpMove, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "org-2"}, wantID: "org-2"},
		{op: sdk.Operation{ID: "e12", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u_2", DisplayName: "韩梅梅", Attributes: sdk.Attributes{"userName": sdk.String("hanmeimei")}, Parent: root}, wantID: "user-4"},
		{op: sdk.Operation{ID: "e13", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u_2", TargetID: "user-4", Attributes: pw("n3w pässword")}, wantID: "user-4"},
		{op: sdk.Operation{ID: "e14", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_1"}, wantID: "user-3"}, // no target id: found by hub id
		{op: sdk.Operation{ID: "e15", Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "org-2"}, wantID: "org-2"},
	}
}

// TestNodeReceiverIntegration drives the real callback connector against
// the Node receiver for every event type, in every encryption mode and
// signature mode, and checks what the receiver decoded.
func TestNodeReceiverIntegration(t *testing.T) {
	node := requireNode(t)
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.RS256), hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)

	encryptions := []struct {
		name string
		key  string
	}{{"none", ""}, {"aes-128-gcm", "0123456789abcdef"}, {"aes-256-gcm", encKey}}
	signatures := []struct {
		name   string
		target map[string]any
		node   []string
	}{
		{"unsigned", map[string]any{}, nil},
		{"hmac", map[string]any{"signature_key": sigKey}, []string{"--signature-key", sigKey}},
		{"jws RS256", map[string]any{"signature": "jws", "signing_key": signingKeyText(wire.RS256)}, []string{"--jwks-url", jwks.URL}},
		{"jws ES256", map[string]any{"signature": "jws", "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)}, []string{"--jwks-url", jwks.URL}},
	}
	for _, enc := range encryptions {
		for _, sig := range signatures {
			t.Run(enc.name+", "+sig.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"--token", token}, sig.node...)
				target := map[string]any{"token": token, "encryption": "none"}
				if enc.key != "" {
					args = append(args, "--encryption-key", enc.key)
					target = map[string]any{"token": token, "encryption_key": enc.key, "password_sync": true}
				}
				for k, v := range sig.target {
					target[k] = v
				}
				r := startNode(t, node, args...)
				target["url"] = r.url + "/callback"
				c := configure(t, target)

				var resp sdk.TestConnectionResponse
				c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
				if resp.Diagnostics.HasError() || !strings.HasPrefix(resp.Detail, "HTTP 200") {
					t.Fatalf("TestConnection: %v %q", resp.Diagnostics, resp.Detail)
				}
				var sent []*wire.Event
				for _, step := range lifecycle(enc.key != "") {
					if step.op.Op == sdk.OpPassword && enc.key == "" {
						continue // refused unencrypted: see TestPasswordSync
					}
					res, err := sdk.Apply(context.Background(), c, step.op)
					if err != nil {
						t.Fatalf("%s %s %s: %v", step.op.Op, step.op.Kind, step.op.HubID, err)
					}
					if res.TargetID != step.wantID || (res.Outcome == sdk.OutcomeMatched) != step.exists {
						t.Errorf("%s %s: %+v, want id %s (exists %t)", step.op.Op, step.op.HubID, res, step.wantID, step.exists)
					}
					ev, _ := wire.NewEvent(step.op, time.Now())
					if pw := step.op.Attributes["password"]; enc.key != "" && !pw.IsNull() && pw.Type() == sdk.TypeString {
						ev.Object.Password = pw.Str()
					}
					sent = append(sent, ev)
				}
				st := r.state(t)
				if st.Tests != 1 || len(st.Rejections) != 0 {
					t.Errorf("%d test events, rejections %+v", st.Tests, st.Rejections)
				}
				// Every event as the Node receiver decoded it, against what
				// was sent (timestamps aside; passwords as their SHA-256).
				if len(st.Events) != len(sent)+1 {
					t.Fatalf("the receiver decoded %d events, want %d", len(st.Events), len(sent)+1)
				}
				for i, ev := range sent {
					var got map[string]any
					_ = json.Unmarshal(st.Events[i+1], &got)
					want := eventJSON(t, ev)
					delete(got, "timestamp")
					delete(want, "timestamp")
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("event %d (%s) as decoded by node (-sent +got):\n%s", i, ev.Type, diff)
					}
				}
				// What the receiver holds at the end.
				if len(st.Objects) != 2 {
					t.Fatalf("the receiver holds %d objects, want org-1 and user-4", len(st.Objects))
				}
				u := st.Objects[1]
				if u.ID != "user-4" || u.Attributes["userName"] != "hanmeimei" || u.Parent == nil || u.Parent.TargetID != "org-1" {
					t.Errorf("user-4: %+v", u)
				}
				if wantPW := map[bool]string{true: sha256Hex("n3w pässword"), false: ""}[enc.key != ""]; u.PasswordSHA256 != wantPW {
					t.Errorf("user-4's password hash %q, want %q", u.PasswordSHA256, wantPW)
				}
			})
		}
	}
}

// eventJSON is the JSON form of ev the Node receiver shows: the password
// replaced by its SHA-256.
func eventJSON(t *testing.T, ev *wire.Event) map[string]any {
	t.Helper()
	b, err := wire.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if obj, ok := m["object"].(map[string]any); ok {
		if pw, ok := obj["password"].(string); ok {
			obj["passwordSha256"] = sha256Hex(pw)
			delete(obj, "password")
		}
	}
	return m
}

// TestNodeReceiverRejectsIntegration sends the Node receiver the attacks
// and mistakes of the issue, each built as the hub builds requests, and
// checks each is refused with its code and a clear reason, and applied
// by nobody.
func TestNodeReceiverRejectsIntegration(t *testing.T) {
	node := requireNode(t)
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)
	other, err := wire.GenerateSigningKey(wire.ES256)
	if err != nil {
		t.Fatal(err)
	}
	k128 := []byte("0123456789abcdef")
	hmacNode := startNode(t, node, "--token", token, "--encryption-key", string(k128), "--signature-key", sigKey)
	jwsNode := startNode(t, node, "--token", token, "--encryption-key", string(k128), "--jwks-url", jwks.URL)

	sealer := func(enc []byte, hmacKey string, sk *wire.SigningKey) wire.Sealer {
		c := wire.SealConfig{EncryptionKey: enc, SigningKey: sk}
		if hmacKey != "" {
			c.HMACKey = []byte(hmacKey)
		}
		s, err := wire.NewSealer(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sealer(k128, sigKey, nil)
	resign := func(body []byte, h http.Header) []byte { // re-sign a changed body, as a key holder could
		h.Set(wire.HeaderSignature, wire.HMACSignature([]byte(sigKey), h.Get(wire.HeaderTimestamp), h.Get(wire.HeaderNonce), body))
		return body
	}
	tests := map[string]struct {
		node    *nodeReceiver
		tok     string
		sealer  wire.Sealer
		at      time.Duration // the event's time, from now
		tamper  func([]byte, http.Header) []byte
		twice   bool
		status  int
		code    string
		message string
	}{
		"tampered body": {node: hmacNode, sealer: good,
			tamper: func(b []byte, h http.Header) []byte { b[len(b)/2] ^= 1; return b },
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"tampered body, jws": {node: jwsNode, sealer: sealer(k128, "", hubKey(wire.ES256)),
			tamper: func(b []byte, h http.Header) []byte { b[len(b)/2] ^= 1; return b },
			status: 401, code: "invalid_signature", message: "the JWS signature does not match"},
		"wrong signature": {node: hmacNode, sealer: good,
			tamper: func(b []byte, h http.Header) []byte {
				h.Set(wire.HeaderSignature, "hmac-sha256="+base64.StdEncoding.EncodeToString(make([]byte, 32)))
				return b
			},
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"wrong signature key": {node: hmacNode, sealer: sealer(k128, "not-the-signature-key-at-all", nil),
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match: the signature key differs"},
		"wrong encryption key": {node: hmacNode, sealer: sealer([]byte("fedcba9876543210"), sigKey, nil),
			status: 400, code: "decryption_failed", message: "decryption failed"},
		"wrong signing key": {node: jwsNode, sealer: sealer(k128, "", other),
			status: 401, code: "unknown_key", message: "the request is signed by key"},
		"expired timestamp": {node: hmacNode, sealer: good, at: -10 * time.Minute,
			status: 401, code: "stale_timestamp", message: "request timestamp"},
		"replayed nonce": {node: hmacNode, sealer: good, twice: true,
			status: 401, code: "replayed_nonce", message: "nonce "},
		"wrong token": {node: hmacNode, tok: "not-the-token", sealer: good,
			status: 401, code: "invalid_token", message: "missing or wrong bearer token"},
		"truncated ciphertext": {node: hmacNode, sealer: good,
			tamper: func(b []byte, h http.Header) []byte {
				return resign([]byte(`{"version":"1","encryption":"aes-128-gcm","ciphertext":"AAECAwQFBgcICQoLDA0ODw=="}`), h)
			},
			status: 400, code: "decryption_failed", message: "the ciphertext is truncated"},
		"ciphertext cut short": {node: hmacNode, sealer: good,
			tamper: func(b []byte, h http.Header) []byte {
				var env wire.Envelope
				_ = json.Unmarshal(b, &env)
				raw, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
				env.Ciphertext = base64.StdEncoding.EncodeToString(raw[:len(raw)-3])
				out, _ := json.Marshal(env)
				return resign(out, h)
			},
			status: 400, code: "decryption_failed", message: "decryption failed"},
		"not encrypted": {node: hmacNode, sealer: sealer(nil, sigKey, nil),
			status: 400, code: "encryption_required", message: "the body is not encrypted"},
		"not signed": {node: hmacNode, sealer: sealer(k128, "", nil),
			status: 401, code: "invalid_signature", message: "the request is not signed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tok := token
			if tt.tok != "" {
				tok = tt.tok
			}
			enc := wire.Encoder{URL: tt.node.url + "/callback", Token: tok, Sealer: tt.sealer}
			op := sdk.Operation{ID: "e-" + name, Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u-" + name,
				Attributes: sdk.Attributes{"userName": sdk.String("lilei")}}
			ev, _ := wire.NewEvent(op, time.Now().Add(tt.at))
			req, err := enc.NewRequest(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(req.Body)
			if tt.tamper != nil {
				body = tt.tamper(body, req.Header)
			}
			post := func() (int, wire.Response) {
				r, _ := http.NewRequest(http.MethodPost, req.URL.String(), bytes.NewReader(body))
				r.Header = req.Header.Clone()
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var a wire.Response
				if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
					t.Fatalf("answer is not JSON: %v", err)
				}
				return resp.StatusCode, a
			}
			before := len(tt.node.state(t).Events)
			if tt.twice {
				if status, a := post(); status != 200 {
					t.Fatalf("first request: %d %+v", status, a)
				}
				before++
			}
			status, a := post()
			if status != tt.status || a.Code != tt.code || !strings.HasPrefix(a.Message, tt.message) {
				t.Errorf("answer %d %s %q; want %d %s %q…", status, a.Code, a.Message, tt.status, tt.code, tt.message)
			}
			if after := len(tt.node.state(t).Events); after != before {
				t.Errorf("a refused request was applied (%d events, want %d)", after, before)
			}
		})
	}

	// The hub reads these answers as README.md says: a wrong key is a
	// permanent failure, a stale timestamp a retryable one.
	c := configure(t, map[string]any{"url": hmacNode.url + "/callback", "token": token, "encryption_key": string(k128), "signature_key": "not-the-signature-key-at-all"})
	_, err = c.Apply(context.Background(), sdk.Operation{ID: "x1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "ux"})
	if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryPermanent || e.Code != "invalid_signature" {
		t.Errorf("wrong signature key through the connector: %v", err)
	}
	c = callback.New()
	callback.SetClock(c, func() time.Time { return time.Now().Add(-time.Hour) })
	cfg, _ := sdk.NewConfig(c.Schema(), map[string]any{"url": hmacNode.url + "/callback", "token": token, "encryption_key": string(k128), "signature_key": sigKey})
	var cresp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg}, &cresp)
	_, err = c.Apply(context.Background(), sdk.Operation{ID: "x2", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "ux"})
	if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryRetryable || e.Code != "stale_timestamp" {
		t.Errorf("a clock an hour behind through the connector: %v", err)
	}
	var resp sdk.TestConnectionResponse
	c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
	if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Summary != "Clocks out of sync" {
		t.Errorf("TestConnection with the clock an hour behind: %v", resp.Diagnostics)
	}

}
