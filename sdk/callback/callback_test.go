package callback_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
)

var (
	at       = time.Date(2026, 11, 3, 9, 12, 44, 512_345_678, time.UTC)
	valueCmp = cmp.Comparer(func(a, b sdk.Value) bool { return a.Equal(b) })
)

func TestTypeOf(t *testing.T) {
	tests := map[string]struct {
		kind    sdk.Kind
		op      sdk.Op
		want    callback.EventType
		wantErr bool
	}{
		"user create":   {kind: sdk.KindUser, op: sdk.OpCreate, want: callback.EventUserCreate},
		"user password": {kind: sdk.KindUser, op: sdk.OpPassword, want: callback.EventUserPassword},
		"org move":      {kind: sdk.KindOrg, op: sdk.OpMove, want: callback.EventOrgMove},
		"org password":  {kind: sdk.KindOrg, op: sdk.OpPassword, wantErr: true},
		"unknown op":    {kind: sdk.KindUser, op: "rename", wantErr: true},
		"unknown kind":  {kind: "group", op: sdk.OpCreate, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := callback.TypeOf(tt.kind, tt.op)
			if (err != nil) != tt.wantErr {
				t.Fatalf("TypeOf: error %v, want error %t", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want || got.Kind() != tt.kind || got.Op() != tt.op || !got.Valid() {
				t.Errorf("TypeOf = %q (kind %q, op %q, valid %t), want %q", got, got.Kind(), got.Op(), got.Valid(), tt.want)
			}
		})
	}
	for _, typ := range []callback.EventType{"org.password", "user", "user.", "user.create.x", "USER.CREATE", ""} {
		if typ.Valid() || typ.Kind() != "" || typ.Op() != "" {
			t.Errorf("%q: Valid, Kind, Op = %t, %q, %q; want invalid", typ, typ.Valid(), typ.Kind(), typ.Op())
		}
	}
	if !callback.EventTest.Valid() || callback.EventTest.Kind() != "" {
		t.Errorf("the test event type must be valid and have no kind")
	}
}

func userCreate() sdk.Operation {
	return sdk.Operation{
		ID:          "01JC7Q1V8X8Y4K2M3N5P6R7S8T",
		Op:          sdk.OpCreate,
		Kind:        sdk.KindUser,
		HubID:       "u_8f14e45f",
		DisplayName: "Li Lei",
		Attributes: sdk.Attributes{
			"userName":   sdk.String("lilei"),
			"employeeNo": sdk.Int(10042),
			"active":     sdk.Bool(true),
			"hiredAt":    sdk.Time(time.Date(2024, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))),
			"groups":     sdk.StringList("dev", "ops"),
			"aliases":    sdk.StringList(),
			"mobile":     sdk.Null(),
		},
		Parent: &sdk.Ref{HubID: "o_45c48cce", TargetID: "42"},
		Orgs:   []sdk.Ref{{HubID: "o_45c48cce", TargetID: "42"}, {HubID: "o_6512bd43"}},
	}
}

func TestEventJSON(t *testing.T) {
	ev, err := callback.NewEvent(userCreate(), at)
	if err != nil {
		t.Fatal(err)
	}
	body, err := callback.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1","eventId":"01JC7Q1V8X8Y4K2M3N5P6R7S8T","eventType":"user.create",` +
		`"timestamp":"2026-11-03T09:12:44.512Z",` +
		`"object":{"kind":"user","hubId":"u_8f14e45f","displayName":"Li Lei",` +
		`"attributes":{"active":true,"aliases":[],"employeeNo":10042,"groups":["dev","ops"],"hiredAt":"2024-03-01T00:00:00Z","mobile":null,"userName":"lilei"},` +
		`"parent":{"hubId":"o_45c48cce","targetId":"42"},` +
		`"orgs":[{"hubId":"o_45c48cce","targetId":"42"},{"hubId":"o_6512bd43"}]}}`
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	got, err := callback.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("Unmarshal(Marshal(ev)) (-want +got):\n%s", diff)
	}

	op, err := got.Operation()
	if err != nil {
		t.Fatal(err)
	}
	wantOp := userCreate()
	// JSON does not tell a datetime from a string.
	wantOp.Attributes["hiredAt"] = sdk.String("2024-03-01T00:00:00Z")
	if diff := cmp.Diff(wantOp, op, valueCmp); diff != "" {
		t.Errorf("Operation (-want +got):\n%s", diff)
	}
	hired, err := got.Object.Attributes.Value("hiredAt", sdk.TypeTime)
	if err != nil || !hired.Equal(userCreate().Attributes["hiredAt"]) {
		t.Errorf("Value(hiredAt, datetime) = %#v, %v", hired, err)
	}
}

func TestNewEventErrors(t *testing.T) {
	tests := map[string]func(*sdk.Operation){
		"no event id":  func(op *sdk.Operation) { op.ID = "" },
		"no hub id":    func(op *sdk.Operation) { op.HubID = "" },
		"unknown op":   func(op *sdk.Operation) { op.Op = "frobnicate" },
		"org password": func(op *sdk.Operation) { op.Kind, op.Op = sdk.KindOrg, sdk.OpPassword },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			op := userCreate()
			mutate(&op)
			if ev, err := callback.NewEvent(op, at); err == nil {
				t.Errorf("NewEvent = %+v, want an error", ev)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tests := map[string]struct {
		json    string
		want    callback.Attributes
		wantErr string
	}{
		"forms": {
			json: `{"s":"x","n":9007199254740993,"neg":-1,"b":false,"l":["a","b"],"e":[],"z":null}`,
			want: callback.Attributes{"s": "x", "n": int64(9007199254740993), "neg": int64(-1), "b": false, "l": []string{"a", "b"}, "e": []string{}, "z": nil},
		},
		"fraction":       {json: `{"n":1.5}`, wantErr: `attribute "n": number 1.5 is not a 64-bit integer`},
		"exponent":       {json: `{"n":1e3}`, wantErr: `attribute "n": number 1e3 is not a 64-bit integer`},
		"object":         {json: `{"o":{"a":1}}`, wantErr: `attribute "o": an object is not an attribute value`},
		"mixed list":     {json: `{"l":["a",1]}`, wantErr: `attribute "l": list item 1 is a number, not a string`},
		"null attribute": {json: `null`, want: nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got callback.Attributes
			err := json.Unmarshal([]byte(tt.json), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	a := callback.Attributes{"s": "x", "n": int64(3), "b": true, "t": "2024-03-01T08:00:00+08:00", "l": []string{"a"}}
	if got := a.String("s"); got != "x" {
		t.Errorf("String(s) = %q", got)
	}
	if got, ok := a.Int("n"); got != 3 || !ok {
		t.Errorf("Int(n) = %d, %t", got, ok)
	}
	if _, ok := a.Int("s"); ok {
		t.Errorf("Int(s) ok for a string")
	}
	if got, ok := a.Bool("b"); !got || !ok {
		t.Errorf("Bool(b) = %t, %t", got, ok)
	}
	if got, err := a.Time("t"); err != nil || !got.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Time(t) = %v, %v", got, err)
	}
	if _, err := a.Time("s"); err == nil {
		t.Errorf("Time(s) parsed %q", "x")
	}
	if diff := cmp.Diff([]string{"a"}, a.Strings("l")); diff != "" {
		t.Errorf("Strings(l) (-want +got):\n%s", diff)
	}
	if v, err := a.Value("missing", sdk.TypeString); err != nil || !v.IsNull() {
		t.Errorf("Value(missing) = %#v, %v; want null", v, err)
	}
	if _, err := a.Value("n", sdk.TypeString); err == nil || err.Error() != `attribute "n" is a number, not a string` {
		t.Errorf("Value(n, string) error = %v", err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := map[string]struct {
		body        string
		wantVersion bool
		wantErr     string
	}{
		"no version":       {body: `{"eventId":"e","eventType":"test"}`, wantVersion: true, wantErr: "carries no wire format version"},
		"version 2":        {body: `{"version":"2","eventId":"e","eventType":"test"}`, wantVersion: true, wantErr: `unsupported callback wire format version "2"`},
		"numeric version":  {body: `{"version":1,"eventId":"e","eventType":"test"}`, wantVersion: true},
		"not JSON":         {body: `hello`, wantErr: "not a JSON object"},
		"no event id":      {body: `{"version":"1","eventType":"test"}`, wantErr: "no eventId"},
		"unknown type":     {body: `{"version":"1","eventId":"e","eventType":"user.rename"}`, wantErr: `unknown eventType "user.rename"`},
		"no object":        {body: `{"version":"1","eventId":"e","eventType":"user.create"}`, wantErr: "without an object"},
		"no hub id":        {body: `{"version":"1","eventId":"e","eventType":"user.create","object":{"kind":"user"}}`, wantErr: "no hubId"},
		"kind mismatch":    {body: `{"version":"1","eventId":"e","eventType":"user.create","object":{"kind":"org","hubId":"h"}}`, wantErr: "does not match"},
		"parent no hub id": {body: `{"version":"1","eventId":"e","eventType":"org.move","object":{"kind":"org","hubId":"h","parent":{"targetId":"1"}}}`, wantErr: "parent has no hubId"},
		"bad attribute":    {body: `{"version":"1","eventId":"e","eventType":"user.update","object":{"kind":"user","hubId":"h","attributes":{"x":1.5}}}`, wantErr: "not a 64-bit integer"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ev, err := callback.Unmarshal([]byte(tt.body))
			if err == nil {
				t.Fatalf("Unmarshal = %+v, want an error", ev)
			}
			var ve *callback.VersionError
			if errors.As(err, &ve) != tt.wantVersion {
				t.Errorf("error %v: version error %t, want %t", err, !tt.wantVersion, tt.wantVersion)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	// Unknown fields are ignored: later minor versions add fields.
	ev, err := callback.Unmarshal([]byte(`{"version":"1","eventId":"e","eventType":"test","timestamp":"2026-11-03T09:12:44Z","nonce":"abc"}`))
	if err != nil || ev.Type != callback.EventTest {
		t.Errorf("Unmarshal with an unknown field = %+v, %v", ev, err)
	}
}

// b64 is a stand-in Sealer and Opener: it proves the steps see, and may
// change, body and headers.
type b64 struct{}

func (b64) Seal(body []byte, h http.Header) ([]byte, error) {
	h.Set("Content-Type", "text/plain")
	h.Set("X-Test-Sealed", "yes")
	return []byte(base64.StdEncoding.EncodeToString(body)), nil
}

func (b64) Open(_ context.Context, body []byte, h http.Header) ([]byte, error) {
	if h.Get("X-Test-Sealed") != "yes" {
		return nil, errors.New("not sealed")
	}
	return base64.StdEncoding.DecodeString(string(body))
}

func TestEncoderDecoder(t *testing.T) {
	ev, err := callback.NewEvent(userCreate(), at)
	if err != nil {
		t.Fatal(err)
	}
	enc := callback.Encoder{URL: "https://app.example.com/hook", Token: "s3cret", Nonce: func() string { return "00112233445566778899aabbccddeeff" }}
	req, err := enc.NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := map[string]string{
		"Authorization":         "Bearer s3cret",
		"Content-Type":          "application/json",
		"Idempotency-Key":       "01JC7Q1V8X8Y4K2M3N5P6R7S8T",
		"User-Agent":            "Midstream-Callback/1",
		"X-Midstream-Event":     "user.create",
		"X-Midstream-Hub-Id":    "u_8f14e45f",
		"X-Midstream-Version":   "1",
		"X-Midstream-Timestamp": "1793697164512",
		"X-Midstream-Nonce":     "00112233445566778899aabbccddeeff",
	}
	gotHeaders := map[string]string{}
	for k := range req.Header {
		gotHeaders[k] = req.Header.Get(k)
	}
	if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if req.Method != http.MethodPost || req.URL.String() != enc.URL || req.GetBody == nil {
		t.Errorf("request %s %s (GetBody set: %t)", req.Method, req.URL, req.GetBody != nil)
	}

	// The decoder reads what the encoder built.
	var dec callback.Decoder
	got, err := dec.Decode(serverRequest(t, req))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}

	// A Sealer and an Opener slot in around the JSON.
	enc.Sealer = b64{}
	req, err = enc.NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Decode(serverRequest(t, req)); err == nil {
		t.Errorf("a plain decoder read a sealed body")
	}
	req, _ = enc.NewRequest(context.Background(), ev)
	got, err = (&callback.Decoder{Opener: b64{}}).Decode(serverRequest(t, req))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("Decode of a sealed request (-want +got):\n%s", diff)
	}
}

// serverRequest turns a client request into what a handler receives.
func serverRequest(t *testing.T, req *http.Request) *http.Request {
	t.Helper()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
	r.Header = req.Header.Clone()
	return r
}

func TestDecodeErrors(t *testing.T) {
	body := `{"version":"1","eventId":"e1","eventType":"user.delete","timestamp":"2026-11-03T09:12:44.512Z","object":{"kind":"user","hubId":"h1","targetId":"7"}}`
	tests := map[string]struct {
		headers     map[string]string
		body        string
		max         int64
		wantErr     string
		wantVersion bool
		wantTooBig  bool
	}{
		"no version header":   {headers: map[string]string{"X-Midstream-Version": ""}, wantErr: "no wire format version", wantVersion: true},
		"version 2 header":    {headers: map[string]string{"X-Midstream-Version": "2"}, wantErr: `version "2"`, wantVersion: true},
		"wrong content type":  {headers: map[string]string{"Content-Type": "text/xml"}, wantErr: `content type "text/xml"`},
		"key mismatch":        {headers: map[string]string{"Idempotency-Key": "e2"}, wantErr: "Idempotency-Key"},
		"event type mismatch": {headers: map[string]string{"X-Midstream-Event": "user.create"}, wantErr: "X-Midstream-Event"},
		"hub id mismatch":     {headers: map[string]string{"X-Midstream-Hub-Id": "h2"}, wantErr: "X-Midstream-Hub-Id"},
		"timestamp mismatch":  {headers: map[string]string{"X-Midstream-Timestamp": "1793697164513"}, wantErr: "X-Midstream-Timestamp"},
		"too large":           {max: 20, wantErr: "too large", wantTooBig: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("X-Midstream-Version", "1")
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			dec := callback.Decoder{MaxBodyBytes: tt.max}
			ev, err := dec.Decode(r)
			if err == nil {
				t.Fatalf("Decode = %+v, want an error", ev)
			}
			var ve *callback.VersionError
			if errors.As(err, &ve) != tt.wantVersion || errors.Is(err, callback.ErrBodyTooLarge) != tt.wantTooBig {
				t.Errorf("error %v: wrong type", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckBearer(t *testing.T) {
	tests := map[string]struct {
		header string
		want   bool
	}{
		"right":            {header: "Bearer s3cret", want: true},
		"scheme any case":  {header: "bearer s3cret", want: true},
		"wrong":            {header: "Bearer s3cre", want: false},
		"longer":           {header: "Bearer s3cret2", want: false},
		"basic":            {header: "Basic s3cret", want: false},
		"none":             {header: "", want: false},
		"scheme only":      {header: "Bearer", want: false},
		"scheme and space": {header: "Bearer ", want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			if got := callback.CheckBearer(h, "s3cret"); got != tt.want {
				t.Errorf("CheckBearer(%q) = %t, want %t", tt.header, got, tt.want)
			}
		})
	}
	if callback.CheckBearer(http.Header{"Authorization": {"Bearer x"}}, "") {
		t.Errorf("an empty expected token accepted a request")
	}
}

func TestClone(t *testing.T) {
	ev, _ := callback.NewEvent(userCreate(), at)
	c := ev.Clone()
	c.Object.Attributes["groups"].([]string)[0] = "changed"
	c.Object.Parent.TargetID = "changed"
	c.Object.Orgs[0].TargetID = "changed"
	orig, _ := callback.NewEvent(userCreate(), at)
	if diff := cmp.Diff(orig, ev); diff != "" {
		t.Errorf("changing a clone changed the original (-want +got):\n%s", diff)
	}
}

func TestResponseJSON(t *testing.T) {
	tests := map[string]struct {
		json    string
		want    callback.Response
		wantErr bool
	}{
		"strings":      {json: `{"id":"42","status":"exists","code":"E1","message":"m"}`, want: callback.Response{ID: "42", Status: "exists", Code: "E1", Message: "m"}},
		"number id":    {json: `{"id":10042,"code":400}`, want: callback.Response{ID: "10042", Code: "400"}},
		"big number":   {json: `{"id":12345678901234567890}`, want: callback.Response{ID: "12345678901234567890"}},
		"null id":      {json: `{"id":null,"status":"ok"}`, want: callback.Response{Status: "ok"}},
		"empty":        {json: `{}`},
		"unknown keys": {json: `{"id":"1","data":{"x":1}}`, want: callback.Response{ID: "1"}},
		"object id":    {json: `{"id":{"v":1}}`, wantErr: true},
		"bool code":    {json: `{"code":true}`, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got callback.Response
			err := json.Unmarshal([]byte(tt.json), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %t", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Marshalling stays plain.
	b, _ := json.Marshal(callback.Response{ID: "7", Status: callback.StatusOK})
	if string(b) != `{"id":"7","status":"ok"}` {
		t.Errorf("Marshal = %s", b)
	}
}
