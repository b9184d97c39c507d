package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
)

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the built-in connectors, print their sample configuration",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return listPlugins(cmd) },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in connectors with their roles and versions",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return listPlugins(cmd) },
	})
	cmd.AddCommand(&cobra.Command{
		Use:       "sample NAME",
		Short:     "Print a connector's sample configuration block",
		Args:      cobra.ExactArgs(1),
		ValidArgs: plugins.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, ok := plugins.Lookup(args[0])
			if !ok {
				return unknownConnector(args[0])
			}
			c := b.New()
			caps := sdk.CapabilitiesOf(c)
			role := "target"
			if caps.Source {
				role = "source"
			}
			label := "NAME"
			fmt.Fprintf(cmd.OutOrStdout(), "%s %q %q {\n", role, b.Name, label)
			for _, line := range strings.Split(strings.TrimRight(b.Example, "\n"), "\n") {
				if line == "" {
					fmt.Fprintln(cmd.OutOrStdout())
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", line)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "}")
			return nil
		},
	})
	// serve is handled in main before cobra runs (plugin.ServeBuiltin); it
	// is declared here so `midstream plugins serve` gets a helpful message
	// when run by hand.
	cmd.AddCommand(&cobra.Command{
		Use:    "serve NAME",
		Short:  "Serve a built-in connector as a plugin (run by midstream itself)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return unknownConnector(args[0])
		},
	})
	return cmd
}

func listPlugins(cmd *cobra.Command) error {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLES\tVERSION\tOUT OF PROCESS\tDESCRIPTION")
	for _, b := range plugins.Builtins() {
		// Listing launches each built-in as a plugin, so the list shows what
		// the engine would really run, not just the table.
		m, err := plugins.Launch(context.Background(), plugins.Ref{Name: b.Name}, plugins.DefaultPolicy, nil)
		if err != nil {
			fmt.Fprintf(w, "%s\t-\t-\tfailed\t%v\n", b.Name, err)
			continue
		}
		md, caps := m.Metadata(), m.Capabilities()
		var roles []string
		for _, r := range caps.Roles() {
			roles = append(roles, string(r))
		}
		if caps.Incremental {
			roles = append(roles, "incremental")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\tpid %d\t%s\n", md.Name, strings.Join(roles, ","), md.Version, m.Pid(), md.Description)
		_ = m.Close()
	}
	return w.Flush()
}

type hintError struct {
	msg, hint string
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Hint() string  { return e.hint }

func unknownConnector(name string) error {
	hint := "built-in connectors: " + strings.Join(plugins.Names(), ", ")
	if s := config.Suggest(name, plugins.Names()); s != "" {
		hint = fmt.Sprintf("did you mean %q? (%s)", s, hint)
	}
	return &hintError{msg: fmt.Sprintf("no built-in connector named %q", name), hint: hint}
}
