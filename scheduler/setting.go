package scheduler

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
)

// A Setting is one field of Config: its key in config.yaml, its default, the
// values it accepts and what it does. Settings lists them all, and every
// reader takes them from there: WithDefaults fills in the defaults,
// Validate checks the limits, and the daemon's configuration (package
// config), config.yaml and the README's reference are checked against them.
type Setting struct {
	// Key is the setting's key in config.yaml, e.g. "retry.base"; errors
	// name the setting by it.
	Key string
	// Field is the Config field, e.g. "RetryBase".
	Field string
	// Default is the default as config.yaml writes it: "15s", "[default]",
	// or in words when it depends on the machine: "the CPU count".
	Default string
	// Accepts says which values are valid: "300ms or more", "1 to 10000".
	Accepts string
	// Doc says in a line what the setting does; it is the setting's comment
	// in config.yaml.
	Doc string
	// LibraryOnly settings are set through Config alone: config.yaml has no
	// key for them.
	LibraryOnly bool

	fill  func(*Config)                // sets the default where the field asks for it
	check func(Setting, *Config) error // checks the field once it is filled in
}

// Settings returns every setting of Config, in the order of config.yaml.
func Settings() []Setting { return append([]Setting(nil), settings...) }

// settings is the table: each default and each limit is written here once.
var settings = []Setting{
	{
		Key: "namespace", Field: "Namespace", Default: defaultNamespace, Accepts: "1-64 letters, digits or _.-",
		Doc: "key prefix and hash tag; daemons share work within one namespace",
		fill: func(c *Config) {
			if c.Namespace == "" {
				c.Namespace = defaultNamespace
			}
		},
		check: func(s Setting, c *Config) error {
			if _, err := store.NewKeys(c.Namespace); err != nil {
				return fmt.Errorf("namespace: %q is not a namespace: use %s, or leave it out for %s", c.Namespace, s.Accepts, s.defaultPhrase())
			}
			return nil
		},
	},
	{
		Key: "partitions", Field: "Partitions", Default: "the kind of Redis: 16 on a cluster, else 1", Accepts: "1 to " + strconv.Itoa(store.MaxPartitions),
		Doc:   "hash tags the namespace is split into (a cluster spreads them over its shards); left out, the kind of Redis: 16 on a cluster, else 1",
		fill:  func(*Config) {}, // 0: the Redis decides, when the daemon starts (New)
		check: func(s Setting, c *Config) error { return inRange(s, c.Partitions, 0, store.MaxPartitions) },
	},
	{
		Key: "queues", Field: "Queues", Default: "[" + tasks.DefaultQueue + "]", Accepts: "a list of queue names, each once",
		Doc: "queues this daemon serves",
		fill: func(c *Config) {
			if c.Queues == nil { // an empty list is no request for the default: it is an error
				c.Queues = []string{tasks.DefaultQueue}
			}
		},
		check: checkQueues,
	},
	count("redis.wait_replicas", "WaitReplicas", func(c *Config) *int { return &c.WaitReplicas }, 0, 0, 0,
		"each submit waits until this many replicas have it (up to 1s)"),
	count("workers", "Workers", func(c *Config) *int { return &c.Workers }, runtime.NumCPU(), 1, 10000,
		"worker loops in this daemon: tasks it runs at once; left out, the CPU count").defaultText("the CPU count"),
	span("lease", "Lease", func(c *Config) *time.Duration { return &c.Lease }, 15*time.Second, 300*time.Millisecond,
		"a task whose daemon died runs again after this (at-least-once)"),
	span("safety_wait", "SafetyWait", func(c *Config) *time.Duration { return &c.SafetyWait }, 5*time.Second, 10*time.Millisecond,
		"the longest wait: a lost pub/sub message delays a task by at most this").libraryOnly(),
	optional("shutdown_grace", "ShutdownGrace", func(c *Config) **time.Duration { return &c.ShutdownGrace }, 10*time.Second,
		"on SIGTERM, running tasks get this long to finish; 0s cancels them at once"),
	span("result_ttl", "ResultTTL", func(c *Config) *time.Duration { return &c.ResultTTL }, 24*time.Hour, time.Second,
		"how long finished task records and idempotency keys are kept"),
	optional("max_recoveries", "MaxRecoveries", func(c *Config) **int { return &c.MaxRecoveries }, 5,
		"re-runs after a daemon died before the task fails; 0 fails it at once"),
	span("retry.base", "RetryBase", func(c *Config) *time.Duration { return &c.RetryBase }, time.Second, time.Millisecond,
		"first backoff between a failing task's attempts"),
	span("retry.cap", "RetryCap", func(c *Config) *time.Duration { return &c.RetryCap }, 5*time.Minute, time.Millisecond,
		"longest backoff: attempt n waits up to min(cap, base*2^(n-1))").atLeastBase(),
}

const defaultNamespace = "dueq"

// number is the type of a count or a duration setting.
type number interface{ int | time.Duration }

// span is a duration setting whose zero asks for the default (0 is no
// usable value), and which accepts least or more.
func span(key, field string, get func(*Config) *time.Duration, def, least time.Duration, doc string) Setting {
	return zeroDefault(key, field, get, def, least, 0, doc)
}

// count is a count setting whose zero asks for the default, and which
// accepts lo to hi.
func count(key, field string, get func(*Config) *int, def, lo, hi int, doc string) Setting {
	return zeroDefault(key, field, get, def, lo, hi, doc)
}

// zeroDefault is a number setting whose zero asks for the default; it
// accepts lo or more, and at most hi unless hi is 0.
func zeroDefault[T number](key, field string, get func(*Config) *T, def, lo, hi T, doc string) Setting {
	return Setting{
		Key: key, Field: field, Default: show(def), Accepts: accepts(lo, hi), Doc: doc,
		fill: func(c *Config) {
			if p := get(c); *p == 0 {
				*p = def
			}
		},
		check: func(s Setting, c *Config) error { return inRange(s, *get(c), lo, hi) },
	}
}

// optional is a number setting whose zero is a value: its field is a
// pointer, and nil asks for the default. It accepts 0 or more.
func optional[T number](key, field string, get func(*Config) **T, def T, doc string) Setting {
	return Setting{
		Key: key, Field: field, Default: show(def), Accepts: accepts[T](0, 0), Doc: doc,
		fill: func(c *Config) {
			if p := get(c); *p == nil {
				*p = new(def)
			}
		},
		check: func(s Setting, c *Config) error { return inRange(s, **get(c), 0, 0) },
	}
}

// inRange checks s's value v against lo and hi (0: no maximum); the error
// names the key and says what to write instead.
func inRange[T number](s Setting, v, lo, hi T) error {
	var what string
	switch {
	case hi != 0 && (v < lo || v > hi):
		what = "is out of range"
	case v < 0:
		what = "is negative"
	case v < lo:
		what = "is too short"
	default:
		return nil
	}
	return fmt.Errorf("%s: %s %s: use %s, or leave it out for %s", s.Key, show(v), what, s.Accepts, s.defaultPhrase())
}

// defaultPhrase is "the default 15s", or the default when it is in words.
func (s Setting) defaultPhrase() string {
	if strings.HasPrefix(s.Default, "the ") {
		return s.Default
	}
	return "the default " + s.Default
}

func (s Setting) defaultText(text string) Setting { s.Default = text; return s }

func (s Setting) libraryOnly() Setting { s.LibraryOnly = true; return s }

// atLeastBase adds retry.cap's second limit: at least retry.base.
func (s Setting) atLeastBase() Setting {
	own := s.check
	s.Accepts = "retry.base or more"
	s.check = func(s Setting, c *Config) error {
		if c.RetryCap < c.RetryBase {
			return fmt.Errorf("retry.cap: %s is less than retry.base (%s): make the cap at least the base, or leave both out for the defaults", show(c.RetryCap), show(c.RetryBase))
		}
		return own(s, c)
	}
	return s
}

func checkQueues(s Setting, c *Config) error {
	if len(c.Queues) == 0 {
		return fmt.Errorf("queues: empty: list at least one queue, e.g. queues: %s, or leave it out for %s", s.Default, s.defaultPhrase())
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
	return nil
}

func accepts[T number](lo, hi T) string {
	if hi != 0 {
		return show(lo) + " to " + show(hi)
	}
	return show(lo) + " or more"
}

// show writes a count or a duration as config.yaml does: 5, 15s, 24h, 5m.
func show[T number](v T) string {
	d, ok := any(v).(time.Duration)
	if !ok {
		return strconv.Itoa(int(v))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
