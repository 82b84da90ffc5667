package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCancel(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a scheduled, waiting or running task",
		Long: `Cancel task ID and print its id and new state. A running task's handler has
its context canceled. Canceling a task that already finished is refused
(exit 1).`,
		Args: args(1, 1, "one task id"),
		RunE: func(c *cobra.Command, a []string) error {
			t, err := g.client().Cancel(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %s\n", t.ID, t.State)
			return nil
		},
	}
}
