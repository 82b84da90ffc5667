// Package config reads dueq's configuration: config.yaml, then
// DUEQ_ environment variables, then command-line flags, each overriding the
// one before. Unknown keys and wrong types are errors that name the key and
// say what to write instead.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Config is a daemon's configuration. Default returns it with every default
// filled in; Load reads it from a file, the environment and flags.
type Config struct {
	// Redis says which Redis the daemon uses.
	Redis Redis
	// Namespace prefixes every Redis key and is its Redis Cluster hash tag:
	// daemons share work only within one namespace. Defaults to "dueq".
	Namespace string
	// HTTP configures the HTTP API.
	HTTP HTTP
	// Workers is the number of worker loops in this daemon: how many tasks it
	// runs at once. Defaults to the number of CPUs (also when set to 0).
	Workers int
	// Queues are the queues this daemon serves. Defaults to ["default"].
	Queues []string
	// Lease is how long a claim holds a running task without renewal; the
	// lease is renewed every third of it, and a task whose lease expires (its
	// daemon died) is run again elsewhere. Defaults to 15s.
	Lease time.Duration
	// ShutdownGrace is how long a stopping daemon lets running tasks finish
	// before it cancels them and hands them back. Defaults to 10s; 0s cancels
	// them at once.
	ShutdownGrace time.Duration
	// ResultTTL is how long a finished task's record is kept. Defaults to 24h.
	ResultTTL time.Duration
	// MaxRecoveries is how many times a task is re-run after the daemon
	// running it died, before the task fails. Defaults to 5.
	MaxRecoveries int
	// Retry shapes the backoff between a failing task's attempts.
	Retry Retry
	// Log configures the daemon's logs.
	Log Log
	// Handlers configures the built-in handlers of the stock binary.
	Handlers Handlers
	// Schedules are the recurring tasks every daemon upserts by name when it
	// starts (see Schedule and ScheduleSpecs). Defaults to none.
	Schedules []Schedule
	// File is the configuration file that was read, or "" when none was.
	File string
}

// Redis says which Redis to use.
type Redis struct {
	// URL is a redis:// or rediss:// (TLS) URL with optional user, password
	// and db: redis://user:password@host:6379/0. Defaults to "": the daemon
	// starts an embedded, in-memory Redis on a loopback address.
	URL string
	// AllowEviction lets the daemon start, with a logged warning, on a Redis
	// whose maxmemory-policy may evict keys when it is full (any policy but
	// noeviction): an evicted key is a lost task. Defaults to false: the
	// daemon refuses to start on such a Redis and says how to fix it.
	AllowEviction bool
}

// HTTP configures the HTTP API.
type HTTP struct {
	// Addr is the host:port the API listens on. Defaults to 127.0.0.1:7420.
	Addr string
	// Token is the bearer token every request must carry. Defaults to "";
	// it is required when Addr is not a loopback address.
	Token string
}

// Retry shapes the exponential backoff between attempts: attempt n waits a
// random time up to min(Cap, Base*2^(n-1)).
type Retry struct {
	// Base is the first backoff. Defaults to 1s.
	Base time.Duration
	// Cap is the longest backoff. Defaults to 5m.
	Cap time.Duration
}

// Log configures logging.
type Log struct {
	// Format is text or json. Defaults to text.
	Format string
	// Level is debug, info, warn or error. Defaults to info.
	Level string
}

// Handlers configures the built-in handlers.
type Handlers struct {
	// Shell lists what the shell handler may run. Defaults to none, which
	// turns the handler off.
	Shell ShellAllow
	// HTTP lists what the http handler may reach. Defaults to none, which
	// turns the handler off.
	HTTP Allow
}

// ShellAllow is the shell handler's allow-list.
type ShellAllow struct {
	// Allow lists program names (any arguments) and argument vector
	// patterns (only the commands they match): see tasks.ShellRule.
	// Defaults to none.
	Allow []tasks.ShellRule
}

// Allow is the http handler's allow-list.
type Allow struct {
	// Allow lists hosts (ports 80 and 443), host:port entries and URL
	// prefixes: see tasks.ParseHTTPRule. Defaults to none.
	Allow []string
}

// Defaults of the configuration keys.
const (
	DefaultNamespace     = "dueq"
	DefaultHTTPAddr      = "127.0.0.1:7420"
	DefaultLease         = 15 * time.Second
	DefaultShutdownGrace = 10 * time.Second
	DefaultResultTTL     = 24 * time.Hour
	DefaultMaxRecoveries = 5
	DefaultRetryBase     = time.Second
	DefaultRetryCap      = 5 * time.Minute
)

// Default returns the configuration with every default filled in.
func Default() *Config {
	return &Config{
		Namespace:     DefaultNamespace,
		HTTP:          HTTP{Addr: DefaultHTTPAddr},
		Workers:       runtime.NumCPU(),
		Queues:        []string{tasks.DefaultQueue},
		Lease:         DefaultLease,
		ShutdownGrace: DefaultShutdownGrace,
		ResultTTL:     DefaultResultTTL,
		MaxRecoveries: DefaultMaxRecoveries,
		Retry:         Retry{Base: DefaultRetryBase, Cap: DefaultRetryCap},
		Log:           Log{Format: "text", Level: "info"},
		Handlers:      Handlers{Shell: ShellAllow{Allow: []tasks.ShellRule{}}, HTTP: Allow{Allow: []string{}}},
		Schedules:     []Schedule{},
	}
}

// Validate checks c; its error names the key to fix and says what to write.
// It sets Workers to the CPU count when it is 0.
func (c *Config) Validate() error {
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if err := c.validateHTTP(); err != nil {
		return err
	}
	if len(c.Queues) == 0 {
		return errors.New("queues: empty: list at least one queue, e.g. queues: [default]")
	}
	for _, d := range []struct {
		key  string
		v    time.Duration
		zero bool // zero allowed
	}{
		{"lease", c.Lease, false}, {"shutdown_grace", c.ShutdownGrace, true}, {"result_ttl", c.ResultTTL, false},
		{"retry.base", c.Retry.Base, false}, {"retry.cap", c.Retry.Cap, false},
	} {
		switch {
		case d.v < 0:
			return fmt.Errorf("%s: %s is negative: use a positive duration such as 15s", d.key, d.v)
		case d.v == 0 && !d.zero:
			return fmt.Errorf("%s: 0s is too short: use a positive duration such as 15s, or leave it out for the default", d.key)
		}
	}
	if c.MaxRecoveries < 1 {
		return fmt.Errorf("max_recoveries: %d: use 1 or more (a task is re-run at most that many times after its daemon died)", c.MaxRecoveries)
	}
	// The engine's own checks: namespace, queue names, workers, ranges.
	if err := c.Scheduler(nil).WithDefaults().Validate(); err != nil {
		return err
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return err
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format: %q is not a log format: use text or json", c.Log.Format)
	}
	if err := c.Handlers.validate(); err != nil {
		return err
	}
	if c.Redis.URL != "" {
		if _, err := c.RedisOptions(); err != nil {
			return err
		}
	}
	return c.validateSchedules()
}

// validate checks each entry of the allow-lists.
func (h Handlers) validate() error {
	for i, r := range h.Shell.Allow {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("handlers.shell.allow: entry %d (%s): %w", i, r, err)
		}
	}
	for i, e := range h.HTTP.Allow {
		if _, err := tasks.ParseHTTPRule(e); err != nil {
			return fmt.Errorf("handlers.http.allow: entry %d (%q): %w", i, e, err)
		}
	}
	return nil
}

// Warnings says which allow-list entries are looser than they may look
// (a shell program name allows any arguments) or allow nothing (a loopback
// address without a port), one sentence each; the daemon logs them at start.
func (h Handlers) Warnings() []string {
	var out []string
	for _, r := range h.Shell.Allow {
		if w := r.Warning(); w != "" {
			out = append(out, w)
		}
	}
	for _, e := range h.HTTP.Allow {
		if r, err := tasks.ParseHTTPRule(e); err == nil && r.Warning() != "" {
			out = append(out, r.Warning())
		}
	}
	return out
}

func (c *Config) validateHTTP() error {
	host, port, err := net.SplitHostPort(c.HTTP.Addr)
	if err != nil || port == "" {
		return fmt.Errorf("http.addr: %q is not host:port: write e.g. 127.0.0.1:7420", c.HTTP.Addr)
	}
	if c.HTTP.Token == "" && !Loopback(host) {
		return fmt.Errorf("http.addr: %s is not a loopback address, so http.token is required: set http.token (DUEQ_HTTP_TOKEN, or dueq serve --token), or listen on 127.0.0.1", c.HTTP.Addr)
	}
	return nil
}

// Loopback reports whether host (a name or an IP, without a port) is a
// loopback address. The empty host (all interfaces) is not.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Scheduler returns the scheduler configuration of c, logging to logger.
func (c *Config) Scheduler(logger *slog.Logger) scheduler.Config {
	grace := c.ShutdownGrace
	if grace == 0 {
		grace = time.Nanosecond // scheduler.Config treats 0 as "the default"
	}
	return scheduler.Config{
		Namespace:     c.Namespace,
		Queues:        append([]string(nil), c.Queues...),
		Workers:       c.Workers,
		Lease:         c.Lease,
		ShutdownGrace: grace,
		ResultTTL:     c.ResultTTL,
		MaxRecoveries: c.MaxRecoveries,
		RetryBase:     c.Retry.Base,
		RetryCap:      c.Retry.Cap,
		Logger:        logger,
	}
}

// Logger returns a slog logger writing to w in c.Log.Format at c.Log.Level.
func (c *Config) Logger(w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.Log.Level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Log.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not a log format: use text or json", c.Log.Format)
}

func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q is not a log level: use debug, info, warn or error", s)
}
