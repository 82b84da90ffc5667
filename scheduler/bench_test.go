package scheduler

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/tasks"
)

// benchRedis returns the Redis of DUEQ_BENCH_REDIS (host:port, flushed), or
// a miniredis; hot-path figures mean something only on a real Redis.
func benchRedis(b *testing.B) *redis.Client {
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

func BenchmarkSubmit(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := tasks.Spec{Name: "noop", Args: json.RawMessage(`{"n":1}`), In: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Submit(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimFinish measures one claim and one finish, the Redis work a
// loop does per task.
func BenchmarkClaimFinish(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ids := make([]string, 0, b.N)
	for range b.N {
		t, err := c.Submit(ctx, tasks.Spec{Name: "noop"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, t.ID)
	}
	now := time.Now().Add(time.Second).UnixMilli()
	b.ReportAllocs()
	b.ResetTimer()
	for _, id := range ids {
		got, _, err := c.x.claim(ctx, "default", now, now+15000, 1, 16, []string{id})
		if err != nil || len(got) != 1 || got[0].err != nil {
			b.Fatal("claim", err, got)
		}
		if ok, _, err := c.x.finish(ctx, got[0].task, tasks.Succeeded, now, []byte("null"), "", 16); err != nil || !ok {
			b.Fatal("finish", err)
		}
	}
}
