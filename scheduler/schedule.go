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
)

// Misfire says what a recurring task does about slots missed while every
// daemon was down.
type Misfire string

// The misfire policies. A slot is missed when the slot after it has come too
// by the time a daemon claims it.
const (
	MisfireRunOnce Misfire = "run_once" // one catch-up run for all missed slots (default)
	MisfireSkip    Misfire = "skip"     // missed slots do not run
)

// Schedule states.
const (
	ScheduleActive   = "active"
	ScheduleCanceled = "canceled"
)

// ScheduleSpec asks for a recurring task. Exactly one of Every and Cron.
type ScheduleSpec struct {
	// Name, when set, makes the schedule upsert by name: config schedules
	// have one, and restarting a daemon never duplicates them.
	Name string
	// Task is what each occurrence runs: Name, Args, Queue, MaxAttempts and
	// Timeout. In, At, After and Key do not apply.
	Task tasks.Spec
	// Every fires every interval, counted from the schedule's creation.
	Every time.Duration
	// Cron is a 5- or 6-field spec or a descriptor, with an optional
	// CRON_TZ=Zone prefix; UTC otherwise.
	Cron string
	// Misfire defaults to MisfireRunOnce.
	Misfire Misfire
}

// Schedule is a recurring task's record. Each occurrence is an ordinary task
// whose id is the schedule id and its fire time ("ID-FIREMS") and whose
// record names the schedule.
type Schedule struct {
	ID          string          `json:"id"`
	Name        string          `json:"name,omitempty"`
	Task        string          `json:"task"`
	Args        json.RawMessage `json:"args"`
	Queue       string          `json:"queue"`
	Every       time.Duration   `json:"-"`
	Cron        string          `json:"cron,omitempty"`
	Misfire     Misfire         `json:"misfire"`
	State       string          `json:"state"`
	NextAt      time.Time       `json:"-"`
	CreatedAt   time.Time       `json:"-"`
	MaxAttempts int             `json:"max_attempts"`
	Timeout     time.Duration   `json:"-"`

	rev     int64
	anchor  time.Time
	pending string // the id of the occurrence written for NextAt
	rule    recur.Rule
}

// MarshalJSON writes durations as strings and times as RFC 3339 with ms.
func (s Schedule) MarshalJSON() ([]byte, error) {
	type plain Schedule
	w := struct {
		plain
		Every     string  `json:"every,omitempty"`
		NextAt    *string `json:"next_at"`
		CreatedAt *string `json:"created_at"`
		Timeout   string  `json:"timeout,omitempty"`
	}{plain: plain(s)}
	if s.Every > 0 {
		w.Every = s.Every.String()
	}
	if s.Timeout > 0 {
		w.Timeout = s.Timeout.String()
	}
	if s.State == ScheduleActive && !s.NextAt.IsZero() {
		v := s.NextAt.UTC().Format(tasks.TimeLayout)
		w.NextAt = &v
	}
	c := s.CreatedAt.UTC().Format(tasks.TimeLayout)
	w.CreatedAt = &c
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	type plain Schedule
	var w struct {
		plain
		Every     string  `json:"every"`
		NextAt    *string `json:"next_at"`
		CreatedAt *string `json:"created_at"`
		Timeout   string  `json:"timeout"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Schedule(w.plain)
	var err error
	if w.Every != "" {
		if s.Every, err = time.ParseDuration(w.Every); err != nil {
			return err
		}
	}
	if w.Timeout != "" {
		if s.Timeout, err = time.ParseDuration(w.Timeout); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		v   *string
		dst *time.Time
	}{{w.NextAt, &s.NextAt}, {w.CreatedAt, &s.CreatedAt}} {
		if f.v != nil {
			if *f.dst, err = time.Parse(time.RFC3339Nano, *f.v); err != nil {
				return err
			}
		}
	}
	return nil
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
func (s *Schedule) occurrence(fire, now time.Time) *tasks.Task {
	return &tasks.Task{ID: occurrenceID(s.ID, fire), Name: s.Task, Args: s.Args, Queue: s.Queue,
		State: tasks.Scheduled, DueAt: fire, CreatedAt: now, MaxAttempts: s.MaxAttempts,
		Timeout: s.Timeout, OnParentFailure: tasks.PolicyFail, Schedule: s.ID}
}

// sameSpec reports whether two schedules run the same thing on the same rule.
func (s *Schedule) sameSpec(o *Schedule) bool {
	return s.Task == o.Task && string(s.Args) == string(o.Args) && s.Queue == o.Queue && s.Every == o.Every &&
		s.Cron == o.Cron && s.Misfire == o.Misfire && s.MaxAttempts == o.MaxAttempts && s.Timeout == o.Timeout
}

// encodeSchedule returns the schedule hash's fields for HSET.
func encodeSchedule(s *Schedule) []any {
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
func decodeSchedule(id string, h map[string]string) (*Schedule, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: schedule %s: %s", transport.ErrCorrupt, id, fmt.Sprintf(format, a...))
	}
	if h["v"] != transport.ScheduleVersion {
		return nil, bad("format version %q, this build reads %q", h["v"], transport.ScheduleVersion)
	}
	s := &Schedule{ID: id, Name: h["name"], Task: h["task"], Args: json.RawMessage(h["args"]), Queue: h["queue"],
		Cron: h["cron"], Misfire: Misfire(h["misfire"]), State: h["state"], pending: h["pending"]}
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
