package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// serverStats is what the benchmark reads from INFO before and after a
// phase: of the one server, or summed over a cluster's primaries, each of
// which shards also holds.
type serverStats struct {
	cpuUs    float64 // used_cpu_user + used_cpu_sys, µs
	commands float64 // total_commands_processed, inner script commands included
	memory   float64 // used_memory, bytes
	shards   map[string]serverStats
}

// readStats reads the stats of the server c talks to, or of every primary
// of a cluster.
func readStats(ctx context.Context, c redis.UniversalClient) (serverStats, error) {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return readServerStats(ctx, c)
	}
	var mu sync.Mutex
	sum := serverStats{shards: map[string]serverStats{}}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		s, err := readServerStats(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sum.cpuUs += s.cpuUs
		sum.commands += s.commands
		sum.memory += s.memory
		sum.shards[node.Options().Addr] = s
		return nil
	})
	return sum, err
}

func readServerStats(ctx context.Context, c redis.Cmdable) (serverStats, error) {
	text, err := c.Info(ctx, "cpu", "stats", "memory").Result()
	if err != nil {
		return serverStats{}, fmt.Errorf("bench: INFO: %w", err)
	}
	var s serverStats
	for _, line := range strings.Split(text, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch k {
		case "used_cpu_user", "used_cpu_sys":
			s.cpuUs += f * 1e6
		case "total_commands_processed":
			s.commands = f
		case "used_memory":
			s.memory = f
		}
	}
	return s, nil
}

// perTask sets the Redis figures of a phase that ran n tasks.
func (r *run) perTask(res *Result, before, after serverStats, trips0 int64, n int) {
	if n == 0 {
		return
	}
	res.RedisCPUUsPerTask = num((after.cpuUs - before.cpuUs) / float64(n))
	// The INFO call that read "after" counts itself: leave it out.
	res.RedisCmdsPerTask = num((after.commands - before.commands - 1) / float64(n))
	res.RoundTripsPerTask = num(float64(r.trips.Load()-trips0-1) / float64(n))
	res.Shards = shares(before, after)
}

// shares is each primary's share of the CPU and commands between before
// and after, in address order; none off a cluster.
func shares(before, after serverStats) []Shard {
	cpu, cmds := after.cpuUs-before.cpuUs, after.commands-before.commands
	var out []Shard
	for addr, a := range after.shards {
		b := before.shards[addr]
		sh := Shard{Addr: addr}
		if cpu > 0 {
			sh.CPUShare = (a.cpuUs - b.cpuUs) / cpu
		}
		if cmds > 0 {
			sh.CmdsShare = (a.commands - b.commands) / cmds
		}
		out = append(out, sh)
	}
	slices.SortFunc(out, func(x, y Shard) int { return strings.Compare(x.Addr, y.Addr) })
	return out
}
