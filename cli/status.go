package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func newStatus(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status ID",
		Short: "Show a task's, a workflow's or a schedule's record",
		Long: `Show task ID: its name, state, queue, times, attempts and its result or
error, one per line; the whole record as JSON with --json.

For a workflow id (W..., printed by 'dueq workflow' on a terminal and kept
in each of its tasks' records) it shows each node: its name, state, task id
and handler, and the error of a failed node. For a schedule id (S...) it
shows the schedule: its task, rule, state and next fire time.`,
		Args: args(1, 1, "one task, workflow or schedule id"),
		RunE: func(c *cobra.Command, a []string) error {
			if client.ValidWorkflowID(a[0]) {
				wf, err := g.client().GetWorkflow(c.Context(), a[0])
				if err != nil {
					return requestError(err)
				}
				if jsonOut {
					return printJSON(c.OutOrStdout(), wf)
				}
				printWorkflow(c.OutOrStdout(), wf)
				return nil
			}
			if client.IsScheduleID(a[0]) {
				sc, err := g.client().GetSchedule(c.Context(), a[0])
				if err != nil {
					return requestError(err)
				}
				if jsonOut {
					return printJSON(c.OutOrStdout(), sc)
				}
				printSchedule(c.OutOrStdout(), sc)
				return nil
			}
			t, err := g.client().Get(c.Context(), a[0])
			if err != nil {
				return requestError(err)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), t)
			}
			printStatus(c.OutOrStdout(), t)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the task (or schedule) record as JSON")
	return c
}

// printStatus writes t as "field: value" lines, leaving out empty optional
// fields.
func printStatus(w io.Writer, t *tasks.Task) {
	line := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k+":", v) }
	line("id", t.ID)
	line("name", t.Name)
	line("state", string(t.State))
	line("queue", t.Queue)
	line("due", timeOrDash(t.DueAt))
	line("created", timeOrDash(t.CreatedAt))
	line("started", timeOrDash(t.StartedAt))
	line("finished", timeOrDash(t.FinishedAt))
	line("attempts", fmt.Sprintf("%d of %d", t.Attempts, t.MaxAttempts))
	if t.Timeout > 0 {
		line("timeout", t.Timeout.String())
	}
	if t.Key != "" {
		line("key", t.Key)
	}
	if t.Schedule != "" {
		line("schedule", t.Schedule)
	}
	if t.Workflow != "" {
		line("workflow", t.Workflow)
		line("node", t.Node)
	}
	if len(t.Parents) > 0 {
		line("parents", strings.Join(t.Parents, ", "))
	}
	if len(t.Children) > 0 {
		line("children", strings.Join(t.Children, ", "))
	}
	line("args", string(t.Args))
	if len(t.Result) > 0 {
		line("result", string(t.Result))
	}
	if t.Error != "" {
		line("error", t.Error)
	}
}

// printWorkflow writes a workflow: its id, its nodes counted by state, and
// a line per node in the order of its document.
func printWorkflow(w io.Writer, wf *wire.WorkflowAnswer) {
	var counts []string
	for _, st := range append(slices.Clone(tasks.States), wire.Expired) {
		if n := wf.States[st]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, st))
		}
	}
	fmt.Fprintf(w, "workflow:  %s\nnodes:     %d (%s)\n\n", wf.ID, len(wf.Nodes), strings.Join(counts, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tID\tHANDLER\tERROR")
	for _, n := range wf.Nodes {
		state, handler, errText := string(wire.Expired), "-", ""
		if n.Task != nil {
			state, handler, errText = string(n.Task.State), n.Task.Name, firstLine(n.Task.Error, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Node, state, n.ID, handler, errText)
	}
	_ = tw.Flush()
}

// firstLine returns s's first line, cut to at most n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// printSchedule writes a schedule as "field: value" lines, as printStatus
// does for tasks.
func printSchedule(w io.Writer, sc *wire.Schedule) {
	line := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k+":", v) }
	line("id", sc.ID)
	if sc.Name != "" {
		line("name", sc.Name)
	}
	line("task", sc.Task)
	line("state", sc.State)
	line("rule", rule(sc))
	line("misfire", string(sc.Misfire))
	line("queue", sc.Queue)
	line("next", timeOrDash(sc.NextAt))
	line("created", timeOrDash(sc.CreatedAt))
	line("attempts", fmt.Sprintf("up to %d per occurrence", sc.MaxAttempts))
	if sc.Timeout > 0 {
		line("timeout", sc.Timeout.String())
	}
	line("args", string(sc.Args))
}

// rule describes a schedule's rule: "every 8s" or "cron */5 * * * *".
func rule(sc *wire.Schedule) string {
	if sc.Cron != "" {
		return "cron " + sc.Cron
	}
	return "every " + sc.Every.String()
}

// timeOrDash formats a record time as the API does, or "-" for "not yet".
func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(tasks.TimeLayout)
}
