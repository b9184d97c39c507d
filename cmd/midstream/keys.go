package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/keys"
	"github.com/midstream-io/midstream/core/store"
	"github.com/midstream-io/midstream/sdk/callback"
)

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, export and rotate the hub's signing keys",
		Long: `The hub signs the requests of callback targets with signature = "jws" with its own
keys: one per algorithm (RS256, ES256), made the first time a target needs it and kept in the
store (--db), the private half encrypted with the pipeline block's keys_encryption_key.
` + "`midstream run`" + ` publishes the public keys at /.well-known/jwks.json; receivers verify with them.`,
	}
	cmd.AddCommand(newKeysListCmd(g), newKeysExportCmd(g), newKeysRotateCmd(g))
	return cmd
}

func newKeysListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the signing keys in the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			all, err := st.SigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			if len(all) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no signing keys (a target with signature = \"jws\" makes one when it first runs)")
				return nil
			}
			now := time.Now()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KID\tALG\tCREATED\tSTATE")
			for _, k := range all {
				state := "signing"
				switch {
				case k.Active():
				case k.Published(now):
					state = "retired, published until " + k.ExpiresAt.Local().Format(time.RFC3339)
				default:
					state = "expired"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.CreatedAt.Local().Format(time.RFC3339), state)
			}
			return w.Flush()
		},
	}
}

func newKeysExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [DIR|FILE]",
		Short: "Print the hub's public keys as a JWKS",
		Long: `export prints the public keys the hub publishes (the keys that sign, and retired keys
until their overlap ends) as a JSON Web Key Set: the document ` + "`midstream run`" + ` serves at
/.well-known/jwks.json, for hubs that only run ` + "`midstream sync`" + ` and publish the file some
other way, or for receivers given the keys as a file. With a pipeline, it first makes the keys
its targets need (which takes keys_encryption_key).`,
		Example: `  midstream keys export ./pipeline > jwks.json
  midstream keys export --output /var/www/.well-known/jwks.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			if len(args) == 1 {
				p, err := loadPipeline(cmd.Context(), args[0], cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if err := keys.Prepare(cmd.Context(), st, p); err != nil {
					return err
				}
			}
			set, err := keys.PublishedJWKS(cmd.Context(), st, time.Now())
			if err != nil {
				return err
			}
			if len(set.Keys) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the store holds no signing key yet; give the pipeline to make the keys its targets need")
			}
			b, _ := json.MarshalIndent(set, "", "  ")
			b = append(b, '\n')
			if output == "" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return os.WriteFile(output, b, 0o644)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the JWKS to this file instead of the standard output")
	return cmd
}

func newKeysRotateCmd(g *globals) *cobra.Command {
	var (
		algs    []string
		overlap time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate [flags] DIR|FILE",
		Short: "Make new signing keys, keeping the old ones published for a while",
		Long: `rotate makes a new key for each algorithm (--alg; default: every algorithm the store
holds a key for or the pipeline's targets use), which signs from then on. The key it replaces
stops signing, its private half is erased, and it stays in the published JWKS for --overlap,
so that receivers holding a cached JWKS, and requests already sent, still verify.

A running ` + "`midstream run`" + ` keeps signing with the key it started with (still published
during the overlap): restart it within the overlap.`,
		Example: `  midstream keys rotate ./pipeline
  midstream keys rotate ./pipeline --alg ES256 --overlap 48h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if overlap < 0 {
				return errors.New("--overlap must not be negative")
			}
			p, err := loadPipeline(cmd.Context(), args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if p.KeysEncryptionKey == "" {
				return &keys.NoEncryptionKeyError{}
			}
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			kr, err := keys.ForPipeline(st, p)
			if err != nil {
				return err
			}
			if len(algs) == 0 {
				algs = keys.Algorithms(p)
				for _, alg := range []string{callback.RS256, callback.ES256} {
					if _, ok, err := st.ActiveSigningKey(cmd.Context(), alg); err != nil {
						return err
					} else if ok && !slices.Contains(algs, alg) {
						algs = append(algs, alg)
					}
				}
				if len(algs) == 0 {
					return errors.New(`nothing to rotate: the store holds no signing key and no target has signature = "jws"; name an algorithm with --alg RS256 or --alg ES256`)
				}
			}
			until := time.Now().Add(overlap)
			for _, alg := range algs {
				rot, err := kr.Rotate(cmd.Context(), alg, until)
				if err != nil {
					return fmt.Errorf("%s: %w", alg, err)
				}
				printRotation(cmd.OutOrStdout(), alg, rot)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&algs, "alg", nil, "the algorithms to rotate: RS256, ES256 (default: those in use)")
	cmd.Flags().DurationVar(&overlap, "overlap", keys.DefaultOverlap, "how long the replaced key stays published")
	return cmd
}

func printRotation(w io.Writer, alg string, rot keys.Rotation) {
	fmt.Fprintf(w, "%s: key %s signs from now on", alg, rot.New.KID)
	if rot.Old.KID != "" {
		fmt.Fprintf(w, "; key %s stays published until %s", rot.Old.KID, rot.Old.ExpiresAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}
