package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/wire"
)

func newSchedules(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "schedules",
		Short: "List recurring schedules with their next fire time",
		Long: `List the active recurring schedules, soonest first, as a table (id, name,
task, rule, queue, next fire time), or as a JSON array of schedule records
with --json. Schedules come from 'dueq submit --every/--cron' and from the
schedules key of the daemons' configuration (those have a name); 'dueq cancel
ID' stops one.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			list, err := g.client().Schedules(c.Context())
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				if list == nil {
					list = []*wire.Schedule{}
				}
				return printJSON(c.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTASK\tRULE\tQUEUE\tNEXT")
			for _, sc := range list {
				name := sc.Name
				if name == "" {
					name = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sc.ID, name, sc.Task, rule(sc), sc.Queue, timeOrDash(sc.NextAt))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print a JSON array of schedule records")
	return c
}
