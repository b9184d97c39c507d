package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/midstream-io/midstream/sdk"
	pb "github.com/midstream-io/midstream/sdk/proto/connectorv1"
)

// Batch bounds of a read stream when the host does not set them. Batches
// amortize the per-message cost of gRPC; the byte cap keeps every
// message well under gRPC's default 4 MiB limit.
const (
	DefaultMaxBatchRecords = 1000
	DefaultMaxBatchBytes   = 1 << 20
	// MaxConcurrency bounds the applies a host may ask a plugin to run at
	// once: a target's concurrency times its batch size.
	MaxConcurrency = 16384
	// MaxBatch bounds the operations a target may send in one request.
	MaxBatch = 1000
)

// server serves one connector over the protocol.
type server struct {
	pb.UnimplementedConnectorServer
	impl sdk.Connector
	caps sdk.Capabilities
	// ctx is cancelled when the host is gone, cancelling in-flight work.
	ctx context.Context
}

func newServer(impl sdk.Connector) *server {
	return &server{impl: impl, caps: sdk.CapabilitiesOf(impl), ctx: context.Background()}
}

func (s *server) GetMetadata(context.Context, *pb.GetMetadataRequest) (*pb.GetMetadataResponse, error) {
	md := s.impl.Metadata()
	schema, err := schemaToProto(s.impl.Schema())
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pb.GetMetadataResponse{
		Name: md.Name, Version: md.Version, Description: md.Description,
		Schema: schema, Capabilities: capsToProto(s.caps),
	}, nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var values map[string]any
	if err := json.Unmarshal(req.GetConfigJson(), &values); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "configuration is not a JSON object: %v", err)
	}
	cfg, diags := sdk.NewConfig(s.impl.Schema(), values)
	var maxBatch uint32
	if !diags.HasError() {
		var resp sdk.ConfigureResponse
		s.impl.Configure(ctx, sdk.ConfigureRequest{Config: cfg, Dir: req.GetDir()}, &resp)
		diags = append(diags, resp.Diagnostics...)
		maxBatch = uint32(max(0, min(resp.MaxBatch, MaxBatch)))
	}
	return &pb.ConfigureResponse{Diagnostics: diagsToProto(diags), MaxBatch: maxBatch}, nil
}

func (s *server) TestConnection(ctx context.Context, _ *pb.TestConnectionRequest) (*pb.TestConnectionResponse, error) {
	t, ok := s.impl.(sdk.ConnectionTester)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "connector cannot test its connection")
	}
	var resp sdk.TestConnectionResponse
	t.TestConnection(ctx, sdk.TestConnectionRequest{}, &resp)
	return &pb.TestConnectionResponse{Diagnostics: diagsToProto(resp.Diagnostics), Detail: resp.Detail}, nil
}

func (s *server) Close(context.Context, *pb.CloseRequest) (*pb.CloseResponse, error) {
	if c, ok := s.impl.(sdk.Closer); ok {
		if err := c.Close(); err != nil {
			return &pb.CloseResponse{Error: err.Error()}, nil
		}
	}
	return &pb.CloseResponse{}, nil
}

// batcher accumulates records into ReadResponse messages capped by count
// and encoded size.
type batcher struct {
	send       func(*pb.ReadResponse) error
	maxRecords int
	maxBytes   int
	cur        *pb.ReadResponse
	size       int
}

func newBatcher(send func(*pb.ReadResponse) error, maxRecords, maxBytes uint32) *batcher {
	b := &batcher{send: send, maxRecords: int(maxRecords), maxBytes: int(maxBytes)}
	if b.maxRecords <= 0 {
		b.maxRecords = DefaultMaxBatchRecords
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultMaxBatchBytes
	}
	b.cur = &pb.ReadResponse{}
	return b
}

func (b *batcher) add(cursor string, records []sdk.Record) error {
	for i := range records {
		p := recordToProto(&records[i])
		n := proto.Size(p) + 8
		if len(b.cur.Records) > 0 && (len(b.cur.Records) >= b.maxRecords || b.size+n > b.maxBytes) {
			if err := b.flush(); err != nil {
				return err
			}
		}
		b.cur.Records = append(b.cur.Records, p)
		b.size += n
	}
	b.cur.Cursor = cursor
	return nil
}

func (b *batcher) flush() error {
	if len(b.cur.Records) == 0 {
		return nil
	}
	err := b.send(b.cur)
	b.cur = &pb.ReadResponse{Cursor: b.cur.Cursor}
	b.size = 0
	return err
}

// finish sends the buffered records and the final message.
func (b *batcher) finish(cursor string, readErr error) error {
	if readErr == nil {
		if err := b.flush(); err != nil {
			return err
		}
	}
	return b.send(&pb.ReadResponse{Done: true, Cursor: cursor, Error: errorToProto(readErr)})
}

// streamContext cancels work when either the RPC or the server ends: a
// host that disappears cancels in-flight reads and applies.
func (s *server) streamContext(rpc context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(rpc)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *server) Read(req *pb.ReadRequest, stream pb.Connector_ReadServer) error {
	src, ok := s.impl.(sdk.Source)
	if !ok {
		return status.Error(codes.Unimplemented, "connector is not a source")
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	b := newBatcher(stream.Send, req.GetMaxBatchRecords(), req.GetMaxBatchBytes())
	res, err := src.Read(ctx, sdk.ReadRequest{}, func(records ...sdk.Record) error {
		if err := checkRecords(records); err != nil {
			return err
		}
		return b.add("", records)
	})
	return b.finish(res.Cursor, err)
}

func (s *server) ReadChanges(req *pb.ReadChangesRequest, stream pb.Connector_ReadChangesServer) error {
	inc, ok := s.impl.(sdk.Incremental)
	if !ok {
		return status.Error(codes.Unimplemented, "connector has no change feed")
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	b := newBatcher(stream.Send, req.GetMaxBatchRecords(), req.GetMaxBatchBytes())
	var last string
	err := inc.ReadChanges(ctx, req.GetCursor(), func(cursor string, records ...sdk.Record) error {
		if err := checkRecords(records); err != nil {
			return err
		}
		last = cursor
		return b.add(cursor, records)
	})
	return b.finish(last, err)
}

// checkRecords refuses malformed records at the plugin, where the bug is,
// rather than letting them reach the directory.
func checkRecords(records []sdk.Record) error {
	for i := range records {
		if err := records[i].Validate(); err != nil {
			return &sdk.Error{Category: sdk.CategoryPermanent, Message: "connector emitted an invalid record: " + err.Error()}
		}
	}
	return nil
}

func (s *server) Apply(stream pb.Connector_ApplyServer) error {
	tgt, ok := s.impl.(sdk.Target)
	if !ok {
		return status.Error(codes.Unimplemented, "connector is not a target")
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()

	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "apply stream must start with an open message")
	}
	n := int(open.GetConcurrency())
	if n <= 0 {
		n = 1
	}
	n = min(n, MaxConcurrency)

	var (
		sendMu   sync.Mutex
		mu       sync.Mutex
		inflight = map[uint64]context.CancelFunc{}
		wg       sync.WaitGroup
		sem      = make(chan struct{}, n)
	)
	defer wg.Wait()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// The host is gone: stop every in-flight apply rather than let
			// it deliver a request nobody will record.
			cancel()
			return err
		}
		switch m := req.GetMsg().(type) {
		case *pb.ApplyRequest_Cancel:
			mu.Lock()
			if c := inflight[m.Cancel.GetSeq()]; c != nil {
				c()
			}
			mu.Unlock()
		case *pb.ApplyRequest_Operation:
			seq := req.GetSeq()
			op := operationFromProto(m.Operation)
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			opCtx, opCancel := context.WithCancel(ctx)
			mu.Lock()
			inflight[seq] = opCancel
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				resp := applyOne(opCtx, tgt, seq, op)
				mu.Lock()
				delete(inflight, seq)
				mu.Unlock()
				opCancel()
				sendMu.Lock()
				err := stream.Send(resp)
				sendMu.Unlock()
				if err != nil {
					cancel()
				}
			}()
		default:
			return status.Error(codes.InvalidArgument, "unexpected message on apply stream")
		}
	}
}

// applyOne applies one operation, turning a panic into a permanent error
// so one bad record cannot take the plugin and every other in-flight
// operation down with it.
func applyOne(ctx context.Context, t sdk.Target, seq uint64, op sdk.Operation) (resp *pb.ApplyResponse) {
	defer func() {
		if r := recover(); r != nil {
			resp = &pb.ApplyResponse{Seq: seq, Error: &pb.Error{
				Category: string(sdk.CategoryPermanent),
				Message:  fmt.Sprintf("connector panicked applying %s %s: %v", op.Op, op.HubID, r),
			}}
		}
	}()
	if !op.Op.Valid() {
		return &pb.ApplyResponse{Seq: seq, Error: &pb.Error{Category: string(sdk.CategoryPermanent), Message: fmt.Sprintf("unknown operation %q", op.Op)}}
	}
	res, err := sdk.Apply(ctx, t, op)
	if err != nil {
		return &pb.ApplyResponse{Seq: seq, Error: errorToProto(err)}
	}
	return &pb.ApplyResponse{
		Seq: seq, TargetId: res.TargetID, Outcome: string(res.Outcome),
		HttpStatus: int32(res.Status), BodyExcerpt: res.BodyExcerpt,
	}
}
