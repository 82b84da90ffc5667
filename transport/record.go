// Package transport encodes what dueq keeps in Redis and sends over pub/sub:
// task records (a Redis hash; see Version for its fields) and the
// short messages of the announce, done and cancel channels.
//
// Records of formats 1 to 3 carry their format version in field "v"; a
// record of format 4 has no such field. A record that is corrupt or of
// another version decodes to an error wrapping ErrCorrupt, never a panic, so a
// loop can report it and move on.
package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dueq/dueq/tasks"
)

// Version is the record format this build writes. Format 4 keeps the
// parts of a task that never change after submit and that no script reads
// (args, max_attempts, timeout, parents, schedule, node, and the due and
// creation times a submit gave it) in one field, x, so a
// submit writes four fields and a claim reads a record as a few values
// instead of a field per part; the parts scripts read (name, queue,
// on_parent_failure), those that name a task's companion key (key,
// workflow: they outlast damage to x) and every part that changes stay
// fields of their own (a due or created field, where one is written, is
// what the record says).
// A format 4 record has no version field: every older one has one (v).
// This build also reads format 3 (as 4, but with a version field, and due
// and created as fields), and formats 2 and 1, in which
// every part is a field (format 1 does not count a task's children in
// field kids; the scripts measure the list instead), so tasks left in
// Redis by an older daemon run after an upgrade.
const Version = "4"

// ScheduleVersion is the schedule record format this build reads and
// writes.
const ScheduleVersion = "1"

// readable reports whether this build reads record format v.
func readable(v string) bool { return v == "" || v == Version || v == "3" || v == "2" || v == "1" }

// CountsKids reports whether a record of format v counts its children in
// field kids (absent: none); v is the record's version field ("" for
// none: format 4).
func CountsKids(v string) bool { return v == "" || v == Version || v == "3" || v == "2" }

// Record hash fields. Scripts use the same names.
const (
	FVersion = "v"
	FName    = "name"
	FQueue   = "queue"
	FState   = "state"
	// FImmutable is the field of the parts that never change (formats 3
	// and 4), JSON with short names: {"p": parents, "a": args, "m":
	// max_attempts, "t": timeout ms, "s": schedule, "n": node, and in
	// format 4 "d": due ms and "c": created ms as a submit gave them},
	// each left out when empty or zero except args.
	FImmutable = "x"
	FDue       = "due"      // ms since the epoch
	FCreated   = "created"  // ms
	FStarted   = "started"  // ms
	FFinished  = "finished" // ms
	FAttempts  = "attempts"
	FResult    = "result" // JSON
	FError     = "error"
	FKey       = "key"
	FWorkflow  = "workflow"
	// FOutcome prefixes the fields holding each finished parent's outcome,
	// "o:PARENT_ID" = JSON {id, name, state, result, error}. Children are
	// not a field: they are the list at {ns}:kids:ID.
	FOutcome    = "o:"
	FPending    = "pending" // parents not yet finished; present only in a task that has parents
	FPolicy     = "opf"     // on_parent_failure; absent: fail
	FRun        = "run"     // claim token
	FRecoveries = "recoveries"
	FDaemon     = "daemon" // the daemon that ran the latest attempt
	// FKids counts the entries of the task's children list ({ns}:kids:ID),
	// so finishing a task needs no read of the list's length; absent in a
	// format 2 or 3 record, it is 0.
	FKids          = "kids"
	FAttemptErrors = "aerr" // JSON array of the failed attempts' errors, the last 10
)

// Fields of formats 1 and 2 that format 3 keeps in FImmutable.
const (
	FArgs        = "args" // JSON
	FMaxAttempts = "max_attempts"
	FTimeout     = "timeout" // ms
	FParents     = "parents" // JSON array of ids
	FSchedule    = "schedule"
	FNode        = "node"
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

// EncodeRecord returns t's hash fields in this build's format as field,
// value pairs for HSET. Empty and zero fields are left out to keep records
// small.
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
	add(FName, t.Name)
	add(FQueue, t.Queue)
	add(FState, string(t.State))
	add(FImmutable, EncodeImmutable(t))
	addInt(FDue, Ms(t.DueAt))
	addInt(FCreated, Ms(t.CreatedAt))
	addInt(FStarted, Ms(t.StartedAt))
	addInt(FFinished, Ms(t.FinishedAt))
	addInt(FAttempts, int64(t.Attempts))
	addStr(FResult, string(t.Result))
	addStr(FError, t.Error)
	if len(t.Parents) > 0 {
		add(FPending, int64(t.Pending)) // present, even 0: the task has parents
	}
	if t.OnParentFailure != tasks.PolicyFail {
		addStr(FPolicy, string(t.OnParentFailure))
	}
	addInt(FRun, t.Run)
	addInt(FRecoveries, int64(t.Recoveries))
	addInt(FKids, int64(len(t.Children)))
	addStr(FDaemon, t.Daemon)
	addStr(FKey, t.Key)
	addStr(FWorkflow, t.Workflow)
	if len(t.AttemptErrors) > 0 {
		add(FAttemptErrors, mustJSON(t.AttemptErrors))
	}
	return f
}

// immutable is the JSON of a record's field FImmutable.
type immutable struct {
	Args        json.RawMessage `json:"a"`
	MaxAttempts int64           `json:"m"`
	Timeout     int64           `json:"t"`
	Parents     []string        `json:"p"`
	Schedule    string          `json:"s"`
	Node        string          `json:"n"`
	Due         *int64          `json:"d"`
	Created     *int64          `json:"c"`
}

// EncodeImmutable returns the value of t's field FImmutable, without the
// due and creation times (EncodeRecord writes them as fields). Parents
// come first, so `{"p":` at its start tells a task that has parents.
func EncodeImmutable(t *tasks.Task) string {
	return EncodeImmutableOpen(t) + "}"
}

// EncodeImmutableOpen returns the value of t's field FImmutable without
// its closing brace: submit.lua closes it with the due and creation times
// it gives the task (`,"d":DUE,"c":CREATED}`), by Redis's clock.
func EncodeImmutableOpen(t *tasks.Task) string {
	b := make([]byte, 0, 32+len(t.Args))
	b = append(b, '{')
	if len(t.Parents) > 0 { // first: a claim tells a task with parents by its first bytes
		b = append(append(b, `"p":`...), mustJSON(t.Parents)...)
		b = append(b, ',')
	}
	b = append(b, `"a":`...)
	if len(t.Args) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, t.Args...)
	}
	if t.MaxAttempts != 0 {
		b = strconv.AppendInt(append(b, `,"m":`...), int64(t.MaxAttempts), 10)
	}
	if t.Timeout != 0 {
		b = strconv.AppendInt(append(b, `,"t":`...), t.Timeout.Milliseconds(), 10)
	}
	for _, s := range []struct{ name, v string }{{"s", t.Schedule}, {"n", t.Node}} {
		if s.v != "" {
			b = append(append(append(b, ',', '"'), s.name...), '"', ':')
			b = appendString(b, s.v)
		}
	}
	return string(b)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// invalidAt returns the offset of the first byte of s that is not UTF-8.
func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}

func mustJSON(v []string) string {
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// DecodeRecord builds the task with the given id from its hash fields, in
// any format this build reads. It checks the version, the state and every
// number, so a damaged record is an error wrapping ErrCorrupt that names
// the field.
func DecodeRecord(id string, h map[string]string) (*tasks.Task, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCorrupt, id, fmt.Sprintf(format, a...))
	}
	if len(h) == 0 {
		return nil, bad("empty record")
	}
	v := h[FVersion]
	if !readable(v) {
		return nil, bad("format version %q, this build reads formats %s (no version field), 3, 2 and 1", v, Version)
	}
	t := &tasks.Task{ID: id, Name: h[FName], Queue: h[FQueue], State: tasks.State(h[FState]),
		Error: h[FError], OnParentFailure: tasks.Policy(h[FPolicy]), Daemon: h[FDaemon], Key: h[FKey], Workflow: h[FWorkflow]}
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
	var im immutable
	var maxAttempts, timeout int64
	ints := []intField{{FDue, nil, maxTimeMs}, {FCreated, nil, maxTimeMs}, {FStarted, nil, maxTimeMs},
		{FFinished, nil, maxTimeMs}, {FAttempts, nil, maxField}, {FPending, nil, maxField}, {FRun, &t.Run, maxField},
		{FRecoveries, nil, maxField}, {FMaxAttempts, &maxAttempts, maxField}, {FTimeout, &timeout, maxField}}
	if v != "2" && v != "1" {
		x, ok := h[FImmutable]
		if !ok {
			return nil, bad("no field %s", FImmutable)
		}
		if !utf8.ValidString(x) { // its args' depth is checked below, on their own
			return nil, bad("field %s holds invalid UTF-8 at byte %d", FImmutable, invalidAt(x))
		}
		if json.Unmarshal([]byte(x), &im) != nil || im.Args == nil {
			return nil, bad("field %s is not the JSON of a task's args and settings", FImmutable)
		}
		if im.MaxAttempts < 0 || im.MaxAttempts > maxField || im.Timeout < 0 || im.Timeout > maxField {
			return nil, bad("field %s holds a negative or too large count", FImmutable)
		}
		maxAttempts, timeout = im.MaxAttempts, im.Timeout
		ints = ints[:len(ints)-2]
	} else {
		s, ok := h[FArgs]
		if !ok {
			return nil, bad("no args")
		}
		// As format 3 reads args back: without the white space around them.
		im = immutable{Args: json.RawMessage(strings.Trim(s, " \t\r\n")), Schedule: h[FSchedule], Node: h[FNode]}
		if s, ok := h[FParents]; ok {
			if err := json.Unmarshal([]byte(s), &im.Parents); err != nil {
				return nil, bad("field %s is not a JSON list of ids", FParents)
			}
		}
	}
	argsField := "field " + FArgs
	if v != "2" && v != "1" {
		argsField = "field " + FImmutable + " (args)"
	}
	if err := tasks.CheckJSON(argsField, im.Args); err != nil {
		return nil, bad("%s", err)
	}
	t.Args, t.Parents, t.Schedule, t.Node = im.Args, im.Parents, im.Schedule, im.Node
	if s, ok := h[FResult]; ok {
		if err := tasks.CheckJSON("field "+FResult, []byte(s)); err != nil {
			return nil, bad("%s", err)
		}
		t.Result = json.RawMessage(s)
	}
	var n [8]int64
	for i, f := range ints {
		s, ok := h[f.name]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 || v > f.max {
			return nil, bad("field %s is %.40q, not a %s", f.name, s, f.kind())
		}
		if f.dst != nil {
			*f.dst = v
		} else {
			n[i] = v
		}
	}
	for i, ms := range []*int64{im.Due, im.Created} { // a field, where there is one, says it
		if _, ok := h[ints[i].name]; !ok && ms != nil {
			if *ms < 0 || *ms > maxTimeMs {
				return nil, bad("field %s holds a time outside the years 1970 to 9999", FImmutable)
			}
			n[i] = *ms
		}
	}
	t.DueAt, t.CreatedAt, t.StartedAt, t.FinishedAt = FromMs(n[0]), FromMs(n[1]), FromMs(n[2]), FromMs(n[3])
	t.Attempts, t.Pending, t.Recoveries = int(n[4]), int(n[5]), int(n[7])
	if len(t.Parents) == 0 {
		t.Pending = 0 // a count of nothing: no parents to wait for
	}
	t.MaxAttempts, t.Timeout = int(maxAttempts), time.Duration(timeout)*time.Millisecond
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
