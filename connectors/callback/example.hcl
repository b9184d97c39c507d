## The application's callback endpoint, an absolute https:// (or http://)
## URL. Every event is POSTed to it as one JSON request.
url = "https://app.example.com/midstream/callback"

## The bearer token sent as "Authorization: Bearer <token>" on every
## request. Read it from the environment or a file, never inline.
token = env("APP_TOKEN")

## How long one request may take, connecting and reading the answer
## included (at most 5m). A request that times out is retried.
# timeout = "10s"

## A PEM file of extra CA certificates for an application behind a
## private CA, relative to the pipeline file.
# ca_file = "certs/app-ca.pem"
