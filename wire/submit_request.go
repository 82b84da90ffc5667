package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dueq/dueq/tasks"
)

// SubmitRequest is the body of POST /api/v1/tasks, shared by the server
// (package api) and its client (package apiclient). Durations and times
// are strings so the wire form reads as typed: In and Timeout are Go
// durations ("5s", "1m30s", "2h"), At is RFC 3339 ("2030-01-02T15:04:05Z"). Empty fields take tasks.Spec's
// defaults. Fields not listed here are rejected as unknown.
//
// With Every or Cron the request asks for a recurring task: it
// creates a schedule, and the answer is the schedule's record (see
// Recurring and ScheduleSpec). In, At, After, OnParentFailure and Key do not
// apply to recurring tasks and are rejected with them.
type SubmitRequest struct {
	// Name is the handler to run, e.g. "echo". Required.
	Name string `json:"name"`
	// Args is any JSON value handed to the handler. Empty or null means {}.
	Args json.RawMessage `json:"args,omitempty"`
	// In delays the task by a duration from now. Use at most one of In and At.
	In string `json:"in,omitempty"`
	// At runs the task at a time (RFC 3339); a time in the past means now.
	At string `json:"at,omitempty"`
	// After names parent task ids: the task waits until every parent has
	// finished, then its handler receives their outcomes in this order. A
	// parent that already finished counts; an unknown or expired one is
	// rejected and nothing is written.
	After []string `json:"after,omitempty"`
	// OnParentFailure says what happens when a parent fails: fail (the
	// default: the task fails without running), run (it runs and sees the
	// parent's error) or skip (it is canceled).
	OnParentFailure string `json:"on_parent_failure,omitempty"`
	// Queue defaults to "default".
	Queue string `json:"queue,omitempty"`
	// MaxAttempts is how many times a failing task is tried. Defaults to 1.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Timeout cancels the handler after this long. Empty: no timeout.
	Timeout string `json:"timeout,omitempty"`
	// Key makes the submit idempotent: a second submit with the same key
	// returns the first task.
	Key string `json:"key,omitempty"`
	// Every makes the task recurring at this interval, a Go duration such as
	// "8s" or "2h". Use at most one of Every and Cron.
	Every string `json:"every,omitempty"`
	// Cron makes the task recurring on a cron spec: 5 fields, 6 with
	// seconds first, or a descriptor such as "@hourly"; UTC unless it starts
	// with CRON_TZ=Zone.
	Cron string `json:"cron,omitempty"`
	// Misfire says what a schedule does about slots missed while no daemon
	// ran: run_once (the default: one catch-up run) or skip. Only with Every
	// or Cron.
	Misfire string `json:"misfire,omitempty"`
}

// Recurring reports whether q asks for a recurring task: Every or Cron is
// set. Such a request goes through ScheduleSpec, not Spec.
func (q SubmitRequest) Recurring() bool { return q.Every != "" || q.Cron != "" }

// Spec converts the request into a normalized tasks.Spec. Its errors wrap
// tasks.ErrInvalid and name the field to fix.
func (q SubmitRequest) Spec() (tasks.Spec, error) {
	if q.Recurring() {
		return tasks.Spec{}, fmt.Errorf("%w: every or cron given: a recurring task is a schedule, submit it with ScheduleSpec", tasks.ErrInvalid)
	}
	if q.Misfire != "" {
		return tasks.Spec{}, fmt.Errorf("%w: misfire applies only to recurring tasks: give every or cron too, or leave misfire out", tasks.ErrInvalid)
	}
	spec := tasks.Spec{Name: q.Name, Queue: q.Queue, MaxAttempts: q.MaxAttempts, Key: q.Key,
		After: q.After, OnParentFailure: tasks.Policy(q.OnParentFailure), Args: q.args()}
	var err error
	if spec.In, err = parseDuration("in", q.In); err != nil {
		return spec, err
	}
	if spec.Timeout, err = parseDuration("timeout", q.Timeout); err != nil {
		return spec, err
	}
	if q.At != "" {
		if q.In != "" {
			return spec, fmt.Errorf("%w: in and at both given: use one of them", tasks.ErrInvalid)
		}
		if spec.At, err = tasks.ParseAt(q.At); err != nil {
			return spec, fmt.Errorf("%w: at %w", tasks.ErrInvalid, err)
		}
	}
	if err := spec.Normalize(); err != nil {
		return spec, err
	}
	return spec, nil
}

// ScheduleSpec converts a recurring request (Every or Cron set) into a
// ScheduleSpec. It checks what it can without the cron parser:
// exactly one of every and cron, every a positive duration, the misfire
// policy, no field that does not apply to recurring tasks, and the task
// fields as Spec would. The scheduler checks the cron spec itself. Errors
// wrap tasks.ErrInvalid and name the field to fix.
func (q SubmitRequest) ScheduleSpec() (ScheduleSpec, error) {
	bad := func(format string, a ...any) (ScheduleSpec, error) {
		return ScheduleSpec{}, fmt.Errorf("%w: %s", tasks.ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case !q.Recurring():
		return bad("neither every nor cron given: give one to make the task recurring")
	case q.Every != "" && q.Cron != "":
		return bad("every and cron both given: use one of them")
	}
	var stray []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"in", q.In != ""}, {"at", q.At != ""}, {"after", len(q.After) > 0},
		{"on_parent_failure", q.OnParentFailure != ""}, {"key", q.Key != ""},
	} {
		if f.set {
			stray = append(stray, f.name)
		}
	}
	if len(stray) > 0 {
		return bad("%s given with every or cron: in, at, after, on_parent_failure and key do not apply to recurring tasks (each occurrence runs at its slot): leave them out", strings.Join(stray, ", "))
	}
	spec := ScheduleSpec{
		Task:    tasks.Spec{Name: q.Name, Args: q.args(), Queue: q.Queue, MaxAttempts: q.MaxAttempts},
		Cron:    strings.TrimSpace(q.Cron),
		Misfire: Misfire(q.Misfire),
	}
	if q.Every != "" {
		d, err := time.ParseDuration(q.Every)
		switch {
		case err != nil:
			return bad("every %.60q is not a duration: write it like 8s, 5m or 2h", q.Every)
		case d <= 0:
			return bad("every %s: give a positive interval such as 8s", q.Every)
		}
		spec.Every = d
	}
	if q.Cron != "" && spec.Cron == "" {
		return bad("cron is blank: give a spec such as \"*/5 * * * *\" or @hourly")
	}
	switch spec.Misfire {
	case "", MisfireRunOnce, MisfireSkip:
	default:
		return bad("misfire %.30q: use run_once or skip", q.Misfire)
	}
	var err error
	if spec.Task.Timeout, err = parseDuration("timeout", q.Timeout); err != nil {
		return spec, err
	}
	check := spec.Task // validated as a task; the scheduler fills the defaults
	if err := check.Normalize(); err != nil {
		return spec, err
	}
	return spec, nil
}

// args returns the request's args, or nil for none (empty or null).
func (q SubmitRequest) args() json.RawMessage {
	if a := bytes.TrimSpace(q.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		return a
	}
	return nil
}

// parseDuration reads a non-negative Go duration; "" is zero.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %.60q is not a duration: write it like 30s, 5m or 1h30m", tasks.ErrInvalid, field, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: %s %s is negative: give 0 or more", tasks.ErrInvalid, field, s)
	}
	return d, nil
}
