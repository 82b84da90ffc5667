package cli

import (
	"fmt"
	"io"
	"regexp"
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

// scheduleIDRE is a schedule id as dueq makes them: S, a ULID, and its
// partition. A queue may be named S-anything ("Sales"), so pause and resume
// take an argument for a schedule only when it is one of these.
var scheduleIDRE = regexp.MustCompile(`^S[0-9A-HJKMNP-TV-Z]{26}(\.[0-9]+)?$`)

func isScheduleID(s string) bool { return scheduleIDRE.MatchString(s) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newPause(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause QUEUE|SCHEDULE_ID",
		Short: "Stop every daemon from claiming a queue's tasks, or a schedule from firing, until 'dueq resume'",
		Long: `Pause QUEUE: once this returns, no daemon of the fleet claims its tasks
(each claim checks it in Redis), until 'dueq resume QUEUE'. Submits to it are
still accepted and wait, scheduled; its running tasks finish. A paused queue
stays paused when daemons restart. Prints the queue and its counts.

For a schedule id (as 'dueq submit --every/--cron' printed it) it pauses the
schedule: no occurrence fires until 'dueq resume SCHEDULE_ID', which goes on
from its next slot. Prints the schedule's id and state.`,
		Args: args(1, 1, "one queue name or schedule id"),
		RunE: func(c *cobra.Command, a []string) error {
			if isScheduleID(a[0]) {
				sc, err := g.client().PauseSchedule(c.Context(), a[0])
				if err != nil {
					return requestError(err)
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %s\n", sc.ID, sc.State)
				return nil
			}
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
		Use:   "resume QUEUE|SCHEDULE_ID",
		Short: "Let the daemons claim a paused queue's tasks again, or a paused schedule fire",
		Long: `Resume QUEUE, paused by 'dueq pause': the daemons are woken and claim its due
tasks again. Resuming a queue that is not paused changes nothing. Prints the
queue and its counts.

For a schedule id it resumes the schedule from its next slot after now: the
slots that passed while it was paused do not run. Prints its id and state.`,
		Args: args(1, 1, "one queue name or schedule id"),
		RunE: func(c *cobra.Command, a []string) error {
			if isScheduleID(a[0]) {
				sc, err := g.client().ResumeSchedule(c.Context(), a[0])
				if err != nil {
					return requestError(err)
				}
				fmt.Fprintf(c.OutOrStdout(), "%s %s\n", sc.ID, sc.State)
				return nil
			}
			q, err := g.client().ResumeQueue(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			return printQueues(c.OutOrStdout(), []wire.Queue{*q})
		},
	}
}
