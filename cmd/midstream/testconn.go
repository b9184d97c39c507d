package main

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/config"
	"github.com/midstream-io/midstream/core/engine"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/hcldecode"
)

func newTestConnectionCmd(g *globals) *cobra.Command {
	var source, target string
	cmd := &cobra.Command{
		Use:   "test-connection DIR|FILE (--target NAME | --source NAME)",
		Short: "Check a source's or target's connection: reachability, credentials, the application's answer",
		Example: `  midstream test-connection . --target app
  midstream test-connection pipelines/hr --source hr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, name := "target", target
			switch {
			case source != "" && target == "":
				role, name = "source", source
			case target != "" && source == "":
			default:
				return errors.New("name one --target or one --source")
			}
			p, err := loadPipeline(cmd.Context(), args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			// Testing needs no lease: it runs no event.
			eng := engine.New(p, st, engine.Options{})
			defer eng.Close()
			resp, err := eng.TestConnection(cmd.Context(), role, name)
			var ce *engine.ConfigError
			if errors.As(err, &ce) {
				printDiagnostics(cmd.ErrOrStderr(), ce.Files, ce.Diags)
				return fmt.Errorf("%s %s: its configuration was refused", role, name)
			}
			if err != nil {
				return err
			}
			if len(resp.Diagnostics) > 0 {
				printDiagnostics(cmd.ErrOrStderr(), p.Files, locate(p, role, name, resp.Diagnostics))
			}
			if resp.Diagnostics.HasError() {
				return fmt.Errorf("%s %s: the connection test failed", role, name)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: ok", role, name)
			if resp.Detail != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " — %s", resp.Detail)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "the target to test")
	cmd.Flags().StringVar(&source, "source", "", "the source to test")
	return cmd
}

// locate places a connector's diagnostics on its block's attributes.
func locate(p *config.Pipeline, role, name string, ds sdk.Diagnostics) hcl.Diagnostics {
	if role == "source" {
		s, _ := p.Source(name)
		return hcldecode.LocateDiagnostics(s.Body, ds, s.DeclRange)
	}
	t, _ := p.Target(name)
	return hcldecode.LocateDiagnostics(t.Body, ds, t.DeclRange)
}
