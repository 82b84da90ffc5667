// Package transport encodes what dueq keeps in Redis and sends over pub/sub:
// task records (a Redis hash whose args, result and id lists are JSON) and the
// short messages of the announce, done and cancel channels.
//
// Records carry a format version in field "v". A record that is corrupt or of
// another version decodes to an error wrapping ErrCorrupt, never a panic, so a
// loop can report it and move on.
package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dueq/dueq/tasks"
)

// Version is the record format this build writes. Format 2 counts the
// entries of a task's children list in field kids (absent: none); this
// build also reads format 1, whose records do not, and whose children lists
// the scripts measure instead.
const Version = "2"

// ScheduleVersion is the schedule record format this build reads and
// writes.
const ScheduleVersion = "1"

// readable reports whether this build reads record format v.
func readable(v string) bool { return v == Version || v == "1" }

// Record hash fields. Scripts use the same names.
const (
	FVersion     = "v"
	FName        = "name"
	FArgs        = "args"
	FQueue       = "queue"
	FState       = "state"
	FDue         = "due"      // ms since the epoch
	FCreated     = "created"  // ms
	FStarted     = "started"  // ms
	FFinished    = "finished" // ms
	FAttempts    = "attempts"
	FMaxAttempts = "max_attempts"
	FTimeout     = "timeout" // ms
	FResult      = "result"  // JSON
	FError       = "error"
	FParents     = "parents" // JSON array of ids
	// FOutcome prefixes the fields holding each finished parent's outcome,
	// "o:PARENT_ID" = JSON {id, name, state, result, error}. Children are
	// not a field: they are the list at {ns}:kids:ID.
	FOutcome    = "o:"
	FPending    = "pending" // parents not yet finished
	FPolicy     = "opf"     // on_parent_failure
	FSchedule   = "schedule"
	FKey        = "key"
	FRun        = "run" // claim token
	FRecoveries = "recoveries"
	FDaemon     = "daemon" // the daemon that ran the latest attempt
	FWorkflow   = "workflow"
	FNode       = "node"
	// FKids counts the entries of the task's children list ({ns}:kids:ID),
	// so finishing a task needs no read of the list's length; absent in a
	// format 2 record, it is 0.
	FKids          = "kids"
	FAttemptErrors = "aerr" // JSON array of the failed attempts' errors, the last 10
)

// ErrCorrupt marks a record that cannot be decoded.
var ErrCorrupt = errors.New("corrupt task record")

// Ms converts a time to milliseconds since the epoch; the zero time is 0.
func Ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMs converts milliseconds since the epoch to a UTC time; 0 is the zero time.
func FromMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// EncodeRecord returns t's hash fields as field, value pairs for HSET. Empty
// and zero fields are left out to keep records small.
func EncodeRecord(t *tasks.Task) []any {
	f := make([]any, 0, 24)
	add := func(k string, v any) { f = append(f, k, v) }
	addInt := func(k string, v int64) {
		if v != 0 {
			add(k, v)
		}
	}
	addStr := func(k, v string) {
		if v != "" {
			add(k, v)
		}
	}
	add(FVersion, Version)
	add(FName, t.Name)
	if len(t.Args) == 0 {
		add(FArgs, "null")
	} else {
		add(FArgs, string(t.Args))
	}
	add(FQueue, t.Queue)
	add(FState, string(t.State))
	addInt(FDue, Ms(t.DueAt))
	addInt(FCreated, Ms(t.CreatedAt))
	addInt(FStarted, Ms(t.StartedAt))
	addInt(FFinished, Ms(t.FinishedAt))
	addInt(FAttempts, int64(t.Attempts))
	add(FMaxAttempts, t.MaxAttempts)
	addInt(FTimeout, t.Timeout.Milliseconds())
	addStr(FResult, string(t.Result))
	addStr(FError, t.Error)
	if len(t.Parents) > 0 {
		add(FParents, mustJSON(t.Parents))
	}
	addInt(FPending, int64(t.Pending))
	addStr(FPolicy, string(t.OnParentFailure))
	addStr(FSchedule, t.Schedule)
	addStr(FKey, t.Key)
	addInt(FRun, t.Run)
	addInt(FRecoveries, int64(t.Recoveries))
	addInt(FKids, int64(len(t.Children)))
	addStr(FDaemon, t.Daemon)
	addStr(FWorkflow, t.Workflow)
	addStr(FNode, t.Node)
	if len(t.AttemptErrors) > 0 {
		add(FAttemptErrors, mustJSON(t.AttemptErrors))
	}
	return f
}

func mustJSON(v []string) string {
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// DecodeRecord builds the task with the given id from its hash fields. It
// checks the version, the state and every number, so a damaged record is an
// error wrapping ErrCorrupt that names the field.
func DecodeRecord(id string, h map[string]string) (*tasks.Task, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCorrupt, id, fmt.Sprintf(format, a...))
	}
	if len(h) == 0 {
		return nil, bad("empty record")
	}
	if v := h[FVersion]; !readable(v) {
		return nil, bad("format version %q, this build reads %q and \"1\"", v, Version)
	}
	t := &tasks.Task{ID: id, Name: h[FName], Queue: h[FQueue], State: tasks.State(h[FState]),
		Error: h[FError], Schedule: h[FSchedule], Key: h[FKey], OnParentFailure: tasks.Policy(h[FPolicy]), Daemon: h[FDaemon],
		Workflow: h[FWorkflow], Node: h[FNode]}
	if t.Name == "" || t.Queue == "" {
		return nil, bad("no name or queue")
	}
	if !t.State.Valid() {
		return nil, bad("unknown state %q", h[FState])
	}
	if t.OnParentFailure == "" {
		t.OnParentFailure = tasks.PolicyFail
	}
	if !t.OnParentFailure.Valid() {
		return nil, bad("unknown on_parent_failure %q", t.OnParentFailure)
	}
	if _, ok := h[FArgs]; !ok {
		return nil, bad("no args")
	}
	for _, f := range []struct {
		name string
		dst  *json.RawMessage
	}{{FArgs, &t.Args}, {FResult, &t.Result}} {
		s, ok := h[f.name]
		if !ok {
			continue
		}
		if err := tasks.CheckJSON("field "+f.name, []byte(s)); err != nil {
			return nil, bad("%s", err)
		}
		*f.dst = json.RawMessage(s)
	}
	var due, created, started, finished, attempts, maxAttempts, timeout, pending, recoveries int64
	ints := []intField{{FDue, &due, maxTimeMs}, {FCreated, &created, maxTimeMs}, {FStarted, &started, maxTimeMs},
		{FFinished, &finished, maxTimeMs}, {FAttempts, &attempts, maxField}, {FMaxAttempts, &maxAttempts, maxField},
		{FTimeout, &timeout, maxField}, {FPending, &pending, maxField}, {FRun, &t.Run, maxField},
		{FRecoveries, &recoveries, maxField}}
	for _, f := range ints {
		s, ok := h[f.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > f.max {
			return nil, bad("field %s is %.40q, not a %s", f.name, s, f.kind())
		}
		*f.dst = n
	}
	t.DueAt, t.CreatedAt, t.StartedAt, t.FinishedAt = FromMs(due), FromMs(created), FromMs(started), FromMs(finished)
	t.Attempts, t.MaxAttempts, t.Pending, t.Recoveries = int(attempts), int(maxAttempts), int(pending), int(recoveries)
	t.Timeout = time.Duration(timeout) * time.Millisecond
	if s, ok := h[FParents]; ok {
		if err := json.Unmarshal([]byte(s), &t.Parents); err != nil {
			return nil, bad("field %s is not a JSON list of ids", FParents)
		}
	}
	if s, ok := h[FAttemptErrors]; ok {
		if err := json.Unmarshal([]byte(s), &t.AttemptErrors); err != nil {
			return nil, bad("field %s is not a JSON list of errors", FAttemptErrors)
		}
	}
	for _, p := range t.Parents {
		s, ok := h[FOutcome+p]
		if !ok {
			continue // not finished yet, or the task was released early
		}
		var o tasks.Outcome
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			return nil, bad("the outcome of parent %s is not JSON", p)
		}
		t.Outcomes = append(t.Outcomes, o)
	}
	return t, nil
}

// maxField bounds every number of a record: ms timestamps and durations in
// ms must fit a time.Duration in nanoseconds.
const maxField = math.MaxInt64 / int64(time.Millisecond)

// maxTimeMs bounds a record's times: the last ms of the year 9999, the
// latest time a record's answer can write in RFC 3339.
var maxTimeMs = tasks.MaxTime.UnixMilli()

type intField struct {
	name string
	dst  *int64
	max  int64
}

// kind says what the field holds, for errors.
func (f intField) kind() string {
	if f.max == maxTimeMs {
		return "time in ms within the years 1970 to 9999"
	}
	return "count"
}
