package store

import (
	"context"
	"encoding/json"
	"errors"
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

// Schedule is a schedule's record as the store keeps it ({ns}:s:ID): what
// the API shows (wire.Schedule) and what only the engine and the client
// need.
type Schedule struct {
	wire.Schedule

	Rev     int64      // the record's revision: 1 when made, one more per change
	Anchor  time.Time  // where an every rule's slots start
	Pending string     // the id of the occurrence written for NextAt
	Rule    recur.Rule // parsed from Every or Cron
}

// IsScheduleID reports whether id names a schedule rather than a task.
func IsScheduleID(id string) bool {
	return strings.HasPrefix(id, "S") && !strings.Contains(id, "-") && tasks.ValidID(id)
}

// OccurrenceID is the deterministic id of a schedule's occurrence at fire.
func OccurrenceID(sid string, fire time.Time) string {
	return sid + "-" + strconv.FormatInt(fire.UnixMilli(), 10)
}

// ParseOccurrence splits an occurrence id into its schedule id and fire time.
func ParseOccurrence(id string) (sid string, fire time.Time, ok bool) {
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

// Occurrence is the task record of a schedule's slot at fire.
func (s *Schedule) Occurrence(fire, now time.Time) *tasks.Task {
	return &tasks.Task{ID: OccurrenceID(s.ID, fire), Name: s.Task, Args: s.Args, Queue: s.Queue,
		State: tasks.Scheduled, DueAt: fire, CreatedAt: now, MaxAttempts: s.MaxAttempts,
		Timeout: s.Timeout, OnParentFailure: tasks.PolicyFail, Schedule: s.ID}
}

// SameSpec reports whether two schedules run the same thing on the same rule.
func (s *Schedule) SameSpec(o *Schedule) bool {
	return s.Task == o.Task && string(s.Args) == string(o.Args) && s.Queue == o.Queue && s.Every == o.Every &&
		s.Cron == o.Cron && s.Misfire == o.Misfire && s.MaxAttempts == o.MaxAttempts && s.Timeout == o.Timeout
}

// fields returns the schedule hash's fields for HSET.
func (s *Schedule) fields() []any {
	return []any{"v", transport.ScheduleVersion, "name", s.Name, "task", s.Task, "args", string(s.Args), "queue", s.Queue,
		"every", s.Every.Milliseconds(), "cron", s.Cron, "misfire", string(s.Misfire), "state", s.State,
		"next", transport.Ms(s.NextAt), "created", transport.Ms(s.CreatedAt), "anchor", transport.Ms(s.Anchor),
		"max_attempts", s.MaxAttempts, "timeout", s.Timeout.Milliseconds(), "rev", s.Rev, "pending", s.Pending}
}

// maxScheduleField bounds a schedule's numbers: times within the year
// 9999 (what an answer can write), durations in ms that fit a
// time.Duration.
var maxScheduleField = map[string]int64{
	"every": math.MaxInt64 / int64(time.Millisecond), "timeout": math.MaxInt64 / int64(time.Millisecond),
	"next": tasks.MaxTime.UnixMilli(), "created": tasks.MaxTime.UnixMilli(), "anchor": tasks.MaxTime.UnixMilli(),
	"max_attempts": math.MaxInt32, "rev": math.MaxInt64,
}

// DecodeSchedule reads a schedule hash, parsing its rule, and checks it as
// a submit is checked, so that a damaged one is an error (wrapping
// transport.ErrCorrupt), not an answer that cannot be read.
func DecodeSchedule(id string, h map[string]string) (*Schedule, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: schedule %s: %s", transport.ErrCorrupt, id, fmt.Sprintf(format, a...))
	}
	if h["v"] != transport.ScheduleVersion {
		return nil, bad("format version %q, this build reads %q", h["v"], transport.ScheduleVersion)
	}
	s := &Schedule{Schedule: wire.Schedule{ID: id, Name: h["name"], Task: h["task"], Args: json.RawMessage(h["args"]), Queue: h["queue"],
		Cron: h["cron"], Misfire: wire.Misfire(h["misfire"]), State: h["state"]}, Pending: h["pending"]}
	n := map[string]int64{}
	for _, f := range []string{"every", "next", "created", "anchor", "max_attempts", "timeout", "rev"} {
		v, err := strconv.ParseInt(h[f], 10, 64)
		if err != nil || v < 0 || v > maxScheduleField[f] {
			return nil, bad("field %s is %.40q, not a number it can hold", f, h[f])
		}
		n[f] = v
	}
	s.Every, s.Timeout = time.Duration(n["every"])*time.Millisecond, time.Duration(n["timeout"])*time.Millisecond
	s.NextAt, s.CreatedAt, s.Anchor = transport.FromMs(n["next"]), transport.FromMs(n["created"]), transport.FromMs(n["anchor"])
	s.MaxAttempts, s.Rev = int(n["max_attempts"]), n["rev"]
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
	rule, err := recur.Parse(s.Every, s.Cron, s.Anchor)
	if err != nil {
		return nil, bad("%v", err)
	}
	s.Rule = rule
	return s, nil
}

// ErrRace marks a schedule write refused because another writer changed
// the schedule since the caller read it: read it again.
var ErrRace = errors.New("another writer changed the schedule")

// ScheduleParams asks schedule.lua to write Schedule (made from Old, the
// record as the caller read it, or nil for a new one) and Occurrence, the
// occurrence of its next slot.
type ScheduleParams struct {
	Schedule   *Schedule
	Old        *Schedule
	Occurrence *tasks.Task
}

// build builds schedule.lua's KEYS and ARGV, in the order its header
// documents.
func (p ScheduleParams) build(k Keys) *call {
	s, occ, old := p.Schedule, p.Occurrence, p.Old
	oldKey, oldDue, oldID, oldRev := k.Schedule(s.ID), k.Schedules(), "", int64(0)
	if old != nil {
		oldRev = old.Rev
		if old.Pending != "" {
			oldKey, oldDue, oldID = k.Task(old.Pending), k.Due(old.Queue), old.Pending
		}
	}
	fields := s.fields()
	args := append([]any{s.ID, s.Name, oldRev, oldID, occ.ID, transport.Ms(occ.DueAt), k.Announce(s.Queue), s.Queue, len(fields)}, fields...)
	args = append(args, transport.EncodeRecord(occ)...)
	return &call{script: scheduleScript, keys: []string{k.Schedule(s.ID), k.Schedules(), k.ScheduleNames(),
		oldKey, oldDue, k.Task(occ.ID), k.Due(s.Queue), k.Queues()}, args: args}
}

// WriteSchedule writes a schedule and its next occurrence with
// schedule.lua; an error wrapping ErrRace means another writer changed it.
func (s *Store) WriteSchedule(ctx context.Context, p ScheduleParams) error {
	err := s.run(ctx, p.build(s.keys)).Err()
	switch {
	case err != nil && strings.Contains(err.Error(), "DUEQ_RACE"):
		return fmt.Errorf("write schedule %s: %w", p.Schedule.ID, ErrRace)
	case err != nil:
		return fmt.Errorf("write schedule %s: %w", p.Schedule.ID, err)
	}
	return nil
}

// UnscheduleParams asks unschedule.lua to cancel Schedule, as the caller
// read it, and its pending occurrence.
type UnscheduleParams struct {
	Schedule *Schedule
}

// build builds unschedule.lua's KEYS and ARGV, in the order its header
// documents.
func (p UnscheduleParams) build(k Keys, ttl int64) *call {
	s := p.Schedule
	occKey, occDue := k.Schedule(s.ID), k.Schedules()
	if s.Pending != "" {
		occKey, occDue = k.Task(s.Pending), k.Due(s.Queue)
	}
	return &call{script: unscheduleScript,
		keys: []string{k.Schedule(s.ID), k.Schedules(), k.ScheduleNames(), occKey, occDue, k.Done(tasks.Canceled)},
		args: []any{s.ID, s.Pending, ttl, k.EventsChannel()}}
}

// Unschedule cancels a schedule with unschedule.lua; an error wrapping
// ErrRace means its occurrences changed since the caller read it.
func (s *Store) Unschedule(ctx context.Context, p UnscheduleParams) error {
	err := s.run(ctx, p.build(s.keys, s.resultTTL.Milliseconds())).Err()
	switch {
	case err != nil && strings.Contains(err.Error(), "DUEQ_RACE"):
		return fmt.Errorf("cancel schedule %s: %w", p.Schedule.ID, ErrRace)
	case err != nil:
		return fmt.Errorf("cancel schedule %s: %w", p.Schedule.ID, err)
	}
	return nil
}

// PauseScheduleParams asks pause_schedule.lua to pause Schedule, as the
// caller read it.
type PauseScheduleParams struct {
	Schedule *Schedule
}

// build builds pause_schedule.lua's KEYS and ARGV, in the order its header
// documents.
func (p PauseScheduleParams) build(k Keys) *call {
	s := p.Schedule
	occKey, occDue := k.Schedule(s.ID), k.Schedules()
	if s.Pending != "" {
		occKey, occDue = k.Task(s.Pending), k.Due(s.Queue)
	}
	return &call{script: pauseScheduleScript, keys: []string{k.Schedule(s.ID), k.Schedules(), occKey, occDue},
		args: []any{s.ID, s.Pending, s.Rev}}
}

// PauseSchedule pauses a schedule with pause_schedule.lua and reports
// whether it did (false: it was not active). An error wrapping ErrRace
// means another writer changed it since the caller read it.
func (s *Store) PauseSchedule(ctx context.Context, p PauseScheduleParams) (bool, error) {
	res, err := s.run(ctx, p.build(s.keys)).Result()
	switch {
	case err != nil && strings.Contains(err.Error(), "DUEQ_RACE"):
		return false, fmt.Errorf("pause schedule %s: %w", p.Schedule.ID, ErrRace)
	case err != nil:
		return false, fmt.Errorf("pause schedule %s: %w", p.Schedule.ID, err)
	}
	n, _ := res.(int64)
	return n == 1, nil
}
