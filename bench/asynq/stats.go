package main

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// tripCounter is a go-redis hook that counts requests sent: one per command,
// one per pipeline or transaction however many commands it carries. Installed
// on every client handed to asynq (NewClientFromRedisClient,
// NewServerFromRedisClient), so it sees all of asynq's traffic except the
// pub/sub connection each server keeps for cancellations (SUBSCRIBE only, once)
// and the handshake go-redis sends on a new connection (HELLO, CLIENT SETINFO).
type tripCounter struct{ n *atomic.Int64 }

func (h tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

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

// redisStats is one reading of the Redis server's counters.
type redisStats struct {
	cpu  float64 // used_cpu_user + used_cpu_sys, seconds
	cmds float64 // total_commands_processed (commands run by scripts included)
	mem  float64 // used_memory, bytes
}

// readStats reads INFO cpu, stats and memory in one call. The INFO command
// itself is counted by Redis after it runs, so the difference of two readings
// includes exactly one INFO: sub subtracts it.
func readStats(ctx context.Context, rdb *redis.Client) (redisStats, error) {
	txt, err := rdb.Info(ctx, "cpu", "stats", "memory").Result()
	if err != nil {
		return redisStats{}, err
	}
	var s redisStats
	for _, line := range strings.Split(txt, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch k {
		case "used_cpu_user", "used_cpu_sys":
			s.cpu += x
		case "total_commands_processed":
			s.cmds = x
		case "used_memory":
			s.mem = x
		}
	}
	return s, nil
}

func (a redisStats) sub(b redisStats) redisStats {
	return redisStats{cpu: a.cpu - b.cpu, cmds: a.cmds - b.cmds - 1, mem: a.mem - b.mem}
}

// percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func sortedCopy(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}

// round keeps d decimals, for readable JSON.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}
