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
			fmt.Fprintln(tw, "TARGET\tAPPLICATION ID\tLINK\tSENT STATE\tSENT PARENT\tATTRIBUTES SENT\tUPDATED")
			for _, l := range links {
				id, link := l.TargetID, l.State
				if id == "" {
					// A create was sent, or a value reserved, but no id is
					// known: never answered, refused, or gone from the
					// application since.
					id, link = "-", "not linked"
					l.SyncedParent = "-"
				}
				state, attrs := l.SyncedState, "unknown"
				if state == "" {
					state = "unknown"
				}
				if l.Synced >= 0 {
					attrs = fmt.Sprint(l.Synced)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Target, id, link, state, l.SyncedParent, attrs, l.UpdatedAt.Local().Format("2006-01-02 15:04:05"))
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
end of the object's lane that sends every mapped attribute (create_only ones aside: the
hub did not make the account), then the state and department. It runs with the next
` + "`midstream sync`" + ` or the daemon's next delivery to that target. Users waiting for the
object's id as their manager get it; so do the departments and users of an org linked
anew.

Refused while an event of the object runs in TARGET (its answer would replace the
link), and when the account is linked to another object, unless that object is gone
(deleted, or kept as an orphan by the policy: someone re-hired under a new id).
An object out of the target's scope is left as it is and unlinked when the event runs.

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
			set, err := st.SetLink(cmd.Context(), args[0], o.HubID, args[2])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s %s (%s) is linked to %s in %s", o.Kind, o.DisplayName, o.HubID, args[2], args[0])
			if set.Previous != "" && set.Previous != args[2] {
				fmt.Fprintf(out, ", instead of %s", set.Previous)
			}
			fmt.Fprintln(out)
			if set.TakenFrom != "" {
				fmt.Fprintf(out, "the account was linked to %s, who is gone; that link is removed\n", set.TakenFrom)
			}
			fmt.Fprintf(out, "event %d, a full update of the account, runs with the next sync of %s (or the daemon's next delivery to it)\n", set.EventID, args[0])
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
