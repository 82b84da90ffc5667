// Package bench is the driver behind `dueq bench`: it runs dueq's daemons
// and producers in one process against a Redis and measures what the performance targets
// targets: throughput, Redis CPU, commands and round trips per task, the
// lateness of timed tasks, how soon a child starts after its parent, idle
// cost and memory per scheduled task. It flushes the Redis database it is
// given: point it at a scratch redis-server, never at one holding data.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/config"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Modes lists the workloads.
var Modes = []string{"throughput", "lateness", "dag", "idle", "scale"}

// Options configures a run. Zero values take the defaults noted.
type Options struct {
	RedisURL string // required; its database is flushed
	Mode     string // one of Modes
	Tasks    int    // defaults to 20000 (lateness 10000, dag 2000 pairs, scale 100000)
	Workers  int    // loops per daemon; defaults to 8
	Daemons  int    // schedulers in this process, each with its own connections; defaults to 1
	// Partitions is the namespace's partitions (scheduler.Config.Partitions);
	// defaults to the daemon's default: 16 on a cluster, else 1.
	Partitions int
	Seconds    float64       // lateness: spread of due times; idle: measured time. Defaults to 10
	Progress   io.Writer     // progress lines; nil for none
	Grace      time.Duration // how long to wait for the tasks; defaults to 5 minutes
}

// Result is the JSON object `dueq bench` prints; a mode sets the figures it
// measures and leaves out the others.
type Result struct {
	System            string   `json:"system"`
	Mode              string   `json:"mode"`
	Tasks             int      `json:"tasks"`
	Workers           int      `json:"workers"`
	Daemons           int      `json:"daemons"`
	Partitions        int      `json:"partitions,omitempty"`
	Seconds           float64  `json:"seconds"`
	TasksPerS         *float64 `json:"tasks_per_s,omitempty"`
	RedisCPUUsPerTask *float64 `json:"redis_cpu_us_per_task,omitempty"`
	RedisCmdsPerTask  *float64 `json:"redis_cmds_per_task,omitempty"`
	RoundTripsPerTask *float64 `json:"round_trips_per_task,omitempty"`
	LatenessP50Ms     *float64 `json:"lateness_p50_ms,omitempty"`
	LatenessP99Ms     *float64 `json:"lateness_p99_ms,omitempty"`
	LatenessMaxMs     *float64 `json:"lateness_max_ms,omitempty"`
	ReleaseP99Ms      *float64 `json:"release_p99_ms,omitempty"`
	IdleCmdsPerS      *float64 `json:"idle_cmds_per_s,omitempty"`
	RedisBytesPerTask *float64 `json:"redis_bytes_per_task,omitempty"`
	ClaimMs           *float64 `json:"claim_ms,omitempty"` // mean claim round trip
	// Shards is, on a Redis Cluster, each primary's share of the Redis CPU
	// and commands of the measured phase, which the figures above sum.
	Shards []Shard `json:"shards,omitempty"`
}

// Shard is one primary of a Redis Cluster and its share of a phase's work.
type Shard struct {
	Addr      string  `json:"addr"`
	CPUShare  float64 `json:"cpu_share"`  // of the primaries' Redis CPU, 0 to 1
	CmdsShare float64 `json:"cmds_share"` // of their commands, 0 to 1
}

// JSON encodes the result on one line.
func (r *Result) JSON() string {
	b, _ := json.Marshal(r) // a Result always marshals
	return string(b)
}

func num(v float64) *float64 { return &v }

// run is one benchmark run's shared state.
type run struct {
	opt     Options
	conn    config.RedisConn
	trips   atomic.Int64 // requests sent by this process's clients
	clients []redis.UniversalClient
	log     *slog.Logger
}

// Run runs one workload and returns its figures.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.RedisURL == "" {
		return nil, fmt.Errorf("bench: give --redis URL of a scratch Redis: the benchmark flushes it")
	}
	cfg := config.Default()
	cfg.Redis.URL = opt.RedisURL
	conn, err := cfg.RedisConn()
	if err != nil {
		return nil, fmt.Errorf("bench: --redis: %w", err)
	}
	if !slices.Contains(Modes, opt.Mode) {
		return nil, fmt.Errorf("bench: --mode %q: use one of %v", opt.Mode, Modes)
	}
	defaults := map[string]int{"throughput": 20000, "lateness": 10000, "dag": 2000, "idle": 0, "scale": 100000}
	if opt.Tasks == 0 {
		opt.Tasks = defaults[opt.Mode]
	}
	if opt.Workers == 0 {
		opt.Workers = 8
	}
	if opt.Daemons == 0 {
		opt.Daemons = 1
	}
	if opt.Seconds == 0 {
		opt.Seconds = 10
	}
	if opt.Grace == 0 {
		opt.Grace = 5 * time.Minute
	}
	if opt.Tasks < 0 || opt.Workers < 1 || opt.Daemons < 1 || opt.Seconds < 0 || opt.Partitions < 0 {
		return nil, fmt.Errorf("bench: tasks, workers, daemons, partitions and seconds must be positive")
	}
	r := &run{opt: opt, conn: conn, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer r.close()
	admin := r.client()
	if err := flush(ctx, admin); err != nil {
		return nil, fmt.Errorf("bench: flush %s: %w", config.RedactURL(opt.RedisURL), err)
	}
	res := &Result{System: "dueq", Mode: opt.Mode, Tasks: opt.Tasks, Workers: opt.Workers, Daemons: opt.Daemons, Partitions: opt.Partitions}
	switch opt.Mode {
	case "throughput":
		err = r.throughput(ctx, admin, res)
	case "lateness":
		err = r.lateness(ctx, admin, res)
	case "dag":
		err = r.dag(ctx, admin, res)
	case "idle":
		err = r.idle(ctx, admin, res)
	case "scale":
		err = r.scale(ctx, admin, res)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// client returns a new connection pool whose requests are counted.
func (r *run) client() redis.UniversalClient {
	conn, pool := r.conn, 4*r.opt.Workers
	switch conn.Kind {
	case config.RedisCluster:
		o := *conn.Cluster
		o.PoolSize = max(o.PoolSize, pool)
		conn.Cluster = &o
	case config.RedisSentinel:
		o := *conn.Sentinel
		o.PoolSize = max(o.PoolSize, pool)
		conn.Sentinel = &o
	default:
		o := *conn.Single
		o.PoolSize = max(o.PoolSize, pool)
		conn.Single = &o
	}
	c := conn.NewClient()
	c.AddHook(tripCounter{&r.trips})
	r.clients = append(r.clients, c)
	return c
}

// flush empties the database of c: every primary's, on a cluster.
func flush(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return node.FlushDB(ctx).Err() })
	}
	return c.FlushDB(ctx).Err()
}

func (r *run) close() {
	for _, c := range r.clients {
		_ = c.Close()
	}
}

func (r *run) progress(format string, a ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, format+"\n", a...)
	}
}

// daemons starts opt.Daemons schedulers running reg, each with its own
// connections, and returns them and a function that stops them.
func (r *run) daemons(ctx context.Context, reg *tasks.Registry) ([]*scheduler.Scheduler, func(), error) {
	var ss []*scheduler.Scheduler
	stop := func() {
		for _, s := range ss {
			_ = s.Stop(context.Background())
		}
	}
	for range r.opt.Daemons {
		s, err := scheduler.New(r.client(), reg, scheduler.Config{Workers: r.opt.Workers, Partitions: r.opt.Partitions, Logger: r.log})
		if err != nil {
			stop()
			return nil, nil, err
		}
		if err := s.Start(ctx); err != nil {
			stop()
			return nil, nil, err
		}
		ss = append(ss, s)
	}
	return ss, stop, nil
}

// produce submits n specs from 8 goroutines sharing one client, as an
// application's request handlers would (the asynq benchmark does the same).
func (r *run) produce(ctx context.Context, n int, spec func(i int) tasks.Spec) ([]string, error) {
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	c, err := client.New(r.client(), client.Config{Partitions: r.opt.Partitions, Logger: r.log})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += 8 {
				t, err := c.Submit(ctx, spec(i))
				if err != nil {
					errs <- err
					return
				}
				ids[i] = t.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// tripCounter counts requests: one per command, one per pipeline.
type tripCounter struct{ n *atomic.Int64 }

func (tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
