package plugin

import (
	"context"
	"regexp"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/midstream-io/midstream/sdk"
	pb "github.com/midstream-io/midstream/sdk/proto/connectorv1"
)

// ProtocolVersion is the plugin protocol version this SDK speaks: the
// version of package connectorv1. A breaking protocol change adds a new
// version to VersionedPlugins rather than changing this one.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake Midstream hosts and plugins share.
//
// The magic cookie is not a security measure: it only keeps a user who runs
// a plugin binary by hand from seeing it hang, waiting for a host. Plugins
// are trusted code; external binaries are pinned by SHA-256 instead.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "MIDSTREAM_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "8c3f0f0e6b1d4a6c9a7e2d5b4f1c3a9e",
}

// pluginName is the single plugin a connector binary dispenses.
const pluginName = "connector"

// versionedPlugins maps each protocol version to the plugin set speaking it.
func versionedPlugins(impl sdk.Connector) map[int]goplugin.PluginSet {
	return map[int]goplugin.PluginSet{
		1: {pluginName: &grpcPlugin{impl: impl}},
	}
}

// grpcPlugin adapts a connector to go-plugin: the server side serves impl,
// the client side returns a *Client.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl sdk.Connector
	// ctx, when set, is cancelled when the host is gone.
	ctx context.Context
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	srv := newServer(p.impl)
	if p.ctx != nil {
		srv.ctx = p.ctx
	}
	pb.RegisterConnectorServer(s, srv)
	return nil
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewConnectorClient(c), nil
}

var connectorNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
