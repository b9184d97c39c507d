package plugin_test

import (
	"context"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// hello is the smallest useful source: one org and one user.
type hello struct{}

func (hello) Metadata() sdk.Metadata { return sdk.Metadata{Name: "hello", Version: "1.0.0"} }
func (hello) Schema() sdk.Schema     { return sdk.Schema{} }
func (hello) Configure(context.Context, sdk.ConfigureRequest, *sdk.ConfigureResponse) {
}

func (hello) Read(_ context.Context, _ sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	return sdk.ReadResult{}, emit(
		sdk.Record{Kind: sdk.KindOrg, ExternalID: "hq", Attributes: sdk.Attributes{"name": sdk.String("总部")}},
		sdk.Record{Kind: sdk.KindUser, ExternalID: "u1", Orgs: []string{"hq"}, PrimaryOrg: "hq",
			Attributes: sdk.Attributes{"name": sdk.String("张伟")}},
	)
}

// A plugin's whole main is one call to Serve.
func ExampleServe() {
	// func main() { plugin.Serve(hello{}) }
	var main = func() { plugin.Serve(hello{}) }
	_ = main
}
