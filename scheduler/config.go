package scheduler

import (
	"log/slog"
	"time"

	"github.com/dueq/dueq/clock"
	"github.com/dueq/dueq/tasks"
)

// Config configures a Scheduler (a daemon's loops) and a Client. Every
// setting has a documented default that WithDefaults fills in, so the zero
// Config is the defaults. A field asks for its default with its zero value,
// except where zero is a usable value (ShutdownGrace, MaxRecoveries): those
// fields are pointers, nil asks for the default, and new(0) is 0. A value
// means here what it means in config.yaml, where leaving a key out asks for
// its default. Settings lists each field's key, default and limits.
type Config struct {
	// Namespace prefixes every key and is its Redis Cluster hash tag:
	// daemons share work only within one namespace. Defaults to dueq.
	Namespace string
	// Queues are the queues this daemon's loops claim from; nil asks for the
	// default, and an empty list is an error. Defaults to [default].
	Queues []string
	// Workers is the number of worker loops: tasks run at once, 1 to 10000.
	// Defaults to the CPU count.
	Workers int
	// Lease is how long a claim holds a task without renewal; a running task's
	// lease is renewed every Lease/3, and a task whose lease expires is re-run
	// elsewhere. 300ms or more. Defaults to 15s.
	Lease time.Duration
	// SafetyWait caps every wait, so a lost pub/sub message delays a task by
	// at most this much. 10ms or more. Defaults to 5s.
	SafetyWait time.Duration
	// ShutdownGrace is how long Stop lets running tasks finish before it
	// cancels them and hands them back; new(time.Duration(0)) cancels them at
	// once. Defaults to 10s.
	ShutdownGrace *time.Duration
	// ResultTTL is how long a finished record (and its idempotency key) is
	// kept. 1s or more. Defaults to 24h.
	ResultTTL time.Duration
	// MaxRecoveries is how many times a task is re-run after its daemon died
	// before it fails; new(0) fails it the first time its daemon dies.
	// Defaults to 5.
	MaxRecoveries *int
	// RetryBase is the first backoff between a failing task's attempts:
	// attempt n waits a random time up to min(RetryCap, RetryBase*2^(n-1)),
	// and at least half of it. 1ms or more. Defaults to 1s.
	RetryBase time.Duration
	// RetryCap is the longest backoff, at least RetryBase. Defaults to 5m.
	RetryCap time.Duration
	// Logger receives the loops' logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Clock tells the time. Defaults to the system clock; tests inject one.
	// A clock that also makes timers (clock.Timers, such as clock.Fake)
	// makes those the daemon waits on: a test moves time by hand.
	Clock Clock
	// WaitReplicas makes each of the daemon's rounds (its claims and
	// finishes) wait until this many replicas of the Redis primary have
	// them, for up to a second, before its loops start the tasks claimed:
	// a failover then cannot lose a claim and start a task twice. A round
	// the replicas did not confirm in time goes on all the same, logged.
	// 0 or more (redis.wait_replicas, which submits obey too). Defaults
	// to 0.
	WaitReplicas int
	// Partitions is the namespace's number of partitions: each its own
	// hash tag, so on a Redis Cluster the namespace's work spreads over
	// the slots of every shard. Every daemon and client of a namespace
	// uses the same number; a namespace that holds tasks keeps its number
	// (a daemon with another is refused at Start). On a Redis Cluster
	// (a *redis.ClusterClient) zero asks for 16. 1 to 1024 (partitions).
	// Defaults to the kind of Redis: 16 on a cluster, else 1.
	Partitions int
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

// Clock tells the time (clock.Clock).
type Clock = clock.Clock

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// WithDefaults returns c with the default of every setting that asks for
// it (see Config) filled in.
func (c Config) WithDefaults() Config {
	for _, s := range settings {
		s.fill(&c)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}

// Validate checks c with its defaults filled in; its errors name the
// setting by its config.yaml key and say what to write instead.
func (c Config) Validate() error {
	c = c.WithDefaults()
	for _, s := range settings {
		if err := s.check(s, &c); err != nil {
			return err
		}
	}
	return nil
}

// runConfig is a Config as a Scheduler runs it: with its defaults filled
// in, and its optional settings read into plain values, whose fields shadow
// Config's pointers (s.cfg.MaxRecoveries is an int).
type runConfig struct {
	Config
	ShutdownGrace time.Duration
	MaxRecoveries int
}

// run returns c, with its defaults filled in, as a Scheduler runs it.
func (c Config) run() runConfig {
	c = c.WithDefaults()
	return runConfig{Config: c, ShutdownGrace: *c.ShutdownGrace, MaxRecoveries: *c.MaxRecoveries}
}
