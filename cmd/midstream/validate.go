package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/config"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR|FILE]",
		Short: "Check a pipeline's configuration without running it",
		Long: `Validate loads a pipeline — every *.hcl file of DIR (default: the current
directory), or one FILE — and reports every problem at once, each with its
file:line:col, a snippet and how to fix it: HCL syntax, unknown blocks and
attributes, unknown connectors, each connector's own configuration checked
against the schema it declares (external plugins are started to read it),
schedules, mapping scripts that do not compile, and sources that feed the
same target. It reads no source and calls no application.

It exits with a non-zero status when the pipeline has an error; warnings
alone do not fail it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			p, diags := config.Load(cmd.Context(), path, config.DefaultResolver())
			var files map[string]*hcl.File
			if p != nil {
				files = p.Files
			}
			printDiagnostics(cmd.ErrOrStderr(), files, diags)
			errs, warns := 0, 0
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs++
				} else {
					warns++
				}
			}
			name := path
			if p != nil {
				name = "pipeline " + p.Name
			}
			if errs > 0 {
				return fmt.Errorf("%s: %s%s — invalid", name, validateCount(errs, "error"), validateWarnings(warns))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %s%s — valid\n", name,
				validateCount(len(p.Sources), "source"), validateCount(len(p.Targets), "target"), validateWarnings(warns))
			return nil
		},
	}
}

func validateCount(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func validateWarnings(n int) string {
	if n == 0 {
		return ""
	}
	return ", " + validateCount(n, "warning")
}
