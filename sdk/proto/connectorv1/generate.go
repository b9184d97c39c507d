// Package connectorv1 is the generated gRPC code of Midstream's connector
// plugin protocol, version 1. Connector authors never import it: the sdk
// package holds the Go-native types and sdk/plugin converts.
package connectorv1

//go:generate go build -o ../../../.work/bin/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
//go:generate protoc --proto_path=. --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. --plugin=protoc-gen-go=../../../.work/bin/protoc-gen-go --plugin=protoc-gen-go-grpc=../../../.work/bin/protoc-gen-go-grpc connector.proto
