package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"

	"github.com/midstream-io/midstream/sdk"
	pb "github.com/midstream-io/midstream/sdk/proto/connectorv1"
)

// Client is the host's side of a plugin: it turns a connector served over
// the protocol back into an sdk.Source and sdk.Target.
//
// Client implements every optional interface; sdk.CapabilitiesOf reports
// what the plugin declared, and a method the plugin lacks returns an error
// without calling it. Apply keeps at most one operation per object (HubID)
// in flight, which keeps each object's lane in order whatever the host's
// concurrency.
type Client struct {
	rpc    pb.ConnectorClient
	md     sdk.Metadata
	schema sdk.Schema
	caps   sdk.Capabilities

	// broken translates a transport error into what the caller sees: the
	// launcher turns it into a *PluginCrashedError when the process died.
	broken func(error) error

	mu          sync.Mutex
	concurrency int
	maxBatch    int
	apply       *applyStream
	lanes       map[string]chan struct{}
}

// NewClient fetches a plugin's metadata over conn and returns its adapter.
func NewClient(ctx context.Context, conn grpc.ClientConnInterface) (*Client, error) {
	c := &Client{rpc: pb.NewConnectorClient(conn), concurrency: 1, lanes: map[string]chan struct{}{}}
	c.broken = c.lostConnection
	md, err := c.rpc.GetMetadata(ctx, &pb.GetMetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("get plugin metadata: %w", err)
	}
	c.md = sdk.Metadata{Name: md.GetName(), Version: md.GetVersion(), Description: md.GetDescription()}
	if c.schema, err = schemaFromProto(md.GetSchema()); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", c.md.Name, err)
	}
	c.caps = capsFromProto(md.GetCapabilities())
	return c, nil
}

func (c *Client) lostConnection(err error) error {
	return &sdk.Error{Category: sdk.CategoryRetryable, Message: fmt.Sprintf("connection to plugin %s lost: %v", c.md.Name, err), Err: err}
}

// Metadata returns the metadata the plugin declared.
func (c *Client) Metadata() sdk.Metadata { return c.md }

// Schema returns the configuration schema the plugin declared.
func (c *Client) Schema() sdk.Schema { return c.schema }

// Capabilities returns the capabilities the plugin declared.
func (c *Client) Capabilities() sdk.Capabilities { return c.caps }

// SetConcurrency sets how many operations the plugin may apply at once
// (the target's concurrency). It takes effect for the next apply stream.
func (c *Client) SetConcurrency(n int) {
	c.mu.Lock()
	c.concurrency = max(1, min(n, MaxConcurrency))
	c.mu.Unlock()
}

// Configure sends the decoded configuration to the plugin.
func (c *Client) Configure(ctx context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	b, err := json.Marshal(req.Config.Values())
	if err != nil {
		resp.Diagnostics.AddError(nil, "Cannot encode configuration", err.Error())
		return
	}
	r, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{ConfigJson: b, Dir: req.Dir})
	if err != nil {
		resp.Diagnostics.AddError(nil, "Plugin failed to configure", c.broken(err).Error())
		return
	}
	resp.Diagnostics = append(resp.Diagnostics, diagsFromProto(r.GetDiagnostics())...)
	resp.MaxBatch = int(min(r.GetMaxBatch(), MaxBatch))
	c.mu.Lock()
	c.maxBatch = max(1, resp.MaxBatch)
	c.mu.Unlock()
}

// MaxBatch returns the most operations the target sends its application
// in one request, as it said when configured (1 before that).
func (c *Client) MaxBatch() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(1, c.maxBatch)
}

// TestConnection asks the plugin to test its connection.
func (c *Client) TestConnection(ctx context.Context, _ sdk.TestConnectionRequest, resp *sdk.TestConnectionResponse) {
	if !c.caps.ConnectionTester {
		resp.Diagnostics.AddError(nil, "Connection test not supported", fmt.Sprintf("The %s connector cannot test its connection.", c.md.Name))
		return
	}
	r, err := c.rpc.TestConnection(ctx, &pb.TestConnectionRequest{})
	if err != nil {
		resp.Diagnostics.AddError(nil, "Plugin failed to test its connection", c.broken(err).Error())
		return
	}
	resp.Diagnostics = append(resp.Diagnostics, diagsFromProto(r.GetDiagnostics())...)
	resp.Detail = r.GetDetail()
}

// Close asks the plugin to release its resources and ends the apply stream.
func (c *Client) Close() error {
	c.mu.Lock()
	as := c.apply
	c.apply = nil
	c.mu.Unlock()
	if as != nil {
		as.closeSend()
	}
	if !c.caps.Closer {
		return nil
	}
	r, err := c.rpc.Close(context.Background(), &pb.CloseRequest{})
	if err != nil {
		return c.broken(err)
	}
	if r.GetError() != "" {
		return errors.New(r.GetError())
	}
	return nil
}

// Read streams the plugin's full snapshot, handing each batch to emit.
func (c *Client) Read(ctx context.Context, _ sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	if !c.caps.Source {
		return sdk.ReadResult{}, fmt.Errorf("connector %s is not a source", c.md.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Read(ctx, &pb.ReadRequest{})
	if err != nil {
		return sdk.ReadResult{}, c.broken(err)
	}
	var res sdk.ReadResult
	err = c.recvRecords(ctx, stream, func(m *pb.ReadResponse, recs []sdk.Record) error {
		if m.GetDone() {
			res.Cursor = m.GetCursor()
		}
		if len(recs) == 0 {
			return nil
		}
		return emit(recs...)
	})
	return res, err
}

// ReadChanges streams the plugin's changes after cursor.
func (c *Client) ReadChanges(ctx context.Context, cursor string, emit sdk.ChangesFunc) error {
	if !c.caps.Incremental {
		return fmt.Errorf("connector %s has no change feed", c.md.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ReadChanges(ctx, &pb.ReadChangesRequest{Cursor: cursor})
	if err != nil {
		return c.broken(err)
	}
	last := cursor
	return c.recvRecords(ctx, stream, func(m *pb.ReadResponse, recs []sdk.Record) error {
		// The final message may only advance the cursor (changes the
		// connector skipped); the host must still get to commit it.
		if len(recs) == 0 && (m.GetCursor() == "" || m.GetCursor() == last) {
			return nil
		}
		if m.GetCursor() != "" {
			last = m.GetCursor()
		}
		return emit(last, recs...)
	})
}

type readStream interface {
	Recv() (*pb.ReadResponse, error)
}

func (c *Client) recvRecords(ctx context.Context, stream readStream, handle func(*pb.ReadResponse, []sdk.Record) error) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return c.broken(err)
		}
		var recs []sdk.Record
		if n := len(m.GetRecords()); n > 0 {
			recs = make([]sdk.Record, n)
			for i, r := range m.GetRecords() {
				recs[i] = recordFromProto(r)
			}
		}
		if m.GetDone() && m.GetError() != nil {
			return errorFromProto(m.GetError())
		}
		if err := handle(m, recs); err != nil {
			return err
		}
		if m.GetDone() {
			return nil
		}
	}
}

// Apply sends one operation over the shared apply stream and waits for its
// result. Operations on different objects run concurrently (up to the
// plugin's concurrency); a second operation on the same object waits until
// the first has been answered.
func (c *Client) Apply(ctx context.Context, op sdk.Operation) (sdk.Result, error) {
	if !c.caps.Target {
		return sdk.Result{}, fmt.Errorf("connector %s is not a target", c.md.Name)
	}
	release, err := c.acquireLane(ctx, op.HubID)
	if err != nil {
		return sdk.Result{}, err
	}
	as, err := c.applyStream()
	if err != nil {
		release()
		return sdk.Result{}, c.broken(err)
	}
	seq, ch, err := as.send(operationToProto(&op))
	if err != nil {
		release()
		return sdk.Result{}, c.broken(err)
	}
	select {
	case r := <-ch:
		release()
		return c.result(as, r)
	case <-ctx.Done():
		as.cancel(seq)
		// The lane stays held until the plugin answers, so a later
		// operation on this object cannot overtake one still running.
		go func() { <-ch; release() }()
		return sdk.Result{}, &sdk.Error{Category: sdk.CategoryRetryable, Message: ctx.Err().Error(), Err: ctx.Err()}
	}
}

func (c *Client) result(as *applyStream, r *pb.ApplyResponse) (sdk.Result, error) {
	if r == nil {
		return sdk.Result{}, c.broken(as.failure())
	}
	if e := r.GetError(); e != nil {
		return sdk.Result{}, errorFromProto(e)
	}
	return sdk.Result{
		TargetID: r.GetTargetId(), Outcome: sdk.Outcome(r.GetOutcome()),
		Status: int(r.GetHttpStatus()), BodyExcerpt: r.GetBodyExcerpt(),
	}, nil
}

func (c *Client) acquireLane(ctx context.Context, hubID string) (func(), error) {
	for {
		c.mu.Lock()
		ch, busy := c.lanes[hubID]
		if !busy {
			ch = make(chan struct{})
			c.lanes[hubID] = ch
			c.mu.Unlock()
			return func() {
				c.mu.Lock()
				delete(c.lanes, hubID)
				c.mu.Unlock()
				close(ch)
			}, nil
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, &sdk.Error{Category: sdk.CategoryRetryable, Message: ctx.Err().Error(), Err: ctx.Err()}
		}
	}
}

// applyStream returns the open apply stream, opening a new one when there
// is none or the last one broke.
func (c *Client) applyStream() (*applyStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apply != nil && c.apply.failure() == nil {
		return c.apply, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.rpc.Apply(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	as := &applyStream{stream: stream, cancelStream: cancel, waiting: map[uint64]chan *pb.ApplyResponse{}}
	// A batching target gets enough operations at once to fill a batch
	// per request it may have in flight.
	open := min(c.concurrency*max(1, c.maxBatch), MaxConcurrency)
	if err := stream.Send(&pb.ApplyRequest{Msg: &pb.ApplyRequest_Open{Open: &pb.ApplyOpen{Concurrency: uint32(open)}}}); err != nil {
		cancel()
		return nil, err
	}
	go as.recvLoop()
	c.apply = as
	return as, nil
}

// applyStream multiplexes operations over one bidirectional stream,
// matching results to operations by sequence number.
type applyStream struct {
	stream       pb.Connector_ApplyClient
	cancelStream context.CancelFunc

	sendMu sync.Mutex

	mu      sync.Mutex
	seq     uint64
	waiting map[uint64]chan *pb.ApplyResponse
	err     error
}

func (a *applyStream) send(op *pb.Operation) (uint64, chan *pb.ApplyResponse, error) {
	a.mu.Lock()
	if a.err != nil {
		a.mu.Unlock()
		return 0, nil, a.err
	}
	a.seq++
	seq := a.seq
	ch := make(chan *pb.ApplyResponse, 1)
	a.waiting[seq] = ch
	a.mu.Unlock()

	a.sendMu.Lock()
	// A failed Send means the stream is gone; its cause arrives through
	// Recv, and the receive loop answers every waiting operation, this one
	// included, so the error is not returned here.
	_ = a.stream.Send(&pb.ApplyRequest{Seq: seq, Msg: &pb.ApplyRequest_Operation{Operation: op}})
	a.sendMu.Unlock()
	return seq, ch, nil
}

func (a *applyStream) cancel(seq uint64) {
	a.sendMu.Lock()
	_ = a.stream.Send(&pb.ApplyRequest{Msg: &pb.ApplyRequest_Cancel{Cancel: &pb.ApplyCancel{Seq: seq}}})
	a.sendMu.Unlock()
}

func (a *applyStream) closeSend() {
	a.sendMu.Lock()
	_ = a.stream.CloseSend()
	a.sendMu.Unlock()
}

func (a *applyStream) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *applyStream) recvLoop() {
	for {
		r, err := a.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			a.mu.Lock()
			a.err = err
			waiting := a.waiting
			a.waiting = nil
			a.mu.Unlock()
			for _, ch := range waiting {
				ch <- nil
			}
			a.cancelStream()
			return
		}
		a.mu.Lock()
		ch := a.waiting[r.GetSeq()]
		delete(a.waiting, r.GetSeq())
		a.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

var (
	_ sdk.Incremental        = (*Client)(nil)
	_ sdk.Target             = (*Client)(nil)
	_ sdk.ConnectionTester   = (*Client)(nil)
	_ sdk.Closer             = (*Client)(nil)
	_ sdk.CapabilityReporter = (*Client)(nil)
)

// Client deliberately does not implement sdk.TargetWithLookup: the plugin
// performs the look-up inside a create, so sdk.Apply on the
// host passes a create straight through, with no extra round trip.
