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
)

// The configuration attributes of a callback target block.
const (
	urlField     = "url"
	tokenField   = "token"
	timeoutField = "timeout"
	caFileField  = "ca_file"
)

const (
	defaultTimeout = 10 * time.Second
	maxTimeout     = 5 * time.Minute
)

func schema() sdk.Schema {
	return sdk.Schema{Fields: []sdk.Field{
		{
			Name:     urlField,
			Type:     sdk.FieldString,
			Required: true,
			Description: "The application's callback endpoint, an absolute http:// or https:// URL. " +
				"Every event is POSTed to it as one JSON request; redirects are not followed. " +
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
			Name:    timeoutField,
			Type:    sdk.FieldDuration,
			Default: defaultTimeout,
			Description: "How long one request may take, from connecting to reading the whole answer, such as \"10s\" or \"1m\" (at most 5m). " +
				"A request that takes longer fails as retryable and is retried with backoff; the application may then receive the event again, with the same event id.",
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
	return cfg, diags
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
