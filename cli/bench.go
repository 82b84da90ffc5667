package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dueq/dueq/bench"
)

func newBench() *cobra.Command {
	var opt bench.Options
	c := &cobra.Command{
		Use:   "bench --redis URL --mode " + strings.Join(bench.Modes, "|"),
		Short: "Measure dueq on a scratch Redis (flushes it) and print one JSON object",
		Long: `Run daemons and producers in this process against a Redis and print the
figures of the performance targets as one JSON object: tasks_per_s, redis_cpu_us_per_task,
redis_cmds_per_task, round_trips_per_task (throughput, dag), lateness_p50_ms,
lateness_p99_ms, lateness_max_ms (lateness: tasks due over --seconds),
release_p99_ms (dag: a child's start after its parent), idle_cmds_per_s
(idle, per daemon) and redis_bytes_per_task (scale: tasks an hour out).

On a Redis Cluster (--redis redis-cluster://...) the figures add up every
primary's, and "shards" gives each primary's share of the Redis CPU and
commands (cpu_share, cmds_share, 0 to 1).

It FLUSHES the Redis database it is given (every primary's, on a cluster): use
a scratch redis-server, or scripts/redis-cluster.sh. scripts/bench.sh runs it
beside asynq and prints a side-by-side table.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, a []string) error {
			if opt.RedisURL == "" {
				return usage(c, fmt.Errorf("--redis is required: the URL of a scratch Redis (it is flushed)"))
			}
			opt.Progress = c.ErrOrStderr()
			res, err := bench.Run(c.Context(), opt)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), res.JSON())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opt.RedisURL, "redis", "", "URL of a scratch Redis, which is flushed (required)")
	f.StringVar(&opt.Mode, "mode", "throughput", "workload: "+strings.Join(bench.Modes, ", "))
	f.IntVar(&opt.Tasks, "tasks", 0, "tasks (dag: parent-child pairs); 0 for the mode's default")
	f.IntVar(&opt.Workers, "workers", 8, "worker loops per daemon")
	f.IntVar(&opt.Daemons, "daemons", 1, "daemons, each with its own Redis connections")
	f.IntVar(&opt.Partitions, "partitions", 0, "the namespace's partitions; 0: the default (16 on a cluster, else 1)")
	f.Float64Var(&opt.Seconds, "seconds", 10, "lateness: spread of due times; idle: time measured")
	return c
}
