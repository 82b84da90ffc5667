package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/recur"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// Schedule is one entry of the schedules key: a recurring task
// that every daemon upserts by Name when it starts. Restarting daemons never
// duplicates it, and changing an entry updates the schedule in Redis at the
// next start. Removing an entry does not cancel its schedule: use `dueq
// cancel ID` for that.
//
//	schedules:
//	  - name: nightly-report
//	    task: shell
//	    args: {cmd: [report, --yesterday]}
//	    cron: "CRON_TZ=Europe/Berlin 0 3 * * *"
//	    misfire: skip
//	  - {name: heartbeat, task: echo, every: 30s, queue: ops}
type Schedule struct {
	// Name identifies the schedule across daemons and restarts: 1-64
	// letters, digits or _.-, unique in the list. Required.
	Name string
	// Task is the handler each occurrence runs, e.g. echo. Required.
	Task string
	// Args is handed to the handler: any YAML value, stored as JSON.
	// Defaults to {}.
	Args json.RawMessage
	// Every fires the task at this interval, counted from the schedule's
	// creation, e.g. 30s or 2h. Give exactly one of Every and Cron.
	Every time.Duration
	// Cron fires the task on a cron spec: 5 fields, 6 with seconds first, or
	// a descriptor such as @hourly; UTC unless it starts with CRON_TZ=Zone.
	// Give exactly one of Every and Cron.
	Cron string
	// Queue is the queue of the occurrences. Defaults to "default".
	Queue string
	// Misfire says what happens to slots missed while no daemon ran:
	// run_once (one catch-up run) or skip. Defaults to run_once.
	Misfire string
	// MaxAttempts is how many times a failing occurrence is tried.
	// Defaults to 1.
	MaxAttempts int
	// Timeout cancels an occurrence's handler after this long. Defaults to
	// 0: no timeout.
	Timeout time.Duration
}

// scheduleFields are the keys of a schedules entry, in the order of Schedule.
var scheduleFields = []string{"name", "task", "args", "every", "cron", "queue", "misfire", "max_attempts", "timeout"}

// fieldError is a decoding error of a part of a key's value, such as
// "[2].every" of schedules; Load names the key with the part.
type fieldError struct {
	sub string
	err error
}

func (e *fieldError) Error() string { return e.sub + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// asSchedules decodes the schedules list; null is none. Its errors are
// fieldErrors naming the entry and the field.
func asSchedules(dst *[]Schedule) func(any) error {
	return func(v any) error {
		if v == nil {
			*dst = []Schedule{}
			return nil
		}
		list, ok := v.([]any)
		if !ok {
			return typeErr("is a %s, not a list: write a list of schedules such as [{name: tick, task: echo, every: 1m}], or [] for none", kind(v))
		}
		out := make([]Schedule, 0, len(list))
		for i, e := range list {
			m, ok := stringMap(e)
			if !ok {
				return &fieldError{sub: fmt.Sprintf("[%d]", i), err: typeErr("is a %s, not a map: write each schedule as a map such as {name: tick, task: echo, every: 1m}", kind(e))}
			}
			var s Schedule
			if field, err := s.decode(m); err != nil {
				return &fieldError{sub: fmt.Sprintf("[%d].%s", i, field), err: err}
			}
			out = append(out, s)
		}
		*dst = out
		return nil
	}
}

// decode reads one entry; on error it returns the field at fault.
func (s *Schedule) decode(m map[string]any) (string, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad field is the same at every run
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "name":
			err = asString(&s.Name)(v)
		case "task":
			err = asString(&s.Task)(v)
		case "args":
			s.Args, err = toJSON(v)
		case "every":
			if err = asDuration(&s.Every)(v); err == nil && s.Every == 0 {
				err = typeErr("0s: give a positive interval such as 30s, or use cron")
			}
		case "cron":
			err = asString(&s.Cron)(v)
		case "queue":
			err = asString(&s.Queue)(v)
		case "misfire":
			err = asString(&s.Misfire)(v)
		case "max_attempts":
			err = asInt(&s.MaxAttempts)(v)
		case "timeout":
			err = asDuration(&s.Timeout)(v)
		default:
			msg := fmt.Sprintf("unknown field: the fields of a schedule are %s", strings.Join(scheduleFields, ", "))
			if sg := suggest(k, scheduleFields); sg != "" {
				msg = fmt.Sprintf("unknown field: did you mean %q? (the fields of a schedule are %s)", sg, strings.Join(scheduleFields, ", "))
			}
			err = errors.New(msg)
		}
		if err != nil {
			return k, err
		}
	}
	return "", nil
}

// validateSchedules checks the decoded schedules; its errors name
// schedules[i].field.
func (c *Config) validateSchedules() error {
	seen := make(map[string]int, len(c.Schedules))
	for i, s := range c.Schedules {
		if _, err := s.spec(fmt.Sprintf("schedules[%d]", i)); err != nil {
			return err
		}
		if j, dup := seen[s.Name]; dup {
			return fmt.Errorf("schedules[%d].name: %q is also the name of schedules[%d]: give each schedule a unique name", i, s.Name, j)
		}
		seen[s.Name] = i
	}
	return nil
}

// ScheduleSpecs returns the schedules as the specs that
// client.Client.SubmitSchedule upserts by name, in the order of the
// file. Its error names the entry at fault (Load has already checked them).
func (c *Config) ScheduleSpecs() ([]wire.ScheduleSpec, error) {
	if err := c.validateSchedules(); err != nil {
		return nil, err
	}
	specs := make([]wire.ScheduleSpec, len(c.Schedules))
	for i, s := range c.Schedules {
		specs[i], _ = s.spec(fmt.Sprintf("schedules[%d]", i)) // validated above
	}
	return specs, nil
}

// spec checks s and converts it; errors start with at, the entry's key.
func (s Schedule) spec(at string) (wire.ScheduleSpec, error) {
	var zero wire.ScheduleSpec
	switch {
	case s.Name == "":
		return zero, fmt.Errorf("%s.name: missing: give each schedule a unique name such as nightly-report", at)
	case !client.ValidScheduleName(s.Name):
		return zero, fmt.Errorf("%s.name: %.80q: use 1-64 letters, digits or _.-", at, s.Name)
	case s.Task == "":
		return zero, fmt.Errorf("%s.task: missing: name the handler to run, such as echo", at)
	case s.Every != 0 && s.Cron != "":
		return zero, fmt.Errorf("%s: every and cron both given: keep one of them", at)
	case s.Every == 0 && strings.TrimSpace(s.Cron) == "":
		return zero, fmt.Errorf("%s: neither every nor cron given: add every (such as 30s) or cron (such as \"0 3 * * *\")", at)
	case s.Every < 0:
		return zero, fmt.Errorf("%s.every: %s is negative: give a positive interval such as 30s", at, s.Every)
	case s.Every != 0 && s.Every < recur.MinEvery:
		return zero, fmt.Errorf("%s.every: %s is too short: use %s or more", at, s.Every, recur.MinEvery)
	case s.Queue != "" && !tasks.ValidQueue(s.Queue):
		return zero, fmt.Errorf("%s.queue: %.80q is not a queue name: use 1-64 letters, digits or _.-", at, s.Queue)
	case s.Misfire != "" && s.Misfire != string(wire.MisfireRunOnce) && s.Misfire != string(wire.MisfireSkip):
		return zero, fmt.Errorf("%s.misfire: %.30q: use run_once or skip", at, s.Misfire)
	case s.MaxAttempts < 0 || s.MaxAttempts > 1000:
		return zero, fmt.Errorf("%s.max_attempts: %d: use 1 to 1000", at, s.MaxAttempts)
	case s.Timeout < 0:
		return zero, fmt.Errorf("%s.timeout: %s is negative: give a duration such as 5m, or leave it out for no timeout", at, s.Timeout)
	}
	if t := (tasks.Spec{Name: s.Task}); t.Normalize() != nil {
		return zero, fmt.Errorf("%s.task: %.80q is not a handler name: use 1-128 letters, digits or _.:/-", at, s.Task)
	}
	if len(s.Args) > tasks.MaxArgsBytes {
		return zero, fmt.Errorf("%s.args: %d bytes of JSON, more than the limit of %d", at, len(s.Args), tasks.MaxArgsBytes)
	}
	if _, err := recur.Parse(s.Every, strings.TrimSpace(s.Cron), time.Now()); err != nil {
		field := "every"
		if s.Cron != "" {
			field = "cron"
		}
		return zero, fmt.Errorf("%s.%s: %s", at, field, strings.TrimPrefix(err.Error(), recur.ErrInvalid.Error()+": "))
	}
	return wire.ScheduleSpec{
		Name:  s.Name,
		Task:  tasks.Spec{Name: s.Task, Args: s.Args, Queue: s.Queue, MaxAttempts: s.MaxAttempts, Timeout: s.Timeout},
		Every: s.Every, Cron: strings.TrimSpace(s.Cron), Misfire: wire.Misfire(s.Misfire),
	}, nil
}

// stringMap returns v as a map with string keys, if it is a map.
func stringMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		sm := make(map[string]any, len(m))
		for k, val := range m {
			sm[fmt.Sprint(k)] = val
		}
		return sm, true
	}
	return nil, false
}

// toJSON encodes a YAML value as JSON; null is nil (the default, {}).
func toJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, typeErr("cannot be written as JSON (%v): use strings, numbers, booleans, lists and maps", err)
	}
	return b, nil
}

// jsonable converts YAML maps with non-string keys, at any depth, into maps
// that encoding/json can write.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m, _ := stringMap(x)
		return jsonable(m)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = jsonable(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = jsonable(val)
		}
		return out
	}
	return v
}
