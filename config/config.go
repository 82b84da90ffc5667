// Package config reads dueq's configuration: config.yaml, then
// DUEQ_ environment variables, then command-line flags, each overriding the
// one before. Unknown keys and wrong types are errors that name the key and
// say what to write instead.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Config is a daemon's configuration. Default returns it with every default
// filled in; Load reads it from a file, the environment and flags.
type Config struct {
	// Redis says which Redis the daemon uses.
	Redis Redis
	// HTTP configures the HTTP API.
	HTTP HTTP
	// Namespace, Partitions, Workers, Queues, Lease, ShutdownGrace,
	// ResultTTL, MaxRecoveries and Retry are the engine's settings (the keys
	// namespace, partitions, workers, queues, lease, shutdown_grace,
	// result_ttl, max_recoveries, retry.base and retry.cap): the scheduler.Config fields of the same
	// names say what each does, and scheduler.Settings gives its default and
	// limits. A value means what it means there: 0 or "" asks for the
	// default, except for shutdown_grace and max_recoveries, where 0 is a
	// value and leaving the key out asks for the default. Validate fills the
	// defaults in.
	Namespace     string
	Partitions    int
	Workers       int
	Queues        []string
	Lease         time.Duration
	ShutdownGrace time.Duration
	ResultTTL     time.Duration
	MaxRecoveries int
	Retry         Retry
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
	// WaitReplicas makes each submit (and every other write of the HTTP API
	// and the CLI: workflows, schedules, cancels, retries) wait until this
	// many replicas of the Redis primary have it, for up to a second, so a
	// failover cannot lose a task the submitter was told is written. A
	// write not confirmed in time is answered with an error naming its
	// tasks. Defaults to 0: no wait.
	WaitReplicas int
}

// HTTP configures the HTTP API.
type HTTP struct {
	// Addr is the host:port the API listens on. Defaults to 127.0.0.1:7420.
	Addr string
	// Token is the bearer token every request must carry. Defaults to "";
	// it is required when Addr is not a loopback address.
	Token string
}

// Retry shapes the exponential backoff between attempts: Base and Cap are
// scheduler.Config's RetryBase and RetryCap.
type Retry struct {
	Base, Cap time.Duration
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

// DefaultHTTPAddr is the default of http.addr.
const DefaultHTTPAddr = "127.0.0.1:7420"

// Default returns the configuration with every default filled in; the
// engine's defaults are scheduler.Config's.
func Default() *Config {
	c := &Config{
		HTTP:      HTTP{Addr: DefaultHTTPAddr},
		Log:       Log{Format: "text", Level: "info"},
		Handlers:  Handlers{Shell: ShellAllow{Allow: []tasks.ShellRule{}}, HTTP: Allow{Allow: []string{}}},
		Schedules: []Schedule{},
	}
	c.setEngine(scheduler.Config{}.WithDefaults())
	return c
}

// Validate checks c; its error names the key to fix and says what to write.
// It fills in the defaults that the engine's settings ask for with 0 (the
// CPU count for workers: 0).
func (c *Config) Validate() error {
	if err := c.validateHTTP(); err != nil {
		return err
	}
	e := c.Scheduler(nil).WithDefaults()
	if err := e.Validate(); err != nil {
		return err
	}
	c.setEngine(e)
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
		if _, err := c.RedisConn(); err != nil {
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
	return scheduler.Config{
		Namespace:     c.Namespace,
		Partitions:    c.Partitions,
		Queues:        slices.Clone(c.Queues), // an empty list stays empty: an error, not the default
		Workers:       c.Workers,
		Lease:         c.Lease,
		ShutdownGrace: new(c.ShutdownGrace),
		ResultTTL:     c.ResultTTL,
		MaxRecoveries: new(c.MaxRecoveries),
		RetryBase:     c.Retry.Base,
		RetryCap:      c.Retry.Cap,
		WaitReplicas:  c.Redis.WaitReplicas,
		Logger:        logger,
	}
}

// Client returns the configuration of a client of c's daemons (the HTTP
// API's), logging to logger.
func (c *Config) Client(logger *slog.Logger) client.Config {
	return client.Config{Namespace: c.Namespace, Partitions: c.Partitions, ResultTTL: c.ResultTTL, Logger: logger, WaitReplicas: c.Redis.WaitReplicas}
}

// setEngine sets the engine's settings of c from e, after WithDefaults.
func (c *Config) setEngine(e scheduler.Config) {
	c.Namespace, c.Partitions, c.Queues, c.Workers = e.Namespace, e.Partitions, e.Queues, e.Workers
	c.Lease, c.ShutdownGrace, c.ResultTTL = e.Lease, *e.ShutdownGrace, e.ResultTTL
	c.MaxRecoveries, c.Retry = *e.MaxRecoveries, Retry{Base: e.RetryBase, Cap: e.RetryCap}
	c.Redis.WaitReplicas = e.WaitReplicas
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
