package scheduler

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dueq/dueq/recur"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// schedule is a schedule's record as the engine keeps it: what the API
// shows (wire.Schedule) and what only the engine needs.
type schedule struct {
	wire.Schedule

	rev     int64
	anchor  time.Time
	pending string // the id of the occurrence written for NextAt
	rule    recur.Rule
}

// IsScheduleID reports whether id names a schedule rather than a task.
func IsScheduleID(id string) bool {
	return strings.HasPrefix(id, "S") && !strings.Contains(id, "-") && tasks.ValidID(id)
}

// occurrenceID is the deterministic id of a schedule's occurrence at fire.
func occurrenceID(sid string, fire time.Time) string {
	return sid + "-" + strconv.FormatInt(fire.UnixMilli(), 10)
}

// parseOccurrence splits an occurrence id into its schedule id and fire time.
func parseOccurrence(id string) (sid string, fire time.Time, ok bool) {
	sid, ms, found := strings.Cut(id, "-")
	if !found || !IsScheduleID(sid) {
		return "", time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return sid, time.UnixMilli(n).UTC(), true
}

// occurrence is the task record of a schedule's slot at fire.
func (s *schedule) occurrence(fire, now time.Time) *tasks.Task {
	return &tasks.Task{ID: occurrenceID(s.ID, fire), Name: s.Task, Args: s.Args, Queue: s.Queue,
		State: tasks.Scheduled, DueAt: fire, CreatedAt: now, MaxAttempts: s.MaxAttempts,
		Timeout: s.Timeout, OnParentFailure: tasks.PolicyFail, Schedule: s.ID}
}

// sameSpec reports whether two schedules run the same thing on the same rule.
func (s *schedule) sameSpec(o *schedule) bool {
	return s.Task == o.Task && string(s.Args) == string(o.Args) && s.Queue == o.Queue && s.Every == o.Every &&
		s.Cron == o.Cron && s.Misfire == o.Misfire && s.MaxAttempts == o.MaxAttempts && s.Timeout == o.Timeout
}

// encodeSchedule returns the schedule hash's fields for HSET.
func encodeSchedule(s *schedule) []any {
	return []any{"v", transport.ScheduleVersion, "name", s.Name, "task", s.Task, "args", string(s.Args), "queue", s.Queue,
		"every", s.Every.Milliseconds(), "cron", s.Cron, "misfire", string(s.Misfire), "state", s.State,
		"next", transport.Ms(s.NextAt), "created", transport.Ms(s.CreatedAt), "anchor", transport.Ms(s.anchor),
		"max_attempts", s.MaxAttempts, "timeout", s.Timeout.Milliseconds(), "rev", s.rev, "pending", s.pending}
}

// maxScheduleField bounds a schedule's numbers: times within the year
// 9999 (what an answer can write), durations in ms that fit a
// time.Duration.
var maxScheduleField = map[string]int64{
	"every": math.MaxInt64 / int64(time.Millisecond), "timeout": math.MaxInt64 / int64(time.Millisecond),
	"next": tasks.MaxTime.UnixMilli(), "created": tasks.MaxTime.UnixMilli(), "anchor": tasks.MaxTime.UnixMilli(),
	"max_attempts": math.MaxInt32, "rev": math.MaxInt64,
}

// decodeSchedule reads a schedule hash, parsing its rule, and checks it as
// a submit is checked, so that a damaged one is an error, not an answer
// that cannot be read.
func decodeSchedule(id string, h map[string]string) (*schedule, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: schedule %s: %s", transport.ErrCorrupt, id, fmt.Sprintf(format, a...))
	}
	if h["v"] != transport.ScheduleVersion {
		return nil, bad("format version %q, this build reads %q", h["v"], transport.ScheduleVersion)
	}
	s := &schedule{Schedule: wire.Schedule{ID: id, Name: h["name"], Task: h["task"], Args: json.RawMessage(h["args"]), Queue: h["queue"],
		Cron: h["cron"], Misfire: wire.Misfire(h["misfire"]), State: h["state"]}, pending: h["pending"]}
	n := map[string]int64{}
	for _, f := range []string{"every", "next", "created", "anchor", "max_attempts", "timeout", "rev"} {
		v, err := strconv.ParseInt(h[f], 10, 64)
		if err != nil || v < 0 || v > maxScheduleField[f] {
			return nil, bad("field %s is %.40q, not a number it can hold", f, h[f])
		}
		n[f] = v
	}
	s.Every, s.Timeout = time.Duration(n["every"])*time.Millisecond, time.Duration(n["timeout"])*time.Millisecond
	s.NextAt, s.CreatedAt, s.anchor = transport.FromMs(n["next"]), transport.FromMs(n["created"]), transport.FromMs(n["anchor"])
	s.MaxAttempts, s.rev = int(n["max_attempts"]), n["rev"]
	if s.Task == "" || s.Queue == "" {
		return nil, bad("no task or queue")
	}
	if err := tasks.CheckJSON("args", s.Args); err != nil {
		return nil, bad("%v", err)
	}
	for _, f := range []string{s.Name, s.Task, s.Queue, s.Cron, s.State} {
		if !utf8.ValidString(f) {
			return nil, bad("a field holds invalid UTF-8")
		}
	}
	rule, err := recur.Parse(s.Every, s.Cron, s.anchor)
	if err != nil {
		return nil, bad("%v", err)
	}
	s.rule = rule
	return s, nil
}
