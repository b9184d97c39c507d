package callback_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// ---- a OneAccess application, from the OneAccess notes (protocols.md §1) ----

// oneAccessApp is an application written for OneAccess's event callback:
// it checks the bearer token and the HMAC-SHA256/Base64 signature over
// nonce&timestamp&eventType&data, decrypts AES/GCM/NoPadding data (IV
// prefix, 16 random letters and "&" before the message), and answers
// {code, message, data} with data encrypted the same way.
type oneAccessApp struct {
	t                *testing.T
	token, encKey    string
	sigKey           string
	ivFromKey        bool
	timestampSeconds bool
	answerIVFromKey  bool // answers in the other framing (a broken application)

	mu       sync.Mutex
	next     int
	users    map[string]map[string]any // id -> payload
	orgs     map[string]map[string]any
	received []oaReceived
}

type oaReceived struct {
	EventType string
	Payload   map[string]any
}

func newOneAccessApp(t *testing.T) *oneAccessApp {
	return &oneAccessApp{t: t, token: token, encKey: "0123456789abcdef", sigKey: "fedcba9876543210",
		users: map[string]map[string]any{}, orgs: map[string]map[string]any{}}
}

func (a *oneAccessApp) gcm() cipher.AEAD {
	b, _ := aes.NewCipher([]byte(a.encKey))
	g, _ := cipher.NewGCM(b)
	return g
}

func (a *oneAccessApp) decrypt(data string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", err
	}
	iv := []byte(a.encKey)[:12]
	if !a.ivFromKey {
		iv, raw = raw[:12], raw[12:]
	}
	plain, err := a.gcm().Open(nil, iv, raw, nil)
	if err != nil {
		return "", err
	}
	// Split at the first "&" only (the notes' caution).
	_, msg, _ := strings.Cut(string(plain), "&")
	return msg, nil
}

func (a *oneAccessApp) encrypt(msg string) string {
	iv := make([]byte, 12)
	_, _ = rand.Read(iv)
	if a.ivFromKey || a.answerIVFromKey {
		return base64.StdEncoding.EncodeToString(a.gcm().Seal(nil, []byte(a.encKey)[:12], []byte("abcdefghijklmnop&"+msg), nil))
	}
	return base64.StdEncoding.EncodeToString(a.gcm().Seal(iv, iv, []byte("abcdefghijklmnop&"+msg), nil))
}

func (a *oneAccessApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(code int, msg string, data any) {
		body := map[string]any{"code": fmt.Sprint(code), "message": msg}
		if data != nil {
			b, _ := json.Marshal(data)
			s := string(b)
			if str, ok := data.(string); ok {
				s = str
			}
			body["data"] = a.encrypt(s)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		answer(401, "authentication failed", nil)
		return
	}
	var env struct {
		Nonce     string          `json:"nonce"`
		Timestamp json.RawMessage `json:"timestamp"` // number or string
		EventType string          `json:"eventType"`
		Data      string          `json:"data"`
		Signature string          `json:"signature"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		answer(400, "bad body", nil)
		return
	}
	ts := strings.Trim(string(env.Timestamp), `"`)
	m := hmac.New(sha256.New, []byte(a.sigKey))
	m.Write([]byte(env.Nonce + "&" + ts + "&" + env.EventType + "&" + env.Data))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte(env.Signature)) {
		answer(401, "signature mismatch", nil)
		return
	}
	if len(env.Nonce) != 16 {
		a.t.Errorf("nonce %q is not 16 characters", env.Nonce)
	}
	if digits := len(ts); (a.timestampSeconds && digits != 10) || (!a.timestampSeconds && digits != 13) {
		a.t.Errorf("timestamp %s: wrong unit", ts)
	}
	msg, err := a.decrypt(env.Data)
	if err != nil {
		answer(400, "decryption failed", nil)
		return
	}
	if env.EventType == "CHECK_URL" {
		answer(200, "success", msg)
		return
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(msg), &p); err != nil {
		answer(400, "data is not JSON", nil)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var copied map[string]any
	_ = json.Unmarshal([]byte(msg), &copied)
	a.received = append(a.received, oaReceived{env.EventType, copied})
	table, unique := a.users, "username"
	if strings.HasSuffix(env.EventType, "ORGANIZATION") {
		table, unique = a.orgs, "code"
	}
	id, _ := p["id"].(string)
	switch env.EventType {
	case "CREATE_USER", "CREATE_ORGANIZATION":
		for _, o := range table {
			if o[unique] == p[unique] {
				answer(400, unique+" already exists", nil)
				return
			}
		}
		a.next++
		id = fmt.Sprintf("%d", 1000+a.next)
		table[id] = p
		answer(200, "success", map[string]string{"id": id})
	case "UPDATE_USER", "UPDATE_ORGANIZATION":
		o, ok := table[id]
		if !ok {
			answer(404, "record not found", nil)
			return
		}
		for k, v := range p {
			o[k] = v
		}
		answer(200, "success", map[string]string{"id": id})
	case "DELETE_USER", "DELETE_ORGANIZATION":
		if _, ok := table[id]; !ok {
			answer(404, "record not found", nil)
			return
		}
		delete(table, id)
		answer(200, "success", nil)
	default:
		answer(400, "unknown event type "+env.EventType, nil)
	}
}

func TestOneAccessProfile(t *testing.T) {
	for _, variant := range []string{"defaults", "seconds and IV from the key", "disable as delete"} {
		t.Run(variant, func(t *testing.T) {
			app := newOneAccessApp(t)
			cfg := map[string]any{"format": "oneaccess", "token": token, "encryption_key": app.encKey, "signature_key": app.sigKey, "password_sync": true}
			switch variant {
			case "seconds and IV from the key":
				app.ivFromKey, app.timestampSeconds = true, true
				cfg["oneaccess_iv"], cfg["oneaccess_timestamp_unit"] = "key", "s"
			case "disable as delete":
				cfg["oneaccess_disable"] = "delete"
			}
			srv := httptest.NewServer(app)
			t.Cleanup(srv.Close)
			cfg["url"] = srv.URL + "/callback"
			c := configure(t, cfg)

			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if resp.Diagnostics.HasError() || !strings.Contains(resp.Detail, "CHECK_URL echoed") {
				t.Fatalf("TestConnection: %v %q", resp.Diagnostics, resp.Detail)
			}
			// The field names of the OneAccess notes: code, name, parentId;
			// username, name, organizationId, password, disabled.
			org := apply(t, c, sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "o1", DisplayName: "研发中心",
				Attributes: sdk.Attributes{"code": sdk.String("RD"), "name": sdk.String("研发中心")}})
			user := apply(t, c, sdk.Operation{ID: "e2", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1",
				Attributes: sdk.Attributes{"username": sdk.String("lilei"), "name": sdk.String("李雷"), "email": sdk.String("lilei@example.com"),
					"password": sdk.String("P@ss&word=1")},
				Parent: &sdk.Ref{HubID: "o1", TargetID: org.TargetID}})
			if org.TargetID != "1001" || user.TargetID != "1002" {
				t.Fatalf("ids %q %q", org.TargetID, user.TargetID)
			}
			// The same create again meets the application's uniqueness:
			// a conflict, as SPEC §10 says.
			_, err := c.Apply(context.Background(), sdk.Operation{ID: "e2b", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1",
				Attributes: sdk.Attributes{"username": sdk.String("lilei"), "name": sdk.String("李雷")}})
			if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryConflict || e.Message != "username already exists" || e.Code != "400" {
				t.Errorf("a create sent twice: %#v", e)
			}
			apply(t, c, sdk.Operation{ID: "e3", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID,
				Attributes: sdk.Attributes{"email": sdk.String("lei.li@example.com")}})
			apply(t, c, sdk.Operation{ID: "e4", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID,
				Attributes: sdk.Attributes{"password": sdk.String("n3w")}})
			apply(t, c, sdk.Operation{ID: "e5", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "o1", TargetID: org.TargetID,
				Attributes: sdk.Attributes{"name": sdk.String("研发与平台中心")}})
			apply(t, c, sdk.Operation{ID: "e6", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
			want := []oaReceived{
				{"CREATE_ORGANIZATION", map[string]any{"code": "RD", "name": "研发中心"}},
				{"CREATE_USER", map[string]any{"username": "lilei", "name": "李雷", "email": "lilei@example.com", "organizationId": "1001",
					"password": "P@ss&word=1", "disabled": false}},
				{"CREATE_USER", map[string]any{"username": "lilei", "name": "李雷", "disabled": false}},
				{"UPDATE_USER", map[string]any{"id": "1002", "email": "lei.li@example.com"}},
				{"UPDATE_USER", map[string]any{"id": "1002", "password": "n3w"}},
				{"UPDATE_ORGANIZATION", map[string]any{"id": "1001", "name": "研发与平台中心"}},
			}
			if variant == "disable as delete" {
				want = append(want, oaReceived{"DELETE_USER", map[string]any{"id": "1002"}})
				_, err := c.Apply(context.Background(), sdk.Operation{ID: "e7", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
				if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryPermanent {
					t.Errorf("an enable after a disable sent as a delete: %v", err)
				}
			} else {
				want = append(want, oaReceived{"UPDATE_USER", map[string]any{"id": "1002", "disabled": true}})
				apply(t, c, sdk.Operation{ID: "e7", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
				apply(t, c, sdk.Operation{ID: "e8", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
				apply(t, c, sdk.Operation{ID: "e9", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
				// A delete of what the application no longer holds (404): done.
				apply(t, c, sdk.Operation{ID: "e10", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u1", TargetID: user.TargetID})
				apply(t, c, sdk.Operation{ID: "e11", Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "o1", TargetID: org.TargetID})
				want = append(want,
					oaReceived{"UPDATE_USER", map[string]any{"id": "1002", "disabled": false}},
					oaReceived{"UPDATE_USER", map[string]any{"id": "1002", "organizationId": ""}},
					oaReceived{"DELETE_USER", map[string]any{"id": "1002"}},
					oaReceived{"DELETE_USER", map[string]any{"id": "1002"}},
					oaReceived{"DELETE_ORGANIZATION", map[string]any{"id": "1001"}})
			}
			if diff := cmp.Diff(want, app.received); diff != "" {
				t.Errorf("what the application received (-want +got):\n%s", diff)
			}
			// An object never linked cannot be addressed.
			_, err = c.Apply(context.Background(), sdk.Operation{ID: "e12", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "u9"})
			if e := sdk.AsError(err); e == nil || !strings.Contains(e.Message, "links set") {
				t.Errorf("a delete without an application id: %v", err)
			}
		})
	}
}

func TestOneAccessTestConnection(t *testing.T) {
	app := newOneAccessApp(t)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	tests := map[string]struct {
		cfg     map[string]any
		path    string
		summary string
	}{
		"wrong signature key": {cfg: map[string]any{"encryption_key": app.encKey, "signature_key": "0000000000000000"}, path: "token", summary: "Token rejected"},
		"wrong encryption key": {cfg: map[string]any{"encryption_key": "ffffffffffffffff", "signature_key": app.sigKey},
			path: "url", summary: "Test event refused"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.cfg["format"], tt.cfg["url"], tt.cfg["token"] = "oneaccess", srv.URL, token
			c := configure(t, tt.cfg)
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Path.String() != tt.path || resp.Diagnostics[0].Summary != tt.summary {
				t.Errorf("diagnostics %v, want %s: %s", resp.Diagnostics, tt.path, tt.summary)
			}
		})
	}
	t.Run("echo not decryptable", func(t *testing.T) {
		other := newOneAccessApp(t)
		other.answerIVFromKey = true
		srv := httptest.NewServer(other)
		t.Cleanup(srv.Close)
		c := configure(t, map[string]any{"format": "oneaccess", "url": srv.URL, "token": token, "encryption_key": other.encKey, "signature_key": other.sigKey})
		var resp sdk.TestConnectionResponse
		c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
		if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Summary != "CHECK_URL answer unreadable" || resp.Diagnostics[0].Path.String() != "encryption_key" {
			t.Errorf("diagnostics %v", resp.Diagnostics)
		}
	})
}

// ---- an IDaaS application, from the IDaaS notes (protocols.md §2) ----

// idaasApp is an application written for IDaaS's push: it verifies the
// JWT in {"event": ...} with the JWKS (kid), requires iss, aud = its
// application id, exp and iat (60 s skew), decrypts cipherData (JWE dir +
// A256GCM with the hex key), and reads the SyncEvent's eventData and
// bizData JSON texts.
type idaasApp struct {
	t      *testing.T
	appID  string
	hexKey string
	keys   *wire.JWKS
	fail   map[string]string // event code -> failure message to report

	mu       sync.Mutex
	received []map[string]any // eventType + bizData fields
	users    map[string]map[string]any
}

func (a *idaasApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bad := func(desc string) {
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad_request", "errorDescription": desc})
	}
	var body struct {
		Event string `json:"event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Event == "" {
		bad("no event")
		return
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(body.Event, ".")[0])
	var h struct{ Kid, Typ, Alg string }
	_ = json.Unmarshal(hdr, &h)
	if h.Alg != "RS256" || h.Typ != "JWT" || h.Kid == "" {
		bad("header " + string(hdr))
		return
	}
	payload, err := wire.VerifyCompact(r.Context(), body.Event, a.keys)
	if err != nil {
		bad(err.Error())
		return
	}
	var claims struct {
		Iss           string          `json:"iss"`
		Aud           string          `json:"aud"`
		Exp           int64           `json:"exp"`
		Jti           string          `json:"jti"`
		DataEncrypted bool            `json:"dataEncrypted"`
		CipherData    string          `json:"cipherData"`
		PlainData     json.RawMessage `json:"plainData"`
	}
	_ = json.Unmarshal(payload, &claims)
	var iat struct {
		Iat int64 `json:"iat"`
	}
	_ = json.Unmarshal(payload, &iat)
	now := time.Now().Unix()
	switch {
	case claims.Iss != "urn:alibaba:idaas:app:event":
		bad("issuer " + claims.Iss)
		return
	case claims.Aud != a.appID:
		bad("audience " + claims.Aud)
		return
	case claims.Exp == 0 || iat.Iat == 0 || claims.Exp < now-60 || iat.Iat > now+60:
		bad("expired")
		return
	}
	var se struct {
		InstanceID, EventVersion, EventData string
	}
	if claims.DataEncrypted {
		parts := strings.Split(claims.CipherData, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if len(parts) != 5 || parts[1] != "" || string(hdr) != `{"alg":"dir","enc":"A256GCM"}` {
			bad("cipherData is not a dir/A256GCM JWE")
			return
		}
		key, _ := hex.DecodeString(a.hexKey)
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		dec := func(s string) []byte { b, _ := base64.RawURLEncoding.DecodeString(s); return b }
		plain, err := gcm.Open(nil, dec(parts[2]), append(dec(parts[3]), dec(parts[4])...), []byte(parts[0]))
		if err != nil {
			bad("cipherData does not decrypt")
			return
		}
		_ = json.Unmarshal(plain, &se)
	} else {
		_ = json.Unmarshal(claims.PlainData, &se)
	}
	var events []struct {
		EventID, EventType, BizID, BizData string
		EventTime                          int64
	}
	if err := json.Unmarshal([]byte(se.EventData), &events); err != nil {
		bad("eventData: " + err.Error())
		return
	}
	resp := map[string][]map[string]string{"successEvents": {}, "skippedEvents": {}, "failedEvents": {}, "retriedEvents": {}}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range events {
		if e.EventTime == 0 || se.InstanceID == "" {
			a.t.Errorf("event %+v of %+v lacks its time or instance", e, se)
		}
		if msg, ok := a.fail[e.EventType]; ok {
			resp["failedEvents"] = append(resp["failedEvents"], map[string]string{"eventId": e.EventID, "eventCode": "FAILED", "eventMessage": msg})
			continue
		}
		rec := map[string]any{"eventType": e.EventType}
		if e.BizData != "" {
			var biz map[string]any
			if err := json.Unmarshal([]byte(e.BizData), &biz); err != nil {
				a.t.Errorf("bizData %q: %v", e.BizData, err)
			}
			for k, v := range biz {
				rec[k] = v
			}
			if id, _ := biz["userId"].(string); id != e.BizID && biz["organizationalUnitId"] != e.BizID {
				a.t.Errorf("bizId %s does not name the object %v", e.BizID, biz)
			}
		}
		a.received = append(a.received, rec)
		resp["successEvents"] = append(resp["successEvents"], map[string]string{"eventId": e.EventID, "eventCode": "SUCCESS", "eventMessage": "SUCCESS"})
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func TestIDaaSProfile(t *testing.T) {
	rs := hubKey(wire.RS256)
	jwks := jwksOf(t, rs)
	for _, encrypted := range []bool{true, false} {
		t.Run(fmt.Sprintf("encrypted %t", encrypted), func(t *testing.T) {
			app := &idaasApp{t: t, appID: "app_mtest123456", hexKey: encKey, keys: jwks,
				fail: map[string]string{"urn:alibaba:idaas:app:event:ud:organizational_unit:delete": "OU not empty"}}
			srv := httptest.NewServer(app)
			t.Cleanup(srv.Close)
			cfg := map[string]any{"format": "idaas", "url": srv.URL, "idaas_application_id": app.appID, "signing_key": signingKeyText(wire.RS256)}
			if encrypted {
				cfg["encryption_key"], cfg["password_sync"] = encKey, true
			} else {
				cfg["encryption"] = "none"
			}
			c := configure(t, cfg)
			var resp sdk.TestConnectionResponse
			c.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			if resp.Diagnostics.HasError() || !strings.Contains(resp.Detail, "signed with RS256") {
				t.Fatalf("TestConnection: %v %q", resp.Diagnostics, resp.Detail)
			}
			ou := sdk.Ref{HubID: "ou_rd"}
			create := sdk.Operation{ID: "e2", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "user_1", DisplayName: "李雷",
				Attributes: sdk.Attributes{"username": sdk.String("lilei"), "email": sdk.String("lilei@example.com"), "phoneNumber": sdk.String("13800000001")},
				Parent:     &ou, Orgs: []sdk.Ref{ou}}
			if encrypted {
				create.Attributes["password"] = sdk.String("Tr0ub4dor&3")
			}
			steps := []sdk.Operation{
				{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindOrg, HubID: "ou_rd", DisplayName: "研发中心", Attributes: sdk.Attributes{"organizationalUnitExternalId": sdk.String("RD")}},
				create,
				{ID: "e3", Op: sdk.OpUpdate, Kind: sdk.KindUser, HubID: "user_1", TargetID: "user_1", DisplayName: "李雷", Attributes: sdk.Attributes{"email": sdk.String("lei.li@example.com")}},
				{ID: "e4", Op: sdk.OpDisable, Kind: sdk.KindUser, HubID: "user_1", TargetID: "user_1"},
				{ID: "e5", Op: sdk.OpEnable, Kind: sdk.KindUser, HubID: "user_1", TargetID: "user_1"},
				{ID: "e6", Op: sdk.OpMove, Kind: sdk.KindUser, HubID: "user_1", TargetID: "user_1", Parent: &sdk.Ref{HubID: "ou_root"}, Orgs: []sdk.Ref{{HubID: "ou_root"}}},
				{ID: "e7", Op: sdk.OpMove, Kind: sdk.KindOrg, HubID: "ou_rd", TargetID: "ou_rd", Parent: &sdk.Ref{HubID: "ou_root"}},
				{ID: "e8", Op: sdk.OpUpdate, Kind: sdk.KindOrg, HubID: "ou_rd", TargetID: "ou_rd", DisplayName: "研发与平台中心"},
				{ID: "e9", Op: sdk.OpDelete, Kind: sdk.KindUser, HubID: "user_1", TargetID: "user_1"},
			}
			if encrypted {
				steps = append(steps, sdk.Operation{ID: "e10", Op: sdk.OpPassword, Kind: sdk.KindUser, HubID: "user_2", TargetID: "user_2",
					Attributes: sdk.Attributes{"password": sdk.String("n3w")}})
			}
			for _, op := range steps {
				res := apply(t, c, op)
				if res.TargetID != op.HubID {
					t.Errorf("%s %s linked %q, want the IDaaS id (the hub id)", op.Op, op.HubID, res.TargetID)
				}
			}
			// IDaaS has no OU disable: nothing is sent.
			if res := apply(t, c, sdk.Operation{ID: "e11", Op: sdk.OpDisable, Kind: sdk.KindOrg, HubID: "ou_rd", TargetID: "ou_rd"}); !strings.Contains(res.BodyExcerpt, "not sent") {
				t.Errorf("org disable: %+v", res)
			}
			// A failure the application reports in failedEvents.
			_, err := c.Apply(context.Background(), sdk.Operation{ID: "e12", Op: sdk.OpDelete, Kind: sdk.KindOrg, HubID: "ou_rd", TargetID: "ou_rd"})
			if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "OU not empty") {
				t.Errorf("a failed event: %v", err)
			}
			const p = "urn:alibaba:idaas:app:event:"
			want := []map[string]any{
				{"eventType": p + "common:test"},
				{"eventType": p + "ud:organizational_unit:create", "organizationalUnitId": "ou_rd", "organizationalUnitName": "研发中心", "organizationalUnitExternalId": "RD"},
				{"eventType": p + "ud:user:create", "userId": "user_1", "username": "lilei", "displayName": "李雷", "email": "lilei@example.com", "phoneNumber": "13800000001",
					"primaryOrganizationalUnitId": "ou_rd", "userOrganizationalUnits": []any{map[string]any{"organizationalUnitId": "ou_rd", "primary": true}}},
				{"eventType": p + "ud:user:update_info", "userId": "user_1", "displayName": "李雷", "email": "lei.li@example.com"},
				{"eventType": p + "ud:user:disable", "userId": "user_1", "status": "disabled"},
				{"eventType": p + "ud:user:enable", "userId": "user_1", "status": "enabled"},
				{"eventType": p + "ud:user:update_primary_ou", "userId": "user_1", "primaryOrganizationalUnitId": "ou_root",
					"userOrganizationalUnits": []any{map[string]any{"organizationalUnitId": "ou_root", "primary": true}}},
				{"eventType": p + "ud:organizational_unit:update_parent_organizational_unit", "organizationalUnitId": "ou_rd", "parentId": "ou_root"},
				{"eventType": p + "ud:organizational_unit:update", "organizationalUnitId": "ou_rd", "organizationalUnitName": "研发与平台中心"},
				{"eventType": p + "ud:user:delete", "userId": "user_1"},
			}
			if encrypted {
				want[2]["password"], want[2]["passwordSet"] = "Tr0ub4dor&3", true
				want = append(want, map[string]any{"eventType": p + "ud:user:update_password", "userId": "user_2", "password": "n3w", "passwordSet": true})
			}
			if diff := cmp.Diff(want, app.received); diff != "" {
				t.Errorf("what the application received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIDaaSRefusals(t *testing.T) {
	app := &idaasApp{t: t, appID: "app_expected", hexKey: encKey, keys: jwksOf(t, hubKey(wire.RS256))}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	c := configure(t, map[string]any{"format": "idaas", "url": srv.URL, "idaas_application_id": "app_other", "encryption_key": encKey,
		"signing_key": signingKeyText(wire.RS256)})
	_, err := c.Apply(context.Background(), sdk.Operation{ID: "e1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "u1"})
	var e *sdk.Error
	if !errors.As(err, &e) || e.Category != sdk.CategoryPermanent || !strings.Contains(e.Message, "audience app_other") {
		t.Errorf("a JWT for another audience: %v", err)
	}

	tests := map[string]struct {
		values  map[string]any
		path    string
		summary string
	}{
		"no application id":   {values: map[string]any{"encryption_key": encKey, "signing_key": signingKeyText(wire.RS256)}, path: "idaas_application_id", summary: "Missing IDaaS application id"},
		"AES-128 key":         {values: map[string]any{"idaas_application_id": "app_x", "encryption_key": "0123456789abcdef", "signing_key": signingKeyText(wire.RS256)}, path: "encryption_key", summary: "IDaaS uses AES-256"},
		"hmac":                {values: map[string]any{"idaas_application_id": "app_x", "encryption_key": encKey, "signature": "hmac", "signature_key": sigKey}, path: "signature", summary: "IDaaS signs with the hub's RS256 key"},
		"ES256":               {values: map[string]any{"idaas_application_id": "app_x", "encryption_key": encKey, "signature_alg": "ES256", "signing_key": signingKeyText(wire.ES256)}, path: "signature_alg", summary: "IDaaS signs with RS256"},
		"no key from the hub": {values: map[string]any{"idaas_application_id": "app_x", "encryption_key": encKey}, path: "signature", summary: "No signing key from the hub"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.values["format"], tt.values["url"], tt.values["token"] = "idaas", "https://app.example.com/push", token
			_, diags := tryConfigure(t, tt.values, "")
			found := false
			for _, d := range diags {
				if d.Severity == sdk.SeverityError && d.Path.String() == tt.path && d.Summary == tt.summary {
					found = true
				}
			}
			if !found {
				t.Errorf("diagnostics %v, want an error at %s: %s", diags, tt.path, tt.summary)
			}
		})
	}
	_, diags := tryConfigure(t, map[string]any{"format": "oneaccess", "url": "https://app.example.com", "token": token, "encryption_key": encKey, "signature_key": sigKey}, "")
	if !strings.Contains(fmt.Sprint(diags), "OneAccess uses AES-128") {
		t.Errorf("oneaccess with an AES-256 key: %v", diags)
	}
	_, diags = tryConfigure(t, map[string]any{"url": "https://app.example.com", "token": token, "encryption_key": encKey, "signature_key": sigKey, "oneaccess_iv": "key"}, "")
	if len(diags) != 1 || diags[0].Summary != "Setting not used" {
		t.Errorf("a oneaccess setting on a midstream target: %v", diags)
	}
}

func jwksOf(t *testing.T, keys ...*wire.SigningKey) *wire.JWKS {
	t.Helper()
	s := &wire.JWKS{}
	for _, k := range keys {
		j, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		s.Keys = append(s.Keys, j)
	}
	return s
}

// The self-computed vector of the OneAccess notes (protocols.md §1.4):
// key 0123456789abcdef over "AmgjjEAJbrMzWmUw&1700000000&CREATE_USER&ZGF0YQ==".
func TestOneAccessSignatureVector(t *testing.T) {
	c := configure(t, map[string]any{"format": "oneaccess", "url": "https://app.example.com", "token": token,
		"encryption_key": "0123456789abcdef", "signature_key": "0123456789abcdef"})
	got := callback.OneAccessSignature(c, "AmgjjEAJbrMzWmUw", 1700000000, "CREATE_USER", "ZGF0YQ==")
	if want := "pprR+UCcMprS7dhiImyKvK3OoIN25Fdn69YLe9BBYeQ="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}
