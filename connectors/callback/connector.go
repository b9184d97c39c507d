// Package callback is the callback target: it delivers every sync event
// to an application as one HTTPS POST of a JSON event (wire format version
// 1, package sdk/callback), or, with batch_size, many concurrent events in
// one request, encrypted with AES-GCM and signed with HMAC or a JWS when
// configured, and links the id the application answers.
//
// See README.md for the configuration, the wire format and the error
// classification.
package callback

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// Example is the connector's sample configuration block body, printed by
// `midstream plugins sample callback`.
//
//go:embed example.hcl
var Example string

const (
	name    = "callback"
	version = "0.1.0"

	// bodyExcerptBytes is how much of an answer is kept with the event.
	bodyExcerptBytes = 512
	// maxAnswerBytes is how much of an answer is read.
	maxAnswerBytes = 1 << 20
	// maxBatchAnswerBytes is how much of the answer to a batch is read:
	// a result per event, each with its message.
	maxBatchAnswerBytes = 16 << 20
	// maxRetryAfter caps the wait an application may ask for.
	maxRetryAfter = 24 * time.Hour
)

// Connector is the callback target. Configure it before any other call
// but Metadata and Schema; after that it is safe for concurrent use.
type Connector struct {
	cfg    config
	enc    wire.Encoder
	client *http.Client
	now    func() time.Time
	nonce  func() string // nil: wire.NewNonce
	rand   io.Reader     // nil: crypto/rand (the IVs)
	batch  *batcher      // nil: one request per event
}

var (
	_ sdk.Target           = (*Connector)(nil)
	_ sdk.ConnectionTester = (*Connector)(nil)
	_ sdk.Closer           = (*Connector)(nil)
)

// New returns an unconfigured callback target.
func New() *Connector { return &Connector{now: time.Now} }

// Metadata names the connector.
func (c *Connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Name:        name,
		Version:     version,
		Description: "Delivers each sync event to an application as an HTTPS POST of a JSON event (Midstream callback wire format v" + wire.Version + ").",
	}
}

// Schema declares the configuration block.
func (c *Connector) Schema() sdk.Schema { return schema() }

// Configure validates the configuration and prepares the HTTP client.
func (c *Connector) Configure(_ context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	cfg, diags := parseConfig(req)
	resp.Diagnostics = append(resp.Diagnostics, diags...)
	if diags.HasError() {
		return
	}
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.roots}
	// The host runs at most the target's concurrency (at most 256) of
	// applies at once; keep that many connections warm.
	tr.MaxIdleConnsPerHost = 256
	sealer, err := wire.NewSealer(wire.SealConfig{EncryptionKey: cfg.encKey, HMACKey: cfg.hmacKey, SigningKey: cfg.signer, Rand: c.rand})
	if err != nil {
		resp.Diagnostics.AddError(nil, "Invalid security settings", err.Error()+".")
		return
	}
	c.cfg = cfg
	c.enc = wire.Encoder{URL: cfg.url, Token: cfg.token, Sealer: sealer, Nonce: c.nonce}
	if c.batch != nil {
		c.batch.close()
		c.batch = nil
	}
	if cfg.batchSize > 1 {
		c.batch = newBatcher(c, cfg.batchSize, cfg.batchWait)
	}
	resp.MaxBatch = cfg.batchSize
	c.client = &http.Client{
		Transport: tr,
		Timeout:   cfg.timeout,
		// A POST must not turn into a GET, nor the token follow a
		// redirect: a 3xx is reported so the URL can be fixed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close ends batch requests in flight, answers events waiting for a batch,
// and releases idle connections.
func (c *Connector) Close() error {
	if c.batch != nil {
		c.batch.close()
	}
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
	return nil
}

// Apply sends op to the application as one event, alone or in a batch
// with other concurrent ones (batch_size), and classifies the answer (see
// README.md, "Errors").
func (c *Connector) Apply(ctx context.Context, op sdk.Operation) (sdk.Result, error) {
	if c.client == nil {
		return sdk.Result{}, &sdk.Error{Category: sdk.CategoryPermanent, Message: "callback target used before Configure"}
	}
	ev, err := c.event(op)
	if err != nil {
		return sdk.Result{}, err
	}
	switch c.cfg.format {
	case formatOneAccess:
		return c.applyOneAccess(ctx, op, ev)
	case formatIDaaS:
		return c.applyIDaaS(ctx, op, ev)
	}
	if c.batch != nil {
		return c.batch.apply(ctx, op, ev)
	}
	a, err := c.send(ctx, ev)
	if err != nil {
		return sdk.Result{}, transportError(err, c.cfg.timeout)
	}
	return c.result(op, a)
}

// event builds the event of op, with its password when password sync is
// on: only in a create or a password change, and only encrypted (Configure
// refuses password_sync without encryption).
func (c *Connector) event(op sdk.Operation) (*wire.Event, error) {
	if op.Op == sdk.OpPassword && !c.cfg.passwordSync {
		return nil, &sdk.Error{Category: sdk.CategoryPermanent,
			Message: "password sync is off for this target: set password_sync = true (with encryption) to send password changes"}
	}
	ev, err := wire.NewEvent(op, c.now())
	if err != nil {
		return nil, &sdk.Error{Category: sdk.CategoryPermanent, Message: err.Error(), Err: err}
	}
	if !c.cfg.passwordSync || (op.Op != sdk.OpCreate && op.Op != sdk.OpPassword) || op.Kind != sdk.KindUser {
		return ev, nil
	}
	pw := op.Attributes[wire.PasswordAttribute]
	if pw.Type() != sdk.TypeString || pw.Str() == "" {
		if op.Op == sdk.OpPassword {
			return nil, &sdk.Error{Category: sdk.CategoryPermanent,
				Message: fmt.Sprintf("the password change of user %s carries no password", op.HubID)}
		}
		return ev, nil // a create without a password
	}
	if c.cfg.encKey == nil {
		// Configure never allows this; refuse rather than send in clear.
		return nil, &sdk.Error{Category: sdk.CategoryPermanent, Message: "a password is only sent encrypted, and this target does not encrypt"}
	}
	ev.Object.Password = pw.Str()
	return ev, nil
}

// answer is the application's HTTP answer.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

// send posts ev and reads the answer. How many sends run at once is the
// host's to decide (the target's concurrency, enforced by the SDK).
func (c *Connector) send(ctx context.Context, ev *wire.Event) (*answer, error) {
	req, err := c.enc.NewRequest(ctx, ev)
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

// do sends req and reads the answer.
func (c *Connector) do(req *http.Request) (*answer, error) { return c.doLimit(req, maxAnswerBytes) }

// doLimit sends req and reads up to limit bytes of the answer.
func (c *Connector) doLimit(req *http.Request, limit int64) (*answer, error) {
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("read the answer to %s: %w", c.cfg.url, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: body, elapsed: time.Since(start)}, nil
}

// result classifies an HTTP answer to op.
func (c *Connector) result(op sdk.Operation, a *answer) (sdk.Result, error) {
	var r wire.Response
	isJSON := len(a.body) > 0 && json.Unmarshal(a.body, &r) == nil
	excerpt := bodyExcerpt(a.body)
	fail := func(cat sdk.Category, msg string) (sdk.Result, error) {
		e := &sdk.Error{Category: cat, Code: r.Code, Message: r.Message, HTTPStatus: a.status, BodyExcerpt: excerpt}
		if e.Message == "" {
			e.Message = msg
		}
		if cat.Retryable() {
			e.RetryAfter = parseRetryAfter(a.header.Get(wire.HeaderRetryAfter), c.now())
		}
		return sdk.Result{}, e
	}
	if a.status >= 400 && isJSON {
		if cat, hint, ok := rejectionCategory(r.Code); ok {
			msg := r.Message
			if msg == "" {
				msg = http.StatusText(a.status)
			}
			r.Message = msg + "; " + hint
			return fail(cat, "")
		}
	}
	switch s := a.status; {
	case s >= 200 && s < 300:
		res := sdk.Result{TargetID: r.ID, Status: s, BodyExcerpt: excerpt}
		if op.Op != sdk.OpCreate {
			return res, nil
		}
		if !isJSON || r.ID == "" {
			e := &sdk.Error{Category: sdk.CategoryPermanent, HTTPStatus: s, BodyExcerpt: excerpt,
				Message: fmt.Sprintf(`the application answered the create of %s %s without an id: a create's answer must be JSON such as {"id": "..."}`, op.Kind, op.HubID)}
			return sdk.Result{}, e
		}
		if r.Status == wire.StatusExists {
			// The receiver held this hub id and applied the create's values
			// to it as an update.
			res.Outcome = sdk.OutcomeMatched
		}
		return res, nil
	case s == http.StatusTooManyRequests:
		return fail(sdk.CategoryRateLimited, "the application asked to slow down")
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s >= 500:
		return fail(sdk.CategoryRetryable, http.StatusText(s))
	case s == http.StatusNotFound && r.Code == wire.CodeNotFound && op.Op == sdk.OpDelete:
		return sdk.Result{Status: s, BodyExcerpt: excerpt}, nil // already gone
	case s == http.StatusNotFound && r.Code == wire.CodeNotFound && op.Op != sdk.OpCreate:
		// Only with the code: a bare 404 may be a wrong url.
		return fail(sdk.CategoryNotFound, fmt.Sprintf("the application does not hold %s %s (deleted there?)", op.Kind, op.HubID))
	case s == http.StatusConflict:
		msg := "the application already holds this object under an id the hub does not know"
		if r.ID != "" {
			msg += fmt.Sprintf(" (%s); link it with `midstream links set`", r.ID)
		}
		return fail(sdk.CategoryConflict, msg)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fail(sdk.CategoryPermanent, "the application rejected the bearer token; check the target's token")
	case s >= 300 && s < 400:
		return fail(sdk.CategoryPermanent, fmt.Sprintf("the application redirected to %q; set url to the final address (redirects are not followed)", a.header.Get("Location")))
	}
	return fail(sdk.CategoryPermanent, http.StatusText(a.status))
}

// rejectionCategory classifies the answer of a receiver that refused a
// request before reading its event (the codes of package sdk/callback),
// with a hint on what to fix.
func rejectionCategory(code string) (sdk.Category, string, bool) {
	switch code {
	case wire.CodeInvalidToken:
		return sdk.CategoryPermanent, "check the target's token", true
	case wire.CodeInvalidSignature:
		return sdk.CategoryPermanent, "check that the application verifies with the target's signature settings (signature_key, or the hub's JWKS for jws)", true
	case wire.CodeDecryptionFailed, wire.CodeEncryptionRequired:
		return sdk.CategoryPermanent, "check that the application and the target share the same encryption_key", true
	case wire.CodeUnknownKey, wire.CodeKeysUnavailable:
		// The application may not have read the hub's JWKS since a key
		// rotation, or the hub's JWKS endpoint may be down: retry.
		return sdk.CategoryRetryable, "the application must be able to read the hub's /.well-known/jwks.json", true
	case wire.CodeStaleTimestamp:
		return sdk.CategoryRetryable, "the hub's and the application's clocks differ: synchronize them (NTP)", true
	case wire.CodeReplayedNonce:
		return sdk.CategoryRetryable, "the next attempt carries a fresh nonce", true
	case wire.CodeUnsupportedVersion:
		return sdk.CategoryPermanent, "the application speaks another version of the callback wire format", true
	}
	return "", "", false
}

// transportError classifies a request that got no HTTP answer: always
// retryable (the application may not have seen it, or may have applied it;
// the event id makes the resend safe).
func transportError(err error, timeout time.Duration) *sdk.Error {
	msg := err.Error()
	if isTimeout(err) {
		msg = fmt.Sprintf("no answer within %s: %v", timeout, err)
	}
	return &sdk.Error{Category: sdk.CategoryRetryable, Message: msg, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. Unparsable or past values are 0; longer waits than maxRetryAfter
// are capped.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// bodyExcerpt returns the first bodyExcerptBytes of b as valid UTF-8,
// without a rune cut in half.
func bodyExcerpt(b []byte) string {
	if len(b) > bodyExcerptBytes {
		b = b[:bodyExcerptBytes]
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// TestConnection sends the test event and reports DNS, connection, TLS
// and HTTP problems as located diagnostics.
func (c *Connector) TestConnection(ctx context.Context, _ sdk.TestConnectionRequest, resp *sdk.TestConnectionResponse) {
	if c.client == nil {
		resp.Diagnostics.AddError(nil, "Not configured", "The callback target was not configured; fix its configuration errors first.")
		return
	}
	ev := wire.NewTestEvent(testEventID(), c.now())
	var (
		a   *answer
		err error
	)
	switch c.cfg.format {
	case formatOneAccess:
		a, err = c.testOneAccess(ctx, resp)
	case formatIDaaS:
		a, err = c.sendIDaaS(ctx, ev)
	default:
		a, err = c.send(ctx, ev)
	}
	if a == nil && err == nil {
		return // the profile reported
	}
	if err != nil {
		diagnoseTransport(&resp.Diagnostics, c.cfg, err)
		return
	}
	got := fmt.Sprintf("HTTP %d from %s in %s", a.status, c.cfg.url, a.elapsed.Round(time.Millisecond))
	if ex := bodyExcerpt(a.body); ex != "" {
		got += ": " + ex
	}
	var r wire.Response
	if a.status >= 400 && json.Unmarshal(a.body, &r) == nil && r.Code != "" {
		if c.diagnoseRejection(&resp.Diagnostics, r, got) {
			return
		}
	}
	switch s := a.status; {
	case s >= 200 && s < 300:
		resp.Detail = fmt.Sprintf("HTTP %d from %s in %s%s", a.status, c.cfg.url, a.elapsed.Round(time.Millisecond), c.securityDetail())
		if c.batch != nil {
			c.testBatch(ctx, resp)
		}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		resp.Diagnostics.AddError(sdk.Path{tokenField}, "Token rejected",
			fmt.Sprintf("The application refused the test event: %s. Set token to the token the application expects.", got))
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		resp.Diagnostics.AddError(sdk.Path{urlField}, "Callback endpoint not found",
			fmt.Sprintf("%s. Check the url's path: it must be the application's callback endpoint, which accepts POST.", got))
	case s >= 300 && s < 400:
		resp.Diagnostics.AddError(sdk.Path{urlField}, "Callback URL redirects",
			fmt.Sprintf("%s, redirecting to %q. Set url to the final address: redirects are not followed.", got, a.header.Get("Location")))
	case s == http.StatusTooManyRequests || s >= 500:
		resp.Diagnostics.AddError(sdk.Path{urlField}, "Application unavailable",
			fmt.Sprintf("%s. The application is reachable but failing or overloaded; events would be retried.", got))
	default:
		resp.Diagnostics.AddError(sdk.Path{urlField}, "Test event refused",
			fmt.Sprintf("%s. The application must answer the test event (eventType \"test\") with 2xx.", got))
	}
}

// testBatch sends the test event again, as a batch of one, to check that
// the application reads batch requests: one that does not would fail every
// event sent in a batch.
func (c *Connector) testBatch(ctx context.Context, resp *sdk.TestConnectionResponse) {
	ev := wire.NewTestEvent(testEventID(), c.now())
	req, _, err := c.enc.NewBatchRequest(ctx, []*wire.Event{ev})
	if err != nil {
		resp.Diagnostics.AddError(sdk.Path{batchSizeField}, "Cannot build a batch request", err.Error()+".")
		return
	}
	a, err := c.do(req)
	if err != nil {
		diagnoseTransport(&resp.Diagnostics, c.cfg, err)
		return
	}
	got := fmt.Sprintf("HTTP %d from %s", a.status, c.cfg.url)
	if ex := bodyExcerpt(a.body); ex != "" {
		got += ": " + ex
	}
	if a.status >= 200 && a.status < 300 {
		rs, err := wire.UnmarshalBatchResponse(a.body, []string{ev.ID})
		if err == nil && rs[0] != nil && rs[0].StatusCode() >= 200 && rs[0].StatusCode() < 300 {
			resp.Detail += fmt.Sprintf("; batches of up to %d events accepted", c.cfg.batchSize)
			return
		}
	}
	resp.Diagnostics.AddError(sdk.Path{batchSizeField}, "Application does not accept batches",
		fmt.Sprintf("The test event, sent again as a batch request (X-Midstream-Event: batch), was answered %s. "+
			"With batch_size = %d every event would fail so: the application must read batch requests and answer {\"results\": [...]} (sdk/receiver does; see the README's \"Batches\"), or set batch_size = 1.", got, c.cfg.batchSize))
}

// securityDetail says how the test event was protected.
func (c *Connector) securityDetail() string {
	var parts []string
	if c.cfg.encKey != nil {
		parts = append(parts, fmt.Sprintf("encrypted with AES-%d-GCM", len(c.cfg.encKey)*8))
	}
	switch {
	case c.cfg.hmacKey != nil:
		parts = append(parts, "signed with HMAC-SHA256")
	case c.cfg.signer != nil:
		parts = append(parts, fmt.Sprintf("signed with %s key %s", c.cfg.signer.Alg, c.cfg.signer.KID))
	}
	if len(parts) == 0 {
		return " (neither encrypted nor signed)"
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// diagnoseRejection reports a test event the application refused before
// reading it, as its answer's code says, located at the setting to fix.
func (c *Connector) diagnoseRejection(diags *sdk.Diagnostics, r wire.Response, got string) bool {
	sigPath := sdk.Path{signatureKeyField}
	if c.cfg.signature != signatureHMAC {
		sigPath = sdk.Path{signatureField}
	}
	switch r.Code {
	case wire.CodeInvalidToken:
		diags.AddError(sdk.Path{tokenField}, "Token rejected",
			fmt.Sprintf("The application refused the test event: %s. Set token to the token the application expects.", got))
	case wire.CodeInvalidSignature:
		detail := "Give the application the same signature_key as the target."
		switch c.cfg.signature {
		case signatureJWS:
			detail = fmt.Sprintf("The request was signed with the hub's %s key %s: the application must verify with this hub's public keys, https://HUB/.well-known/jwks.json (or `midstream keys export`).", c.cfg.signer.Alg, c.cfg.signer.KID)
		case signatureNone:
			detail = `The application requires signed requests: set signature_key (HMAC) or signature = "jws" as it expects.`
		}
		diags.AddError(sigPath, "Signature rejected", fmt.Sprintf("The application refused the test event's signature: %s. %s", got, detail))
	case wire.CodeUnknownKey:
		diags.AddError(sdk.Path{signatureField}, "Signing key unknown to the application",
			fmt.Sprintf("%s. The application does not find the hub's key in the JWKS it reads: point it at this hub's /.well-known/jwks.json (served by `midstream run`), or give it a fresh `midstream keys export`.", got))
	case wire.CodeKeysUnavailable:
		diags.AddError(sdk.Path{signatureField}, "Application cannot read the hub's keys",
			fmt.Sprintf("%s. The application could not fetch the hub's JWKS: make /.well-known/jwks.json of `midstream run` reachable from it.", got))
	case wire.CodeDecryptionFailed:
		detail := "Give the application the same encryption_key as the target."
		if c.cfg.encKey == nil {
			detail = "The target does not encrypt; the application does not expect plain requests, or reads them wrongly."
		}
		diags.AddError(sdk.Path{encryptionKeyField}, "Decryption failed at the application",
			fmt.Sprintf("The application could not decrypt the test event: %s. %s", got, detail))
	case wire.CodeEncryptionRequired:
		diags.AddError(sdk.Path{encryptionKeyField}, "Application expects encrypted callbacks",
			fmt.Sprintf("%s. Set encryption_key to the key the application uses.", got))
	case wire.CodeStaleTimestamp:
		diags.AddError(nil, "Clocks out of sync",
			fmt.Sprintf("%s. The application's clock and this machine's differ by more than its replay window: synchronize both with NTP.", got))
	case wire.CodeReplayedNonce:
		diags.AddError(nil, "Request refused as a replay",
			fmt.Sprintf("%s. The application saw this request's nonce before; something between the hub and the application may be resending requests.", got))
	case wire.CodeUnsupportedVersion:
		diags.AddError(sdk.Path{urlField}, "Unsupported wire format version",
			fmt.Sprintf("%s. The application speaks another version of the callback wire format.", got))
	default:
		return false
	}
	return true
}

func testEventID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

// diagnoseTransport turns a failed request into a precise diagnostic.
func diagnoseTransport(diags *sdk.Diagnostics, cfg config, err error) {
	var (
		dnsErr    *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
	)
	p := sdk.Path{urlField}
	switch {
	case errors.As(err, &dnsErr):
		diags.AddError(p, "Host not found",
			fmt.Sprintf("The host %q could not be resolved: %v. Check the url's host name and this machine's DNS settings.", dnsErr.Name, dnsErr.Err))
	case errors.As(err, &unknownCA):
		diags.AddError(sdk.Path{caFileField}, "Untrusted certificate",
			fmt.Sprintf("The certificate of %s is signed by an authority this machine does not trust (%v). Set ca_file to the PEM file of the CA that issued it, or add that CA to the system's trust store.", cfg.url, err))
	case errors.As(err, &hostErr):
		diags.AddError(p, "Certificate does not match the host",
			fmt.Sprintf("%v. Use the host name the certificate was issued for in url.", hostErr))
	case errors.As(err, &invalid):
		diags.AddError(p, "Invalid certificate",
			fmt.Sprintf("The certificate of %s is not valid: %v. The application's certificate must be renewed or fixed.", cfg.url, invalid))
	case errors.As(err, &notTLS) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		diags.AddError(p, "Not a TLS server",
			fmt.Sprintf("The server at %s did not answer in TLS (%v). If the application serves plain HTTP, the url must start with http://.", cfg.url, err))
	case errors.Is(err, syscall.ECONNREFUSED):
		diags.AddError(p, "Connection refused",
			fmt.Sprintf("Nothing accepts connections at %s (%v). Check the url's host and port, and that the application is running.", cfg.url, err))
	case isTimeout(err):
		diags.AddError(p, "No answer",
			fmt.Sprintf("%s did not answer within %s (%v). Check that the application is running and reachable from this machine (firewall, proxy), or raise timeout.", cfg.url, cfg.timeout, err))
	default:
		diags.AddError(p, "Connection failed", fmt.Sprintf("The test event could not be sent to %s: %v.", cfg.url, err))
	}
}
