package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/mapping"
	"github.com/midstream-io/midstream/mapping/mappingtest"
)

func newMappingCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Work with a pipeline's mappings",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMappingTestCmd())
	return cmd
}

func newMappingTestCmd() *cobra.Command {
	var target, source string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR|FILE]",
		Short: "Run a pipeline's mappings over fixture records and compare with the expected attributes",
		Long: `Test loads a pipeline (every *.hcl file of DIR, default the current
directory, or one FILE), then runs each case of its mapping fixtures: the
*_test.json files beside the pipeline and the .json files of its
mapping_tests folder. A case gives an input record and the attributes a
target's (or a source's) mapping should compute from it; the whole result
is compared, and each difference is shown as "attribute: want …, got …".

A fixture file:

  {
    "target": "app",
    "now": "2026-05-06T07:08:09Z",
    "cases": [
      {
        "name": "a Chinese name",
        "kind": "user",
        "object": {"id": "100001", "orgPath": ["星河集团", "研发中心"]},
        "input": {"name": "张伟", "email": "Zhang.Wei@example.com"},
        "expected": {"userName": "zhang.wei", "email": "zhang.wei@example.com"}
      },
      {
        "name": "a namesake gets a number",
        "input": {"name": "章伟", "email": "x@example.com"},
        "taken": {"userName": ["zhang.wei"]},
        "expected": {"userName": "zhang.wei2", "email": "x@example.com"}
      },
      {"name": "no name", "input": {}, "error": "is required"}
    ]
  }

Values are JSON strings, whole numbers, true, false, null, arrays of
strings, or {"datetime": "2024-05-06T07:08:09Z"}. "object" may also give
"state", "org" and "manager" ({"id": …, "attributes": {…}}); "taken" lists
values other objects hold for unique attributes; "reserved" the ones the
object holds already; "update": true maps an update, without create_only
attributes. See the package docs of mapping/mappingtest for the details.

It calls no application and reads no source. It exits with a non-zero
status when a case fails, or a fixture or the pipeline has an error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if target != "" && source != "" {
				return errors.New("set one of --target and --source, not both")
			}
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			p, err := loadPipeline(cmd.Context(), path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if target != "" {
				if _, ok := p.Target(target); !ok {
					return fmt.Errorf("the pipeline has no target %q", target)
				}
			}
			if source != "" {
				if _, ok := p.Source(source); !ok {
					return fmt.Errorf("the pipeline has no source %q", source)
				}
			}
			dir := path
			if info, err := os.Stat(path); err == nil && !info.IsDir() {
				dir = filepath.Dir(path)
			}
			files, err := mappingtest.Find(dir)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("%s has no mapping fixtures: write *%s files beside the pipeline, or .json files in %s", dir,
					mappingtest.Suffix, filepath.Join(dir, mappingtest.FolderName))
			}
			return runMappingTests(cmd, p, files, target, source, verbose)
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "run only the cases of this target's mappings")
	cmd.Flags().StringVar(&source, "source", "", "run only the cases of this source's mappings")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list the cases that pass too")
	return cmd
}

// runMappingTests runs the cases of files and prints what fails.
func runMappingTests(cmd *cobra.Command, p *config.Pipeline, files []string, target, source string, verbose bool) error {
	out := cmd.OutOrStdout()
	lookup := func(c *mappingtest.Case) (*mapping.Mapping, string, error) {
		kind := c.Input.Kind
		switch {
		case c.Target != "":
			t, ok := p.Target(c.Target)
			if !ok {
				return nil, "target " + c.Target, fmt.Errorf("the pipeline has no target %q", c.Target)
			}
			return t.Mappings[kind], fmt.Sprintf("target %s, %s", t.Name, kind), nil
		case c.Source != "":
			s, ok := p.Source(c.Source)
			if !ok {
				return nil, "source " + c.Source, fmt.Errorf("the pipeline has no source %q", c.Source)
			}
			return s.Mappings[kind], fmt.Sprintf("source %s, %s", s.Name, kind), nil
		}
		return nil, "", errors.New(`the case names no mapping: set "target" or "source" in the case or the file`)
	}
	total, failed, broken := 0, 0, 0
	for _, path := range files {
		name := fixtureName(path)
		f, err := mappingtest.Load(path)
		if err != nil {
			fmt.Fprintf(out, "--- ERROR %v\n", err)
			broken++
			continue
		}
		ran, fails := 0, 0
		for _, c := range f.Cases {
			// A case that names no mapping runs the flag's.
			if c.Target == "" && c.Source == "" {
				c.Target, c.Source = target, source
				c.Input.Target = target
			}
			if target != "" && c.Target != target || source != "" && c.Source != source {
				continue
			}
			ran++
			r := mappingtest.Run(cmd.Context(), c, lookup)
			if r.Passed() {
				if verbose {
					fmt.Fprintf(out, "ok   %s: %s (%s)\n", name, c.Name, r.Mapping)
				}
				continue
			}
			fails++
			printFailure(out, name, r)
		}
		total += ran
		failed += fails
		if ran > 0 && fails == 0 {
			fmt.Fprintf(out, "ok   %s: %s\n", name, validateCount(ran, "case"))
		}
	}
	switch {
	case broken > 0:
		return fmt.Errorf("mapping test: %s unreadable, %s run, %d failed", validateCount(broken, "fixture file"), validateCount(total, "case"), failed)
	case failed > 0:
		return fmt.Errorf("mapping test: %d of %s failed", failed, validateCount(total, "case"))
	case total == 0:
		return errors.New("mapping test: no case matches --target or --source")
	}
	fmt.Fprintf(out, "PASS: %s\n", validateCount(total, "case"))
	return nil
}

func printFailure(w io.Writer, file string, r *mappingtest.Result) {
	what := r.Mapping
	if id := r.Case.Input.ID; what != "" && id != r.Case.Name {
		what += " " + id
	}
	if what != "" {
		what = " (" + what + ")"
	}
	fmt.Fprintf(w, "--- FAIL %s: %s%s\n", file, r.Case.Name, what)
	if r.Err != nil {
		fmt.Fprintf(w, "    %v\n", r.Err)
	}
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "    %s\n", d)
	}
}

// displayName names path relative to the working directory when it is
// below it.
func fixtureName(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if abs, err := filepath.Abs(path); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && !filepath.IsAbs(rel) && len(rel) > 0 && rel[0] != '.' {
				return rel
			}
		}
	}
	return path
}
