package cli

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/tasks"
)

func newStats(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "Count tasks by state and queue; list the daemons alive",
		Long: `Count tasks by state and by queue (scheduled and running), and list the
daemons alive. Finished counts cover the records kept (result_ttl).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			st, err := g.client().Stats(c.Context())
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), st)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tTASKS")
			for _, s := range tasks.States {
				fmt.Fprintf(tw, "%s\t%d\n", s, st.States[s])
			}
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "QUEUE\tSCHEDULED\tRUNNING")
			queues := make([]string, 0, len(st.Queues))
			for q := range st.Queues {
				queues = append(queues, q)
			}
			sort.Strings(queues)
			for _, q := range queues {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", q, st.Queues[q].Scheduled, st.Queues[q].Running)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "\ndaemons alive: %d\n", len(st.Daemons))
			for _, d := range st.Daemons {
				fmt.Fprintf(c.OutOrStdout(), "  %s\n", d)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the counts as JSON")
	return c
}
