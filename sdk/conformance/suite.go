package conformance

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// Definition names one conformance check.
type Definition string

// The definitions of the kit; see the package documentation.
const (
	SchemaMatchesExampleConfig      Definition = "SchemaMatchesExampleConfig"
	SourceFullRead                  Definition = "SourceFullRead"
	SourceIncrementalFromCursor     Definition = "SourceIncrementalFromCursor"
	SourceCursorResumesAfterRestart Definition = "SourceCursorResumesAfterRestart"
	TargetCreateUpdateDisableDelete Definition = "TargetCreateUpdateDisableDelete"
	TargetIdempotentRetry           Definition = "TargetIdempotentRetry"
	TargetReportsVendorError        Definition = "TargetReportsVendorError"
	SurvivesPluginCrash             Definition = "SurvivesPluginCrash"
)

// Mode is how the kit reaches the connector.
type Mode string

// The modes of the matrix.
const (
	InProcess  Mode = "InProcess"
	GRPC       Mode = "GRPC"
	Subprocess Mode = "Subprocess"
)

// Suite describes a connector under test.
type Suite struct {
	// New returns a fresh, unconfigured connector. In the subprocess mode
	// the kit launches the test binary as `plugins serve NAME`, so the test
	// package's TestMain must serve New under its metadata name.
	New func() sdk.Connector
	// Example is the connector's example.hcl: the body of its block.
	Example string
	// Fixture prepares a fresh system for one definition in one mode.
	Fixture func(t *testing.T) *Fixture
}

// Fixture is a fresh system for one definition.
type Fixture struct {
	// Config is the body of the connector's block in HCL.
	Config string
	// Dir is the pipeline directory relative paths start from; default a
	// temporary directory.
	Dir string
	// Env holds the variables env() resolves in Config.
	Env map[string]string

	// Want is what a full read yields, in any order (sources).
	Want []sdk.Record
	// Change makes the step-th set of changes (0, 1) in the source and
	// returns the records ReadChanges must then yield, in order
	// (incremental sources).
	Change func(t *testing.T, step int) []sdk.Record
	// Large returns a configuration whose full read yields Count records,
	// at least 50,000, so a read can be cut in the middle (sources).
	Large func(t *testing.T) (config string, count int)

	// Peer shows what the application holds (targets).
	Peer Peer
}

// Peer is the application a target writes to, as the test sees it.
type Peer interface {
	// Objects returns every object the application holds.
	Objects() []PeerObject
	// FailNext makes the application answer its next request with f.
	FailNext(f Failure)
}

// PeerObject is an object as the application holds it.
type PeerObject struct {
	ID     string
	Kind   sdk.Kind
	HubID  string
	Active bool
	// Parent is the application id of an org's parent or a user's primary
	// org.
	Parent     string
	Attributes map[string]string
}

// Failure is a way for the application to fail a request.
type Failure int

// The failures TargetReportsVendorError injects.
const (
	// FailUnavailable answers as an overloaded server (HTTP 503).
	FailUnavailable Failure = iota + 1
	// FailRateLimited asks the client to slow down for 7 seconds (HTTP 429
	// with Retry-After: 7).
	FailRateLimited
	// FailRejected rejects the request as invalid (HTTP 400 with a body).
	FailRejected
)

// conn is one configured connector as reached in one mode.
type conn struct {
	sdk.Connector
	mode    Mode
	restart func(t *testing.T) *conn
	// kill ends the plugin (subprocess) or drops the connection (gRPC).
	kill func()
	pid  int
}

// Run runs the connector's matrix: every applicable definition in every
// mode, each as a subtest named MODE/DEFINITION.
func (s Suite) Run(t *testing.T) {
	caps := sdk.CapabilitiesOf(s.New())
	var defs []Definition
	defs = append(defs, SchemaMatchesExampleConfig)
	if caps.Source {
		defs = append(defs, SourceFullRead)
	}
	if caps.Incremental {
		defs = append(defs, SourceIncrementalFromCursor, SourceCursorResumesAfterRestart)
	}
	if caps.Target {
		defs = append(defs, TargetCreateUpdateDisableDelete, TargetIdempotentRetry, TargetReportsVendorError)
	}
	defs = append(defs, SurvivesPluginCrash)
	for _, mode := range []Mode{InProcess, GRPC, Subprocess} {
		t.Run(string(mode), func(t *testing.T) {
			for _, d := range defs {
				if d == SurvivesPluginCrash && mode == InProcess {
					continue // nothing to crash in process: see the package doc
				}
				t.Run(string(d), func(t *testing.T) { s.run(t, mode, d) })
			}
		})
	}
}

func (s Suite) run(t *testing.T, mode Mode, d Definition) {
	switch d {
	case SchemaMatchesExampleConfig:
		s.schemaMatchesExampleConfig(t, mode)
	case SourceFullRead:
		s.sourceFullRead(t, mode)
	case SourceIncrementalFromCursor:
		s.sourceIncrementalFromCursor(t, mode)
	case SourceCursorResumesAfterRestart:
		s.sourceCursorResumesAfterRestart(t, mode)
	case TargetCreateUpdateDisableDelete:
		s.targetCreateUpdateDisableDelete(t, mode)
	case TargetIdempotentRetry:
		s.targetIdempotentRetry(t, mode)
	case TargetReportsVendorError:
		s.targetReportsVendorError(t, mode)
	case SurvivesPluginCrash:
		s.survivesPluginCrash(t, mode)
	}
}

func (s Suite) fixture(t *testing.T) *Fixture {
	t.Helper()
	if s.Fixture == nil {
		t.Fatal("conformance: Suite.Fixture is nil")
	}
	fx := s.Fixture(t)
	if fx.Dir == "" {
		fx.Dir = t.TempDir()
	}
	return fx
}

// open reaches the connector in mode and configures it with config.
func (s Suite) open(t *testing.T, mode Mode, fx *Fixture, config string) *conn {
	t.Helper()
	c := s.reach(t, mode)
	cfg, diags := hcldecode.DecodeFile("conformance.hcl", []byte(config), c.Schema(),
		hcldecode.EvalContext(fx.Dir, func(n string) (string, bool) { v, ok := fx.Env[n]; return v, ok }))
	if diags.HasErrors() {
		t.Fatalf("fixture configuration does not decode: %s", diags.Error())
	}
	var resp sdk.ConfigureResponse
	c.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: fx.Dir}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("configure: %v", resp.Diagnostics.Err())
	}
	c.restart = func(t *testing.T) *conn {
		if cl, ok := c.Connector.(sdk.Closer); ok {
			_ = cl.Close()
		}
		c.kill()
		return s.open(t, mode, fx, config)
	}
	return c
}

// reach returns an unconfigured connector in mode.
func (s Suite) reach(t *testing.T, mode Mode) *conn {
	t.Helper()
	c := &conn{mode: mode, kill: func() {}}
	switch mode {
	case InProcess:
		c.Connector = s.New()
	case GRPC:
		cl, stop := plugin.InProcess(t, s.New())
		c.Connector, c.kill = cl, stop
	case Subprocess:
		name := s.New().Metadata().Name
		lc, err := plugin.SelfConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plugin.Launch(context.Background(), lc)
		if err != nil {
			t.Fatalf("launch %s: %v", name, err)
		}
		t.Cleanup(p.Kill)
		c.Connector, c.pid = p, p.Pid()
		c.kill = func() { killPid(t, p) }
	}
	return c
}

func (s Suite) schemaMatchesExampleConfig(t *testing.T, mode Mode) {
	local := s.New()
	if err := plugin.CheckDefinition(local); err != nil {
		t.Fatalf("connector definition: %v", err)
	}
	if strings.TrimSpace(s.Example) == "" {
		t.Fatal("Suite.Example is empty: every connector ships an example.hcl")
	}
	fx := &Fixture{Dir: t.TempDir()}
	c := s.reach(t, mode)
	if mode != InProcess {
		if diff := cmp.Diff(local.Schema(), c.Schema(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("schema changed crossing the protocol (-local +remote):\n%s", diff)
		}
		if diff := cmp.Diff(sdk.CapabilitiesOf(local), sdk.CapabilitiesOf(c.Connector)); diff != "" {
			t.Errorf("capabilities changed crossing the protocol (-local +remote):\n%s", diff)
		}
	}
	// Examples reference secrets through env(); any name resolves here.
	ctx := hcldecode.EvalContext(fx.Dir, func(n string) (string, bool) { return "example-" + strings.ToLower(n), true })
	if _, diags := hcldecode.DecodeFile("example.hcl", []byte(s.Example), c.Schema(), ctx); diags.HasErrors() {
		t.Fatalf("example.hcl does not match the schema:\n%s", diags.Error())
	}
	for _, f := range c.Schema().Fields {
		if f.Required && !strings.Contains(s.Example, f.Name) {
			t.Errorf("example.hcl does not set required field %q", f.Name)
		}
	}
}

var cmpRecords = []cmp.Option{
	cmp.Comparer(func(a, b sdk.Value) bool { return a.Equal(b) }),
	cmpopts.EquateEmpty(),
}

func sortRecords(rs []sdk.Record) []sdk.Record {
	rs = slices.Clone(rs)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Kind != rs[j].Kind {
			return rs[i].Kind < rs[j].Kind
		}
		return rs[i].ExternalID < rs[j].ExternalID
	})
	return rs
}

func normalize(rs []sdk.Record) []sdk.Record {
	for i := range rs {
		if rs[i].State == "" {
			rs[i].State = sdk.StateActive
		}
	}
	return rs
}

func readAll(t *testing.T, c sdk.Connector) ([]sdk.Record, sdk.ReadResult) {
	t.Helper()
	src, ok := c.(sdk.Source)
	if !ok {
		t.Fatal("connector is not a source")
	}
	var got []sdk.Record
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := src.Read(ctx, sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		got = append(got, rs...)
		return nil
	})
	if err != nil {
		t.Fatalf("full read: %v", err)
	}
	return got, res
}

func (s Suite) sourceFullRead(t *testing.T, mode Mode) {
	fx := s.fixture(t)
	c := s.open(t, mode, fx, fx.Config)
	got, _ := readAll(t, c.Connector)
	orgs := map[string]bool{}
	for i := range got {
		if err := got[i].Validate(); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		if got[i].Kind == sdk.KindOrg {
			orgs[got[i].ExternalID] = true
		}
	}
	for _, r := range got {
		refs := append([]string{r.Parent, r.PrimaryOrg}, r.Orgs...)
		for _, ref := range refs {
			if ref != "" && !orgs[ref] {
				t.Errorf("%s %q refers to org %q, which the snapshot does not hold", r.Kind, r.ExternalID, ref)
			}
		}
	}
	if diff := cmp.Diff(sortRecords(normalize(fx.Want)), sortRecords(normalize(got)), cmpRecords...); diff != "" {
		t.Errorf("full read (-want +got):\n%s", diff)
	}
}

type change struct {
	Cursor string
	Record sdk.Record
}

func readChanges(t *testing.T, c sdk.Connector, cursor string) ([]change, string) {
	t.Helper()
	inc, ok := c.(sdk.Incremental)
	if !ok {
		t.Fatal("connector is not incremental")
	}
	var got []change
	last := cursor
	err := inc.ReadChanges(context.Background(), cursor, func(cur string, rs ...sdk.Record) error {
		if cur == "" {
			return fmt.Errorf("changes delivered with an empty cursor")
		}
		for _, r := range rs {
			got = append(got, change{cur, r})
		}
		last = cur
		return nil
	})
	if err != nil {
		t.Fatalf("read changes from %q: %v", cursor, err)
	}
	return got, last
}

func records(cs []change) []sdk.Record {
	out := make([]sdk.Record, len(cs))
	for i, c := range cs {
		out[i] = c.Record
	}
	return normalize(out)
}

func (s Suite) sourceIncrementalFromCursor(t *testing.T, mode Mode) {
	fx := s.fixture(t)
	if fx.Change == nil {
		t.Fatal("an incremental source's fixture must set Change")
	}
	c := s.open(t, mode, fx, fx.Config)
	_, res := readAll(t, c.Connector)
	if res.Cursor == "" {
		t.Fatal("full read of an incremental source returned no cursor")
	}
	if got, _ := readChanges(t, c.Connector, res.Cursor); len(got) != 0 {
		t.Fatalf("changes read right after a full read: %d, want none", len(got))
	}
	want := fx.Change(t, 0)
	got, last := readChanges(t, c.Connector, res.Cursor)
	if diff := cmp.Diff(normalize(want), records(got), cmpRecords...); diff != "" {
		t.Errorf("changes from the full read's cursor (-want +got):\n%s", diff)
	}
	if last == res.Cursor {
		t.Errorf("cursor did not advance past the changes: still %q", last)
	}
	if again, _ := readChanges(t, c.Connector, last); len(again) != 0 {
		t.Errorf("reading from the last cursor %q yields %d changes again, want none", last, len(again))
	}
}

func (s Suite) sourceCursorResumesAfterRestart(t *testing.T, mode Mode) {
	fx := s.fixture(t)
	if fx.Change == nil {
		t.Fatal("an incremental source's fixture must set Change")
	}
	c := s.open(t, mode, fx, fx.Config)
	_, res := readAll(t, c.Connector)
	want1 := normalize(fx.Change(t, 0))
	if len(want1) < 2 {
		t.Fatal("fixture's first change set must hold at least two changes")
	}
	got1, c1 := readChanges(t, c.Connector, res.Cursor)
	// A cursor delivered mid-stream resumes after exactly the changes it
	// came with: a host that committed only the first batch loses nothing.
	mid := got1[0].Cursor
	n := 0
	for n < len(got1) && got1[n].Cursor == mid {
		n++
	}
	c = c.restart(t)
	rest, _ := readChanges(t, c.Connector, mid)
	if diff := cmp.Diff(want1[n:], records(rest), cmpRecords...); diff != "" {
		t.Errorf("changes after restart from mid-stream cursor %q (-want +got):\n%s", mid, diff)
	}
	want2 := normalize(fx.Change(t, 1))
	c = c.restart(t)
	got2, _ := readChanges(t, c.Connector, c1)
	if diff := cmp.Diff(want2, records(got2), cmpRecords...); diff != "" {
		t.Errorf("changes after restart from cursor %q (-want +got):\n%s", c1, diff)
	}
}
