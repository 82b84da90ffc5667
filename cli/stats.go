package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func newStats(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "stats",
		Short: "Count tasks by state and queue; list the daemons alive and stranded tasks",
		Long: `Count tasks by state and by queue (scheduled and running), list the daemons
alive with the queues they serve and the handlers they run, and report
stranded tasks: due tasks whose handler no live daemon serving their queue
has. They stay scheduled until such a daemon is alive (start one, or enable
the handler: handlers.shell.allow, handlers.http.allow). Stranded tasks are
counted among the first 200 due tasks of each queue. Finished counts cover
the records kept (result_ttl).`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			st, err := g.client().Stats(c.Context())
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), st)
			}
			return printStats(c.OutOrStdout(), st)
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the counts, daemons and stranded tasks as JSON")
	return c
}

// printStats writes the tables of 'dueq stats'.
func printStats(out io.Writer, st *wire.Stats) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tTASKS")
	for _, s := range tasks.States {
		fmt.Fprintf(tw, "%s\t%d\n", s, st.States[s])
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "QUEUE\tSCHEDULED\tRUNNING\tPAUSED")
	queues := make([]string, 0, len(st.Queues))
	for q := range st.Queues {
		queues = append(queues, q)
	}
	sort.Strings(queues)
	for _, q := range queues {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", q, st.Queues[q].Scheduled, st.Queues[q].Running, yesNo(st.Queues[q].Paused))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndaemons alive: %d\n", len(st.Daemons))
	if len(st.DaemonInfo) > 0 {
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  DAEMON\tQUEUES\tHANDLERS\tWORKERS")
		for _, d := range st.DaemonInfo {
			if d.Info == nil {
				fmt.Fprintf(tw, "  %s\tunknown\tunknown\tunknown\n", d.ID)
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", d.ID, joinNames(d.Info.Queues), joinNames(d.Info.Handlers), d.Info.Workers)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		for _, id := range st.Daemons { // an older daemon's API sends ids only
			fmt.Fprintf(out, "  %s\n", id)
		}
	}
	if len(st.Stranded) > 0 {
		fmt.Fprintf(out, "\nstranded (among the first %d due tasks of each queue):\n", client.StrandedSample)
		for _, s := range st.Stranded {
			fmt.Fprintf(out, "  %s\n", s)
		}
	}
	return nil
}

// joinNames joins names with commas, or says "none".
func joinNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
