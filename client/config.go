package client

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dueq/dueq/internal/store"
)

// Config configures a Client. The zero Config is the defaults, which are
// the daemon's (scheduler.Config) for the settings both have: a Client and
// the daemons it submits to must agree on Namespace, and should on
// ResultTTL and SafetyWait.
type Config struct {
	// Namespace is the namespace of the daemons the client talks to: every
	// key's prefix and hash tag. Defaults to dueq.
	Namespace string
	// ResultTTL is how long a record the client finishes (Cancel,
	// CancelSchedule) is kept. 1s or more. Defaults to 24h.
	ResultTTL time.Duration
	// SafetyWait caps Wait's waits between re-reads of a record (a lost
	// pub/sub message delays it by at most this), and how long Events waits
	// for its subscription; a daemon seen within three of them is alive
	// (Daemons). 10ms or more. Defaults to 5s.
	SafetyWait time.Duration
	// Logger receives what the client skips (corrupt records, malformed
	// messages). Defaults to slog.Default().
	Logger *slog.Logger
	// Clock tells the time, corrected by Redis's where time decides (a
	// schedule's first slot). Defaults to the system clock.
	Clock Clock
	// WaitReplicas makes each write of the client (a submit, a workflow, a
	// schedule, a cancel or a retry) wait until this many replicas of the
	// Redis primary have it (Redis's WAIT), for up to a second: a failover
	// then cannot lose what the client was told is written. A write not
	// confirmed in time still happened; its error names its tasks and says
	// so. 0 or more (redis.wait_replicas). Defaults to 0: no wait.
	WaitReplicas int
	// Partitions is the namespace's number of partitions (partitions),
	// which must be its daemons': a client with another number is refused
	// at its first write. 1 to 1024. Defaults to 16 on a Redis Cluster
	// (a *redis.ClusterClient), else 1.
	Partitions int
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// The defaults, and the least values accepted, of Config's settings: the
// same as the daemon's (a scheduler test checks they agree).
const (
	defaultNamespace  = "dueq"
	defaultResultTTL  = 24 * time.Hour
	defaultSafetyWait = 5 * time.Second
	leastResultTTL    = time.Second
	leastSafetyWait   = 10 * time.Millisecond
)

// WithDefaults returns c with the default of every setting left zero (see
// Config) filled in.
func (c Config) WithDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = defaultNamespace
	}
	if c.ResultTTL == 0 {
		c.ResultTTL = defaultResultTTL
	}
	if c.SafetyWait == 0 {
		c.SafetyWait = defaultSafetyWait
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
// setting by its config.yaml key, as the daemon's do, and say what to
// write instead.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if _, err := store.NewKeys(c.Namespace); err != nil {
		return fmt.Errorf("namespace: %q is not a namespace: use 1-64 letters, digits or _.-, or leave it out for the default %s", c.Namespace, defaultNamespace)
	}
	if err := atLeast("result_ttl", c.ResultTTL, leastResultTTL, defaultResultTTL); err != nil {
		return err
	}
	if c.Partitions < 0 || c.Partitions > store.MaxPartitions {
		return fmt.Errorf("partitions: %d is not a number of partitions: use 1 to %d, or leave it out for the default (16 on a Redis Cluster, else 1)", c.Partitions, store.MaxPartitions)
	}
	if c.WaitReplicas < 0 {
		return fmt.Errorf("redis.wait_replicas: %d is negative: use 0 (no wait) or the number of replicas each write waits for", c.WaitReplicas)
	}
	return atLeast("safety_wait", c.SafetyWait, leastSafetyWait, defaultSafetyWait)
}

// atLeast checks that setting key's value v is least or more.
func atLeast(key string, v, least, def time.Duration) error {
	what := "is too short"
	switch {
	case v < 0:
		what = "is negative"
	case v >= least:
		return nil
	}
	return fmt.Errorf("%s: %s %s: use %s or more, or leave it out for the default %s", key, show(v), what, show(least), show(def))
}

// show writes a duration as config.yaml does: 500ms, 24h, 5m.
func show(d time.Duration) string {
	s := d.String()
	if len(s) > 3 && s[len(s)-3:] == "m0s" {
		s = s[:len(s)-2]
	}
	if len(s) > 3 && s[len(s)-3:] == "h0m" {
		s = s[:len(s)-2]
	}
	return s
}
