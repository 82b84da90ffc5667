package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/apiclient"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/tasks"
)

func newWait(g *globals) *cobra.Command {
	var timeout string
	c := &cobra.Command{
		Use:   "wait ID [ID...]",
		Short: "Wait for tasks to finish; print a task's result",
		Long: `Wait until task ID has finished and print its result JSON on stdout. For a
task that failed or was canceled, the error goes to stderr.

With several ids it waits until all have finished, following the daemon's
event stream. When stderr is a terminal it shows a progress bar there
([#####.....] 3/10 done, 1 failed); otherwise it prints "ID STATE" on stdout
for each task as it finishes. --timeout applies to the whole wait; Ctrl-C
(SIGINT, or SIGTERM) ends it early, naming the unfinished tasks.

Exit codes: 0 every task succeeded, 1 any failed or was canceled, 2 the
timeout passed first or an error occurred (unknown id, no daemon).`,
		Example: `  dueq wait 01JD6Q2V5M8X3N4P7R9S0T1U2V
  dueq wait 01JD6Q2V5M8X3N4P7R9S0T1U2V --timeout 30s
  dueq wait $(dueq workflow flow.yaml | jq -r '.[]') --timeout 10m`,
		Args: args(1, math.MaxInt, "one or more task ids"),
		RunE: func(c *cobra.Command, a []string) error {
			var ids []string
			seen := make(map[string]bool, len(a))
			for _, id := range a {
				if client.IsScheduleID(id) {
					return usagef(c, "%s is a schedule, which never finishes: wait for one of its occurrences (dueq list shows them; their records name the schedule)", id)
				}
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			var d time.Duration
			if timeout != "" {
				var err error
				if d, err = time.ParseDuration(timeout); err != nil {
					return usagef(c, "--timeout %q is not a duration: write a Go duration such as 30s or 5m", timeout)
				}
				if d < 0 {
					return usagef(c, "--timeout %s is negative: give a positive duration, or leave it out to wait until the task finishes", timeout)
				}
				if d == 0 {
					return usagef(c, "--timeout 0: give a positive duration, or leave it out to wait until the task finishes")
				}
			}
			if len(ids) > 1 {
				return waitAll(c, g.client(), ids, d)
			}
			return waitAndReport(c, g.client(), ids[0], d, false)
		},
	}
	c.Flags().StringVar(&timeout, "timeout", "", "give up after this long, a Go duration (default: wait until every task finishes)")
	return c
}

// waitAndReport waits up to timeout (0: until the task finishes) for task id
// and reports it as `dueq wait` does: the result (the whole record with
// jsonOut) on stdout, exit 0 succeeded, 1 failed or canceled (the error on
// stderr), 2 timeout or error.
func waitAndReport(c *cobra.Command, cl *apiclient.Client, id string, timeout time.Duration, jsonOut bool) error {
	t, err := waitFor(c.Context(), cl, id, timeout)
	if err != nil {
		return requestError(fmt.Errorf("wait for task %s: %w", id, err))
	}
	if !t.State.Finished() {
		return &exitError{code: ExitError, err: fmt.Errorf("task %s is still %s after %s: run 'dueq wait %s' again, or give a longer --timeout", t.ID, t.State, timeout, t.ID)}
	}
	out := c.OutOrStdout()
	if jsonOut {
		if err := printJSON(out, t); err != nil {
			return err
		}
	} else if t.State == tasks.Succeeded || len(t.Result) > 0 {
		printResult(out, t.Result)
	}
	switch t.State {
	case tasks.Succeeded:
		return nil
	case tasks.Canceled:
		msg := "task " + t.ID + " was canceled"
		if t.Error != "" {
			msg += ": " + t.Error
		}
		return &exitError{code: ExitFailed, err: errors.New(msg)}
	default:
		return &exitError{code: ExitFailed, err: fmt.Errorf("task %s failed after %d attempt(s): %s", t.ID, t.Attempts, orNone(t.Error))}
	}
}

// PollEvery is the longest single long poll of wait: a longer wait is a
// series of polls, so no request idles long enough for a proxy to cut it.
const PollEvery = 30 * time.Second

// waitFor long-polls task id until it finishes or timeout passes (0: no
// timeout) and returns its last record.
func waitFor(ctx context.Context, cl *apiclient.Client, id string, timeout time.Duration) (*tasks.Task, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		poll := PollEvery
		if !deadline.IsZero() {
			poll = min(poll, time.Until(deadline))
		}
		t, err := cl.Wait(ctx, id, max(poll, time.Millisecond))
		if err != nil || t.State.Finished() || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return t, err
		}
	}
}

// printResult writes a result as one line of JSON; no result is null.
func printResult(w io.Writer, result json.RawMessage) {
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	fmt.Fprintln(w, string(result))
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return &exitError{code: ExitError, err: fmt.Errorf("encode the answer as JSON: %w", err)}
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(no error message)"
	}
	return s
}
