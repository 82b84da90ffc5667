package scheduler

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/dueq/dueq/tasks"
)

// Config configures a Scheduler (a daemon's loops) and a Client. Every field
// has a documented default that WithDefaults fills in.
type Config struct {
	// Namespace prefixes every key and is its Redis Cluster hash tag.
	// Defaults to "dueq".
	Namespace string
	// Queues are the queues this daemon's loops claim from. Defaults to
	// ["default"].
	Queues []string
	// Workers is the number of worker loops: tasks run at once. Defaults to
	// the number of CPUs.
	Workers int
	// Lease is how long a claim holds a task without renewal; a running task's
	// lease is renewed every Lease/3, and a task whose lease expires is re-run
	// elsewhere. Defaults to 15s.
	Lease time.Duration
	// SafetyWait caps every wait, so a lost pub/sub message delays a task by
	// at most this much. Defaults to 5s.
	SafetyWait time.Duration
	// ShutdownGrace is how long Stop lets running tasks finish before it
	// cancels them and hands them back. Defaults to 10s.
	ShutdownGrace time.Duration
	// ResultTTL is how long a finished record (and its idempotency key) is
	// kept. Defaults to 24h.
	ResultTTL time.Duration
	// MaxRecoveries is how many times a task is re-run after its daemon died
	// before it fails. Defaults to 5.
	MaxRecoveries int
	// RetryBase and RetryCap shape the exponential backoff between attempts:
	// attempt n waits a random time up to min(RetryCap, RetryBase*2^(n-1)),
	// and at least half of it. Default to 1s and 5m.
	RetryBase, RetryCap time.Duration
	// Logger receives the loops' logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Clock tells the time. Defaults to the system clock; tests inject one.
	Clock Clock
	// Observer, when set, is told when this daemon's loops start and end
	// tasks (the metrics of `dueq serve` use it). Defaults to none.
	Observer Observer
}

// Observer is told what a daemon's loops do; its methods are called from
// the loops and must return quickly.
type Observer interface {
	// Started: a loop starts t's handler, lateness after t was due.
	Started(t *tasks.Task, lateness time.Duration)
	// Ended: t's handler returned after took, and the attempt ended as
	// state: succeeded, failed (final), or scheduled (it will be retried, or
	// was handed back at shutdown).
	Ended(t *tasks.Task, state tasks.State, took time.Duration)
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = "dueq"
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{"default"}
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Lease == 0 {
		c.Lease = 15 * time.Second
	}
	if c.SafetyWait == 0 {
		c.SafetyWait = 5 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.ResultTTL == 0 {
		c.ResultTTL = 24 * time.Hour
	}
	if c.MaxRecoveries == 0 {
		c.MaxRecoveries = 5
	}
	if c.RetryBase == 0 {
		c.RetryBase = time.Second
	}
	if c.RetryCap == 0 {
		c.RetryCap = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}

// Validate checks a Config after WithDefaults; its errors name the field
// (by its config.yaml key) and say what to write instead.
func (c Config) Validate() error {
	if _, err := NewKeys(c.Namespace); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	seen := map[string]bool{}
	for _, q := range c.Queues {
		if !tasks.ValidQueue(q) {
			return fmt.Errorf("queues: %q is not a queue name: use 1-64 letters, digits or _.-", q)
		}
		if seen[q] {
			return fmt.Errorf("queues: %q is listed twice: list each queue once", q)
		}
		seen[q] = true
	}
	switch {
	case c.Workers < 1 || c.Workers > 10000:
		return fmt.Errorf("workers: %d is out of range: use 1 to 10000, or leave it out for the CPU count", c.Workers)
	case c.Lease < 300*time.Millisecond:
		return fmt.Errorf("lease is %s: use 300ms or more", c.Lease)
	case c.SafetyWait < 10*time.Millisecond:
		return fmt.Errorf("safety wait is %s: use 10ms or more", c.SafetyWait)
	case c.ShutdownGrace < 0:
		return fmt.Errorf("shutdown_grace is %s: use 0 or more", c.ShutdownGrace)
	case c.ResultTTL < time.Second:
		return fmt.Errorf("result_ttl is %s: use 1s or more", c.ResultTTL)
	case c.MaxRecoveries < 0:
		return fmt.Errorf("max_recoveries is %d: use 0 or more", c.MaxRecoveries)
	case c.RetryBase <= 0 || c.RetryCap < c.RetryBase:
		return fmt.Errorf("retry.cap: %s is less than retry.base (%s), or the base is not positive: make the cap at least the base", c.RetryCap, c.RetryBase)
	}
	return nil
}
