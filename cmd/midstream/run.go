package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/daemon"
	"github.com/midstream-io/midstream/core/store"
)

func newRunCmd(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "run [flags] DIR|FILE",
		Short: "Run the daemon: each source and target on its schedule, and the HTTP server",
		Long: `run keeps the pipeline in sync: each source and target runs on its cron schedule
(a run never overlaps itself; targets without a schedule follow their sources), and an
HTTP server answers /healthz. SIGINT or SIGTERM stops scheduling, lets the events in
flight finish, and exits.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p, err := loadPipeline(ctx, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			return daemon.Run(ctx, p, st, daemon.Options{Addr: addr, Ready: func(a string) {
				fmt.Fprintf(cmd.OutOrStdout(), "midstream: pipeline %s running; http://%s/healthz\n", p.Name, a)
			}})
		},
	}
	cmd.Flags().StringVar(&addr, "http", "", "address to serve HTTP on (default: the pipeline's http_address)")
	return cmd
}
