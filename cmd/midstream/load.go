package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/midstream-io/midstream/core/config"
)

// loadPipeline loads the pipeline at path, printing its diagnostics
// (warnings too) to w; it fails when any is an error.
func loadPipeline(ctx context.Context, path string, w io.Writer) (*config.Pipeline, error) {
	p, diags := config.Load(ctx, path, config.DefaultResolver())
	var files map[string]*hcl.File
	if p != nil {
		files = p.Files
	}
	printDiagnostics(w, files, diags)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: the pipeline has %d error(s)", path, countErrors(diags))
	}
	return p, nil
}

func printDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	width, color := uint(100), false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		color = os.Getenv("NO_COLOR") == ""
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			width = uint(cols)
		}
	}
	_ = hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}

func countErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
