package wire

import (
	"encoding/json"
	"time"

	"github.com/dueq/dueq/tasks"
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
	SchedulePaused   = "paused" // no occurrence until resumed (client.Client.PauseSchedule)
	ScheduleCanceled = "canceled"
)

// ScheduleSpec asks for a recurring task (client.Client.SubmitSchedule;
// SubmitRequest.ScheduleSpec builds one). Exactly one of Every and Cron.
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

// Schedule is a recurring task's record, as the engine returns it and the
// API answers it. Each occurrence is an ordinary task whose id is the
// schedule id and its fire time ("ID-FIREMS") and whose record names the
// schedule. In JSON, durations are Go duration strings and times RFC 3339
// with milliseconds (tasks.TimeLayout); next_at is null unless the
// schedule is active.
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
