package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/midstream-io/midstream/core/store"
)

func newLinksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "links",
		Short: "Show and set what each application's id of an object is",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show OBJECT",
		Short: "Show an object's links: its id in each application, and what the hub last sent",
		Long: `show prints, for each target, the application's id of the object, whether the link
is an orphan (the object is gone but the policy kept or only disabled the account), the
state and department the application last received, and how many mapped attributes it
holds as last sent ("unknown" means the next update sends them all).

OBJECT is a hub id, an external id (an employee number) or a display name.`,
		Example: `  midstream links show E00042
  midstream links show 张伟`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			o, err := oneObject(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			links, err := st.Links(cmd.Context(), o.HubID)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s %s (%s, %s in source %s, %s)\n", o.Kind, o.DisplayName, o.HubID, o.ExternalID, o.Source, o.State)
			if len(links) == 0 {
				fmt.Fprintln(out, "not linked in any target")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tAPPLICATION ID\tLINK\tSENT STATE\tATTRIBUTES SENT\tUPDATED")
			for _, l := range links {
				id, link := l.TargetID, l.State
				if id == "" {
					id = "-"
					link = "not linked"
					if l.CreateSent {
						link = "create sent, not answered"
					}
				}
				attrs := "unknown"
				if l.Synced >= 0 {
					attrs = fmt.Sprint(l.Synced)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Target, id, link, orDash(l.SyncedState), attrs, l.UpdatedAt.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "set TARGET OBJECT ID",
		Short: "Link an object to the account an application already holds for it",
		Long: `set records that, in TARGET, the application's id of OBJECT is ID. Use it when the
application held the person or department before the hub did, under an id the hub could
not know: a create that ended in a conflict (FAILURE, category conflict), or one skipped
as "conflict awaiting a link".

The values the application holds become unknown to the hub, so an event is queued at the
end of the object's lane that sends every mapped attribute, then the state and department.
It runs with the next ` + "`midstream sync`" + ` or the daemon's next delivery to that target.

OBJECT is a hub id, an external id (an employee number) or a display name.`,
		Example: `  midstream links set app E00042 10017
  midstream links set app 张伟 zhang.wei`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store.Open(g.db)
			if err != nil {
				return err
			}
			defer st.Close()
			o, err := oneObject(cmd.Context(), st, args[1])
			if err != nil {
				return err
			}
			id, err := st.SetLink(cmd.Context(), args[0], o.HubID, args[2])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s) is linked to %s in %s; event %d, a full update, runs with the next sync of the target\n",
				o.Kind, o.DisplayName, o.HubID, args[2], args[0], id)
			return nil
		},
	})
	return cmd
}

// oneObject finds the one directory object name names.
func oneObject(ctx context.Context, st *store.Store, name string) (*store.StoredObject, error) {
	objs, err := st.FindObjects(ctx, name)
	if err != nil {
		return nil, err
	}
	switch len(objs) {
	case 0:
		return nil, fmt.Errorf("no object in the directory has the hub id, external id or display name %q", name)
	case 1:
		return objs[0], nil
	}
	var b strings.Builder
	for _, o := range objs {
		fmt.Fprintf(&b, "\n  %s %s %s (%s in source %s)", o.HubID, o.Kind, o.DisplayName, o.ExternalID, o.Source)
	}
	return nil, fmt.Errorf("%q names %d objects; give a hub id:%s", name, len(objs), b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
