package csv

import (
	encsv "encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzRowReader checks the row reader against encoding/csv: on input that
// encoding/csv reads without error, both must give the same rows, and the
// row reader must report no problem.
func FuzzRowReader(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n",
		"a,b\r\n1,2\r\n",
		"a,\"b,c\"\n\"x\"\"y\",\"multi\nline\"\n",
		"a\n\n\nb",
		"\"a\r\nb\",c\r\n",
		"a,b\r",
		"\"\"\n,\n",
		"a,\"b\"c\n",
		"a,b\"c\n",
		"\"open\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		std := encsv.NewReader(strings.NewReader(in))
		std.FieldsPerRecord = -1
		want, err := std.ReadAll()
		if err != nil {
			return
		}
		rr, err := openRows(strings.NewReader(in), encodingUTF8, ",")
		if err != nil {
			return // a byte order mark: encoding/csv keeps it as data
		}
		var got [][]string
		for {
			fields, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.errs) > 0 {
				t.Fatalf("problem %q in input encoding/csv accepts", rr.errs[0].msg)
			}
			got = append(got, append([]string(nil), fields...))
		}
		if strings.HasPrefix(in, "\ufeff") {
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rows differ from encoding/csv (-want +got):\n%s", diff)
		}
	})
}

func FuzzTrimSpace(f *testing.F) {
	for _, s := range []string{"", " ", "a", " a ", "\u3000张三\u3000", "张三", "a\u00a0", "\u2028x", "\u0085", "\xff", "x\xe3\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Errorf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	})
}
