package csv

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/midstream-io/midstream/sdk"
)

// Connector reads users and orgs from an HR export. It is a full-only
// source: an export has no change feed, so every run reads the whole file
// and the engine's directory diff finds what changed.
//
// The zero value is not configured; create one with [New]. After
// Configure, a Connector holds no open files and may serve concurrent
// reads.
type Connector struct {
	s *settings
}

// New returns an unconfigured csv connector.
func New() *Connector { return &Connector{} }

var (
	_ sdk.Source           = (*Connector)(nil)
	_ sdk.ConnectionTester = (*Connector)(nil)
)

// Metadata names the connector.
func (c *Connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Name:        "csv",
		Version:     "0.1.0",
		Description: "Reads users and orgs from HR exports (CSV in UTF-8 or GBK), checking the whole file before yielding anything.",
	}
}

// Schema declares the configuration block.
func (c *Connector) Schema() sdk.Schema { return schema }

// Configure checks the configuration. It does not open the file, which may
// not exist until the HR system's next export; TestConnection does.
func (c *Connector) Configure(_ context.Context, req sdk.ConfigureRequest, resp *sdk.ConfigureResponse) {
	s, diags := parseSettings(req.Config, req.Dir)
	resp.Diagnostics = append(resp.Diagnostics, diags...)
	if !diags.HasError() {
		c.s = s
	}
}

// Read checks the whole file (and the org file) first, and returns an
// [InputError] listing every problem, wrapped in a permanent *sdk.Error,
// without emitting anything when there is one. Otherwise it emits the orgs,
// parents before children, then one user per row in file order, reading
// the file a second time so that memory does not grow with the number of
// users.
func (c *Connector) Read(ctx context.Context, _ sdk.ReadRequest, emit sdk.EmitFunc) (sdk.ReadResult, error) {
	s := c.s
	if s == nil {
		return sdk.ReadResult{}, &sdk.Error{Category: sdk.CategoryPermanent, Message: "csv source read before it was configured"}
	}
	probs := &problems{}
	var orgs []sdk.Record
	var orgIDs map[string]struct{}
	if s.orgPath != "" {
		oin, err := openInput(s.orgPath, s.orgLabel, s.encoding)
		if err != nil {
			return sdk.ReadResult{}, ioError(s.orgLabel, err)
		}
		orgs, orgIDs, err = checkOrgs(ctx, s, oin, probs)
		oin.Close()
		if err != nil {
			return sdk.ReadResult{}, ioError(s.orgLabel, err)
		}
	}

	in, err := openInput(s.path, s.label, s.encoding)
	if err != nil {
		return sdk.ReadResult{}, ioError(s.label, err)
	}
	defer in.Close()
	checked, err := checkUsers(ctx, s, in, orgIDs, probs)
	if err != nil {
		return sdk.ReadResult{}, ioError(s.label, err)
	}
	if ie := probs.err(s.label, s.orgLabel); ie != nil {
		return sdk.ReadResult{}, &sdk.Error{Category: sdk.CategoryPermanent, Message: ie.Error(), Err: ie}
	}
	if checked.depts != nil {
		orgs = deptOrgs(checked.depts, s.sep)
		checked.depts = nil
	}
	if err := emitAll(orgs, emit); err != nil {
		return sdk.ReadResult{}, err
	}
	if err := streamUsers(ctx, s, in, checked, s.orgPath != "", emit); err != nil {
		return sdk.ReadResult{}, err
	}
	return sdk.ReadResult{}, nil
}

// TestConnection checks that the file (and the org file) can be opened and
// read, decides its encoding as Read would, and checks that its header has
// every configured column. It does not check the rows; Read does.
func (c *Connector) TestConnection(_ context.Context, _ sdk.TestConnectionRequest, resp *sdk.TestConnectionResponse) {
	s := c.s
	if s == nil {
		resp.Diagnostics.AddError(nil, "Not configured", "The csv source was tested before it was configured.")
		return
	}
	details := []string{testFile(s, s.path, s.label, pathField, (*settings).userLayout, &resp.Diagnostics)}
	if s.orgPath != "" {
		details = append(details, testFile(s, s.orgPath, s.orgLabel, orgFileField, (*settings).orgLayout, &resp.Diagnostics))
	}
	if !resp.Diagnostics.HasError() {
		resp.Detail = strings.Join(details, "; ")
	}
}

func testFile(s *settings, path, label, field string, layoutOf func(*settings, []string) (*layout, []headerProblem), diags *sdk.Diagnostics) string {
	fail := func(summary, detail string) string {
		diags.AddError(sdk.Path{field}, summary, detail)
		return ""
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fail("Cannot read the file", fmt.Sprintf("%v. Check %s: it is relative to the pipeline file.", ioError(label, err), field))
	case fi.IsDir():
		return fail("Not a file", fmt.Sprintf("%s is a directory. Set %s to the export file itself.", label, field))
	}
	in, err := openInput(path, label, s.encoding)
	if err != nil {
		return fail("Cannot read the file", fmt.Sprintf("%v. Check the file's permissions.", ioError(label, err)))
	}
	defer in.Close()
	rr, _, err := in.rows(s.delim)
	if err != nil {
		return fail("Cannot read the file", fmt.Sprintf("%s: %v.", label, err))
	}
	header, err := rr.next()
	switch {
	case err == io.EOF:
		return fail("Empty file", fmt.Sprintf("%s is empty. An export needs a header and at least one row.", label))
	case err != nil:
		return fail("Cannot read the file", fmt.Sprintf("%v.", ioError(label, err)))
	case len(rr.errs) > 0:
		return fail("Malformed header", fmt.Sprintf("%s:%d:%d: %s.", label, rr.start, rr.errs[0].field+1, rr.errs[0].msg))
	}
	l, probs := layoutOf(s, header)
	for _, p := range probs {
		loc := fmt.Sprintf("%s:%d", label, rr.start)
		if p.col > 0 {
			loc += fmt.Sprintf(":%d", p.col)
		}
		path := p.path
		if path == nil {
			path = sdk.Path{field}
		}
		diags.AddError(path, "Header does not match the configuration",
			fmt.Sprintf("%s: %s. Correct the setting, or the export's header.", loc, p.msg))
	}
	return fmt.Sprintf("%s: %d bytes, read as %s because %s; the header's %d columns include every configured one",
		label, fi.Size(), strings.ToUpper(in.det.enc), in.det.why, l.width)
}
