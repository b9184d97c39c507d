package callback_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/midstream-io/midstream/connectors/callback"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/conformance"
	"github.com/midstream-io/midstream/sdk/plugin"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// TestMain lets the conformance kit launch this test binary as the
// callback plugin.
func TestMain(m *testing.M) {
	plugin.TestMain(m, plugin.Constructors{"callback": func() sdk.Connector { return callback.New() }})
}

func TestConformance(t *testing.T) { suite("").Run(t) }

// TestConformanceBatched runs the kit with batches: concurrent applies
// (the crash test's) share requests, lone ones wait batch_wait and go
// alone.
func TestConformanceBatched(t *testing.T) {
	suite("batch_size = 10\nbatch_wait = \"2ms\"\n").Run(t)
}

func suite(extra string) conformance.Suite {
	return conformance.Suite{
		New:     func() sdk.Connector { return callback.New() },
		Example: callback.Example,
		Fixture: func(t *testing.T) *conformance.Fixture {
			app := receiver.NewMemoryApp()
			// Encrypted and signed, as a block with both keys is.
			h, err := receiver.New(receiver.Options{Token: token, EncryptionKey: encKey, SignatureKey: sigKey, App: app})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			return &conformance.Fixture{
				Config: `url = "` + srv.URL + `/midstream/callback"` + "\n" + `token = env("APP_TOKEN")` + "\n" +
					`encryption_key = env("APP_ENCRYPTION_KEY")` + "\n" + `signature_key = env("APP_SIGNATURE_KEY")` + "\n" + extra,
				Env:  map[string]string{"APP_TOKEN": token, "APP_ENCRYPTION_KEY": encKey, "APP_SIGNATURE_KEY": sigKey},
				Peer: memoryPeer{app},
			}
		},
	}
}

// memoryPeer shows a MemoryApp to the conformance kit.
type memoryPeer struct{ app *receiver.MemoryApp }

func (p memoryPeer) Objects() []conformance.PeerObject {
	var out []conformance.PeerObject
	for _, o := range p.app.Objects() {
		po := conformance.PeerObject{ID: o.ID, Kind: o.Kind, HubID: o.HubID, Active: !o.Disabled, Attributes: map[string]string{}}
		if o.Parent != nil {
			po.Parent = o.Parent.TargetID
		}
		for k := range o.Attributes {
			po.Attributes[k] = o.Attributes.String(k)
		}
		out = append(out, po)
	}
	return out
}

func (p memoryPeer) FailNext(f conformance.Failure) {
	switch f {
	case conformance.FailUnavailable:
		p.app.FailNext(receiver.RetryLater(0, "maintenance"))
	case conformance.FailRateLimited:
		p.app.FailNext(&receiver.Error{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Message: "slow down"})
	case conformance.FailRejected:
		p.app.FailNext(receiver.Reject("E_NAME", "name is not acceptable"))
	}
}
