package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// serverStats is what the benchmark reads from INFO before and after a phase.
type serverStats struct {
	cpuUs    float64 // used_cpu_user + used_cpu_sys, µs
	commands float64 // total_commands_processed, inner script commands included
	memory   float64 // used_memory, bytes
}

func readStats(ctx context.Context, c *redis.Client) (serverStats, error) {
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
}
