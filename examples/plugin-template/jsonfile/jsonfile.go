// Package jsonfile is the template connector: a source reading users and
// orgs from a JSON snapshot file and their later changes from a JSON-lines
// change journal.
//
// The snapshot is {"records": [RECORD, ...]}; each journal line is a
// RECORD with a "seq" number, strictly increasing. A RECORD is
//
//	{"kind": "user"|"org", "id": "...", "state": "active"|"disabled"|"deleted",
//	 "parent": "org id", "orgs": ["org id", ...], "primary_org": "org id",
//	 "attributes": {"name": "...", ...}}
//
// A full read returns the snapshot with every journal line applied, and
// the last journal seq as its cursor; ReadChanges returns the journal lines
// after a cursor. A journal line is the object's whole new state; "state":
// "deleted" deletes it.
package jsonfile

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/midstream-io/midstream/sdk"
)

// Example is the connector's sample configuration block body.
//
//go:embed example.hcl
var Example string

// Configuration attribute names.
const (
	pathField    = "path"
	journalField = "journal"
)

// Connector is the jsonfile source.
type Connector struct {
	path, journal string
}

// New returns an unconfigured jsonfile connector.
func New() *Connector { return &Connector{} }

// Metadata names the connector.
func (c *Connector) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "jsonfile", Version: "0.1.0", Description: "Reads users and orgs from a JSON snapshot and a JSON-lines change journal."}
}

// Schema declares the configuration block.
func (c *Connector) Schema() sdk.Schema {
	return sdk.Schema{Fields: []sdk.Field{
		{Name: pathField, Type: sdk.FieldString, Required: true, Example: "directory.json",
			Description: "The snapshot file, relative to the pipeline file: a JSON object whose \"records\" array holds every user and org."},
		{Name: journalField, Type: sdk.FieldString, Example: "changes.jsonl",
			Description: "The change journal, relative to the pipeline file: one JSON record per line with a strictly increasing \"seq\". Without it the source has no changes to read incrementally."},
	}}
}

// Configure resolves the file paths.
func (c *Connector) Configure(_ context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	c.path = resolve(req.Dir, req.Config.String(pathField))
	if c.path == "" {
		resp.Diagnostics.AddError(sdk.Path{pathField}, "Empty path", "Set path to the snapshot file.")
	}
	if j := req.Config.String(journalField); j != "" {
		c.journal = resolve(req.Dir, j)
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

type jsonRecord struct {
	Seq        int64          `json:"seq,omitempty"`
	Kind       string         `json:"kind"`
	ID         string         `json:"id"`
	State      string         `json:"state,omitempty"`
	Parent     string         `json:"parent,omitempty"`
	Orgs       []string       `json:"orgs,omitempty"`
	PrimaryOrg string         `json:"primary_org,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

func (j *jsonRecord) record() (sdk.Record, error) {
	r := sdk.Record{
		Kind: sdk.Kind(j.Kind), ExternalID: j.ID, State: sdk.State(j.State),
		Parent: j.Parent, Orgs: j.Orgs, PrimaryOrg: j.PrimaryOrg,
	}
	if r.State == "" {
		r.State = sdk.StateActive
	}
	if r.Kind == sdk.KindUser && r.PrimaryOrg == "" && len(r.Orgs) > 0 {
		r.PrimaryOrg = r.Orgs[0]
	}
	if len(j.Attributes) > 0 {
		r.Attributes = make(sdk.Attributes, len(j.Attributes))
		for k, v := range j.Attributes {
			val, err := sdk.ValueOf(v)
			if err != nil {
				return r, fmt.Errorf("%s %q: attribute %q: %w", j.Kind, j.ID, k, err)
			}
			r.Attributes[k] = val
		}
	}
	return r, r.Validate()
}

// Read returns the snapshot with the journal applied; the cursor is the
// journal's last seq.
func (c *Connector) Read(ctx context.Context, _ sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	var snap struct {
		Records []jsonRecord `json:"records"`
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		return sdk.ReadResult{}, fmt.Errorf("%s: %w", c.path, err)
	}
	type key struct{ kind, id string }
	state := map[key]sdk.Record{}
	var order []key
	put := func(j *jsonRecord) error {
		r, err := j.record()
		if err != nil {
			return err
		}
		k := key{j.Kind, j.ID}
		if _, ok := state[k]; !ok {
			order = append(order, k)
		}
		state[k] = r
		return nil
	}
	for i := range snap.Records {
		if err := put(&snap.Records[i]); err != nil {
			return sdk.ReadResult{}, fmt.Errorf("%s: record %d: %w", c.path, i+1, err)
		}
	}
	var last int64
	if err := c.scanJournal(0, func(j *jsonRecord) error { last = j.Seq; return put(j) }); err != nil {
		return sdk.ReadResult{}, err
	}
	// Orgs first, so a host that reads in order sees parents before the
	// users in them.
	for _, kind := range []sdk.Kind{sdk.KindOrg, sdk.KindUser} {
		for _, k := range order {
			r := state[k]
			if r.Kind != kind || r.State == sdk.StateDeleted {
				continue
			}
			if err := ctx.Err(); err != nil {
				return sdk.ReadResult{}, err
			}
			if err := emit(r); err != nil {
				return sdk.ReadResult{}, err
			}
		}
	}
	return sdk.ReadResult{Cursor: strconv.FormatInt(last, 10)}, nil
}

// ReadChanges returns the journal lines after cursor.
func (c *Connector) ReadChanges(ctx context.Context, cursor string, emit sdk.ChangesFunc) error {
	after, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || after < 0 {
		return &sdk.Error{Category: sdk.CategoryPermanent, Message: fmt.Sprintf("invalid cursor %q: want a journal sequence number", cursor)}
	}
	return c.scanJournal(after, func(j *jsonRecord) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := j.record()
		if err != nil {
			return err
		}
		return emit(strconv.FormatInt(j.Seq, 10), r)
	})
}

// scanJournal calls fn for each journal line with a seq above after.
func (c *Connector) scanJournal(after int64, fn func(*jsonRecord) error) error {
	if c.journal == "" {
		return nil
	}
	f, err := os.Open(c.journal)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var prev int64
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var j jsonRecord
		if err := json.Unmarshal(b, &j); err != nil {
			return fmt.Errorf("%s:%d: %w", c.journal, line, err)
		}
		if j.Seq <= prev {
			return fmt.Errorf("%s:%d: seq %d does not follow %d", c.journal, line, j.Seq, prev)
		}
		prev = j.Seq
		if j.Seq <= after {
			continue
		}
		if err := fn(&j); err != nil {
			return fmt.Errorf("%s:%d: %w", c.journal, line, err)
		}
	}
	return sc.Err()
}

// TestConnection checks that the files can be read.
func (c *Connector) TestConnection(_ context.Context, _ sdk.TestConnectionRequest, resp *sdk.TestConnectionResponse) {
	if _, err := os.Stat(c.path); err != nil {
		resp.Diagnostics.AddError(sdk.Path{pathField}, "Cannot read snapshot", err.Error())
	}
	resp.Detail = "snapshot " + c.path
}

var (
	_ sdk.Incremental      = (*Connector)(nil)
	_ sdk.ConnectionTester = (*Connector)(nil)
)
