package callback_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
		EventID string `json:"eventId"` // one event of a batch
	} `json:"rejections"`
	Tests   int   `json:"tests"`
	Batches []int `json:"batches"` // the events of each batch request read
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

// TestNodeReceiverBatchIntegration drives the real callback connector with
// batch_size above 1 against the Node receiver, in three security modes:
// test-connection's batch check passes, and batches of creates, then of
// updates, moves, deletes, a disable, a resent create, an update of an
// object the receiver does not hold and a delete of one it never held are
// applied and answered per event.
func TestNodeReceiverBatchIntegration(t *testing.T) {
	node := requireNode(t)
	jwks := httptest.NewServer(jwksHandler(hubKey(wire.ES256)))
	t.Cleanup(jwks.Close)
	k128 := "0123456789abcdef"
	modes := []struct {
		name   string
		target map[string]any
		node   []string
	}{
		{"plain", map[string]any{"encryption": "none"}, nil},
		{"aes-256-gcm, hmac", map[string]any{"encryption_key": encKey, "signature_key": sigKey}, []string{"--encryption-key", encKey, "--signature-key", sigKey}},
		{"aes-128-gcm, jws ES256", map[string]any{"encryption_key": k128, "signature": "jws", "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)},
			[]string{"--encryption-key", k128, "--jwks-url", jwks.URL}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			r := startNode(t, node, append([]string{"--token", token}, m.node...)...)
			// Full batches go at once; the long wait keeps each phase's
			// concurrent events in one batch on a slow machine.
			target := map[string]any{"url": r.url + "/callback", "token": token, "batch_size": 8, "batch_wait": "1s"}
			for k, v := range m.target {
				target[k] = v
			}
			c := configure(t, target)

			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if resp.Diagnostics.HasError() || !strings.HasSuffix(resp.Detail, "; batches of up to 8 events accepted") {
				t.Fatalf("TestConnection: %v %q", resp.Diagnostics, resp.Detail)
			}

			// One batch of eight creates.
			creates := []sdk.Operation{
				{ID: "c1", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o_a", DisplayName: "星河集团", Attributes: sdk.Attributes{"code": sdk.String("A")}},
				{ID: "c2", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o_b", DisplayName: "研发中心", Attributes: sdk.Attributes{"code": sdk.String("B")}},
			}
			for i := 1; i <= 6; i++ {
				creates = append(creates, sdk.Operation{ID: fmt.Sprintf("c%d", i+2), Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: fmt.Sprintf("u_%d", i),
					DisplayName: fmt.Sprintf("用户 %d", i), Attributes: sdk.Attributes{"userName": sdk.String(fmt.Sprintf("user%d", i)), "n": sdk.Int(int64(i))}})
			}
			res, errs := applyAll(c, creates)
			ids, targets := map[string]string{}, map[string]bool{}
			for i, op := range creates {
				if errs[i] != nil || res[i].Outcome != sdk.OutcomeCreated || res[i].TargetID == "" {
					t.Fatalf("create %s: %+v, %v", op.HubID, res[i], errs[i])
				}
				if prefix := string(op.Kind) + "-"; !strings.HasPrefix(res[i].TargetID, prefix) {
					t.Errorf("create %s answered id %q, not the receiver's %s…", op.HubID, res[i].TargetID, prefix)
				}
				ids[op.HubID] = res[i].TargetID
				targets[res[i].TargetID] = true
			}
			if len(targets) != len(creates) {
				t.Fatalf("%d creates answered %d distinct ids: %v", len(creates), len(targets), ids)
			}

			// One batch of eight other events, one per object; two fail or
			// find nothing on their own.
			a, b := &sdk.Ref{HubID: "o_a", TargetID: ids["o_a"]}, &sdk.Ref{HubID: "o_b", TargetID: ids["o_b"]}
			type want struct {
				id       string
				outcome  sdk.Outcome
				category sdk.Category // a failure
				status   int
				code     string
				message  string
			}
			mixed := []struct {
				op   sdk.Operation
				want want
			}{
				{sdk.Operation{ID: "m1", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_1", TargetID: ids["u_1"],
					Attributes: sdk.Attributes{"mail": sdk.String("u1@example.com"), "n": sdk.Null()}}, want{id: ids["u_1"], outcome: sdk.OutcomeApplied}},
				{sdk.Operation{ID: "m2", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u_2", TargetID: ids["u_2"], Parent: b, Orgs: []sdk.Ref{*b}},
					want{id: ids["u_2"], outcome: sdk.OutcomeApplied}},
				{sdk.Operation{ID: "m3", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_3", TargetID: ids["u_3"]}, want{id: ids["u_3"], outcome: sdk.OutcomeApplied}},
				{sdk.Operation{ID: "m4", Op: sdk.OpMove, Kind: sdk.KindOrg, HubID: "o_b", TargetID: ids["o_b"], Parent: a}, want{id: ids["o_b"], outcome: sdk.OutcomeApplied}},
				{sdk.Operation{ID: "m5", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u_4", TargetID: ids["u_4"]}, want{id: ids["u_4"], outcome: sdk.OutcomeApplied}},
				{creates[0], want{id: ids["o_a"], outcome: sdk.OutcomeMatched}}, // resent after a lost answer
				{sdk.Operation{ID: "m7", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_ghost", TargetID: "user-404", Attributes: sdk.Attributes{"n": sdk.Int(7)}},
					want{category: sdk.CategoryNotFound, status: 404, code: "not_found", message: "no user with hub id u_ghost"}},
				{sdk.Operation{ID: "m8", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_gone"}, want{outcome: sdk.OutcomeApplied}}, // never held: already gone
			}
			ops := make([]sdk.Operation, len(mixed))
			for i, mx := range mixed {
				ops[i] = mx.op
			}
			res, errs = applyAll(c, ops)
			for i, mx := range mixed {
				if mx.want.category == "" {
					if errs[i] != nil || res[i].TargetID != mx.want.id || res[i].Outcome != mx.want.outcome || res[i].Status != 200 {
						t.Errorf("%s %s: %+v, %v; want id %q, %s", mx.op.Op, mx.op.HubID, res[i], errs[i], mx.want.id, mx.want.outcome)
					}
					continue
				}
				e := sdk.AsError(errs[i])
				if e == nil || e.Category != mx.want.category || e.HTTPStatus != mx.want.status || e.Code != mx.want.code || e.Message != mx.want.message {
					t.Errorf("%s %s: %+v, %v; want %s %d %s %q", mx.op.Op, mx.op.HubID, res[i], errs[i], mx.want.category, mx.want.status, mx.want.code, mx.want.message)
				}
			}

			st := r.state(t)
			// test-connection's batch of one, then the two batches: no event
			// went alone.
			if diff := cmp.Diff([]int{1, 8, 8}, st.Batches); diff != "" {
				t.Errorf("batch requests read (-want +got):\n%s", diff)
			}
			if st.Tests != 2 || len(st.Rejections) != 0 {
				t.Errorf("%d test events (want the single one and the batched one), rejections %+v", st.Tests, st.Rejections)
			}
			// Every batched event as the receiver decoded it, against what
			// was sent (timestamps aside), matched by event id.
			wantEvents, gotEvents := map[string][]map[string]any{}, map[string][]map[string]any{}
			for _, op := range append(creates, ops...) {
				ev, _ := wire.NewEvent(op, time.Now())
				m := eventJSON(t, ev)
				delete(m, "timestamp")
				wantEvents[ev.ID] = append(wantEvents[ev.ID], m)
			}
			for _, raw := range st.Events {
				var m map[string]any
				_ = json.Unmarshal(raw, &m)
				if m["eventType"] == "test" {
					continue
				}
				delete(m, "timestamp")
				id, _ := m["eventId"].(string)
				gotEvents[id] = append(gotEvents[id], m)
			}
			if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
				t.Errorf("batched events as decoded by node (-sent +got):\n%s", diff)
			}
			// What the receiver holds: u_3 deleted, u_2 moved to o_b, o_b
			// under o_a, u_4 disabled, u_1 updated.
			held := map[string]int{}
			for i, o := range st.Objects {
				held[o.HubID] = i
			}
			if len(st.Objects) != 7 {
				t.Errorf("the receiver holds %d objects, want 7: %+v", len(st.Objects), st.Objects)
			}
			if _, ok := held["u_3"]; ok {
				t.Errorf("u_3 is still held after its delete")
			}
			obj := func(hub string) (o struct {
				ID, HubID   string
				Attributes  map[string]any
				Parent      *wire.Ref
				Disabled    bool
				DisplayName string
			}) {
				i, ok := held[hub]
				if !ok {
					t.Errorf("%s is not held", hub)
					return o
				}
				x := st.Objects[i]
				o.ID, o.HubID, o.Attributes, o.Parent, o.Disabled, o.DisplayName = x.ID, x.HubID, x.Attributes, x.Parent, x.Disabled, x.DisplayName
				return o
			}
			if u := obj("u_1"); u.Attributes["mail"] != "u1@example.com" || u.Attributes["n"] != nil || u.Attributes["userName"] != "user1" {
				t.Errorf("u_1 after its update: %+v", u)
			}
			if u := obj("u_2"); u.Parent == nil || *u.Parent != (wire.Ref{HubID: "o_b", TargetID: ids["o_b"]}) {
				t.Errorf("u_2 after its move: %+v", u)
			}
			if o := obj("o_b"); o.Parent == nil || *o.Parent != (wire.Ref{HubID: "o_a", TargetID: ids["o_a"]}) {
				t.Errorf("o_b after its move: %+v", o)
			}
			if u := obj("u_4"); !u.Disabled {
				t.Errorf("u_4 after its disable: %+v", u)
			}
			if u := obj("u_5"); u.Disabled || u.ID != ids["u_5"] {
				t.Errorf("u_5, untouched: %+v", u)
			}
		})
	}
}

// batchRequest builds a batch request of plain, the batch's JSON, sent at
// at, sealed by s (plain when nil) as the hub seals one.
func batchRequest(t *testing.T, s wire.Sealer, at time.Time, plain []byte) ([]byte, http.Header) {
	t.Helper()
	h := make(http.Header)
	wire.SetBatchHeaders(h, token)
	h.Set(wire.HeaderTimestamp, wire.FormatTimestamp(at))
	h.Set(wire.HeaderNonce, wire.NewNonce())
	if s == nil {
		return plain, h
	}
	body, err := s.Seal(plain, h)
	if err != nil {
		t.Fatal(err)
	}
	return body, h
}

// postNode posts body with headers h to the Node receiver's callback
// endpoint and returns the answer's status and body.
func postNode(t *testing.T, r *nodeReceiver, body []byte, h http.Header) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+"/callback", bytes.NewReader(body))
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// rawBatch is the JSON of a batch of elements, each an event's JSON or
// anything else.
func rawBatch(elems ...string) []byte {
	return []byte(`{"version":"1","events":[` + strings.Join(elems, ",") + `]}`)
}

func eventText(t *testing.T, op sdk.Operation, at time.Time) string {
	t.Helper()
	var ev *wire.Event
	if op.Op == "" {
		ev = wire.NewTestEvent(op.ID, at)
	} else {
		var err error
		if ev, err = wire.NewEvent(op, at); err != nil {
			t.Fatal(err)
		}
	}
	b, err := wire.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNodeReceiverBatchRequestsIntegration sends the Node receiver batch
// requests built as the hub builds them, sealed with AES-128-GCM and HMAC,
// and checks the answer: 200 with exactly one result per event in the
// request's order, in README.md's shape, each event failing on its own;
// and a request that is no acceptable batch (tampered, replayed, stale,
// empty, too many events, too large, another version, an event's headers)
// refused as a whole with nothing applied.
// trailingZero finds a timestamp whose fraction ends in a zero.
var trailingZero = regexp.MustCompile(`\.[0-9]*0Z"`)

func TestNodeReceiverBatchRequestsIntegration(t *testing.T) {
	node := requireNode(t)
	k128 := []byte("0123456789abcdef")
	r := startNode(t, node, "--token", token, "--encryption-key", string(k128), "--signature-key", sigKey)
	good, err := wire.NewSealer(wire.SealConfig{EncryptionKey: k128, HMACKey: []byte(sigKey)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	create := func(id string, kind sdk.Kind, hub string) sdk.Operation {
		return sdk.Operation{ID: id, Op: sdk.OpCreate, Kind: kind, HubID: hub, DisplayName: hub, Attributes: sdk.Attributes{"name": sdk.String(hub)}}
	}

	t.Run("per event", func(t *testing.T) {
		body, h := batchRequest(t, good, at, rawBatch(
			eventText(t, create("b1", sdk.KindOrg, "o_x"), at),
			eventText(t, sdk.Operation{ID: "b2", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_none", TargetID: "user-99"}, at),
			// Not the request's timestamp.
			eventText(t, create("b3", sdk.KindUser, "u_late"), at.Add(time.Millisecond)),
			// A second event of o_x.
			eventText(t, sdk.Operation{ID: "b4", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "o_x", TargetID: "org-1"}, at),
			// No eventId; then another version.
			`{"version":"1","eventType":"user.create","timestamp":"`+at.Format(time.RFC3339Nano)+`","object":{"kind":"user","hubId":"u_noid"}}`,
			`{"version":"2","eventId":"b6","eventType":"user.create"}`,
			eventText(t, sdk.Operation{ID: "b7", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_gone"}, at),
			eventText(t, sdk.Operation{ID: "b8"}, at), // the test event
			eventText(t, create("b9", sdk.KindUser, "u_y"), at),
			eventText(t, create("b1", sdk.KindUser, "u_dup"), at), // b1's event id again
			eventText(t, create("b11", sdk.KindUser, "u_z"), at),
			// The request's instant, but not in RFC 3339.
			strings.Replace(eventText(t, create("b12", sdk.KindUser, "u_rfc"), at), at.Format(time.RFC3339Nano), at.Format("Mon Jan 02 2006 15:04:05.000 GMT"), 1),
		))
		status, answer := postNode(t, r, body, h)
		if status != 200 {
			t.Fatalf("answer %d %s, want 200", status, answer)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(answer, &top); err != nil || len(top) != 1 || top["results"] == nil {
			t.Fatalf("answer %s is not {\"results\": [...]}", answer)
		}
		var results []map[string]any
		if err := json.Unmarshal(top["results"], &results); err != nil {
			t.Fatal(err)
		}
		ok := func(id, target, message string) map[string]any {
			m := map[string]any{"eventId": id, "status": "ok", "httpStatus": 200.0}
			if target != "" {
				m["id"] = target
			}
			if message != "" {
				m["message"] = message
			}
			return m
		}
		fail := func(id string, status int, code, message string) map[string]any {
			return map[string]any{"eventId": id, "status": "error", "httpStatus": float64(status), "code": code, "message": message}
		}
		want := []map[string]any{
			ok("b1", "org-1", ""),
			fail("b2", 404, "not_found", "no user with hub id u_none"),
			fail("b3", 400, "invalid_request", "events[2]: event b3 has timestamp "),
			fail("b4", 400, "invalid_request", "events[3]: a second event of org o_x in the batch"),
			fail("", 400, "invalid_request", "events[4]: the event has no eventId"),
			fail("b6", 400, "unsupported_version", "events[5]: unsupported wire format version \"2\""),
			ok("b7", "", "not held"),
			ok("b8", "", "test event received"),
			ok("b9", "user-2", ""),
			fail("b1", 400, "invalid_request", "events[9]: event b1 appears twice in the batch"),
			ok("b11", "user-3", ""),
			fail("b12", 400, "invalid_request", "events[11]: event b12 has timestamp "),
		}
		if len(results) != len(want) {
			t.Fatalf("%d results for %d events: %s", len(results), len(want), answer)
		}
		for i := range want {
			// Messages are compared by their start: the rest is detail.
			if w, g := want[i]["message"], results[i]["message"]; w != nil {
				if gs, _ := g.(string); !strings.HasPrefix(gs, w.(string)) {
					t.Errorf("result %d's message %q, want %q…", i, g, w)
				}
				results[i]["message"] = w
			}
		}
		if diff := cmp.Diff(want, results); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		st := r.state(t)
		var applied []string
		for _, raw := range st.Events {
			var ev struct {
				ID string `json:"eventId"`
			}
			_ = json.Unmarshal(raw, &ev)
			applied = append(applied, ev.ID)
		}
		if diff := cmp.Diff([]string{"b1", "b2", "b7", "b8", "b9", "b11"}, applied); diff != "" {
			t.Errorf("events applied, in order (-want +got):\n%s", diff)
		}
		var refused []string
		for _, rj := range st.Rejections {
			refused = append(refused, rj.EventID+" "+rj.Code)
		}
		if diff := cmp.Diff([]string{"b3 invalid_request", "b4 invalid_request", " invalid_request", "b6 unsupported_version", "b1 invalid_request", "b12 invalid_request"}, refused); diff != "" {
			t.Errorf("events refused (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{12}, st.Batches); diff != "" {
			t.Errorf("batches read (-want +got):\n%s", diff)
		}
		var held []string
		for _, o := range st.Objects {
			held = append(held, o.HubID+"="+o.ID)
		}
		if diff := cmp.Diff([]string{"o_x=org-1", "u_y=user-2", "u_z=user-3"}, held); diff != "" {
			t.Errorf("objects held (-want +got):\n%s", diff)
		}
	})

	// An object linked by hand to another hub object (`midstream links
	// set`) is known by the new hub id from the event that says so: a
	// create resent for the old one makes an object of its own.
	t.Run("relinked", func(t *testing.T) {
		send := func(ops ...sdk.Operation) []map[string]any {
			t.Helper()
			var elems []string
			for _, op := range ops {
				elems = append(elems, eventText(t, op, at))
			}
			body, h := batchRequest(t, good, at, rawBatch(elems...))
			status, answer := postNode(t, r, body, h)
			var resp struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(answer, &resp); status != 200 || err != nil || len(resp.Results) != len(ops) {
				t.Fatalf("answer %d %s", status, answer)
			}
			return resp.Results
		}
		id, _ := send(create("r1", sdk.KindUser, "u_left"))[0]["id"].(string)
		if id == "" {
			t.Fatal("the create was answered without an id")
		}
		send(sdk.Operation{ID: "r2", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_rehired", TargetID: id, Attributes: sdk.Attributes{"name": sdk.String("back")}})
		got := send(create("r3", sdk.KindUser, "u_left"), create("r4", sdk.KindUser, "u_rehired"))
		if got[0]["id"] == id || got[0]["status"] != "ok" {
			t.Errorf("a create for the old hub id was answered %v: it found the relinked object %s", got[0], id)
		}
		if got[1]["id"] != id || got[1]["status"] != "exists" {
			t.Errorf("a create for the new hub id was answered %v, want %s, exists", got[1], id)
		}
	})

	// The hub's timestamps leave out a fraction's trailing zeros: at a
	// whole second, "…:05Z"; at half a second, "…:05.5Z".
	t.Run("timestamps without trailing zeros", func(t *testing.T) {
		whole := time.Now().UTC().Truncate(time.Second)
		for i, sent := range []time.Time{whole, whole.Add(500 * time.Millisecond)} {
			ev := eventText(t, sdk.Operation{ID: fmt.Sprintf("z%d", i)}, sent)
			if !strings.Contains(ev, sent.Format(time.RFC3339Nano)) || trailingZero.MatchString(ev) {
				t.Fatalf("the event %s does not show the hub's trimmed timestamp", ev)
			}
			body, h := batchRequest(t, good, sent, rawBatch(ev))
			status, answer := postNode(t, r, body, h)
			var resp wire.BatchResponse
			if err := json.Unmarshal(answer, &resp); status != 200 || err != nil || len(resp.Results) != 1 || resp.Results[0].HTTPStatus != 200 {
				t.Errorf("a batch sent at %s: answer %d %s", sent.Format(time.RFC3339Nano), status, answer)
			}
		}
	})

	ok2 := rawBatch(eventText(t, create("w1", sdk.KindUser, "u_w1"), at), eventText(t, create("w2", sdk.KindUser, "u_w2"), at))
	many := make([]string, 1001)
	for i := range many {
		many[i] = eventText(t, sdk.Operation{ID: fmt.Sprintf("t%d", i)}, at)
	}
	big := strings.Repeat("x", 300<<10)
	bigOp := func(id, hub string) sdk.Operation {
		return sdk.Operation{ID: id, Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: hub, Attributes: sdk.Attributes{"note": sdk.String(big)}}
	}
	tests := map[string]struct {
		plain   []byte
		at      time.Duration // the request's time, from at
		tamper  func([]byte, http.Header) []byte
		twice   bool
		status  int
		code    string
		message string
	}{
		"tampered body": {plain: ok2, tamper: func(b []byte, h http.Header) []byte { b[len(b)/2] ^= 1; return b },
			status: 401, code: "invalid_signature", message: "the hmac-sha256 signature does not match"},
		"not signed": {plain: ok2, tamper: func(b []byte, h http.Header) []byte { h.Del(wire.HeaderSignature); return b },
			status: 401, code: "invalid_signature", message: "the request is not signed"},
		"wrong token": {plain: ok2, tamper: func(b []byte, h http.Header) []byte { h.Set("Authorization", "Bearer nope"); return b },
			status: 401, code: "invalid_token", message: "missing or wrong bearer token"},
		"stale": {plain: rawBatch(eventText(t, create("s1", sdk.KindUser, "u_s1"), at.Add(-10*time.Minute))), at: -10 * time.Minute,
			status: 401, code: "stale_timestamp", message: "request timestamp"},
		"replayed": {plain: rawBatch(eventText(t, create("r1", sdk.KindUser, "u_r1"), at)), twice: true,
			status: 401, code: "replayed_nonce", message: "nonce "},
		"not JSON": {plain: []byte(`{"version":"1","events":[`),
			status: 400, code: "invalid_request", message: "the batch is not JSON"},
		"a single event": {plain: []byte(eventText(t, create("x1", sdk.KindUser, "u_x1"), at)),
			status: 400, code: "invalid_request", message: `the batch has no "events" array`},
		"no events": {plain: rawBatch(),
			status: 400, code: "invalid_request", message: "a batch holds 1 to 1000 events, not 0"},
		"1001 events": {plain: rawBatch(many...),
			status: 400, code: "invalid_request", message: "a batch holds 1 to 1000 events, not 1001"},
		"another version": {plain: []byte(`{"version":"2","events":[` + eventText(t, create("v1", sdk.KindUser, "u_v1"), at) + `]}`),
			status: 400, code: "unsupported_version", message: `unsupported wire format version "2" of the batch`},
		"an Idempotency-Key": {plain: ok2, tamper: func(b []byte, h http.Header) []byte { h.Set(wire.HeaderIdempotencyKey, "w1"); return b },
			status: 400, code: "invalid_request", message: "a batch request carries no Idempotency-Key header"},
		"an X-Midstream-Hub-Id": {plain: ok2, tamper: func(b []byte, h http.Header) []byte { h.Set(wire.HeaderHubID, "u_w1"); return b },
			status: 400, code: "invalid_request", message: "a batch request carries no X-Midstream-Hub-Id header"},
		"over 512 KiB": {plain: rawBatch(eventText(t, bigOp("g1", "u_g1"), at), eventText(t, bigOp("g2", "u_g2"), at)),
			status: 413, code: "too_large", message: "the batch's JSON is "},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			body, h := batchRequest(t, good, at.Add(tt.at), tt.plain)
			if tt.tamper != nil {
				body = tt.tamper(body, h)
			}
			before := r.state(t)
			if tt.twice {
				if status, answer := postNode(t, r, body, h); status != 200 {
					t.Fatalf("first request: %d %s", status, answer)
				}
				before = r.state(t)
			}
			status, answer := postNode(t, r, body, h)
			var a wire.Response
			if err := json.Unmarshal(answer, &a); err != nil {
				t.Fatalf("answer %d %q is not JSON: %v", status, answer, err)
			}
			if status != tt.status || a.Status != wire.StatusError || a.Code != tt.code || !strings.HasPrefix(a.Message, tt.message) {
				t.Errorf("answer %d %s; want %d %s %q…", status, answer, tt.status, tt.code, tt.message)
			}
			after := r.state(t)
			if len(after.Events) != len(before.Events) || len(after.Batches) != len(before.Batches) {
				t.Errorf("a refused batch was applied: %d events and %d batches, want %d and %d",
					len(after.Events), len(after.Batches), len(before.Events), len(before.Batches))
			}
			if n := len(after.Rejections) - len(before.Rejections); n != 1 || after.Rejections[len(after.Rejections)-1].EventID != "" {
				t.Errorf("%d rejections recorded, want the request's one: %+v", n, after.Rejections[len(before.Rejections):])
			}
		})
	}

	// Through the connector: a batch signed with another key is refused
	// whole, in one answer that fails each of its events for good.
	t.Run("connector, wrong signature key", func(t *testing.T) {
		before := r.state(t)
		c := configure(t, map[string]any{"url": r.url + "/callback", "token": token, "encryption_key": string(k128),
			"signature_key": "not-the-signature-key-at-all", "batch_size": 3, "batch_wait": "1s"})
		ops := []sdk.Operation{create("k1", sdk.KindUser, "u_k1"), create("k2", sdk.KindUser, "u_k2"), create("k3", sdk.KindOrg, "o_k3")}
		_, errs := applyAll(c, ops)
		for i, err := range errs {
			if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryPermanent || e.Code != "invalid_signature" || e.HTTPStatus != 401 {
				t.Errorf("%s: %v, want a permanent invalid_signature", ops[i].HubID, err)
			}
		}
		after := r.state(t)
		if len(after.Events) != len(before.Events) || len(after.Batches) != len(before.Batches) {
			t.Errorf("the refused batch was applied")
		}
		if n := len(after.Rejections) - len(before.Rejections); n != 1 {
			t.Errorf("%d rejections, want one for the batch's three events", n)
		}
	})
}
