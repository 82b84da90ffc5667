package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/api"
	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/config"
	"github.com/dueq/dueq/internal/rediserr"
	"github.com/dueq/dueq/metrics"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// StopExtra is how much longer than shutdown_grace a stopping daemon waits
// for its loops to hand tasks back, and how long it waits for HTTP requests
// in flight.
const StopExtra = 5 * time.Second

// Daemon is what `dueq serve` runs: a Redis connection (or an embedded
// Redis), a scheduler's worker loops and the HTTP API, which serves the
// daemon's Prometheus metrics at GET /metrics (package metrics). Start it with
// StartDaemon; Go programs may run one with their own handler registry.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	rdb      redis.UniversalClient
	nodes    []string             // the servers checkNodes found (cluster nodes, Sentinel's primary and replicas)
	embedded *miniredis.Miniredis // nil with a configured Redis
	sched    *scheduler.Scheduler
	client   *client.Client
	api      *api.Server
	stopOnce sync.Once
	stopErr  error
}

// StartDaemon connects to Redis (starting an embedded one when
// cfg.Redis.URL is empty), binds the HTTP API's address, starts the
// scheduler's loops with reg's handlers, upserts cfg's schedules by name (so
// restarting daemons never duplicates them, and a changed entry updates its
// schedule), starts serving the HTTP API, and returns once all of them run.
// An address in use is an error before any task is claimed. A nil reg
// stands for Registry(cfg), whose http handler also never reaches this
// daemon's embedded Redis or the address its API listens on. cfg must be
// valid (config.Load validates
// it); a schedule whose task is not one of reg's handlers, or that the
// scheduler refuses, is an error naming the schedule. On error everything
// started is stopped again.
func StartDaemon(ctx context.Context, cfg *config.Config, reg *tasks.Registry, logger *slog.Logger) (_ *Daemon, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	d := &Daemon{cfg: cfg, log: logger}
	if reg == nil {
		reg = registry(cfg, d.ownAddrs)
	}
	for _, w := range cfg.Handlers.Warnings() {
		logger.Warn(w)
	}
	defer func() {
		if err != nil {
			if d.api != nil {
				_ = d.api.Stop(context.WithoutCancel(ctx)) // closes its listener
			}
			d.close()
		}
	}()
	if err := d.connect(ctx); err != nil {
		return nil, err
	}
	if d.client, err = client.New(d.rdb, cfg.Client(logger)); err != nil {
		return nil, err
	}
	scfg := cfg.Scheduler(logger)
	m := metrics.New(d.client.Stats)
	scfg.Observer = m
	if d.sched, err = scheduler.New(d.rdb, reg, scfg); err != nil {
		return nil, err
	}
	m.Watch(d.sched.Counters)
	if d.api, err = api.New(d.client, reg, d.health, api.Config{Addr: cfg.HTTP.Addr, Token: cfg.HTTP.Token, Logger: logger, Metrics: m.Handler()}); err != nil {
		return nil, err
	}
	// Bind before the loops start: with the address taken, the daemon must
	// not claim tasks only to stop again.
	if err := d.api.Listen(ctx); err != nil {
		return nil, err
	}
	if err := d.sched.Start(ctx); err != nil {
		return nil, err
	}
	if err := d.upsertSchedules(ctx, reg); err != nil {
		d.stopScheduler(ctx)
		return nil, err
	}
	if err := d.api.Start(ctx); err != nil {
		d.stopScheduler(ctx)
		return nil, err
	}
	logger.Info("dueq daemon running", "daemon", d.sched.ID(), "http", d.api.Addr(),
		"redis", d.redisName(), "workers", cfg.Workers, "queues", cfg.Queues, "handlers", reg.Names())
	return d, nil
}

// upsertSchedules submits the schedules of the configuration, each upserted
// by its name. The first failure stops it with an error naming the entry.
func (d *Daemon) upsertSchedules(ctx context.Context, reg *tasks.Registry) error {
	specs, err := d.cfg.ScheduleSpecs()
	if err != nil {
		return err
	}
	for i, spec := range specs {
		at := fmt.Sprintf("schedule %s (schedules[%d])", spec.Name, i)
		if _, err := reg.Lookup(spec.Task.Name); err != nil {
			return fmt.Errorf("%s: task: %w: fix the task, or register the handler", at, err)
		}
		sc, err := d.client.SubmitSchedule(ctx, spec)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		d.log.Info("schedule upserted", "name", sc.Name, "id", sc.ID, "task", sc.Task,
			"rule", rule(sc), "next_at", sc.NextAt.UTC().Format(tasks.TimeLayout))
	}
	return nil
}

// stopScheduler stops the scheduler of a daemon that failed to start.
func (d *Daemon) stopScheduler(ctx context.Context) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopExtra)
	defer cancel()
	_ = d.sched.Stop(stopCtx)
}

// connect opens the Redis connection, or starts the embedded Redis. A
// configured Redis must answer, and each of its servers pass checkRedis
// (Redis 7.0 or newer, maxmemory-policy noeviction unless
// redis.allow_eviction): the one server, every node of a cluster, or
// Sentinel's primary and replicas.
func (d *Daemon) connect(ctx context.Context) error {
	var conn config.RedisConn
	if d.cfg.Redis.URL == "" {
		m, err := StartEmbedded(EmbeddedAddr)
		if err != nil {
			return err
		}
		d.embedded = m
		conn = config.RedisConn{Kind: config.RedisSingle, Single: &redis.Options{Addr: m.Addr()}}
		d.log.Warn("no redis.url configured: started an embedded Redis; its state is in memory only and is lost when this daemon exits",
			"addr", m.Addr(), "join", "other daemons may share it with --redis redis://"+m.Addr())
	} else {
		var err error
		if conn, err = d.cfg.RedisConn(); err != nil {
			return err
		}
	}
	d.rdb = conn.NewClient()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.rdb.Ping(pingCtx).Err(); err != nil {
		if rediserr.Refused(err) { // it answers, but not yet (LOADING, MASTERDOWN, CLUSTERDOWN)
			return fmt.Errorf("the Redis at %s refuses commands: %w", d.redisName(), rediserr.Describe(err))
		}
		return fmt.Errorf("cannot reach Redis at %s: %w: start Redis there, or fix redis.url (--redis, DUEQ_REDIS_URL), or leave it empty for an embedded Redis", d.redisName(), err)
	}
	if d.embedded != nil {
		return nil // in memory, never evicts, runs every script
	}
	warnings, addrs, err := checkNodes(pingCtx, d.rdb, conn, d.redisName(), d.cfg.Redis.AllowEviction)
	if err != nil {
		return err
	}
	d.nodes = addrs
	for _, w := range warnings {
		d.log.Warn(w)
	}
	if conn.Kind != config.RedisSingle {
		d.log.Info("connected to Redis", "kind", conn.Kind.String(), "servers", addrs)
	}
	return nil
}

// ownAddrs maps the daemon's own addresses, its HTTP API's and its Redis's,
// to what they are, for the http handler, which never reaches them. Handlers
// run only once the API and Redis are set, so the fields are read safely.
func (d *Daemon) ownAddrs() map[string]string {
	own := configuredAddrs(d.cfg)
	if d.api != nil {
		own[d.api.Addr()] = ownAPI
	}
	if d.embedded != nil {
		own[d.embedded.Addr()] = ownRedis
	}
	for _, a := range d.nodes {
		own[a] = ownRedis
	}
	return own
}

// redisName names the Redis in use, without its password.
func (d *Daemon) redisName() string {
	if d.embedded != nil {
		return "redis://" + d.embedded.Addr() + " (embedded)"
	}
	return config.RedactURL(d.cfg.Redis.URL)
}

// health is the API's /healthz check: Redis answers and the scheduler's
// last Redis call succeeded.
func (d *Daemon) health(ctx context.Context) error {
	if err := d.rdb.Ping(ctx).Err(); err != nil {
		if rediserr.Refused(err) {
			return fmt.Errorf("the Redis at %s refuses commands: %w", d.redisName(), rediserr.Describe(err))
		}
		return fmt.Errorf("the Redis at %s does not answer: %w", d.redisName(), err)
	}
	if !d.sched.Healthy() {
		return errors.New("the scheduler's last Redis call failed; it is retrying")
	}
	return nil
}

// HTTPAddr is the address the HTTP API listens on.
func (d *Daemon) HTTPAddr() string { return d.api.Addr() }

// RedisAddr is the address of the embedded Redis, or "" with a configured
// Redis.
func (d *Daemon) RedisAddr() string {
	if d.embedded == nil {
		return ""
	}
	return d.embedded.Addr()
}

// Stop shuts the daemon down: the loops stop claiming, running tasks get
// shutdown_grace to finish and are then canceled and handed back at once
// (the scheduler waits at most StopExtra more), then the HTTP API stops
// (pending long polls answer at once) and Redis is closed. Until the
// scheduler has stopped, the API keeps answering. ctx bounds the whole
// shutdown. Stop is safe to call twice; later calls wait for the first and
// return its result.
func (d *Daemon) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() { d.stopErr = d.stop(ctx) })
	return d.stopErr
}

func (d *Daemon) stop(ctx context.Context) error {
	d.log.Info("stopping: no new claims; running tasks may finish", "grace", d.cfg.ShutdownGrace)
	var errs []error
	sctx, cancel := context.WithTimeout(ctx, d.cfg.ShutdownGrace+StopExtra)
	if err := d.sched.Stop(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop the scheduler: %w (tasks still running were handed back)", err))
	}
	cancel()
	actx, cancel := context.WithTimeout(ctx, StopExtra)
	if err := d.api.Stop(actx); err != nil {
		errs = append(errs, fmt.Errorf("stop the HTTP API: %w", err))
	}
	cancel()
	d.close()
	d.log.Info("dueq daemon stopped")
	return errors.Join(errs...)
}

// close releases the connections and the embedded Redis.
func (d *Daemon) close() {
	if d.client != nil {
		_ = d.client.Close()
	}
	if d.rdb != nil {
		_ = d.rdb.Close()
	}
	if d.embedded != nil {
		d.embedded.Close()
	}
}
