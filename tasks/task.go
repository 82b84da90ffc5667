// Package tasks holds dueq's task model (the task record), the handler
// registry and the built-in handlers of the stock binary.
package tasks

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is where a task is in its life. A task moves scheduled → running →
// succeeded | failed, or waiting → scheduled when it has parents; any unfinished
// state can become canceled. Finished states never change again.
type State string

// The states of a task.
const (
	Scheduled State = "scheduled" // in the timing index, waiting for its due time
	Waiting   State = "waiting"   // waiting for its parents to finish
	Running   State = "running"   // claimed by one worker, holding a lease
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Canceled  State = "canceled"
)

// States lists every state in life order.
var States = []State{Scheduled, Waiting, Running, Succeeded, Failed, Canceled}

// Finished reports whether s is final: succeeded, failed or canceled.
func (s State) Finished() bool { return s == Succeeded || s == Failed || s == Canceled }

// Valid reports whether s is one of the States.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// ParseState returns the State named s, or an error listing the valid ones.
func ParseState(s string) (State, error) {
	if st := State(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("unknown state %q: use one of scheduled, waiting, running, succeeded, failed, canceled", s)
}

// Policy says what happens to a child when one of its parents failed or was
// canceled.
type Policy string

// The on_parent_failure policies.
const (
	PolicyFail Policy = "fail" // the child fails without running (default)
	PolicyRun  Policy = "run"  // the child runs and sees the parent's error
	PolicySkip Policy = "skip" // the child is canceled
)

// Valid reports whether p is one of the policies.
func (p Policy) Valid() bool { return p == PolicyFail || p == PolicyRun || p == PolicySkip }

// Task is one task record, as stored in Redis and shown by the API and
// `--json`. Times are UTC; the zero time means "not yet".
type Task struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Args            json.RawMessage `json:"args"`
	Queue           string          `json:"queue"`
	State           State           `json:"state"`
	DueAt           time.Time       `json:"-"`
	CreatedAt       time.Time       `json:"-"`
	StartedAt       time.Time       `json:"-"`
	FinishedAt      time.Time       `json:"-"`
	Attempts        int             `json:"attempts"`
	MaxAttempts     int             `json:"max_attempts"`
	Timeout         time.Duration   `json:"-"`
	Result          json.RawMessage `json:"result,omitempty"`
	Error           string          `json:"error,omitempty"`
	Parents         []string        `json:"parents"`
	Children        []string        `json:"children"`
	OnParentFailure Policy          `json:"on_parent_failure"`
	Schedule        string          `json:"schedule,omitempty"`
	Key             string          `json:"key,omitempty"`
	// Pending counts the parents that have not finished yet.
	Pending int `json:"pending,omitempty"`
	// Recoveries counts the times the task was re-queued because the daemon
	// running it stopped renewing its lease.
	Recoveries int `json:"recoveries,omitempty"`
	// Daemon is the daemon that ran the latest attempt.
	Daemon string `json:"daemon,omitempty"`
	// Workflow and Node are, for a task submitted in a workflow, the
	// workflow's id and the node's name.
	Workflow string `json:"workflow,omitempty"`
	Node     string `json:"node,omitempty"`
	// AttemptErrors holds the error of each failed attempt, in order: the
	// last 10.
	AttemptErrors []string `json:"attempt_errors,omitempty"`
	// Outcomes holds the finished parents' outcomes, in declared order.
	Outcomes []Outcome `json:"-"`
	// Delay, for a task being submitted with a zero DueAt, makes it due this
	// long after it is stored, by Redis's clock.
	Delay time.Duration `json:"-"`
	// Run is the claim token: it grows by one at every claim, so a worker that
	// lost its lease cannot finish a task another worker now runs.
	Run int64 `json:"-"`
}

// TimeLayout is how the API writes times: RFC 3339 with milliseconds, UTC.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// taskJSON is Task's wire form: times as strings, the timeout as a duration.
type taskJSON struct {
	task
	DueAt      *string `json:"due_at"`
	CreatedAt  *string `json:"created_at"`
	StartedAt  *string `json:"started_at"`
	FinishedAt *string `json:"finished_at"`
	Timeout    string  `json:"timeout,omitempty"`
}

type task Task // Task without its methods, to embed in taskJSON

// MarshalJSON writes the task record of the API and `--json`.
func (t Task) MarshalJSON() ([]byte, error) {
	w := taskJSON{task: task(t),
		DueAt: timeString(t.DueAt), CreatedAt: timeString(t.CreatedAt),
		StartedAt: timeString(t.StartedAt), FinishedAt: timeString(t.FinishedAt)}
	if w.Args == nil {
		w.Args = json.RawMessage("null")
	}
	if w.Parents == nil {
		w.Parents = []string{}
	}
	if w.Children == nil {
		w.Children = []string{}
	}
	if t.Timeout > 0 {
		w.Timeout = t.Timeout.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *Task) UnmarshalJSON(b []byte) error {
	var w taskJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = Task(w.task)
	var err error
	for _, f := range []struct {
		s   *string
		dst *time.Time
	}{{w.DueAt, &t.DueAt}, {w.CreatedAt, &t.CreatedAt}, {w.StartedAt, &t.StartedAt}, {w.FinishedAt, &t.FinishedAt}} {
		if f.s == nil {
			continue
		}
		if *f.dst, err = time.Parse(time.RFC3339Nano, *f.s); err != nil {
			return fmt.Errorf("task %s: %w", t.ID, err)
		}
	}
	if w.Timeout != "" {
		if t.Timeout, err = time.ParseDuration(w.Timeout); err != nil {
			return fmt.Errorf("task %s: timeout: %w", t.ID, err)
		}
	}
	return nil
}

func timeString(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(TimeLayout)
	return &s
}
