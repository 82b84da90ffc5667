package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// Limits on what a Spec may hold.
const (
	// MaxArgsBytes caps a task's args: the HTTP API refuses bodies over 1 MiB.
	MaxArgsBytes = 1 << 20
	// MaxKeyBytes caps an idempotency key.
	MaxKeyBytes = 256
	// DefaultQueue is the queue of a task that names none.
	DefaultQueue = "default"
)

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,128}$`)
	queueRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// ValidName reports whether s can be a handler name: 1-128 letters, digits
// or _.:/-.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ErrInvalid marks every validation error, so callers can tell bad input
// (HTTP 400, CLI usage error) from a failure of Redis.
var ErrInvalid = errors.New("invalid task")

// Spec is a request to run a task: what to run, with which args, and when.
// The zero values mean: queue "default", due now, one attempt, no timeout.
type Spec struct {
	Name  string          // handler name, e.g. "echo"
	Args  json.RawMessage // JSON; empty means {}
	Queue string          // defaults to "default"
	// In delays the task by a duration from now; At runs it at a time. Use at
	// most one. A time in the past means now.
	In time.Duration
	At time.Time
	// MaxAttempts is how many times a failing task is tried. Defaults to 1.
	MaxAttempts int
	// Timeout cancels the handler's context after this long. Zero: no timeout.
	Timeout time.Duration
	// Key makes the submit idempotent: a second submit with the same key
	// returns the first task, until that task's record expires.
	Key string
	// After names parent task ids: the task runs when every parent has
	// finished, and its handler receives their outcomes in this order.
	After []string
	// OnParentFailure says what happens when a parent fails: PolicyFail
	// (default), PolicyRun or PolicySkip.
	OnParentFailure Policy
}

// MaxParents caps Spec.After.
const MaxParents = 10000

// Normalize fills the defaults of Spec's zero values and validates it. The
// error wraps ErrInvalid and names the field to fix.
func (s *Spec) Normalize() error {
	if s.Queue == "" {
		s.Queue = DefaultQueue
	}
	if len(s.Args) == 0 {
		s.Args = json.RawMessage("{}")
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 1
	}
	if s.OnParentFailure == "" {
		s.OnParentFailure = PolicyFail
	}
	return s.validate()
}

func (s *Spec) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case s.Name == "":
		return bad("name is empty: give a handler name such as echo")
	case !nameRE.MatchString(s.Name):
		return bad("name %q: use 1-128 letters, digits or _.:/-", s.Name)
	case !queueRE.MatchString(s.Queue):
		return bad("queue %q: use 1-64 letters, digits or _.-", s.Queue)
	case len(s.Args) > MaxArgsBytes:
		return bad("args are %d bytes, more than the limit of %d", len(s.Args), MaxArgsBytes)
	case s.In < 0:
		return bad("in %s is negative: give a delay of 0 or more", s.In)
	case s.In > 0 && !s.At.IsZero():
		return bad("in and at both given: use one of them")
	case !s.At.IsZero() && checkTimeRange(s.At) != nil:
		return bad("at %v", checkTimeRange(s.At))
	case len(s.Key) > 0 && !utf8.ValidString(s.Key):
		return bad("key holds invalid UTF-8: send text as UTF-8")
	case s.MaxAttempts < 0 || s.MaxAttempts > 1000:
		return bad("max_attempts %d: use 1 to 1000", s.MaxAttempts)
	case s.Timeout < 0:
		return bad("timeout %s is negative", s.Timeout)
	case s.Timeout%time.Millisecond != 0: // records keep ms: it would not read back as given
		return bad("timeout %s: use whole milliseconds, e.g. %s", s.Timeout, max(s.Timeout.Truncate(time.Millisecond), time.Millisecond))
	case len(s.Key) > MaxKeyBytes:
		return bad("key is %d bytes, more than %d", len(s.Key), MaxKeyBytes)
	case !s.OnParentFailure.Valid():
		return bad("on_parent_failure %q: use fail, run or skip", s.OnParentFailure)
	case len(s.After) > MaxParents:
		return bad("after names %d parents, more than %d", len(s.After), MaxParents)
	}
	if err := CheckJSON("args", s.Args); err != nil {
		return bad("%s", err)
	}
	seen := make(map[string]bool, len(s.After))
	for _, id := range s.After {
		switch {
		case !ValidID(id):
			return bad("after: %.80q is not a task id", id)
		case seen[id]:
			return bad("after: %s is named twice", id)
		}
		seen[id] = true
	}
	return nil
}

// The times a record can hold: the years 1970 to 9999, UTC.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// ParseAt reads the time a task is due at: RFC 3339 (with any offset),
// within the years 1970 to 9999 once in UTC, to the millisecond (finer
// digits are dropped, as a record keeps ms). The error says how to write
// it; the caller adds which field it was.
func ParseAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%.60q is not an RFC 3339 time: write it like 2030-01-02T15:04:05Z or 2030-01-02T17:04:05+02:00", s)
	}
	t = t.Truncate(time.Millisecond) // what a record keeps
	if err := checkTimeRange(t); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", s, err)
	}
	return t, nil
}

// checkTimeRange reports a time outside MinTime and MaxTime.
func checkTimeRange(t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("%s (UTC) is outside the years 1970 to 9999", t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// ValidQueue reports whether q can name a queue: 1-64 letters, digits or _.-.
func ValidQueue(q string) bool { return queueRE.MatchString(q) }

// ValidID reports whether id can be a task id: 1-200 printable characters
// of UTF-8, no spaces.
func ValidID(id string) bool {
	if id == "" || len(id) > 200 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
