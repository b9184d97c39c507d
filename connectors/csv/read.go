package csv

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/midstream-io/midstream/sdk"
)

// batchSize is how many records go to one emit call.
const batchSize = 256

// checkEvery is how many rows pass between checks of the context.
const checkEvery = 4096

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// input is one file opened for a run, its encoding decided. Both passes
// read the same open file, so an export renamed into place between them
// does not mix two versions.
type input struct {
	f        *os.File
	label    string
	det      detection
	explicit bool
}

// openInput opens the file at path and decides its encoding.
func openInput(path, label, encoding string) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &input{f: f, label: label}
	if encoding != encodingAuto {
		in.det = detection{enc: encoding, why: fmt.Sprintf("encoding = %q", encoding)}
		in.explicit = true
		return in, nil
	}
	if in.det, err = sniff(f); err != nil {
		f.Close()
		return nil, err
	}
	return in, nil
}

func (in *input) Close() error { return in.f.Close() }

// rows starts a pass over the whole file.
func (in *input) rows(delim string) (*rowReader, *crcReader, error) {
	if _, err := in.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	sum := &crcReader{r: in.f}
	rr, err := openRows(sum, in.det.enc, delim)
	return rr, sum, err
}

// crcReader checksums what passes through it, so the second pass can tell
// whether it read the bytes the first pass checked.
type crcReader struct {
	r   io.Reader
	sum uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sum = crc32.Update(c.sum, crcTable, p[:n])
	return n, err
}

// checker holds what both passes need to locate problems in one file.
type checker struct {
	s     *settings
	in    *input
	l     *layout
	probs *problems
}

func (k *checker) add(line, col int, msg string) {
	var h string
	if k.l != nil && col > 0 {
		h = k.l.name(col - 1)
	}
	k.probs.add(RowError{File: k.in.label, Line: line, Column: col, Header: h, Msg: msg})
}

// badEncoding reports whether field f holds bytes that are not valid in
// the file's encoding.
func (k *checker) badEncoding(f string) bool {
	if k.in.det.enc == encodingGBK {
		return strings.ContainsRune(f, utf8.RuneError)
	}
	return !utf8.ValidString(f)
}

func (k *checker) encodingMsg() string {
	if k.in.det.enc == encodingGBK {
		if k.in.explicit {
			return "invalid GBK byte sequence"
		}
		return "invalid GBK byte sequence (the file is read as GBK because it is not valid UTF-8; it may be damaged, or in another encoding)"
	}
	if k.in.explicit {
		return "invalid UTF-8 byte sequence"
	}
	return fmt.Sprintf(`invalid UTF-8 byte sequence (the file is read as UTF-8 because %s; set encoding = "gbk" if it is GBK)`, k.in.det.why)
}

// start opens a pass, reads the header and sets k.l. A nil reader with a
// nil error means the file cannot be read past its header, and k.probs
// says why. Header mismatches are problems only when strict: the second
// pass knows the first found none.
func (k *checker) start(strict bool, header func(*settings, []string) (*layout, []headerProblem)) (*rowReader, *crcReader, error) {
	rr, sum, err := k.in.rows(k.s.delim)
	if errors.Is(err, errUTF16) || errors.Is(err, errBOMNotGBK) {
		k.add(0, 0, err.Error())
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	fields, err := rr.next()
	if err == io.EOF {
		k.add(0, 0, "the file is empty")
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, k.readErr(rr, err)
	}
	ok := true
	for _, e := range rr.errs {
		k.add(rr.start, e.field+1, "header: "+e.msg)
		ok = false
	}
	for i, f := range fields {
		if k.badEncoding(f) {
			k.add(rr.start, i+1, "header: "+k.encodingMsg())
		}
	}
	if !ok {
		return nil, nil, nil
	}
	l, hp := header(k.s, fields)
	if !strict {
		k.l = l
		return rr, sum, nil
	}
	for _, p := range hp {
		k.add(rr.start, p.col, p.msg)
		ok = false
	}
	if !ok {
		return nil, nil, nil
	}
	k.l = l
	return rr, sum, nil
}

// readErr turns a read failure into an error; an over-long row is bad
// input rather than an I/O failure.
func (k *checker) readErr(rr *rowReader, err error) error {
	if errors.Is(err, errRowTooBig) {
		k.add(rr.line, 0, err.Error())
		return nil
	}
	return err
}

// shape checks a row's quoting, encoding and width, and trims its fields.
// A row of the wrong shape has its values in the wrong columns, so the
// caller checks nothing more in it.
func (k *checker) shape(rr *rowReader, fields []string) bool {
	ok := true
	for _, e := range rr.errs {
		k.add(rr.start, e.field+1, e.msg)
		ok = false
	}
	for i, f := range fields {
		if k.badEncoding(f) {
			k.add(rr.start, i+1, k.encodingMsg())
			ok = false
		}
	}
	if len(rr.errs) > 0 {
		return false
	}
	if n, w := len(fields), k.l.width; n != w {
		switch {
		case n < w && rr.unterminated:
			k.add(rr.start, n+1, fmt.Sprintf("the file ends in the middle of this row, after %d of the header's %d fields (a truncated file?)", n, w))
		case n < w:
			k.add(rr.start, n+1, fmt.Sprintf("the row has %d fields but the header has %d: this column and the ones after it are missing", n, w))
		default:
			k.add(rr.start, w+1, fmt.Sprintf("the row has %d fields but the header has only %d", n, w))
		}
		return false
	}
	if k.s.trim {
		for i, f := range fields {
			fields[i] = trimSpace(f)
		}
	}
	return ok
}

// usersChecked is what the first pass over the main file learned.
type usersChecked struct {
	rows int
	sum  uint32
	// depts holds every department path and each of its prefixes, when
	// orgs come from the department column.
	depts map[string]struct{}
}

type managerRef struct {
	id        string
	line, col int
}

// checkUsers is the first pass over the main file: it reports every
// problem in probs and emits nothing. orgIDs, when orgs come from an org
// file, holds the ids a department cell may name.
func checkUsers(ctx context.Context, s *settings, in *input, orgIDs map[string]struct{}, probs *problems) (*usersChecked, error) {
	k := &checker{s: s, in: in, probs: probs}
	rr, sum, err := k.start(true, (*settings).userLayout)
	if err != nil || rr == nil {
		return nil, err
	}
	l := k.l
	res := &usersChecked{}
	if l.dept >= 0 && orgIDs == nil {
		res.depts = map[string]struct{}{}
	}
	// The ids seen so far, with their lines: the one structure of the
	// checker that grows with the file.
	seen := map[string]int{}
	var pending []managerRef
	headerLine := rr.start

	for {
		fields, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, k.readErr(rr, err)
		}
		res.rows++
		if res.rows%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line := rr.start
		if !k.shape(rr, fields) {
			// Remember the row's id anyway, so that rows naming it as their
			// manager are not reported as well.
			if l.id < len(fields) {
				if id := trimSpace(fields[l.id]); id != "" {
					if _, dup := seen[id]; !dup {
						seen[strings.Clone(id)] = line
					}
				}
			}
			continue
		}

		id := fields[l.id]
		if id == "" {
			k.add(line, l.id+1, "the employee id is empty")
		} else if first, dup := seen[id]; dup {
			k.add(line, l.id+1, fmt.Sprintf("duplicate id %q, first at line %d", id, first))
		} else {
			seen[strings.Clone(id)] = line
		}
		for _, c := range l.required {
			if c != l.id && fields[c] == "" {
				k.add(line, c+1, "a value is required (required_columns)")
			}
		}
		if l.state >= 0 {
			if v := fields[l.state]; !s.knownState(v) {
				if v == "" {
					k.add(line, l.state+1, fmt.Sprintf("the state is empty; state_values maps %s", s.stateList()))
				} else {
					k.add(line, l.state+1, fmt.Sprintf("unknown state %q; state_values maps %s", v, s.stateList()))
				}
			}
		}
		if l.dept >= 0 {
			if v := fields[l.dept]; v != "" {
				if orgIDs != nil {
					if _, ok := orgIDs[v]; !ok {
						k.add(line, l.dept+1, fmt.Sprintf("unknown org id %q: it is not in the org file %s", v, s.orgLabel))
					}
				} else if p, msg := s.deptPath(v); msg != "" {
					k.add(line, l.dept+1, msg)
				} else {
					addPath(res.depts, p, s.sep)
				}
			}
		}
		if l.manager >= 0 {
			if m := fields[l.manager]; m != "" && m != id {
				if _, ok := seen[m]; !ok {
					pending = append(pending, managerRef{strings.Clone(m), line, l.manager + 1})
				}
			}
		}
	}
	if res.rows == 0 {
		k.add(headerLine, 0, "the file has a header but no rows")
	}
	for _, m := range pending {
		if _, ok := seen[m.id]; !ok {
			k.add(m.line, m.col, fmt.Sprintf("manager %q is not an employee id in this file", m.id))
		}
	}
	res.sum = sum.sum
	return res, nil
}

func (s *settings) knownState(v string) bool {
	_, ok := s.state(v)
	return ok
}

// state translates a state cell; keys are lower case, and most cells
// (在职, active) already are.
func (s *settings) state(v string) (sdk.State, bool) {
	if st, ok := s.states[v]; ok {
		return st, true
	}
	st, ok := s.states[strings.ToLower(v)]
	return st, ok
}

// stateList lists the configured state values for messages.
func (s *settings) stateList() string {
	keys := make([]string, 0, len(s.states))
	for k := range s.states {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// deptPath normalizes a department path: levels trimmed (with trim_space),
// a leading or trailing separator dropped. It returns v itself when v is
// already normal, and a message when the path is malformed.
func (s *settings) deptPath(v string) (string, string) {
	if s.normalPath(v) {
		return v, ""
	}
	parts := strings.Split(v, s.sep)
	if s.trim {
		for i, p := range parts {
			parts[i] = trimSpace(p)
		}
	}
	if len(parts) > 1 && parts[0] == "" {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if slices.Contains(parts, "") {
		return "", fmt.Sprintf("department path %q has an empty level", v)
	}
	return strings.Join(parts, s.sep), ""
}

// normalPath reports, without allocating, whether v needs no
// normalization: no empty level and no level with white space around it.
func (s *settings) normalPath(v string) bool {
	for {
		i := strings.Index(v, s.sep)
		level := v
		if i >= 0 {
			level = v[:i]
		}
		if level == "" || (s.trim && trimSpace(level) != level) {
			return false
		}
		if i < 0 {
			return true
		}
		v = v[i+len(s.sep):]
	}
}

// addPath adds p and every prefix of it to depts.
func addPath(depts map[string]struct{}, p, sep string) {
	for p != "" {
		if _, ok := depts[p]; ok {
			return // and so are its prefixes
		}
		depts[strings.Clone(p)] = struct{}{}
		i := strings.LastIndex(p, sep)
		if i < 0 {
			return
		}
		p = p[:i]
	}
}

// deptOrgs turns department paths into org records, parents first.
func deptOrgs(depts map[string]struct{}, sep string) []sdk.Record {
	paths := make([]string, 0, len(depts))
	for p := range depts {
		paths = append(paths, p)
	}
	depth := func(p string) int { return strings.Count(p, sep) }
	slices.SortFunc(paths, func(a, b string) int {
		if d := depth(a) - depth(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	recs := make([]sdk.Record, len(paths))
	for i, p := range paths {
		parent, name := "", p
		if j := strings.LastIndex(p, sep); j >= 0 {
			parent, name = p[:j], p[j+len(sep):]
		}
		recs[i] = sdk.Record{
			Kind:       sdk.KindOrg,
			ExternalID: p,
			State:      sdk.StateActive,
			Parent:     parent,
			Attributes: sdk.Attributes{nameAttribute: sdk.String(name)},
		}
	}
	return recs
}

// orgRow is one row of the org file.
type orgRow struct {
	id, parent, name string
	line             int
}

// checkOrgs reads and checks the whole org file, which is small next to
// the user file. It returns the org records in emit order (parents first)
// and the set of org ids.
func checkOrgs(ctx context.Context, s *settings, in *input, probs *problems) ([]sdk.Record, map[string]struct{}, error) {
	k := &checker{s: s, in: in, probs: probs}
	rr, _, err := k.start(true, (*settings).orgLayout)
	if err != nil || rr == nil {
		return nil, map[string]struct{}{}, err
	}
	l := k.l
	var rows []orgRow
	lines := map[string]int{}
	ids := map[string]struct{}{}
	headerLine := rr.start
	n := 0
	for {
		fields, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, ids, k.readErr(rr, err)
		}
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, ids, err
			}
		}
		line := rr.start
		if !k.shape(rr, fields) {
			if l.orgID < len(fields) {
				if id := trimSpace(fields[l.orgID]); id != "" {
					ids[strings.Clone(id)] = struct{}{}
				}
			}
			continue
		}
		r := orgRow{id: strings.Clone(fields[l.orgID]), line: line}
		if l.orgParent >= 0 {
			r.parent = strings.Clone(fields[l.orgParent])
		}
		if l.orgName >= 0 {
			r.name = strings.Clone(fields[l.orgName])
		}
		switch first, dup := lines[r.id]; {
		case r.id == "":
			k.add(line, l.orgID+1, "the org id is empty")
			continue
		case dup:
			k.add(line, l.orgID+1, fmt.Sprintf("duplicate org id %q, first at line %d", r.id, first))
			continue
		case r.parent == r.id:
			k.add(line, l.orgParent+1, fmt.Sprintf("org %q is its own parent", r.id))
		}
		lines[r.id] = line
		ids[r.id] = struct{}{}
		rows = append(rows, r)
	}
	if n == 0 {
		k.add(headerLine, 0, "the org file has a header but no rows")
		return nil, ids, nil
	}

	children := map[string][]int{}
	var queue []int
	for i, r := range rows {
		_, known := lines[r.parent]
		switch {
		case r.parent == "":
			queue = append(queue, i)
		case !known:
			k.add(r.line, l.orgParent+1, fmt.Sprintf("unknown parent org id %q", r.parent))
		default:
			children[r.parent] = append(children[r.parent], i)
		}
	}
	recs := make([]sdk.Record, 0, len(rows))
	placed := make([]bool, len(rows))
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		placed[i] = true
		r := rows[i]
		rec := sdk.Record{Kind: sdk.KindOrg, ExternalID: r.id, State: sdk.StateActive, Parent: r.parent}
		if l.orgName >= 0 {
			rec.Attributes = sdk.Attributes{nameAttribute: stringOrNull(r.name)}
		}
		recs = append(recs, rec)
		queue = append(queue, children[r.id]...)
	}
	for i, r := range rows {
		if _, known := lines[r.parent]; !placed[i] && known && r.parent != r.id {
			k.add(r.line, l.orgParent+1, fmt.Sprintf("org %q is in a cycle of parents, or below one", r.id))
		}
	}
	return recs, ids, nil
}

func stringOrNull(v string) sdk.Value {
	if v == "" {
		return sdk.Null()
	}
	return sdk.String(v)
}

// errChanged is returned when the second pass does not read what the first
// checked.
func errChanged(label, what string) error {
	return &sdk.Error{
		Category: sdk.CategoryRetryable,
		Message: fmt.Sprintf("%s changed while it was read (%s); have the HR system write the export under a temporary name "+
			"and rename it into place", label, what),
	}
}

// streamUsers is the second pass: it emits one user record per row, in
// batches, holding no more than one batch in memory.
func streamUsers(ctx context.Context, s *settings, in *input, want *usersChecked, orgFile bool, emit sdk.EmitFunc) error {
	k := &checker{s: s, in: in, probs: &problems{}}
	rr, sum, err := k.start(false, (*settings).userLayout)
	if err != nil {
		return err
	}
	if rr == nil {
		return errChanged(in.label, "its header no longer reads")
	}
	l := k.l
	batch := make([]sdk.Record, 0, batchSize)
	rows := 0
	for {
		fields, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rows++; rows%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !k.shape(rr, fields) {
			return errChanged(in.label, fmt.Sprintf("line %d no longer reads", rr.start))
		}
		id := fields[l.id]
		rec := sdk.Record{Kind: sdk.KindUser, ExternalID: id, State: sdk.StateActive}
		if l.state >= 0 {
			st, ok := s.state(fields[l.state])
			if !ok {
				return errChanged(in.label, fmt.Sprintf("line %d no longer reads", rr.start))
			}
			rec.State = st
		}
		if l.dept >= 0 {
			if v := fields[l.dept]; v != "" {
				if !orgFile {
					v, _ = s.deptPath(v)
				}
				rec.PrimaryOrg, rec.Orgs = v, []string{v}
			}
		}
		n := len(l.attrs)
		if l.manager >= 0 {
			n++
		}
		if n > 0 {
			rec.Attributes = make(sdk.Attributes, n)
		}
		for _, a := range l.attrs {
			rec.Attributes[a.name] = stringOrNull(fields[a.index])
		}
		if l.manager >= 0 {
			m := fields[l.manager]
			if m == id {
				m = ""
			}
			rec.Attributes[managerAttribute] = stringOrNull(m)
		}
		batch = append(batch, rec)
		if len(batch) == batchSize {
			if err := emit(batch...); err != nil {
				return err
			}
			batch = make([]sdk.Record, 0, batchSize)
		}
	}
	if sum.sum != want.sum || rows != want.rows {
		return errChanged(in.label, fmt.Sprintf("the first pass read %d rows, the second %d, with different content", want.rows, rows))
	}
	if len(batch) > 0 {
		return emit(batch...)
	}
	return nil
}

// emitAll emits records in batches.
func emitAll(recs []sdk.Record, emit sdk.EmitFunc) error {
	for len(recs) > 0 {
		n := min(len(recs), batchSize)
		if err := emit(recs[:n:n]...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// ioError classifies a failure to read a file: a missing or unreadable
// file needs an operator; anything else may pass.
func ioError(label string, err error) error {
	var se *sdk.Error
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	cat := sdk.CategoryRetryable
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		cat = sdk.CategoryPermanent
	}
	var pe *fs.PathError
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("%s %s: %v", pe.Op, label, pe.Err)
	} else {
		msg = fmt.Sprintf("read %s: %v", label, err)
	}
	return &sdk.Error{Category: cat, Message: msg, Err: err}
}

// trimSpace is strings.TrimSpace with a fast path for the usual cell,
// which starts and ends with a character that cannot be white space.
func trimSpace(v string) string {
	if v == "" {
		return v
	}
	first, last := v[0], v[len(v)-1]
	// Every non-ASCII white space character (U+0085 to U+3000) starts with
	// one of these bytes in UTF-8.
	firstOK := first < utf8.RuneSelf && !asciiSpace(first) || first >= utf8.RuneSelf && first != 0xC2 && first != 0xE1 && first != 0xE2 && first != 0xE3
	lastOK := last < utf8.RuneSelf && !asciiSpace(last)
	if !lastOK && last >= utf8.RuneSelf {
		r, _ := utf8.DecodeLastRuneInString(v)
		lastOK = r > 0x3000 && r != utf8.RuneError
	}
	if firstOK && lastOK {
		return v
	}
	return strings.TrimSpace(v)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
