package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/recur"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func newSubmit(g *globals) *cobra.Command {
	var (
		req           wire.SubmitRequest
		wait, jsonOut bool
	)
	c := &cobra.Command{
		Use:   "submit NAME [ARGS_JSON]",
		Short: "Submit a task or a recurring task; print its id",
		Long: `Submit a task to the daemon at --server and print the new task's id alone on
stdout (the whole record with --json). ARGS_JSON is any JSON value handed to
the handler; quote it for the shell: dueq submit echo '{"a": 1}'.

With --after ID (repeatable) the task waits until every parent has finished,
then its handler receives their outcomes in the order given; a parent that
already finished counts, and an unknown or expired parent is refused with
nothing written. --on-parent-failure says what happens when a parent fails:
fail (the default: the task fails without running), run (it runs and sees the
parent's error) or skip (it is canceled). To submit a whole graph at once,
use 'dueq workflow'.

With --every DURATION or --cron SPEC the task is recurring: the daemon
creates a schedule and this prints the schedule's id (its record with
--json). Each slot fires one occurrence, an ordinary task whose record names
the schedule, however many daemons run. Cron specs have 5 fields, 6 with
seconds first, or are descriptors such as @hourly; they are in UTC unless
they start with CRON_TZ=Zone. --misfire says what happens to slots missed
while no daemon ran: run_once (the default: one catch-up run) or skip.
--in, --at, --after, --on-parent-failure, --key and --wait do not apply to
recurring tasks. 'dueq schedules' lists schedules, 'dueq cancel ID' stops
one.

With --wait it blocks until the task has finished, prints its result and
exits as 'dueq wait' does: 0 succeeded, 1 failed or canceled, 2 on error.

A task runs on a daemon that serves its queue and has its handler. While
daemons are alive and none of them has the handler, the submit is refused
(exit 2, naming what they run); when none serving the queue has it, or none
serves the queue, the task is accepted and stays scheduled until one is
alive, and a line "warning: ..." on stderr says so (stdout is still the id).`,
		Example: `  dueq submit echo '{"a": 1}'
  dueq submit sleep '{"ms": 500}' --in 10s --queue slow
  dueq submit echo '{}' --at 2030-01-02T15:04:05Z --key report-2030-01-02
  dueq submit echo '{"a": 1}' --wait
  dueq submit echo --after "$(dueq submit sleep '{"ms": 100}')" --wait
  dueq submit echo --after ID1 --after ID2 --on-parent-failure run
  dueq submit echo '{"tick": true}' --every 8s
  dueq submit shell '{"cmd": ["pg_dump", "app"]}' --cron "CRON_TZ=Europe/Berlin 0 3 * * *" --misfire skip`,
		Args: args(1, 2, "a handler name and optionally ARGS_JSON"),
		RunE: func(c *cobra.Command, a []string) error {
			req.Name = a[0]
			if len(a) == 2 {
				var v any
				if err := json.Unmarshal([]byte(a[1]), &v); err != nil {
					return usagef(c, "ARGS_JSON %.80q is not valid JSON (%v): write e.g. '{\"a\": 1}', in single quotes for the shell", a[1], err)
				}
				req.Args = json.RawMessage(a[1])
			}
			if wait && req.Recurring() {
				return usagef(c, "--wait with --every or --cron: a recurring task never finishes; wait for one of its occurrences instead (dueq list --name %s shows them)", req.Name)
			}
			if err := checkSubmit(req); err != nil {
				return usage(c, err)
			}
			cl := g.client()
			cl.Warn = warnOn(c)
			if req.Recurring() {
				sc, err := cl.SubmitSchedule(c.Context(), req)
				if err != nil {
					return requestError(err)
				}
				if jsonOut {
					return printJSON(c.OutOrStdout(), sc)
				}
				fmt.Fprintln(c.OutOrStdout(), sc.ID)
				return nil
			}
			t, err := cl.Submit(c.Context(), req)
			if err != nil {
				return requestError(err)
			}
			if wait {
				return waitAndReport(c, cl, t.ID, 0, jsonOut)
			}
			if jsonOut {
				return printJSON(c.OutOrStdout(), t)
			}
			fmt.Fprintln(c.OutOrStdout(), t.ID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&req.In, "in", "", "run after this delay, a Go duration such as 30s, 5m or 1h30m")
	f.StringVar(&req.At, "at", "", "run at this time, RFC 3339 such as 2030-01-02T15:04:05Z")
	f.StringArrayVar(&req.After, "after", nil, "run when task `ID` has finished, receiving its outcome (repeat for several parents, in order)")
	f.StringVar(&req.OnParentFailure, "on-parent-failure", "", "when a parent fails: fail, run or skip (default \"fail\")")
	f.StringVar(&req.Queue, "queue", "", "queue to put the task in (default \"default\")")
	f.IntVar(&req.MaxAttempts, "max-attempts", 0, "how many times to try a failing task (default 1)")
	f.StringVar(&req.Timeout, "timeout", "", "cancel the handler after this long, a Go duration (default: no timeout)")
	f.StringVar(&req.Key, "key", "", "idempotency key: a second submit with the same key returns the first task")
	f.StringVar(&req.Every, "every", "", "make the task recurring every `DURATION`, a Go duration such as 8s or 2h")
	f.StringVar(&req.Cron, "cron", "", "make the task recurring on this cron `SPEC`, e.g. \"*/5 * * * *\", \"@hourly\", \"CRON_TZ=Europe/Berlin 0 9 * * 1-5\"")
	f.StringVar(&req.Misfire, "misfire", "", "for --every and --cron: run_once or skip slots missed while no daemon ran (default \"run_once\")")
	f.BoolVar(&wait, "wait", false, "block until the task has finished, print its result, exit as 'dueq wait' does")
	f.BoolVar(&jsonOut, "json", false, "print the whole task (or schedule) record as JSON instead of the id")
	return c
}

// checkSubmit validates req locally, with the daemon's own rules, so bad
// input is reported without a round trip and nothing is written. Its errors
// name the flag to fix.
func checkSubmit(req wire.SubmitRequest) error {
	if req.Recurring() {
		return checkRecurring(req)
	}
	if req.Misfire != "" {
		return errors.New("--misfire applies only to recurring tasks: give --every or --cron too, or leave --misfire out")
	}
	for _, d := range []struct{ flag, value string }{{"--in", req.In}, {"--timeout", req.Timeout}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return fmt.Errorf("%s %q is not a duration: write a Go duration such as 30s, 5m or 1h30m", d.flag, d.value)
		}
		if v < 0 {
			return fmt.Errorf("%s %s is negative: give 0 or more", d.flag, d.value)
		}
	}
	if req.At != "" {
		if req.In != "" {
			return errors.New("--in and --at both given: use one of them")
		}
		if _, err := tasks.ParseAt(req.At); err != nil {
			return fmt.Errorf("--at %w", err)
		}
	}
	if req.MaxAttempts < 0 {
		return fmt.Errorf("--max-attempts %d is negative: give 1 or more", req.MaxAttempts)
	}
	seen := make(map[string]bool, len(req.After))
	for _, id := range req.After {
		switch {
		case !tasks.ValidID(id):
			return fmt.Errorf("--after %.80q is not a task id: give the id 'dueq submit' printed", id)
		case seen[id]:
			return fmt.Errorf("--after %s is given twice: name each parent once", id)
		}
		seen[id] = true
	}
	if p := req.OnParentFailure; p != "" && !tasks.Policy(p).Valid() {
		return fmt.Errorf("--on-parent-failure %q: use fail, run or skip", p)
	}
	if _, err := req.Spec(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": "))
	}
	return nil
}

// checkRecurring is checkSubmit for a request with --every or --cron: the
// rule is parsed here with the daemon's own parser.
func checkRecurring(req wire.SubmitRequest) error {
	if req.Every != "" && req.Cron != "" {
		return errors.New("--every and --cron both given: use one of them")
	}
	for _, f := range []struct {
		flag string
		set  bool
	}{
		{"--in", req.In != ""}, {"--at", req.At != ""}, {"--after", len(req.After) > 0},
		{"--on-parent-failure", req.OnParentFailure != ""}, {"--key", req.Key != ""},
	} {
		if f.set {
			return fmt.Errorf("%s does not apply to recurring tasks (--every, --cron): each occurrence runs at its slot; leave %s out", f.flag, f.flag)
		}
	}
	var every time.Duration
	if req.Every != "" {
		var err error
		if every, err = time.ParseDuration(req.Every); err != nil {
			return fmt.Errorf("--every %q is not a duration: write a Go duration such as 8s, 5m or 2h", req.Every)
		}
		if every <= 0 {
			return fmt.Errorf("--every %s: give a positive interval such as 8s", req.Every)
		}
		if every < recur.MinEvery {
			return fmt.Errorf("--every %s is too short: use %s or more", req.Every, recur.MinEvery)
		}
	}
	if strings.TrimSpace(req.Cron) == "" && req.Every == "" {
		return errors.New("--cron is blank: give a spec such as \"*/5 * * * *\" or @hourly")
	}
	if _, err := recur.Parse(every, strings.TrimSpace(req.Cron), time.Now()); err != nil {
		flag := "--every"
		if req.Cron != "" {
			flag = "--cron"
		}
		return fmt.Errorf("%s: %s", flag, strings.TrimPrefix(err.Error(), recur.ErrInvalid.Error()+": "))
	}
	if m := req.Misfire; m != "" && m != string(wire.MisfireRunOnce) && m != string(wire.MisfireSkip) {
		return fmt.Errorf("--misfire %q: use run_once or skip", m)
	}
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil {
			return fmt.Errorf("--timeout %q is not a duration: write a Go duration such as 30s, 5m or 1h30m", req.Timeout)
		}
		if d < 0 {
			return fmt.Errorf("--timeout %s is negative: give 0 or more", req.Timeout)
		}
	}
	if req.MaxAttempts < 0 {
		return fmt.Errorf("--max-attempts %d is negative: give 1 or more", req.MaxAttempts)
	}
	if _, err := req.ScheduleSpec(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), tasks.ErrInvalid.Error()+": "))
	}
	return nil
}
