package sdk

import (
	"context"
)

// Role says which side of the hub a connector can stand on.
type Role string

// The roles a connector can play. A connector may play both (the csv
// connector reads HR exports and writes export files).
const (
	RoleSource Role = "source"
	RoleTarget Role = "target"
)

// Metadata names a connector.
type Metadata struct {
	// Name is the connector's registered name and HCL label: one lowercase
	// word such as "csv" or "dingtalk".
	Name string
	// Version is the connector's own version, shown by `midstream plugins`.
	Version string
	// Description is one sentence shown in listings and docs.
	Description string
}

// Connector is what every connector implements. A connector value serves
// one configured instance (one HCL block): Configure is called once, before
// any other call except Metadata and Schema.
type Connector interface {
	// Metadata names the connector.
	Metadata() Metadata
	// Schema declares the connector's configuration block.
	Schema() Schema
	// Configure receives the decoded configuration. Problems go in
	// resp.Diagnostics, located by attribute path, never as a panic.
	Configure(ctx context.Context, req ConfigureRequest, resp *ConfigureResponse)
}

// ConfigureRequest carries a connector's decoded configuration.
type ConfigureRequest struct {
	// Config holds the values of the connector's block, typed by its schema,
	// with defaults applied and secrets resolved.
	Config Config
	// Dir is the directory of the pipeline file that declared the block;
	// relative paths in the configuration are relative to it.
	Dir string
}

// ConfigureResponse is filled by Configure.
type ConfigureResponse struct {
	Diagnostics Diagnostics
	// MaxBatch, set by a target that sends several operations to its
	// application in one request, is the most it sends at once. The host
	// then keeps up to its concurrency × MaxBatch operations in flight at
	// the connector, so batches can fill; the connector still sends at
	// most concurrency requests at once. 0 and 1 mean one per request.
	MaxBatch int
}

// EmitFunc passes records to the host. A connector calls it with one record
// or many; it returns an error when the host can take no more (the read was
// cancelled or the host has gone), and the connector must then stop and
// return that error.
type EmitFunc func(records ...Record) error

// ReadRequest asks a source for a full snapshot.
type ReadRequest struct{}

// ReadResult is what a full read returns besides its records.
type ReadResult struct {
	// Cursor, from a source that is also Incremental, is where change
	// reading resumes after this snapshot: taken before the snapshot was
	// read, so a change made while it was read is read again, never lost.
	Cursor string
}

// Source reads people and organizations from a system that owns them.
type Source interface {
	Connector
	// Read streams a full snapshot of every object the source holds. Every
	// org referenced by a record should be in the snapshot. A source that
	// can tell bad input before yielding (a malformed file) must fail
	// without emitting anything.
	Read(ctx context.Context, req ReadRequest, emit EmitFunc) (ReadResult, error)
}

// ChangesFunc passes a batch of changes to the host with the cursor that is
// valid once they are applied. The host commits the changes and the cursor
// together, so a read interrupted at any point resumes from the last
// committed cursor and loses nothing. Records in StateDeleted are
// deletions; every other record is the object's whole current state.
type ChangesFunc func(cursor string, records ...Record) error

// Incremental is implemented by a source with a change feed.
type Incremental interface {
	Source
	// ReadChanges streams the changes made after cursor, in order. An empty
	// cursor is invalid: a host starts from the cursor of a full read.
	ReadChanges(ctx context.Context, cursor string, emit ChangesFunc) error
}

// Target applies changes to an application.
type Target interface {
	Connector
	// Apply applies one operation. It must be safe for concurrent use: the
	// SDK calls it for up to N operations at once, never two for the same
	// object. A failure the host should act on is returned as an *Error;
	// any other error is treated as CategoryPermanent.
	Apply(ctx context.Context, op Operation) (Result, error)
}

// TargetWithLookup is implemented by a target that can find an object the
// application already holds (a SCIM filter on userName, a vendor search).
//
// The SDK calls Lookup inside every create, before calling Apply: when the
// object is found, the create is applied as an update of that object (all
// the create's attributes) and answered OutcomeMatched, so a create re-run
// after a lost answer or a crash links instead of creating twice. Hosts
// never call Lookup directly.
type TargetWithLookup interface {
	Target
	// Lookup returns the application's id of the object op would create,
	// and whether it was found.
	Lookup(ctx context.Context, op Operation) (targetID string, found bool, err error)
}

// ConnectionTester is implemented by a connector that can check its
// settings against the live system.
type ConnectionTester interface {
	Connector
	// TestConnection checks reachability, credentials and permissions,
	// reporting each problem precisely (DNS, TLS, HTTP status, the vendor's
	// error code) as a diagnostic.
	TestConnection(ctx context.Context, req TestConnectionRequest, resp *TestConnectionResponse)
}

// TestConnectionRequest asks a connector to test its connection.
type TestConnectionRequest struct{}

// TestConnectionResponse is filled by TestConnection. No error
// diagnostics means the connection works; Detail may describe what was
// checked ("HTTP 200 from https://app.example.com/hook in 41ms").
type TestConnectionResponse struct {
	Diagnostics Diagnostics
	Detail      string
}

// Closer is implemented by a connector that holds resources (connections,
// files) to release when the host is done with it.
type Closer interface {
	Close() error
}

// Capabilities lists what a connector implements beyond Connector.
type Capabilities struct {
	Source           bool
	Incremental      bool
	Target           bool
	Lookup           bool
	ConnectionTester bool
	Closer           bool
}

// CapabilityReporter is implemented by a connector that states its
// capabilities rather than having them found by type assertion: the client
// adapter of a plugin implements every method and reports what the plugin
// behind it declared.
type CapabilityReporter interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns what c implements: what it reports, when it is a
// CapabilityReporter, else what type assertions find. Hosts use it rather
// than type assertions, so a remote connector is treated like a local one.
func CapabilitiesOf(c Connector) Capabilities {
	if r, ok := c.(CapabilityReporter); ok {
		return r.Capabilities()
	}
	_, src := c.(Source)
	_, inc := c.(Incremental)
	_, tgt := c.(Target)
	_, lk := c.(TargetWithLookup)
	_, ct := c.(ConnectionTester)
	_, cl := c.(Closer)
	return Capabilities{Source: src, Incremental: inc, Target: tgt, Lookup: lk, ConnectionTester: ct, Closer: cl}
}

// Roles returns the roles of a connector with capabilities c.
func (c Capabilities) Roles() []Role {
	var r []Role
	if c.Source {
		r = append(r, RoleSource)
	}
	if c.Target {
		r = append(r, RoleTarget)
	}
	return r
}
