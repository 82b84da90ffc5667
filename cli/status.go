package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

func newStatus(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status ID",
		Short: "Show a task's or a schedule's record",
		Long: `Show task ID: its name, state, queue, times, attempts and its result or
error, one per line; the whole record as JSON with --json.

For a schedule id it shows the schedule: its task, rule, state and next fire
time.`,
		Args: args(1, 1, "one task or schedule id"),
		RunE: func(c *cobra.Command, a []string) error {
			if scheduler.IsScheduleID(a[0]) {
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

// printSchedule writes a schedule as "field: value" lines, as printStatus
// does for tasks.
func printSchedule(w io.Writer, sc *scheduler.Schedule) {
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
func rule(sc *scheduler.Schedule) string {
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
