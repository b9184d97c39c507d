package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	db         string
	logLevel   string
	cpuProfile string
	memProfile string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "midstream",
		Short:         "Keep people and organizations in sync, from the systems that own them to every application",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			if g.cpuProfile != "" {
				f, err := os.Create(g.cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
			}
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if g.cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			if g.memProfile != "" {
				// Every allocation since the start (sampled), not the live
				// heap: what the collector had to work through. The profile
				// is as of the last collection: one now brings it up to date.
				runtime.GC()
				if err := writeAllocs(g.memProfile); err != nil {
					fmt.Fprintln(os.Stderr, "--memprofile:", err)
				}
			}
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	// For whoever tunes the engine (midstream-bench --profile uses it).
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().StringVar(&g.memProfile, "memprofile", "", "write an allocation profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("memprofile")
	root.PersistentFlags().StringVar(&g.db, "db", "midstream.db", "the store: a SQLite file, created if missing")
	root.AddCommand(newPluginsCmd(), newValidateCmd(), newSyncCmd(g), newPlanCmd(g), newRunCmd(g), newTestConnectionCmd(g), newEventsCmd(g), newLinksCmd(g), newMappingCmd(g), newKeysCmd(g))
	return root
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}
