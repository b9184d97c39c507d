package callback

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// The configuration attributes of a callback target block.
const (
	urlField           = "url"
	tokenField         = "token"
	timeoutField       = "timeout"
	caFileField        = "ca_file"
	encryptionField    = "encryption"
	encryptionKeyField = "encryption_key"
	signatureField     = "signature"
	signatureKeyField  = "signature_key"
	signatureAlgField  = "signature_alg"
	signingKeyField    = "signing_key"
	passwordSyncField  = "password_sync"
	formatField        = "format"
	oaIVField          = "oneaccess_iv"
	oaTimestampField   = "oneaccess_timestamp_unit"
	oaDisableField     = "oneaccess_disable"
	idaasAppField      = "idaas_application_id"
	idaasInstanceField = "idaas_instance_id"
	batchSizeField     = "batch_size"
	batchWaitField     = "batch_wait"
)

// The formats: Midstream's wire format, or a compatibility profile.
const (
	formatMidstream = "midstream"
	formatOneAccess = "oneaccess"
	formatIDaaS     = "idaas"
)

// The values of the encryption and signature settings.
const (
	encryptionAESGCM = "aes-gcm"
	encryptionNone   = "none"
	signatureHMAC    = "hmac"
	signatureJWS     = "jws"
	signatureNone    = "none"
	// minSignatureKey is the shortest signature key accepted, in bytes.
	minSignatureKey = 16
)

// SigningKeyField is the setting through which the hub hands its private
// signing key to a target with signature = "jws" (package core/keys).
const SigningKeyField = signingKeyField

const (
	defaultTimeout = 10 * time.Second
	maxTimeout     = 5 * time.Minute

	// maxBatchSize is the most events one batch request carries, the
	// wire format's limit.
	maxBatchSize     = wire.MaxBatchEvents
	defaultBatchWait = 5 * time.Millisecond
	// maxBatchWait bounds the latency batching may add to an event.
	maxBatchWait = time.Second
)

func schema() sdk.Schema {
	return sdk.Schema{Fields: []sdk.Field{
		{
			Name:     urlField,
			Type:     sdk.FieldString,
			Required: true,
			Description: "The application's callback endpoint, an absolute http:// or https:// URL. " +
				"Every event is POSTed to it as one JSON request (or with others, in a batch request: see batch_size); redirects are not followed. " +
				"Use https: the bearer token and every attribute travel in the request, so `validate` warns about http:// on any host but localhost.",
			Example: "https://app.example.com/midstream/callback",
		},
		{
			Name:      tokenField,
			Type:      sdk.FieldString,
			Sensitive: true,
			Description: "The bearer token sent as `Authorization: Bearer <token>` on every request, which the application checks. " +
				"Set it with env() or file(); surrounding spaces and line breaks (as file() reads them) are removed. " +
				"Optional, but without it the application cannot tell the hub's requests from anyone else's, so `validate` warns.",
			Example: `env("APP_TOKEN")`,
		},
		{
			Name:    encryptionField,
			Type:    sdk.FieldString,
			Options: []string{encryptionAESGCM, encryptionNone},
			Description: "How request bodies are encrypted: \"aes-gcm\" (AES/GCM/NoPadding with encryption_key, a fresh random IV per request; AES-128 or AES-256 by the key's length) or \"none\". " +
				"Unset, it is \"aes-gcm\" when encryption_key is set and \"none\" otherwise. " +
				"Without encryption the event (and every attribute) is readable by whatever terminates TLS on the way, so `validate` warns; password_sync needs encryption.",
		},
		{
			Name:      encryptionKeyField,
			Type:      sdk.FieldString,
			Sensitive: true,
			Description: "The key of encryption = \"aes-gcm\", shared with the application: exactly 16 characters (AES-128, the key is their bytes) or exactly 64 hex characters (AES-256, 32 bytes; generate one with `openssl rand -hex 32`). " +
				"Any other length is an error. Set it with env() or file(); surrounding spaces and line breaks are removed.",
			Example: `env("APP_ENCRYPTION_KEY")`,
		},
		{
			Name:    signatureField,
			Type:    sdk.FieldString,
			Options: []string{signatureHMAC, signatureJWS, signatureNone},
			Description: "How requests are signed: \"hmac\" (HMAC-SHA256 with signature_key over timestamp, nonce and body), \"jws\" (a JWS by the hub's own key, signature_alg, which the application verifies with the hub's public keys at https://HUB/.well-known/jwks.json) or \"none\". " +
				"Unset, it is \"hmac\" when signature_key is set and \"none\" otherwise. " +
				"With \"jws\" the hub generates and keeps the key pair in its store, encrypted with the pipeline's keys_encryption_key, which must then be set.",
		},
		{
			Name:      signatureKeyField,
			Type:      sdk.FieldString,
			Sensitive: true,
			Description: "The HMAC key of signature = \"hmac\", shared with the application: at least 16 characters, best 32 random ones (`openssl rand -base64 32`). " +
				"Set it with env() or file(); surrounding spaces and line breaks are removed.",
			Example: `env("APP_SIGNATURE_KEY")`,
		},
		{
			Name:    signatureAlgField,
			Type:    sdk.FieldString,
			Options: []string{wire.RS256, wire.ES256},
			Description: "The JWS algorithm of signature = \"jws\": \"RS256\" (RSA 2048, the most widely supported; the default) or \"ES256\" (ECDSA P-256, smaller and faster). " +
				"The hub keeps one key per algorithm, shared by every target that uses it.",
		},
		{
			Name:      signingKeyField,
			Type:      sdk.FieldString,
			Sensitive: true,
			Description: "Set by the hub, never in a pipeline file: the hub's private signing key (a JWK) for signature = \"jws\", taken from its store when the target starts. " +
				"`midstream keys rotate` replaces it; the hub refuses a target block that sets it.",
		},
		{
			Name: passwordSyncField,
			Type: sdk.FieldBool,
			Description: "Whether plaintext passwords are sent (default false). When true, a user's password travels in user.create and user.password events only, inside the encrypted body: it needs encryption, and without it the target is refused. " +
				"It is never sent as an attribute, never logged, and never kept in the hub's record of what was sent.",
		},
		{
			Name:    formatField,
			Type:    sdk.FieldString,
			Options: []string{formatMidstream, formatOneAccess, formatIDaaS},
			Description: "The request format: \"midstream\" (the default, the wire format below), or a compatibility profile for an application written for another hub, unchanged: \"oneaccess\" (Huawei Cloud OneAccess event callbacks) or \"idaas\" (Alibaba Cloud IDaaS EIAM push). " +
				"The profiles carry no hub id or idempotency key: a create sent twice meets the application's own uniqueness, an \"already exists\" answer being a conflict. See \"Compatibility profiles\".",
		},
		{
			Name:    oaIVField,
			Type:    sdk.FieldString,
			Options: []string{"prefix", "key"},
			Description: "format = \"oneaccess\": where the AES-GCM IV is, which OneAccess does not document. \"prefix\" (the default): a random 12-byte IV before the ciphertext and tag. " +
				"\"key\": no IV is sent, it is the encryption key's first 12 bytes, for applications built on samples that do so (the same IV for every message: weaker).",
		},
		{
			Name:        oaTimestampField,
			Type:        sdk.FieldString,
			Options:     []string{"ms", "s"},
			Description: "format = \"oneaccess\": the unit of the envelope's timestamp, milliseconds (\"ms\", the default, as OneAccess's examples) or seconds (\"s\").",
		},
		{
			Name:        oaDisableField,
			Type:        sdk.FieldString,
			Options:     []string{"update", "delete"},
			Description: "format = \"oneaccess\": how a disable is sent, OneAccess having no disable event: \"update\" (the default: UPDATE_USER or UPDATE_ORGANIZATION with \"disabled\": true; an enable with false) or \"delete\" (DELETE_USER or DELETE_ORGANIZATION; an enable is then refused).",
		},
		{
			Name:        idaasAppField,
			Type:        sdk.FieldString,
			Description: "format = \"idaas\": the application id the application expects as the JWT's audience (aud), such as \"app_mxxxxxxxxxxxxxxx\". Required with that format.",
		},
		{
			Name:        idaasInstanceField,
			Type:        sdk.FieldString,
			Description: "format = \"idaas\": the instanceId of each SyncEvent (default \"midstream\"), for applications that check it.",
		},
		{
			Name:    timeoutField,
			Type:    sdk.FieldDuration,
			Default: defaultTimeout,
			Description: "How long one request may take, from connecting to reading the whole answer, such as \"10s\" or \"1m\" (at most 5m). " +
				"A request that takes longer fails as retryable and is retried with backoff; the application may then receive the event again, with the same event id.",
		},
		{
			Name:    batchSizeField,
			Type:    sdk.FieldInt,
			Default: int64(1),
			Description: fmt.Sprintf("How many events one request may carry, from 1 (the default: one request per event) to %d. "+
				"Above 1, events of different objects waiting at the same time are sent together as one batch request (X-Midstream-Event: batch), sealed and signed once, which the application answers with one result per event: "+
				"fewer requests, and less encryption and signing per event. The application must accept batches (sdk/receiver does; see \"Batches\"); `midstream test-connection` checks that it does. "+
				"The host then keeps up to concurrency × batch_size events in flight at the target, and at most concurrency requests are sent at once. "+
				"A batch's JSON is also kept under 512 KiB. Only with format = \"midstream\".", maxBatchSize),
			Example: "100",
		},
		{
			Name: batchWaitField,
			Type: sdk.FieldDuration,
			Description: "With batch_size above 1: how long the first event waiting for a batch waits for others before the batch is sent anyway (default \"5ms\", at most 1s; \"0s\" sends at once what is waiting). " +
				"A full batch is sent at once, and while concurrency requests are in flight the next events gather, so under load batches fill without waiting. The wait matters when events trickle in: it is latency added to a lone event.",
		},
		{
			Name: caFileField,
			Type: sdk.FieldString,
			Description: "A PEM file of CA certificates trusted for the application's TLS certificate, in addition to the system's, for an application behind a private CA. " +
				"A relative path is relative to the pipeline file. Certificate verification cannot be turned off.",
			Example: "certs/app-ca.pem",
		},
	}}
}

// config is a validated configuration.
type config struct {
	url     string
	token   string
	timeout time.Duration
	roots   *x509.CertPool // nil: the system's

	encKey       []byte // nil: no encryption
	hmacKey      []byte // nil: no HMAC signature
	signer       *wire.SigningKey
	signature    string // hmac, jws or none
	passwordSync bool

	format         string // midstream, oneaccess or idaas
	oaIVFromKey    bool
	oaSeconds      bool
	oaDisableByDel bool
	idaasApp       string
	idaasInstance  string

	batchSize int           // 1: one request per event
	batchWait time.Duration // with batchSize > 1
}

func parseConfig(req sdk.ConfigureRequest) (config, sdk.Diagnostics) {
	var diags sdk.Diagnostics
	c := req.Config
	cfg := config{
		token:   strings.TrimSpace(c.String(tokenField)),
		timeout: c.Duration(timeoutField),
	}
	if !c.Has(timeoutField) {
		cfg.timeout = defaultTimeout
	}

	cfg.url = c.String(urlField)
	if u, err := url.Parse(cfg.url); err != nil {
		diags.AddError(sdk.Path{urlField}, "Invalid callback URL", fmt.Sprintf("%q is not a URL: %v.", cfg.url, err))
	} else {
		checkURL(&diags, u)
	}

	switch {
	case cfg.token == "":
		diags.AddWarning(sdk.Path{tokenField}, "No bearer token",
			"Requests will carry no Authorization header, so the application cannot tell the hub's requests from anyone else's. "+
				`Set token, for example token = env("APP_TOKEN"), to the token the application checks.`)
	case strings.IndexFunc(cfg.token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		diags.AddError(sdk.Path{tokenField}, "Invalid bearer token",
			"The token contains spaces or control characters, which cannot be sent in an Authorization header. Check the variable or file it is read from.")
	}

	if cfg.timeout <= 0 || cfg.timeout > maxTimeout {
		diags.AddError(sdk.Path{timeoutField}, "Invalid timeout",
			fmt.Sprintf("The timeout must be more than 0 and at most %s, not %s.", maxTimeout, cfg.timeout))
	}

	if f := c.String(caFileField); f != "" {
		path := f
		if !filepath.IsAbs(path) && req.Dir != "" {
			path = filepath.Join(req.Dir, path)
		}
		cfg.roots = loadCA(&diags, path)
	}
	parseSecurity(&diags, c, &cfg)
	parseFormat(&diags, c, &cfg)
	parseBatch(&diags, c, &cfg)
	return cfg, diags
}

// parseBatch reads batch_size and batch_wait.
func parseBatch(diags *sdk.Diagnostics, c sdk.Config, cfg *config) {
	cfg.batchSize, cfg.batchWait = 1, defaultBatchWait
	if c.Has(batchSizeField) {
		n := c.Int(batchSizeField)
		if n < 1 || n > maxBatchSize {
			diags.AddError(sdk.Path{batchSizeField}, "Invalid batch size",
				fmt.Sprintf("batch_size is how many events one request may carry: between 1 and %d, not %d. The default, 1, sends one request per event.", maxBatchSize, n))
			return
		}
		cfg.batchSize = int(n)
	}
	if c.Has(batchWaitField) {
		d := c.Duration(batchWaitField)
		switch {
		case d < 0 || d > maxBatchWait:
			diags.AddError(sdk.Path{batchWaitField}, "Invalid batch wait",
				fmt.Sprintf("batch_wait is how long an event may wait for others to share its request: from 0s to %s, not %s. The default is %s.", maxBatchWait, d, defaultBatchWait))
		case cfg.batchSize == 1:
			diags.AddWarning(sdk.Path{batchWaitField}, "Setting not used",
				"batch_wait applies when batch_size is above 1; with batch_size = 1 every event is sent at once, alone. Remove batch_wait, or set batch_size.")
		default:
			cfg.batchWait = d
		}
	}
	if cfg.batchSize > 1 && cfg.format != formatMidstream {
		diags.AddError(sdk.Path{batchSizeField}, "Batches need the midstream format",
			fmt.Sprintf("format = %q sends one event per request, as those applications expect; batch requests are part of Midstream's own wire format. Remove batch_size, or use format = \"midstream\".", cfg.format))
	}
}

// parseFormat reads the format and its profile's settings, and checks the
// security settings fit it.
func parseFormat(diags *sdk.Diagnostics, c sdk.Config, cfg *config) {
	cfg.format = c.String(formatField)
	if cfg.format == "" {
		cfg.format = formatMidstream
	}
	profileOnly := map[string]string{oaIVField: formatOneAccess, oaTimestampField: formatOneAccess, oaDisableField: formatOneAccess,
		idaasAppField: formatIDaaS, idaasInstanceField: formatIDaaS}
	for _, f := range []string{oaIVField, oaTimestampField, oaDisableField, idaasAppField, idaasInstanceField} {
		if c.String(f) != "" && profileOnly[f] != cfg.format {
			diags.AddWarning(sdk.Path{f}, "Setting not used",
				fmt.Sprintf("%s applies to format = %q only; this target's format is %q. Remove it.", f, profileOnly[f], cfg.format))
		}
	}
	switch cfg.format {
	case formatOneAccess:
		cfg.oaIVFromKey = c.String(oaIVField) == "key"
		cfg.oaSeconds = c.String(oaTimestampField) == "s"
		cfg.oaDisableByDel = c.String(oaDisableField) == "delete"
		if len(cfg.encKey) == 32 {
			diags.AddError(sdk.Path{encryptionKeyField}, "OneAccess uses AES-128",
				`format = "oneaccess" encrypts with AES-128 and a 16-character key, as OneAccess does; give encryption_key as 16 characters.`)
		}
		if cfg.signature == signatureJWS {
			diags.AddError(sdk.Path{signatureField}, "OneAccess signs with HMAC",
				`format = "oneaccess" signs with HMAC-SHA256 and signature_key, as OneAccess does; signature = "jws" is for the midstream and idaas formats.`)
		}
	case formatIDaaS:
		cfg.idaasApp = strings.TrimSpace(c.String(idaasAppField))
		cfg.idaasInstance = c.String(idaasInstanceField)
		if cfg.idaasInstance == "" {
			cfg.idaasInstance = "midstream"
		}
		if cfg.idaasApp == "" {
			diags.AddError(sdk.Path{idaasAppField}, "Missing IDaaS application id",
				`format = "idaas" signs a JWT whose audience is the application's id: set idaas_application_id to the id the application checks, such as "app_mxxxxxxxxxxxxxxx".`)
		}
		if len(cfg.encKey) == 16 {
			diags.AddError(sdk.Path{encryptionKeyField}, "IDaaS uses AES-256",
				`format = "idaas" encrypts with A256GCM and a 64-hex-character key, as IDaaS does; give encryption_key as 64 hex characters.`)
		}
		if cfg.signature != signatureJWS && c.String(signatureField) != "" {
			diags.AddError(sdk.Path{signatureField}, "IDaaS signs with the hub's RS256 key",
				`format = "idaas" always signs a JWT with the hub's RS256 key (published at /.well-known/jwks.json, the "public key endpoint" of the application's settings); leave signature unset or set it to "jws".`)
		}
		if cfg.signer != nil && cfg.signer.Alg != wire.RS256 {
			diags.AddError(sdk.Path{signatureAlgField}, "IDaaS signs with RS256",
				`format = "idaas" signs with RS256, as IDaaS does; remove signature_alg.`)
		}
	}
}

// parseSecurity reads the encryption, signature and password settings.
func parseSecurity(diags *sdk.Diagnostics, c sdk.Config, cfg *config) {
	encMode := c.String(encryptionField)
	encKey := strings.TrimSpace(c.String(encryptionKeyField))
	switch {
	case encMode == encryptionNone && encKey != "":
		diags.AddWarning(sdk.Path{encryptionKeyField}, "Encryption key not used",
			`encryption = "none", so encryption_key is ignored and requests travel unencrypted. Remove encryption = "none" to encrypt with the key.`)
	case encMode == encryptionAESGCM && encKey == "":
		diags.AddError(sdk.Path{encryptionKeyField}, "Missing encryption key",
			`encryption = "aes-gcm" needs encryption_key: 16 characters (AES-128) or 64 hex characters (AES-256), shared with the application, such as encryption_key = env("APP_ENCRYPTION_KEY"). Generate an AES-256 key with `+"`openssl rand -hex 32`.")
	case encKey != "":
		k, err := wire.ParseEncryptionKey(encKey)
		if err != nil {
			diags.AddError(sdk.Path{encryptionKeyField}, "Invalid encryption key",
				fmt.Sprintf("%s. Use exactly 16 characters for AES-128, or 64 hex characters for AES-256 (generate one with `openssl rand -hex 32`); check the variable or file it is read from.", upperFirst(err.Error())))
		}
		cfg.encKey = k
	}
	sigMode := c.String(signatureField)
	sigKey := strings.TrimSpace(c.String(signatureKeyField))
	if sigMode == "" {
		sigMode = signatureNone
		switch {
		case c.String(formatField) == formatIDaaS:
			sigMode = signatureJWS // IDaaS requests are always signed
		case sigKey != "":
			sigMode = signatureHMAC
		}
	}
	cfg.signature = sigMode
	if sigKey != "" && sigMode != signatureHMAC {
		diags.AddWarning(sdk.Path{signatureKeyField}, "Signature key not used",
			fmt.Sprintf("signature = %q, so signature_key is ignored. Remove one of the two.", sigMode))
	}
	switch sigMode {
	case signatureHMAC:
		switch {
		case sigKey == "":
			diags.AddError(sdk.Path{signatureKeyField}, "Missing signature key",
				`signature = "hmac" needs signature_key, shared with the application, such as signature_key = env("APP_SIGNATURE_KEY"). Generate one with `+"`openssl rand -base64 32`.")
		case len(sigKey) < minSignatureKey:
			diags.AddError(sdk.Path{signatureKeyField}, "Signature key too short",
				fmt.Sprintf("The signature key has %d characters; use at least %d, best 32 random ones (`openssl rand -base64 32`).", len(sigKey), minSignatureKey))
		default:
			cfg.hmacKey = []byte(sigKey)
		}
	case signatureJWS:
		alg := c.String(signatureAlgField)
		if alg == "" {
			alg = wire.RS256
		}
		raw := c.String(signingKeyField)
		if raw == "" {
			diags.AddError(sdk.Path{signatureField}, "No signing key from the hub",
				`signature = "jws" signs with the hub's own key, which the hub hands to the target when it starts it. Set keys_encryption_key = env("MIDSTREAM_KEYS_KEY") (64 hex characters) in the pipeline block so the hub can keep its keys; applications verify with the hub's https://HUB/.well-known/jwks.json (served by `+"`midstream run`, or written by `midstream keys export`).")
			break
		}
		k, err := wire.ParseSigningKey(raw)
		switch {
		case err != nil:
			diags.AddError(sdk.Path{signingKeyField}, "Invalid signing key",
				fmt.Sprintf("The signing key the hub handed over cannot be used: %v. signing_key is set by the hub; remove it from the target block.", err))
		case k.Alg != alg:
			diags.AddError(sdk.Path{signatureAlgField}, "Signing key of another algorithm",
				fmt.Sprintf("signature_alg is %s, but the signing key is for %s. This is a bug in the hub's key handling; signing_key is set by the hub.", alg, k.Alg))
		default:
			cfg.signer = k
		}
	}
	unencrypted := encMode == encryptionNone || (encMode == "" && encKey == "")
	if unencrypted {
		detail := `Request bodies are not encrypted: every attribute is readable wherever TLS ends on the way to the application (a load balancer, a proxy's logs). Set encryption_key = env("APP_ENCRYPTION_KEY") to encrypt them with AES-GCM.`
		if sigMode == signatureNone {
			detail += ` Nor are they signed: the bearer token alone tells them apart, and a recorded request can be sent again; encryption (or signature_key, or signature = "jws") prevents both.`
		}
		diags.AddWarning(sdk.Path{encryptionField}, "Unencrypted callbacks", detail)
	}

	cfg.passwordSync = c.Bool(passwordSyncField)
	if cfg.passwordSync && unencrypted {
		diags.AddError(sdk.Path{passwordSyncField}, "Password sync needs encryption",
			`Plaintext passwords are only ever sent encrypted. Set encryption_key (and leave encryption at "aes-gcm"), or set password_sync = false.`)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func checkURL(diags *sdk.Diagnostics, u *url.URL) {
	p := sdk.Path{urlField}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		diags.AddError(p, "Invalid callback URL",
			fmt.Sprintf("The URL must start with https:// (or http://), not %q. Write the whole address, such as \"https://app.example.com/midstream/callback\".", u.Scheme+":"))
		return
	case u.Host == "" || u.Hostname() == "":
		diags.AddError(p, "Invalid callback URL", "The URL has no host. Write the whole address, such as \"https://app.example.com/midstream/callback\".")
		return
	case u.User != nil:
		diags.AddError(p, "Credentials in the callback URL",
			"The URL carries a user name or password. Remove them and set token instead: the hub authenticates with a bearer token.")
	case u.Fragment != "":
		diags.AddError(p, "Fragment in the callback URL", "A URL fragment (after #) is never sent to the application. Remove it.")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		diags.AddWarning(p, "Unencrypted callback URL",
			fmt.Sprintf("Events to %s travel in clear text, with the bearer token and every attribute. Use https://.", u.Host))
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loadCA(diags *sdk.Diagnostics, path string) *x509.CertPool {
	p := sdk.Path{caFileField}
	pem, err := os.ReadFile(path)
	if err != nil {
		diags.AddError(p, "Cannot read CA file", fmt.Sprintf("%v. Check the path; a relative path is relative to the pipeline file.", err))
		return nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		diags.AddError(p, "No certificates in CA file",
			fmt.Sprintf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----). Give the CA certificate in PEM form.", path))
		return nil
	}
	return roots
}
