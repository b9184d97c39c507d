package callback

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// format = "oneaccess": Huawei Cloud OneAccess's event callback, so that an
// application written for it receives the hub's events unchanged (see
// README.md, "Compatibility profiles", and the protocol notes it cites).

// The OneAccess event types.
const (
	oaCheckURL  = "CHECK_URL"
	oaCreateUsr = "CREATE_USER"
	oaUpdateUsr = "UPDATE_USER"
	oaDeleteUsr = "DELETE_USER"
	oaCreateOrg = "CREATE_ORGANIZATION"
	oaUpdateOrg = "UPDATE_ORGANIZATION"
	oaDeleteOrg = "DELETE_ORGANIZATION"
)

// oaEnvelope is the body of every OneAccess request.
type oaEnvelope struct {
	Nonce     string `json:"nonce"`
	Timestamp int64  `json:"timestamp"`
	EventType string `json:"eventType"`
	Data      string `json:"data"`
	Signature string `json:"signature"`
}

// oaAnswer is the body of every OneAccess answer. Code is a string or a
// number; Data is text (the ciphertext when encrypted) or, from some
// applications, a JSON object.
type oaAnswer struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n random characters of alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		x, _ := rand.Int(rand.Reader, max)
		b[i] = alphabet[x.Int64()]
	}
	return string(b)
}

// oaPayload maps an event to its OneAccess event type and payload.
func (c *Connector) oaPayload(ev *wire.Event) (string, map[string]any, error) {
	obj := ev.Object
	user := obj.Kind == sdk.KindUser
	pick := func(u, o string) string {
		if user {
			return u
		}
		return o
	}
	parentField := pick("organizationId", "parentId")
	p := map[string]any{}
	for k, v := range obj.Attributes {
		p[k] = v
	}
	withParent := func() {
		if obj.Parent != nil && obj.Parent.TargetID != "" {
			p[parentField] = obj.Parent.TargetID
		}
	}
	op := ev.Type.Op()
	if op != sdk.OpCreate {
		if obj.TargetID == "" {
			return "", nil, &sdk.Error{Category: sdk.CategoryPermanent, Message: fmt.Sprintf(
				"%s %s has no application id (its create was never answered): the OneAccess format addresses objects by the application's id only; link it with `midstream links set`", obj.Kind, obj.HubID)}
		}
		p = map[string]any{"id": obj.TargetID}
		if op == sdk.OpUpdate {
			for k, v := range obj.Attributes {
				p[k] = v
			}
			p["id"] = obj.TargetID
		}
	}
	switch op {
	case sdk.OpCreate:
		withParent()
		if user {
			if _, ok := p["disabled"]; !ok {
				p["disabled"] = false
			}
			if obj.Password != "" {
				p["password"] = obj.Password
			}
		}
		return pick(oaCreateUsr, oaCreateOrg), p, nil
	case sdk.OpUpdate:
		withParent()
		return pick(oaUpdateUsr, oaUpdateOrg), p, nil
	case sdk.OpMove:
		p[parentField] = ""
		withParent()
		return pick(oaUpdateUsr, oaUpdateOrg), p, nil
	case sdk.OpPassword:
		p["password"] = obj.Password
		return oaUpdateUsr, p, nil
	case sdk.OpDisable, sdk.OpEnable:
		if c.cfg.oaDisableByDel {
			if op == sdk.OpEnable {
				return "", nil, &sdk.Error{Category: sdk.CategoryPermanent,
					Message: `oneaccess_disable = "delete" sends a disable as a delete, so an enable cannot be sent: the application no longer holds the object`}
			}
			return pick(oaDeleteUsr, oaDeleteOrg), p, nil
		}
		p["disabled"] = op == sdk.OpDisable
		return pick(oaUpdateUsr, oaUpdateOrg), p, nil
	case sdk.OpDelete:
		return pick(oaDeleteUsr, oaDeleteOrg), p, nil
	}
	return "", nil, fmt.Errorf("operation %s has no OneAccess event", op)
}

func (c *Connector) oaGCM() (cipher.AEAD, error) {
	block, err := aes.NewCipher(c.cfg.encKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// oaEncrypt is OneAccess's AES/GCM/NoPadding: plain = 16 random letters +
// "&" + msg, 128-bit tag, no AAD; Base64 of IV ‖ ciphertext ‖ tag (or of
// ciphertext ‖ tag with oneaccess_iv = "key").
func (c *Connector) oaEncrypt(msg string) (string, error) {
	gcm, err := c.oaGCM()
	if err != nil {
		return "", err
	}
	plain := randomString(16, alnum[:52]) + "&" + msg
	var out []byte
	if c.cfg.oaIVFromKey {
		out = gcm.Seal(nil, c.cfg.encKey[:12], []byte(plain), nil)
	} else {
		iv := make([]byte, 12)
		if _, err := rand.Read(iv); err != nil {
			return "", err
		}
		out = gcm.Seal(iv, iv, []byte(plain), nil)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// oaDecrypt reverses oaEncrypt: the message after the first "&".
func (c *Connector) oaDecrypt(data string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", errors.New("the answer's data is not base64")
	}
	gcm, err := c.oaGCM()
	if err != nil {
		return "", err
	}
	iv := c.cfg.encKey[:12]
	if !c.cfg.oaIVFromKey {
		if len(raw) < 12+16 {
			return "", errors.New("the answer's data is too short to be encrypted")
		}
		iv, raw = raw[:12], raw[12:]
	}
	plain, err := gcm.Open(nil, iv, raw, nil)
	if err != nil {
		return "", errors.New("the answer's data does not decrypt with encryption_key")
	}
	_, msg, ok := strings.Cut(string(plain), "&")
	if !ok {
		return "", errors.New(`the answer's decrypted data has no "&" after its random prefix`)
	}
	return msg, nil
}

// oaSign is Base64(HMAC-SHA256(signature key, nonce&timestamp&eventType&data)).
func (c *Connector) oaSign(e *oaEnvelope) string {
	if c.cfg.hmacKey == nil {
		return ""
	}
	m := hmac.New(sha256.New, c.cfg.hmacKey)
	fmt.Fprintf(m, "%s&%d&%s&%s", e.Nonce, e.Timestamp, e.EventType, e.Data)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// oaRequest builds the request carrying msg as an event of type typ.
func (c *Connector) oaRequest(ctx context.Context, typ, msg string) (*http.Request, error) {
	now := c.now()
	e := &oaEnvelope{Nonce: randomString(16, alnum), Timestamp: now.UnixMilli(), EventType: typ, Data: msg}
	if c.cfg.oaSeconds {
		e.Timestamp = now.Unix()
	}
	if c.cfg.encKey != nil {
		var err error
		if e.Data, err = c.oaEncrypt(msg); err != nil {
			return nil, err
		}
	}
	e.Signature = c.oaSign(e)
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url, bytes.NewReader(bytes.TrimSuffix(body.Bytes(), []byte("\n"))))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("User-Agent", wire.UserAgent)
	if c.cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.token)
	}
	return req, nil
}

// oaData returns the message of an answer's data: decrypted when
// encryption is on, as text otherwise (a JSON object's text when the
// application sent one).
func (c *Connector) oaData(r *oaAnswer) (string, error) {
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(r.Data, &s) != nil {
		return string(r.Data), nil // an object: unencrypted
	}
	if c.cfg.encKey == nil || s == "" {
		return s, nil
	}
	return c.oaDecrypt(s)
}

func (c *Connector) applyOneAccess(ctx context.Context, op sdk.Operation, ev *wire.Event) (sdk.Result, error) {
	typ, payload, err := c.oaPayload(ev)
	if err != nil {
		return sdk.Result{}, err
	}
	var msg bytes.Buffer
	enc := json.NewEncoder(&msg)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return sdk.Result{}, &sdk.Error{Category: sdk.CategoryPermanent, Message: err.Error(), Err: err}
	}
	req, err := c.oaRequest(ctx, typ, strings.TrimSuffix(msg.String(), "\n"))
	if err != nil {
		return sdk.Result{}, &sdk.Error{Category: sdk.CategoryPermanent, Message: err.Error(), Err: err}
	}
	a, err := c.do(req)
	if err != nil {
		return sdk.Result{}, transportError(err, c.cfg.timeout)
	}
	return c.oaResult(op, a)
}

// oaStatus is an answer's outcome: the HTTP status, or the code in the
// body when the HTTP status is 2xx (applications send both, as OneAccess
// expects the same value in each).
func oaStatus(a *answer, r *oaAnswer) int {
	if a.status < 200 || a.status > 299 {
		return a.status
	}
	code := strings.Trim(string(r.Code), `"`)
	if n, err := strconv.Atoi(code); err == nil && n >= 300 && n <= 599 {
		return n
	}
	return a.status
}

var existsWords = []string{"exist", "duplicate", "already", "已存在", "重复"}

func (c *Connector) oaResult(op sdk.Operation, a *answer) (sdk.Result, error) {
	var r oaAnswer
	_ = json.Unmarshal(a.body, &r)
	excerpt := bodyExcerpt(a.body)
	code := strings.Trim(string(r.Code), `"`)
	if code == "null" {
		code = ""
	}
	status := oaStatus(a, &r)
	fail := func(cat sdk.Category, msg string) (sdk.Result, error) {
		e := &sdk.Error{Category: cat, Code: code, Message: r.Message, HTTPStatus: a.status, BodyExcerpt: excerpt}
		if e.Message == "" {
			e.Message = msg
		}
		if cat.Retryable() {
			e.RetryAfter = parseRetryAfter(a.header.Get(wire.HeaderRetryAfter), c.now())
		}
		return sdk.Result{}, e
	}
	switch {
	case status >= 200 && status < 300:
		res := sdk.Result{Status: a.status, BodyExcerpt: excerpt}
		if op.Op == sdk.OpDelete || (op.Op == sdk.OpDisable && c.cfg.oaDisableByDel) {
			return res, nil
		}
		data, err := c.oaData(&r)
		if err != nil {
			return fail(sdk.CategoryPermanent, err.Error())
		}
		var d struct {
			ID json.RawMessage `json:"id"`
		}
		if data != "" && json.Unmarshal([]byte(data), &d) == nil && len(d.ID) > 0 {
			res.TargetID = strings.Trim(string(d.ID), `"`)
		}
		if op.Op == sdk.OpCreate && res.TargetID == "" {
			return fail(sdk.CategoryPermanent, fmt.Sprintf(`the application answered the %s of %s %s without an id: OneAccess applications answer {"data": {"id": "..."}} (encrypted when encryption is on)`, op.Op, op.Kind, op.HubID))
		}
		return res, nil
	case status == http.StatusNotFound && op.Op == sdk.OpDelete:
		return sdk.Result{Status: a.status, BodyExcerpt: excerpt}, nil // already gone
	case status == http.StatusBadRequest && op.Op == sdk.OpCreate && containsAny(strings.ToLower(r.Message), existsWords):
		return fail(sdk.CategoryConflict, "the application already holds this object")
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fail(sdk.CategoryPermanent, "the application refused the call: check token, signature_key and encryption_key")
	case status == http.StatusTooManyRequests:
		return fail(sdk.CategoryRateLimited, "the application asked to slow down")
	case status == http.StatusRequestTimeout || status >= 500:
		return fail(sdk.CategoryRetryable, "the application is busy")
	}
	return fail(sdk.CategoryPermanent, http.StatusText(status))
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// testOneAccess sends CHECK_URL with a random string and checks the
// application answers the same string. It reports a wrong echo itself and
// returns a nil answer then.
func (c *Connector) testOneAccess(ctx context.Context, resp *sdk.TestConnectionResponse) (*answer, error) {
	challenge := randomString(16, alnum)
	req, err := c.oaRequest(ctx, oaCheckURL, challenge)
	if err != nil {
		return nil, err
	}
	a, err := c.do(req)
	if err != nil || a.status < 200 || a.status > 299 {
		return a, err
	}
	var r oaAnswer
	_ = json.Unmarshal(a.body, &r)
	got, derr := c.oaData(&r)
	switch {
	case derr != nil:
		resp.Diagnostics.AddError(sdk.Path{encryptionKeyField}, "CHECK_URL answer unreadable",
			fmt.Sprintf("HTTP %d from %s: %v. A OneAccess application answers CHECK_URL with the random string it received, encrypted like the request.", a.status, c.cfg.url, derr))
	case got != challenge:
		resp.Diagnostics.AddError(sdk.Path{urlField}, "CHECK_URL not echoed",
			fmt.Sprintf("HTTP %d from %s, but its data is %q, not the random string sent. A OneAccess application answers CHECK_URL with the string it received: check it decrypts with the same encryption_key.", a.status, c.cfg.url, bodyExcerpt([]byte(got))))
	default:
		resp.Detail = fmt.Sprintf("HTTP %d from %s in %s: CHECK_URL echoed%s", a.status, c.cfg.url, a.elapsed.Round(1e6), c.securityDetail())
	}
	return nil, nil
}
