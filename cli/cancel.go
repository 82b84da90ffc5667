package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/client"
)

func newCancel(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a scheduled, waiting or running task, or a recurring schedule",
		Long: `Cancel task ID and print its id and new state. A running task's handler has
its context canceled. Canceling a task that already finished is refused
(exit 2).

For a schedule id (as 'dueq submit --every/--cron' printed it) it cancels the
schedule: no occurrence fires after it; one already running finishes.
Canceling a schedule twice is refused (exit 2).`,
		Args: args(1, 1, "one task or schedule id"),
		RunE: func(c *cobra.Command, a []string) error {
			if client.IsScheduleID(a[0]) {
				sc, err := g.client().CancelSchedule(c.Context(), a[0])
				if err != nil {
					return requestError(err)
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %s\n", sc.ID, sc.State)
				return nil
			}
			t, err := g.client().Cancel(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %s\n", t.ID, t.State)
			return nil
		},
	}
}
