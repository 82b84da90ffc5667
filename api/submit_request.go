package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/dueq/dueq/tasks"
)

// SubmitRequest is the body of POST /api/v1/tasks, shared by the server and
// the Client. Durations and times are strings so the wire form reads as
// typed: In and Timeout are Go durations ("5s", "1m30s", "2h"), At is
// RFC 3339 ("2030-01-02T15:04:05Z"). Empty fields take tasks.Spec's
// defaults. Fields not listed here (every, cron) are rejected as unknown for
// now.
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
}

// Spec converts the request into a normalized tasks.Spec. Its errors wrap
// tasks.ErrInvalid and name the field to fix.
func (q SubmitRequest) Spec() (tasks.Spec, error) {
	spec := tasks.Spec{Name: q.Name, Queue: q.Queue, MaxAttempts: q.MaxAttempts, Key: q.Key,
		After: q.After, OnParentFailure: tasks.Policy(q.OnParentFailure)}
	if a := bytes.TrimSpace(q.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		spec.Args = a
	}
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
		if spec.At, err = time.Parse(time.RFC3339, q.At); err != nil {
			return spec, fmt.Errorf("%w: at %.60q is not an RFC 3339 time: write it like 2030-01-02T15:04:05Z or 2030-01-02T17:04:05+02:00", tasks.ErrInvalid, q.At)
		}
	}
	if err := spec.Normalize(); err != nil {
		return spec, err
	}
	return spec, nil
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

// submitFields lists SubmitRequest's JSON field names, for error messages.
var submitFields = func() string {
	t := reflect.TypeFor[SubmitRequest]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}()
