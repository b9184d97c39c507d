// Command receiver is a small application that receives Midstream's
// callbacks with sdk/receiver, keeps the departments and users it is sent in
// a JSON file, and shows them.
//
//	receiver serve --addr 127.0.0.1:8471 --token T --data receiver.json \
//	        [--encryption-key K] [--signature-key S | --jwks-url URL | --jwks-file F]
//	receiver dump --data receiver.json [--format text|json] [--ids]
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  receiver serve [--addr 127.0.0.1:8471] [--token TOKEN] [--data receiver.json]
                 [--encryption-key KEY] [--signature-key KEY | --jwks-url URL | --jwks-file FILE]
  receiver dump [--data receiver.json] [--format text|json] [--ids]
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr)
	case "dump":
		return dumpCmd(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receiver serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8471", "the address to listen on")
	token := fs.String("token", os.Getenv("RECEIVER_TOKEN"), "the bearer token the hub sends (default $RECEIVER_TOKEN)")
	data := fs.String("data", "receiver.json", "the data file")
	encKey := fs.String("encryption-key", os.Getenv("RECEIVER_ENCRYPTION_KEY"),
		"the target's encryption_key: 16 characters or 64 hex; requests must be encrypted with it (default $RECEIVER_ENCRYPTION_KEY)")
	sigKey := fs.String("signature-key", os.Getenv("RECEIVER_SIGNATURE_KEY"),
		"the target's signature_key: requests must carry its HMAC signature (default $RECEIVER_SIGNATURE_KEY)")
	jwksURL := fs.String("jwks-url", os.Getenv("RECEIVER_JWKS_URL"),
		"the hub's /.well-known/jwks.json, for signature = \"jws\" (default $RECEIVER_JWKS_URL)")
	jwksFile := fs.String("jwks-file", "", "the hub's public keys as `midstream keys export` writes them, instead of --jwks-url")
	window := fs.Duration("replay-window", callback.DefaultReplayWindow, "how far a request's timestamp may be from this machine's clock")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	opts := receiver.Options{Token: *token, EncryptionKey: *encKey, SignatureKey: *sigKey, JWKSURL: *jwksURL, ReplayWindow: *window}
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return err
		}
		var keys callback.JWKS
		if err := json.Unmarshal(b, &keys); err != nil {
			return fmt.Errorf("%s is not a JWKS: %w", *jwksFile, err)
		}
		opts.Keys = &keys
	}
	store, err := OpenStore(*data)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "", log.LstdFlags)
	store.logf = logger.Printf
	h, err := newHandler(store, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Finish the requests in flight: each answers only once its change is
	// saved, so stopping here loses nothing.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	logger.Printf("stopped")
	return nil
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{"plural": plural}).Parse(pageHTML))

// newHandler serves the callback endpoint and the pages showing the state.
// opts are the receiver's security settings (opts.App is set here).
func newHandler(store *Store, opts receiver.Options) (http.Handler, error) {
	opts.App = store
	callbacks, err := receiver.New(opts)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/callback", callbacks)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := page.Execute(&b, buildView(store.Snapshot())); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /objects.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(store.JSON(), '\n'))
	})
	return mux, nil
}

func dumpCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receiver dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "receiver.json", "the data file")
	format := fs.String("format", "text", "text or json")
	ids := fs.Bool("ids", false, "json: include the application's ids and the hub ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dump takes no arguments, got %q", fs.Args())
	}
	b, err := os.ReadFile(*data)
	if err != nil {
		return err
	}
	st, err := decodeState(b, *data)
	if err != nil {
		return err
	}
	v := buildView(st)
	switch *format {
	case "text":
		return writeText(stdout, v)
	case "json":
		return writeJSON(stdout, v, *ids)
	}
	return fmt.Errorf("unknown format %q: use text or json", *format)
}
