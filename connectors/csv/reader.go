package csv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// maxRowBytes bounds one row, so that an unclosed quote in a large file
// cannot pull the rest of the file into memory as one field.
const maxRowBytes = 1 << 20

// bufSize is the read buffer; lines longer than this still work.
const bufSize = 64 << 10

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// detection is what the encoding sniffer decided and why.
type detection struct {
	enc string // encodingUTF8 or encodingGBK
	// why completes "read as <enc> because ..." in messages.
	why string
}

// mostlyUTF8 is how many valid multi-byte UTF-8 characters per invalid
// byte make a file broken UTF-8 rather than GBK. Random GBK text forms a
// valid UTF-8 sequence about once in ten characters, with one or two
// invalid bytes for each of the others, so real GBK stays far below this;
// a UTF-8 export with a few damaged bytes is far above it.
const mostlyUTF8 = 16

// sniff decides the encoding of the file for encoding = "auto". It reads
// the whole file, since an export's first non-ASCII byte can be anywhere
// (a GBK file can be plain ASCII for its first megabyte).
func sniff(r io.Reader) (detection, error) {
	br := bufio.NewReaderSize(r, bufSize)
	if head, _ := br.Peek(3); bytes.Equal(head, bomUTF8) {
		return detection{enc: encodingUTF8, why: "it starts with a UTF-8 byte order mark"}, nil
	}
	var multi, invalid int64
	buf := make([]byte, bufSize)
	carry := 0
	for {
		n, err := io.ReadFull(br, buf[carry:])
		data := buf[:carry+n]
		atEOF := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !atEOF {
			return detection{}, err
		}
		i := 0
		for i < len(data) {
			if data[i] < utf8.RuneSelf {
				i++
				continue
			}
			if !atEOF && !utf8.FullRune(data[i:]) {
				break
			}
			if r, size := utf8.DecodeRune(data[i:]); r == utf8.RuneError && size == 1 {
				invalid++
				i++
			} else {
				multi++
				i += size
			}
		}
		if atEOF {
			break
		}
		carry = copy(buf, data[i:])
	}
	switch {
	case invalid == 0:
		return detection{enc: encodingUTF8, why: "it is valid UTF-8 throughout"}, nil
	case multi >= mostlyUTF8*invalid:
		why := fmt.Sprintf("it is UTF-8 apart from %d invalid bytes", invalid)
		if invalid == 1 {
			why = "it is UTF-8 apart from one invalid byte"
		}
		return detection{enc: encodingUTF8, why: why}, nil
	}
	return detection{enc: encodingGBK, why: "it is not valid UTF-8"}, nil
}

// openRows starts reading rows from raw, the file's bytes, in encoding enc
// (utf-8 or gbk). It fails on a byte order mark that contradicts enc.
func openRows(raw io.Reader, enc, delim string) (*rowReader, error) {
	br := bufio.NewReaderSize(raw, bufSize)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, bomUTF16LE), bytes.HasPrefix(head, bomUTF16BE):
		return nil, errUTF16
	case bytes.Equal(head, bomUTF8):
		if enc == encodingGBK {
			return nil, errBOMNotGBK
		}
		br.Discard(len(bomUTF8))
	}
	if enc == encodingGBK {
		// GB18030 decodes every GBK file the same way and also reads the
		// four-byte sequences of characters GBK lacks. Invalid bytes become
		// U+FFFD, which no valid GBK sequence produces, so the checker finds
		// them in the decoded text. Line breaks, quotes and delimiters are
		// ASCII bytes below 0x40, which are never the second byte of a GBK
		// character, so decoding first keeps lines intact and lets any
		// delimiter (even "|", a valid second byte) be found safely.
		br = bufio.NewReaderSize(transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), bufSize)
	}
	return &rowReader{br: br, delim: []byte(delim)}, nil
}

var (
	errUTF16     = errors.New("the file is UTF-16 (it starts with a UTF-16 byte order mark); export it as UTF-8 or GBK")
	errBOMNotGBK = errors.New(`the file starts with a UTF-8 byte order mark but encoding = "gbk"; set encoding to "auto" or "utf-8"`)
	errRowTooBig = fmt.Errorf("row longer than %d bytes, reading stopped (an unclosed quote?)", maxRowBytes)
)

// syntaxError is a quoting problem in one field of the current row.
type syntaxError struct {
	field int // 0-based
	msg   string
}

// rowReader splits a decoded stream into rows of fields: RFC 4180 with a
// configurable delimiter, LF or CRLF line ends, and strict quoting. Unlike
// encoding/csv, it keeps going after a quoting error, so one pass reports
// every bad row, and it reports the field index of each problem.
type rowReader struct {
	br    *bufio.Reader
	delim []byte

	line  int // physical lines read so far
	start int // line where the current row starts

	// unterminated is set when the current row ends the file without a
	// line break; truncated when the file ends inside a quoted field.
	unterminated bool
	truncated    bool
	// errs holds the quoting problems of the current row.
	errs []syntaxError

	buf    []byte // the current row's field bytes, concatenated
	ends   []int  // end of each field in buf
	fields []string
	long   []byte // a line longer than the read buffer
}

// readLine returns the next physical line with "\r\n" turned into "\n",
// or an empty line at the end of the file. The line is valid until the next
// call.
func (r *rowReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(r.long) > maxRowBytes {
				return nil, errRowTooBig
			}
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(line) > 0 && line[len(line)-1] == '\r' {
		// A file cut between the "\r" and "\n" of its last line ends at a
		// row boundary, as in encoding/csv.
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return nil, nil
	}
	r.line++
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, nil
}

// next reads the next row. It returns io.EOF after the last row. Quoting
// problems do not stop it: they are in r.errs, and the fields hold the
// best reading of the row. The fields are valid until the next call; they
// share one string, so keeping any of them keeps the whole row.
func (r *rowReader) next() ([]string, error) {
	r.errs = r.errs[:0]
	r.buf = r.buf[:0]
	r.ends = r.ends[:0]
	r.unterminated, r.truncated = false, false

	var line []byte
	for {
		l, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return nil, io.EOF
		}
		if len(l) == 1 && l[0] == '\n' {
			continue // blank lines between rows carry nothing
		}
		line = l
		break
	}
	r.start = r.line

	field := 0
	endField := func() {
		r.ends = append(r.ends, len(r.buf))
		field++
	}
row:
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.Index(line, r.delim)
			f := line
			if i >= 0 {
				f = line[:i]
			} else {
				f = trimNewline(line)
			}
			if bytes.IndexByte(f, '"') >= 0 {
				r.errs = append(r.errs, syntaxError{field, `bare " in an unquoted field; quote the field and double the quote inside it`})
			}
			r.buf = append(r.buf, f...)
			endField()
			if i < 0 {
				break row
			}
			line = line[i+len(r.delim):]
			continue
		}

		line = line[1:]
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				// The field goes on past this line: keep its line break.
				r.buf = append(r.buf, line...)
				if len(r.buf) > maxRowBytes {
					return nil, errRowTooBig
				}
				l, err := r.readLine()
				if err != nil {
					return nil, err
				}
				if len(l) == 0 {
					r.truncated = true
					r.errs = append(r.errs, syntaxError{field, "the file ends inside this quoted field (a truncated file, or a quote that is never closed)"})
					endField()
					break row
				}
				line = l
				continue
			}
			r.buf = append(r.buf, line[:i]...)
			line = line[i+1:]
			switch {
			case len(line) > 0 && line[0] == '"':
				r.buf = append(r.buf, '"')
				line = line[1:]
			case bytes.HasPrefix(line, r.delim):
				line = line[len(r.delim):]
				endField()
				continue row
			case len(line) == 0 || (len(line) == 1 && line[0] == '\n'):
				endField()
				break row
			default:
				r.errs = append(r.errs, syntaxError{field, `text after the closing quote of a quoted field; double a " that is part of the value`})
				j := bytes.Index(line, r.delim)
				if j < 0 {
					r.buf = append(r.buf, trimNewline(line)...)
					endField()
					break row
				}
				r.buf = append(r.buf, line[:j]...)
				line = line[j+len(r.delim):]
				endField()
				continue row
			}
		}
	}
	r.unterminated = !r.truncated && (len(line) == 0 || line[len(line)-1] != '\n')

	s := string(r.buf)
	r.fields = r.fields[:0]
	prev := 0
	for _, end := range r.ends {
		r.fields = append(r.fields, s[prev:end])
		prev = end
	}
	return r.fields, nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
