package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/wire"
)

func newQueues(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "queues",
		Short: "List the queues with their counts and whether each is paused",
		Long: `List every queue that has had tasks (or is paused), by name: its scheduled
and running tasks, and whether it is paused ('dueq pause QUEUE').`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			qs, err := g.client().Queues(c.Context())
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), qs)
			}
			return printQueues(c.OutOrStdout(), qs)
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the queues as JSON")
	return c
}

// printQueues writes the table of 'dueq queues'.
func printQueues(out io.Writer, qs []wire.Queue) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tSCHEDULED\tRUNNING\tPAUSED")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%v\n", q.Name, q.Scheduled, q.Running, yesNo(q.Paused))
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newPause(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause QUEUE",
		Short: "Stop every daemon from claiming a queue's tasks, until 'dueq resume'",
		Long: `Pause QUEUE: once this returns, no daemon of the fleet claims its tasks
(each claim checks it in Redis), until 'dueq resume QUEUE'. Submits to it are
still accepted and wait, scheduled; its running tasks finish. A paused queue
stays paused when daemons restart. Prints the queue and its counts.`,
		Args: args(1, 1, "one queue name"),
		RunE: func(c *cobra.Command, a []string) error {
			q, err := g.client().PauseQueue(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			return printQueues(c.OutOrStdout(), []wire.Queue{*q})
		},
	}
}

func newResume(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume QUEUE",
		Short: "Let the daemons claim a paused queue's tasks again",
		Long: `Resume QUEUE, paused by 'dueq pause': the daemons are woken and claim its due
tasks again. Resuming a queue that is not paused changes nothing. Prints the
queue and its counts.`,
		Args: args(1, 1, "one queue name"),
		RunE: func(c *cobra.Command, a []string) error {
			q, err := g.client().ResumeQueue(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			return printQueues(c.OutOrStdout(), []wire.Queue{*q})
		},
	}
}
