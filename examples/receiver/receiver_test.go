package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

const (
	token  = "test-token"
	encKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	sigKey = "a-signature-key-of-some-length!!"
)

func init() { pbkdf2Iterations = 1000 } // fast tests; the format is the same

// secure are the security settings of the tests: AES-256 and HMAC, on
// both ends.
var secure = receiver.Options{Token: token, EncryptionKey: encKey, SignatureKey: sigKey}

// encoder returns an Encoder that seals as a target with the secure
// settings does.
func encoder(t *testing.T, url, tok string) callback.Encoder {
	t.Helper()
	k, _ := callback.ParseEncryptionKey(encKey)
	s, err := callback.NewSealer(callback.SealConfig{EncryptionKey: k, HMACKey: []byte(sigKey)})
	if err != nil {
		t.Fatal(err)
	}
	return callback.Encoder{URL: url, Token: tok, Sealer: s}
}

// app is the receiver under test, served over real HTTP.
type app struct {
	t     *testing.T
	data  string
	store *Store
	srv   *httptest.Server
	enc   callback.Encoder
	n     int
}

func startApp(t *testing.T, data string) *app {
	t.Helper()
	store, err := OpenStore(data)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	store.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	h, err := newHandler(store, secure)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &app{t: t, data: data, store: store, srv: srv, enc: encoder(t, srv.URL+"/callback", token)}
}

// event builds the event of op with a fresh event id.
func (a *app) event(op sdk.Operation) *callback.Event {
	a.t.Helper()
	a.n++
	op.ID = "ev-" + strconv.Itoa(a.n)
	ev, err := callback.NewEvent(op, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	return ev
}

// send posts ev as the callback connector does and returns the answer.
func (a *app) send(ev *callback.Event) (int, callback.Response) {
	a.t.Helper()
	req, err := a.enc.NewRequest(context.Background(), ev)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r callback.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		a.t.Fatalf("%s: answer is not JSON: %v", ev.Type, err)
	}
	return resp.StatusCode, r
}

// want sends ev and checks the status and the id answered.
func (a *app) want(ev *callback.Event, status int, id string, st callback.Status) {
	a.t.Helper()
	code, r := a.send(ev)
	if code != status || r.ID != id || r.Status != st {
		a.t.Fatalf("%s %s: got %d %+v, want %d id %q status %q", ev.Type, ev.Object.HubID, code, r, status, id, st)
	}
}

func str(s string) sdk.Value { return sdk.String(s) }

func org(hubID, name string, parent *sdk.Ref) sdk.Operation {
	return sdk.Operation{Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: hubID, DisplayName: name,
		Attributes: sdk.Attributes{"name": str(name)}, Parent: parent}
}

func user(hubID, userName, name string, parent *sdk.Ref, attrs sdk.Attributes) sdk.Operation {
	a := sdk.Attributes{"userName": str(userName), "displayName": str(name), "email": str(userName + "@xinghe.example.com")}
	for k, v := range attrs {
		a[k] = v
	}
	return sdk.Operation{Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: hubID, DisplayName: name, Attributes: a,
		Parent: parent, Orgs: []sdk.Ref{*parent}}
}

// populate sends the events of a small directory and changes to it.
func populate(a *app) {
	root := &sdk.Ref{HubID: "o_root", TargetID: "D101"}
	rd := &sdk.Ref{HubID: "o_rd", TargetID: "D102"}
	sales := &sdk.Ref{HubID: "o_sales", TargetID: "D103"}
	a.want(a.event(org("o_root", "星河集团", nil)), 200, "D101", callback.StatusOK)
	a.want(a.event(org("o_rd", "研发中心", root)), 200, "D102", callback.StatusOK)
	a.want(a.event(org("o_sales", "销售中心", root)), 200, "D103", callback.StatusOK)

	create := a.event(user("u_1", "zhang.wei", "张伟", rd, sdk.Attributes{"title": str("研发总监"), "mobile": str("+86 13800000001")}))
	a.want(create, 200, "U1001", callback.StatusOK)
	a.want(a.event(user("u_2", "li.na", "李娜", rd, sdk.Attributes{"title": str("工程师"), "manager": str("U1001"), "mobile": sdk.Null()})), 200, "U1002", callback.StatusOK)
	// The first create sent again, as after a lost answer: the same id,
	// "exists", and no second object.
	a.want(create, 200, "U1001", callback.StatusExists)

	a.want(a.event(sdk.Operation{Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_1", TargetID: "U1001",
		Attributes: sdk.Attributes{"email": str("wei.zhang@xinghe.example.com"), "mobile": sdk.Null()}}), 200, "U1001", callback.StatusOK)
	a.want(a.event(sdk.Operation{Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u_2", TargetID: "U1002"}), 200, "U1002", callback.StatusOK)
	a.want(a.event(sdk.Operation{Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u_2", TargetID: "U1002",
		Parent: sales, Orgs: []sdk.Ref{*sales}}), 200, "U1002", callback.StatusOK)
}

func TestCallbacks(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, filepath.Join(dir, "receiver.json"))
	populate(a)

	// A department that still holds a user is not deleted.
	code, r := a.send(a.event(sdk.Operation{Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "D102"}))
	if code != 422 || r.Code != "department_not_empty" {
		t.Fatalf("delete of a department holding a user: got %d %+v, want 422 department_not_empty", code, r)
	}
	// A delete without a target id finds the user by hub id; a second
	// delete finds nothing and is answered 200.
	a.want(a.event(sdk.Operation{Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_1"}), 200, "U1001", callback.StatusOK)
	a.want(a.event(sdk.Operation{Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u_1", TargetID: "U1001"}), 200, "", callback.StatusOK)
	a.want(a.event(sdk.Operation{Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "o_rd", TargetID: "D102"}), 200, "D102", callback.StatusOK)
	// An update of an object not held is answered 404.
	if code, _ := a.send(a.event(sdk.Operation{Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u_9", TargetID: "U1009",
		Attributes: sdk.Attributes{"title": str("x")}})); code != 404 {
		t.Fatalf("update of an unknown user: got %d, want 404", code)
	}
	// A request without the token changes nothing.
	bad := encoder(t, a.enc.URL, "wrong")
	req, _ := bad.NewRequest(context.Background(), a.event(org("o_x", "X", nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: got %d, want 401", resp.StatusCode)
	}

	// The data file holds what was applied.
	st := readState(t, a.data)
	want := &State{
		Objects: map[string]*Object{
			"D101": {Kind: "org", HubID: "o_root", DisplayName: "星河集团", Active: true,
				Attributes: callback.Attributes{"name": "星河集团"}, Created: at(1), Updated: at(1)},
			"D103": {Kind: "org", HubID: "o_sales", DisplayName: "销售中心", Active: true, Parent: "D101", ParentHubID: "o_root",
				Attributes: callback.Attributes{"name": "销售中心"}, Created: at(3), Updated: at(3)},
			"U1002": {Kind: "user", HubID: "u_2", DisplayName: "李娜", Active: false, Parent: "D103", ParentHubID: "o_sales",
				Attributes: callback.Attributes{"userName": "li.na", "displayName": "李娜", "email": "li.na@xinghe.example.com",
					"title": "工程师", "manager": "U1001"},
				Created: at(5), Updated: at(9)},
		},
		Creates:  map[string]int{"o_root": 1, "o_rd": 1, "o_sales": 1, "u_1": 1, "u_2": 1},
		NextUser: 1003,
		NextOrg:  104,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("data file (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the data directory holds %d files, want only receiver.json (no temporary files left)", len(entries))
	}

	// GET / and /objects.json show the state.
	body := get(t, a.srv.URL+"/")
	for _, s := range []string{"销售中心", "└── ", "li.na", "disabled", "2 departments, 1 users (1 disabled)"} {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not show %q:\n%s", s, body)
		}
	}
	if got := get(t, a.srv.URL+"/objects.json"); got != string(mustRead(t, a.data)) {
		t.Errorf("/objects.json is not the data file:\n%s", got)
	}
}

func TestRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "receiver.json")
	a := startApp(t, data)
	populate(a)
	a.srv.Close()

	// A new process loads the file: it recognises what it holds and goes on
	// numbering where it stopped.
	b := startApp(t, data)
	b.n = 100
	b.want(b.event(user("u_2", "li.na", "李娜", &sdk.Ref{HubID: "o_sales", TargetID: "D103"}, nil)), 200, "U1002", callback.StatusExists)
	b.want(b.event(user("u_3", "wang.fang", "王芳", &sdk.Ref{HubID: "o_rd", TargetID: "D102"}, nil)), 200, "U1003", callback.StatusOK)
	b.want(b.event(org("o_qa", "质量部", &sdk.Ref{HubID: "o_rd", TargetID: "D102"})), 200, "D104", callback.StatusOK)
	st := readState(t, data)
	if st.Creates["u_2"] != 1 || len(st.Objects) != 7 {
		t.Errorf("after restart: creates[u_2] = %d, %d objects; want 1 and 7", st.Creates["u_2"], len(st.Objects))
	}
}

// TestSaveFails: when the data file cannot be written the event is not
// applied and the hub is asked to retry.
func TestSaveFails(t *testing.T) {
	sub := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, filepath.Join(sub, "receiver.json"))
	if err := os.Remove(sub); err != nil {
		t.Fatal(err)
	}
	code, r := a.send(a.event(org("o_root", "星河集团", nil)))
	if code != 503 || r.Status != callback.StatusError {
		t.Fatalf("got %d %+v, want 503", code, r)
	}
	if _, found, _ := a.store.Lookup(context.Background(), sdk.KindOrg, "o_root"); found {
		t.Error("the org was kept although it could not be saved")
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	a.want(a.event(org("o_root", "星河集团", nil)), 200, "D101", callback.StatusOK)
}

func TestDump(t *testing.T) {
	data := filepath.Join(t.TempDir(), "receiver.json")
	a := startApp(t, data)
	populate(a)
	a.want(a.event(org("o_platform", "平台部", &sdk.Ref{HubID: "o_rd", TargetID: "D102"})), 200, "D104", callback.StatusOK)
	a.want(a.event(user("u_3", "wang.fang", "王芳", &sdk.Ref{HubID: "o_platform", TargetID: "D104"},
		sdk.Attributes{"title": str("工程师"), "manager": str("U1001"), "hireDate": str("2024-03-01")})), 200, "U1003", callback.StatusOK)

	text := dump(t, "--data", data)
	wantText := `Departments
  星河集团        0 users  D101
  ├── 研发中心    1 user   D102
  │   └── 平台部  1 user   D104
  └── 销售中心    1 user   D103

Users
  ID     USER NAME  NAME  STATE     TITLE     MANAGER    DEPARTMENT
  U1002  li.na      李娜  disabled  工程师    zhang.wei  星河集团/销售中心
  U1003  wang.fang  王芳  active    工程师    zhang.wei  星河集团/研发中心/平台部
  U1001  zhang.wei  张伟  active    研发总监  -          星河集团/研发中心

4 departments, 3 users (1 disabled)
`
	if diff := cmp.Diff(wantText, text); diff != "" {
		t.Errorf("dump (-want +got):\n%s", diff)
	}

	js := dump(t, "--data", data, "--format", "json")
	wantJSON := `{
  "departments": [
    {
      "path": "星河集团",
      "active": true,
      "users": 0,
      "attributes": {
        "name": "星河集团"
      }
    },
    {
      "path": "星河集团/研发中心",
      "active": true,
      "users": 1,
      "attributes": {
        "name": "研发中心"
      }
    },
    {
      "path": "星河集团/研发中心/平台部",
      "active": true,
      "users": 1,
      "attributes": {
        "name": "平台部"
      }
    },
    {
      "path": "星河集团/销售中心",
      "active": true,
      "users": 1,
      "attributes": {
        "name": "销售中心"
      }
    }
  ],
  "users": [
    {
      "userName": "li.na",
      "department": "星河集团/销售中心",
      "active": false,
      "manager": "zhang.wei",
      "attributes": {
        "displayName": "李娜",
        "email": "li.na@xinghe.example.com",
        "title": "工程师",
        "userName": "li.na"
      }
    },
    {
      "userName": "wang.fang",
      "department": "星河集团/研发中心/平台部",
      "active": true,
      "manager": "zhang.wei",
      "attributes": {
        "displayName": "王芳",
        "email": "wang.fang@xinghe.example.com",
        "hireDate": "2024-03-01",
        "title": "工程师",
        "userName": "wang.fang"
      }
    },
    {
      "userName": "zhang.wei",
      "department": "星河集团/研发中心",
      "active": true,
      "attributes": {
        "displayName": "张伟",
        "email": "wei.zhang@xinghe.example.com",
        "title": "研发总监",
        "userName": "zhang.wei"
      }
    }
  ],
  "summary": {
    "departments": 4,
    "users": 3,
    "disabled": 1,
    "recreated": 0
  }
}
`
	if diff := cmp.Diff(wantJSON, js); diff != "" {
		t.Errorf("dump --format json (-want +got):\n%s", diff)
	}

	// With --ids, the ids are there and the manager attribute as received.
	withIDs := dump(t, "--data", data, "--format", "json", "--ids")
	for _, s := range []string{`"id": "U1003"`, `"hubId": "u_3"`, `"manager": "U1001"`} {
		if !strings.Contains(withIDs, s) {
			t.Errorf("dump --ids does not hold %s", s)
		}
	}
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := filepath.Join(t.TempDir(), "receiver.json")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--token", token, "--data", data,
			"--encryption-key", encKey, "--signature-key", sigKey}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want \"listening on http://...\"", line)
	}
	go io.Copy(io.Discard, pr)

	a := &app{t: t, enc: encoder(t, base+"/callback", token)}
	a.want(a.event(org("o_root", "星河集团", nil)), 200, "D101", callback.StatusOK)
	if code, _ := a.send(callback.NewTestEvent("test-1", time.Now())); code != 200 {
		t.Errorf("test event: got %d, want 200", code)
	}
	if body := get(t, base+"/"); !strings.Contains(body, "星河集团") {
		t.Errorf("the page does not show the org:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if st := readState(t, data); len(st.Objects) != 1 {
		t.Errorf("data file holds %d objects, want 1", len(st.Objects))
	}
}

func at(sec int) time.Time { return time.Date(2026, 11, 3, 9, 0, sec, 0, time.UTC) }

func readState(t *testing.T, path string) *State {
	t.Helper()
	st, err := decodeState(mustRead(t, path), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func dump(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append([]string{"dump"}, args...), &out, &errb); err != nil {
		t.Fatalf("dump: %v\n%s", err, errb.String())
	}
	return out.String()
}

func TestPasswords(t *testing.T) {
	data := filepath.Join(t.TempDir(), "receiver.json")
	a := startApp(t, data)
	a.want(a.event(org("o_root", "星河集团", nil)), 200, "D101", callback.StatusOK)
	create := a.event(user("u_1", "zhang.wei", "张伟", &sdk.Ref{HubID: "o_root", TargetID: "D101"}, nil))
	create.Object.Password = "Tr0ub4dor&3"
	a.want(create, 200, "U1001", callback.StatusOK)
	if o := readState(t, data).Objects["U1001"]; !checkPassword(o.Password, "Tr0ub4dor&3") || checkPassword(o.Password, "other") {
		t.Fatalf("after the create the stored password hash is %q", o.Password)
	}
	change := a.event(sdk.Operation{Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u_1", TargetID: "U1001"})
	change.Object.Password = "correct horse battery staple"
	a.want(change, 200, "U1001", callback.StatusOK)
	if o := readState(t, data).Objects["U1001"]; !checkPassword(o.Password, "correct horse battery staple") {
		t.Errorf("the password change was not applied: %q", o.Password)
	}
	if b := string(mustRead(t, data)); strings.Contains(b, "Tr0ub4dor") || strings.Contains(b, "horse") {
		t.Errorf("the data file holds a plaintext password")
	}
}

// TestJWKSFile: serve --jwks-file verifies signatures by the hub's keys as
// `midstream keys export` writes them.
func TestJWKSFile(t *testing.T) {
	key, err := callback.GenerateSigningKey(callback.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	file := filepath.Join(t.TempDir(), "jwks.json")
	b, _ := json.Marshal(callback.JWKS{Keys: []callback.JWK{pub}})
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--token", token, "--data", filepath.Join(t.TempDir(), "r.json"),
			"--jwks-file", file}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")
	s, _ := callback.NewSealer(callback.SealConfig{SigningKey: key})
	a := &app{t: t, enc: callback.Encoder{URL: base + "/callback", Token: token, Sealer: s}}
	a.want(a.event(org("o_root", "星河集团", nil)), 200, "D101", callback.StatusOK)
	a.enc.Sealer = nil
	if code, r := a.send(a.event(org("o_2", "X", nil))); code != 401 || r.Code != "invalid_signature" {
		t.Errorf("unsigned: %d %+v, want 401 invalid_signature", code, r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
