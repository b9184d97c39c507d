package callback

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// format = "idaas": Alibaba Cloud IDaaS (EIAM 2.0) push, so that an
// application written for it (such as one on IDaaS's Java push SDK)
// receives the hub's events unchanged (see README.md, "Compatibility
// profiles").

const (
	idaasIssuer   = "urn:alibaba:idaas:app:event"
	idaasPrefix   = "urn:alibaba:idaas:app:event:"
	idaasJWTLife  = 5 * time.Minute
	idaasVersion  = "1.0"
	idaasSubject  = "midstream"
	idaasTestCode = idaasPrefix + "common:test"
)

// idaasCodes are the IDaaS event codes of the hub's event types; org
// disable and enable have none.
var idaasCodes = map[wire.EventType]string{
	wire.EventUserCreate:   idaasPrefix + "ud:user:create",
	wire.EventUserUpdate:   idaasPrefix + "ud:user:update_info",
	wire.EventUserDelete:   idaasPrefix + "ud:user:delete",
	wire.EventUserDisable:  idaasPrefix + "ud:user:disable",
	wire.EventUserEnable:   idaasPrefix + "ud:user:enable",
	wire.EventUserMove:     idaasPrefix + "ud:user:update_primary_ou",
	wire.EventUserPassword: idaasPrefix + "ud:user:update_password",
	wire.EventOrgCreate:    idaasPrefix + "ud:organizational_unit:create",
	wire.EventOrgUpdate:    idaasPrefix + "ud:organizational_unit:update",
	wire.EventOrgDelete:    idaasPrefix + "ud:organizational_unit:delete",
	wire.EventOrgMove:      idaasPrefix + "ud:organizational_unit:update_parent_organizational_unit",
}

// idaasEventData is one event of a SyncEvent.
type idaasEventData struct {
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	EventTime int64  `json:"eventTime"`
	BizID     string `json:"bizId"`
	BizData   string `json:"bizData"` // JSON text of a UserInfo or OrganizationalUnitInfo
}

// idaasSyncEvent is the push's data: plainData, or the plaintext of
// cipherData.
type idaasSyncEvent struct {
	InstanceID   string `json:"instanceId"`
	EventVersion string `json:"eventVersion"`
	EventData    string `json:"eventData"` // JSON text of []idaasEventData
}

// idaasBizData maps an event's object to a UserInfo or an
// OrganizationalUnitInfo: the IDaaS ids are the hub ids, attributes are
// added under their mapped names (name them as IDaaS does: username,
// displayName, email, phoneNumber, ...).
func idaasBizData(ev *wire.Event) map[string]any {
	obj := ev.Object
	m := map[string]any{}
	for k, v := range obj.Attributes {
		m[k] = v
	}
	if obj.Kind == sdk.KindUser {
		m["userId"] = obj.HubID
		if _, ok := m["displayName"]; !ok && obj.DisplayName != "" {
			m["displayName"] = obj.DisplayName
		}
		if obj.Password != "" {
			m["password"] = obj.Password
			m["passwordSet"] = true
		}
		switch ev.Type.Op() {
		case sdk.OpDisable:
			m["status"] = "disabled"
		case sdk.OpEnable:
			m["status"] = "enabled"
		}
		if obj.Parent != nil {
			m["primaryOrganizationalUnitId"] = obj.Parent.HubID
		}
		if len(obj.Orgs) > 0 {
			ous := make([]map[string]any, len(obj.Orgs))
			for i, o := range obj.Orgs {
				ous[i] = map[string]any{"organizationalUnitId": o.HubID, "primary": obj.Parent != nil && o.HubID == obj.Parent.HubID}
			}
			m["userOrganizationalUnits"] = ous
		}
		return m
	}
	m["organizationalUnitId"] = obj.HubID
	if _, ok := m["organizationalUnitName"]; !ok && obj.DisplayName != "" {
		m["organizationalUnitName"] = obj.DisplayName
	}
	if obj.Parent != nil {
		m["parentId"] = obj.Parent.HubID
	}
	return m
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// idaasJWE encrypts plain as a compact JWE, alg "dir", enc "A256GCM":
// header..iv.ciphertext.tag, the header's base64url as AAD.
func (c *Connector) idaasJWE(plain []byte) (string, error) {
	protected := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM"}`))
	block, err := aes.NewCipher(c.cfg.encKey)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	iv := make([]byte, 12)
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	sealed := gcm.Seal(nil, iv, plain, []byte(protected))
	ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	enc := base64.RawURLEncoding.EncodeToString
	return protected + ".." + enc(iv) + "." + enc(ct) + "." + enc(tag), nil
}

// idaasRequest builds the request carrying events: {"event": <JWT>}.
func (c *Connector) idaasRequest(ctx context.Context, events []idaasEventData) (*http.Request, error) {
	data, err := marshalNoEscape(events)
	if err != nil {
		return nil, err
	}
	se := idaasSyncEvent{InstanceID: c.cfg.idaasInstance, EventVersion: idaasVersion, EventData: string(data)}
	now := c.now()
	claims := map[string]any{
		"iss": idaasIssuer, "sub": idaasSubject, "aud": c.cfg.idaasApp,
		"iat": now.Unix(), "exp": now.Add(idaasJWTLife).Unix(), "jti": wire.NewNonce(),
		"dataEncrypted": c.cfg.encKey != nil,
	}
	if c.cfg.encKey != nil {
		plain, err := marshalNoEscape(se)
		if err != nil {
			return nil, err
		}
		if claims["cipherData"], err = c.idaasJWE(plain); err != nil {
			return nil, err
		}
	} else {
		claims["plainData"] = se
	}
	payload, err := marshalNoEscape(claims)
	if err != nil {
		return nil, err
	}
	jwt, err := c.cfg.signer.SignCompact(payload, "JWT")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"event": jwt})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("User-Agent", wire.UserAgent)
	if c.cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.token)
	}
	return req, nil
}

// sendIDaaS sends ev (an operation's event, or the test event).
func (c *Connector) sendIDaaS(ctx context.Context, ev *wire.Event) (*answer, error) {
	ed := idaasEventData{EventID: ev.ID, EventTime: ev.Timestamp.UnixMilli()}
	if ev.Type == wire.EventTest {
		ed.EventType = idaasTestCode
	} else {
		ed.EventType, ed.BizID = idaasCodes[ev.Type], ev.Object.HubID
		biz, err := marshalNoEscape(idaasBizData(ev))
		if err != nil {
			return nil, err
		}
		ed.BizData = string(biz)
	}
	req, err := c.idaasRequest(ctx, []idaasEventData{ed})
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

// idaasAnswer is the answer of IDaaS's push SDK: per-event lists.
type idaasAnswer struct {
	FailedEvents  []idaasEventResult `json:"failedEvents"`
	RetriedEvents []idaasEventResult `json:"retriedEvents"`
	Error         string             `json:"error"`
	Description   string             `json:"errorDescription"`
}

type idaasEventResult struct {
	EventID      string `json:"eventId"`
	EventCode    string `json:"eventCode"`
	EventMessage string `json:"eventMessage"`
}

func (c *Connector) applyIDaaS(ctx context.Context, op sdk.Operation, ev *wire.Event) (sdk.Result, error) {
	if _, ok := idaasCodes[ev.Type]; !ok {
		// IDaaS has no event for it: nothing to send.
		return sdk.Result{TargetID: op.TargetID, BodyExcerpt: fmt.Sprintf("not sent: IDaaS has no event for %s", ev.Type)}, nil
	}
	a, err := c.sendIDaaS(ctx, ev)
	if err != nil {
		if e, ok := err.(*sdk.Error); ok {
			return sdk.Result{}, e
		}
		return sdk.Result{}, transportError(err, c.cfg.timeout)
	}
	var r idaasAnswer
	_ = json.Unmarshal(a.body, &r)
	excerpt := bodyExcerpt(a.body)
	fail := func(cat sdk.Category, code, msg string) (sdk.Result, error) {
		e := &sdk.Error{Category: cat, Code: code, Message: msg, HTTPStatus: a.status, BodyExcerpt: excerpt}
		if cat.Retryable() {
			e.RetryAfter = parseRetryAfter(a.header.Get(wire.HeaderRetryAfter), c.now())
		}
		return sdk.Result{}, e
	}
	switch s := a.status; {
	case s >= 200 && s < 300:
		for _, f := range r.FailedEvents {
			if f.EventID == ev.ID {
				return fail(sdk.CategoryPermanent, f.EventCode, "the application reported the event failed: "+f.EventMessage)
			}
		}
		for _, f := range r.RetriedEvents {
			if f.EventID == ev.ID {
				return fail(sdk.CategoryRetryable, f.EventCode, "the application asked for the event again: "+f.EventMessage)
			}
		}
		// IDaaS applications know objects by IDaaS's ids, which are the
		// hub's: the hub id is the link.
		return sdk.Result{TargetID: op.HubID, Status: s, BodyExcerpt: excerpt}, nil
	case s == http.StatusTooManyRequests:
		return fail(sdk.CategoryRateLimited, r.Error, "the application asked to slow down")
	case s == http.StatusRequestTimeout || s >= 500:
		return fail(sdk.CategoryRetryable, r.Error, http.StatusText(s)+" "+r.Description)
	case s == http.StatusBadRequest && r.Error == "bad_request":
		return fail(sdk.CategoryPermanent, r.Error, "the application refused the JWT: "+r.Description+"; check idaas_application_id and that it reads the hub's /.well-known/jwks.json")
	}
	msg := http.StatusText(a.status)
	if r.Description != "" {
		msg = r.Description
	}
	return fail(sdk.CategoryPermanent, r.Error, msg)
}
