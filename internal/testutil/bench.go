package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
//
// With DUEQ_BENCH_CALLGRIND set to the directory where a redis-server run
// under valgrind --tool=callgrind writes its profiles
// (--callgrind-out-file=DIR/out.%p), it also reports that Redis's
// instructions per op (kinstr/op, all of its work, not only scripts'),
// zeroed at the start and dumped at the end with callgrind_control: a count
// that repeats from run to run whatever else the machine is doing.
func ScriptCost(b *testing.B, rdb *redis.Client) func() {
	b.Helper()
	if os.Getenv("DUEQ_BENCH_REDIS") == "" {
		return func() {}
	}
	ctx := context.Background()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	instructions := callgrind(b)
	return func() {
		instructions()
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

// callgrind zeroes the counters of the redis-server under callgrind when
// DUEQ_BENCH_CALLGRIND names its profile directory; the function it
// returns dumps them and reports kinstr/op.
func callgrind(b *testing.B) func() {
	b.Helper()
	dir := os.Getenv("DUEQ_BENCH_CALLGRIND")
	if dir == "" {
		return func() {}
	}
	if out, err := exec.Command("callgrind_control", "-z").CombinedOutput(); err != nil {
		b.Fatalf("callgrind_control -z: %v: %s", err, out)
	}
	return func() {
		old, _ := filepath.Glob(filepath.Join(dir, "out.*"))
		for _, f := range old {
			_ = os.Remove(f)
		}
		if out, err := exec.Command("callgrind_control", "-d").CombinedOutput(); err != nil {
			b.Fatalf("callgrind_control -d: %v: %s", err, out)
		}
		dumps, _ := filepath.Glob(filepath.Join(dir, "out.*"))
		var total float64
		for _, f := range dumps {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			if m := totalsRE.FindSubmatch(data); m != nil {
				n, _ := strconv.ParseFloat(string(m[1]), 64)
				total += n
			}
		}
		if total == 0 {
			b.Fatalf("no callgrind profile with totals in %s: run redis-server under valgrind --tool=callgrind --callgrind-out-file=%s/out.%%p", dir, dir)
		}
		b.ReportMetric(total/float64(b.N)/1000, "kinstr/op")
	}
}

var totalsRE = regexp.MustCompile(`(?m)^(?:summary|totals): (\d+)`)
