package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/tasks"
)

func newList(g *globals) *cobra.Command {
	var (
		state, name string
		limit       int
		jsonOut     bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List tasks",
		Long: `List tasks as a table (id, name, state, queue, due), or as a JSON array of
records with --json. Running tasks come first, then scheduled ones by due
time, then the rest.`,
		Example: `  dueq list
  dueq list --state failed --name shell --limit 20`,
		Args: args(0, 0, "no arguments (use --state and --name to filter)"),
		RunE: func(c *cobra.Command, a []string) error {
			if state != "" {
				if _, err := tasks.ParseState(state); err != nil {
					return usagef(c, "--state: %v", err)
				}
			}
			if limit < 0 {
				return usagef(c, "--limit %d is negative: give 1 or more, or 0 for the server's default", limit)
			}
			list, err := g.client().List(c.Context(), state, name, limit)
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				if list == nil {
					list = []*tasks.Task{}
				}
				return printJSON(c.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tQUEUE\tDUE")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.State, t.Queue, timeOrDash(t.DueAt))
			}
			return tw.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&state, "state", "", "only tasks in this state: scheduled, waiting, running, succeeded, failed or canceled")
	f.StringVar(&name, "name", "", "only tasks of this handler name")
	f.IntVar(&limit, "limit", 0, "at most this many tasks (0: the server's default, 100)")
	f.BoolVar(&jsonOut, "json", false, "print a JSON array of task records")
	return c
}
