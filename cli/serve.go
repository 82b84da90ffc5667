package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/dueq/dueq/config"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func newServe() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run a daemon: worker loops and the HTTP API",
		Long: `Run a daemon: worker loops that claim and run due tasks, and the HTTP API
the client commands talk to. Configuration comes from --config (default
./config.yaml if present), then DUEQ_ environment variables (DUEQ_REDIS_URL,
DUEQ_WORKERS, DUEQ_HTTP_ADDR, DUEQ_HTTP_TOKEN, ...), then these flags, each
overriding the one before.

The schedules key of the configuration lists recurring tasks; each is
upserted by name at start, so restarting daemons never duplicates one, and
a changed entry updates its schedule. An entry the daemon cannot submit (its
task is not a handler here) stops the start with an error naming it.

With no Redis configured it starts an embedded, in-memory Redis on a
loopback port and logs its address; other daemons may join it with
--redis redis://ADDR.

SIGINT or SIGTERM stops claiming, lets running tasks finish for up to
shutdown_grace, then cancels them and hands them back; exit 0. A second
signal exits at once (exit 2).

A Redis Cluster is given by any of its nodes,
redis-cluster://host:port[,host:port...], and Sentinel by its sentinels and
the name they watch the primary under,
redis-sentinel://host:port[,host:port...]/MASTER (rediss-cluster:// and
rediss-sentinel:// for TLS); scripts/redis-cluster.sh and
scripts/redis-sentinel.sh start local ones.

At start the daemon checks a configured Redis, every primary and replica of
it: it must be Redis 7.0 or newer, and its maxmemory-policy must be
noeviction (a Redis that evicts keys when full would lose tasks) unless
redis.allow_eviction is true, which starts it anyway with a warning.

Exit codes: 0 after a graceful stop; 2 when the daemon cannot start: a bad
configuration, Redis unreachable, older than 7.0 or evicting keys, the HTTP
address in use.`,
		Example: `  dueq serve
  dueq serve --redis redis://localhost:6379/0 --workers 16 --queues default,mail
  dueq serve --redis redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000
  dueq serve --config /etc/dueq.yaml --http 127.0.0.1:7421
  DUEQ_HTTP_TOKEN=s3cret dueq serve --http 0.0.0.0:7420`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, c.Flags())
			if err != nil {
				return usage(c, err)
			}
			logger, err := cfg.Logger(c.ErrOrStderr())
			if err != nil {
				return usage(c, err)
			}
			if cfg.File != "" {
				logger.Info("configuration read", "file", cfg.File)
			}
			redis.SetLogger(redisLogger{logger}) // go-redis's own messages, in our format
			ctx, cancel := context.WithCancel(c.Context())
			defer cancel()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				select {
				case s := <-sigs:
					logger.Info("signal received: shutting down; a second signal exits at once", "signal", s.String())
					cancel()
				case <-ctx.Done():
					return
				}
				s := <-sigs
				fmt.Fprintf(c.ErrOrStderr(), "dueq: second signal (%s): exiting at once; running tasks run again when their leases expire\n", s)
				os.Exit(ExitError)
			}()
			if err := Serve(ctx, cfg, nil, logger); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&path, "config", "", "configuration file (default ./"+config.DefaultFile+" if present)")
	f.String("redis", "", "Redis URL: redis://[user:password@]host:port[/db] (rediss:// for TLS), redis-cluster://host:port,..., or redis-sentinel://host:port,.../MASTER (default: an embedded Redis)")
	f.Int("workers", 0, "worker loops: tasks run at once (default the CPU count)")
	f.StringSlice("queues", nil, "queues to serve, comma-separated (default default)")
	f.String("http", wire.DefaultAddr, "HTTP API address host:port; a non-loopback one needs --token")
	// Shadows the clients' global --token: for serve it is the token the
	// API requires, not one it sends.
	f.String("token", "", "bearer token the HTTP API requires (http.token, env DUEQ_HTTP_TOKEN), needed when --http is not loopback; clients pass it with --token or DUEQ_TOKEN. A flag shows in the process list: prefer the environment or the config file")
	return c
}

// redisLogger sends go-redis's log lines (dial failures, pool trouble) to
// slog as warnings.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// Registry returns a registry with the stock binary's built-in handlers,
// configured by cfg's handlers keys. Its http handler never reaches the
// addresses cfg gives the daemon's HTTP API (http.addr) and its Redis
// (redis.url). A daemon started with no registry (StartDaemon with nil)
// builds this one itself, and keeps its http handler off its embedded Redis
// and the address its API listens on as well.
func Registry(cfg *config.Config) *tasks.Registry {
	return registry(cfg, func() map[string]string { return configuredAddrs(cfg) })
}

func registry(cfg *config.Config, own func() map[string]string) *tasks.Registry {
	reg := tasks.NewRegistry()
	tasks.RegisterBuiltins(reg, tasks.BuiltinConfig{
		ShellAllow: cfg.Handlers.Shell.Allow,
		HTTPAllow:  cfg.Handlers.HTTP.Allow,
		HTTPOwn:    own,
	})
	return reg
}

// What the daemon's own addresses are, in the http handler's refusals.
const (
	ownAPI   = "this daemon's HTTP API"
	ownRedis = "this daemon's Redis"
)

// configuredAddrs maps the addresses cfg gives the daemon's HTTP API and its
// Redis to what they are.
func configuredAddrs(cfg *config.Config) map[string]string {
	own := map[string]string{cfg.HTTP.Addr: ownAPI}
	if conn, err := cfg.RedisConn(); err == nil {
		for _, a := range conn.Addrs() {
			own[a] = ownRedis
		}
	}
	return own
}

// Serve runs a daemon (see Daemon) with cfg and reg's handlers (nil: the
// built-in handlers, see StartDaemon) until ctx ends, then shuts it down
// gracefully and returns nil. It returns an error when the daemon cannot
// start. A shutdown that overran its deadline is logged: the tasks still
// running were handed back, so it is not an error.
func Serve(ctx context.Context, cfg *config.Config, reg *tasks.Registry, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	d, err := StartDaemon(ctx, cfg, reg, logger)
	if err != nil {
		return err
	}
	<-ctx.Done()
	if err := d.Stop(context.WithoutCancel(ctx)); err != nil {
		logger.Warn("shutdown was not clean", "err", err)
	}
	return nil
}
