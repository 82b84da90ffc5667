package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/client"
)

func newRetry(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a failed or canceled task again",
		Long: `Run task ID, which failed or was canceled, again now with a fresh set of
attempts, and print its id and new state (the whole record with --json).
'dueq wait ID' then waits for the new run.

A retry re-runs the task, not its graph: children that already received
its outcome keep it. Retrying a task in any other state, or one that never
ran because of its parents' outcomes (submit it anew), is refused (exit 2),
as is an unknown id.`,
		Example: `  dueq retry 01JD6Q2V5M8X3N4P7R9S0T1U2V
  dueq retry 01JD6Q2V5M8X3N4P7R9S0T1U2V && dueq wait 01JD6Q2V5M8X3N4P7R9S0T1U2V`,
		Args: args(1, 1, "one task id"),
		RunE: func(c *cobra.Command, a []string) error {
			if client.IsScheduleID(a[0]) {
				return usagef(c, "%s is a schedule: retry one of its occurrences instead (dueq list shows them; their records name the schedule)", a[0])
			}
			t, err := g.client().Retry(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), t)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %s\n", t.ID, t.State)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the task's new record as JSON")
	return c
}
