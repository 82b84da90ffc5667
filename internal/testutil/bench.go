package testutil

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// BenchRedis returns the Redis of DUEQ_BENCH_REDIS (host:port, flushed), or
// a miniredis; hot-path figures mean something only on a real Redis.
func BenchRedis(b *testing.B) *redis.Client {
	b.Helper()
	addr := os.Getenv("DUEQ_BENCH_REDIS")
	if addr == "" {
		addr = miniredis.RunT(b).Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return rdb
}

// ScriptCost starts counting the Redis time spent in scripts on a real
// Redis; the function it returns reports it as redis-µs/op: the server's
// share of the hot path, which a wall-clock ns/op hides behind round
// trips. Use it as "defer testutil.ScriptCost(b, rdb)()" after the setup.
// On a miniredis it reports nothing.
func ScriptCost(b *testing.B, rdb *redis.Client) func() {
	b.Helper()
	if os.Getenv("DUEQ_BENCH_REDIS") == "" {
		return func() {}
	}
	ctx := context.Background()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	return func() {
		text, err := rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		var usec float64
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, "cmdstat_eval") {
				continue
			}
			for _, kv := range strings.Split(strings.TrimSpace(line[strings.Index(line, ":")+1:]), ",") {
				if v, ok := strings.CutPrefix(kv, "usec="); ok {
					n, _ := strconv.ParseFloat(v, 64)
					usec += n
				}
			}
		}
		b.ReportMetric(usec/float64(b.N), "redis-µs/op")
	}
}
