package scheduler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/internal/store"
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

// scriptCost starts counting the Redis time spent in scripts on a real
// Redis; the function it returns reports it as redis-µs/op: the server's
// share of the hot path, which a wall-clock ns/op hides behind round
// trips. Use it as "defer scriptCost(b, rdb)()" after the setup. On a
// miniredis it reports nothing.
func scriptCost(b *testing.B, rdb *redis.Client) func() {
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

func BenchmarkSubmit(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := tasks.Spec{Name: "noop", Args: json.RawMessage(`{"n":1}`), In: time.Hour}
	b.ReportAllocs()
	defer scriptCost(b, rdb)()
	for b.Loop() {
		if _, err := c.Submit(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitMany measures bulk submits of 100 tasks due now per call;
// ns/op is per task.
func BenchmarkSubmitMany(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer scriptCost(b, rdb)()
	for lo := 0; lo < b.N; lo += 100 {
		noops(b, c, min(100, b.N-lo))
	}
}

// noops submits n no-op tasks due now with the bulk path.
func noops(b *testing.B, c *Client, n int) []*tasks.Task {
	b.Helper()
	specs := make([]tasks.Spec, n)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "noop"}
	}
	ts, err := c.SubmitMany(context.Background(), specs)
	if err != nil {
		b.Fatal(err)
	}
	return ts
}

// benchStore returns a store of the default namespace on rdb, for calling
// the scripts as a daemon does.
func benchStore(rdb *redis.Client) *store.Store {
	cfg := Config{}.WithDefaults()
	keys, _ := store.NewKeys(cfg.Namespace)
	return store.New(rdb, keys, cfg.ResultTTL, cfg.Clock)
}

// claimAll claims ts 8 per call, as a daemon with 8 idle loops does, and
// returns them running.
func claimAll(b *testing.B, st *store.Store, ts []*tasks.Task) []*tasks.Task {
	b.Helper()
	out := make([]*tasks.Task, 0, len(ts))
	for lo := 0; lo < len(ts); lo += 8 {
		var ids []string
		for _, t := range ts[lo:min(lo+8, len(ts))] {
			ids = append(ids, t.ID)
		}
		r, err := st.Claim(context.Background(), store.ClaimParams{Queue: "default", Claimer: testClaimer(time.Minute),
			Want: len(ids), Heads: 16, Candidates: store.Plain(ids...)})
		if err != nil || len(r.Got) != len(ids) {
			b.Fatal("claim", err, len(r.Got))
		}
		for _, g := range r.Got {
			out = append(out, g.Task)
		}
	}
	return out
}

// BenchmarkClaim measures claims of 8 due tasks per call, as a daemon with
// 8 idle loops makes them; ns/op is per task.
func BenchmarkClaim(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ts := noops(b, c, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	defer scriptCost(b, rdb)()
	claimAll(b, benchStore(rdb), ts)
}

// BenchmarkFinish measures completions written 8 per call, as a daemon's
// loops hand them in; ns/op is per task.
func BenchmarkFinish(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	st := benchStore(rdb)
	ts := claimAll(b, st, noops(b, c, b.N))
	b.ReportAllocs()
	b.ResetTimer()
	defer scriptCost(b, rdb)()
	for lo := 0; lo < len(ts); lo += 8 {
		fs := make([]*store.Finishing, 0, 8)
		for _, t := range ts[lo:min(lo+8, len(ts))] {
			fs = append(fs, &store.Finishing{Task: t, State: tasks.Succeeded, Ran: true, Result: []byte("null")})
		}
		if _, err := st.Finish(context.Background(), store.FinishParams{Tasks: fs}); err != nil {
			b.Fatal("finish", err)
		}
		for _, f := range fs {
			if f.Status != store.FinishDone {
				b.Fatal("finish refused", f.Task.ID)
			}
		}
	}
}

// BenchmarkClaimFinish measures one claim and one finish of a single task,
// the Redis work per task of a daemon with one busy loop.
func BenchmarkClaimFinish(b *testing.B) {
	rdb := benchRedis(b)
	c, err := NewClient(rdb, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st := benchStore(rdb)
	ids := make([]string, 0, b.N)
	for range b.N {
		t, err := c.Submit(ctx, tasks.Spec{Name: "noop"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, t.ID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer scriptCost(b, rdb)()
	for _, id := range ids {
		r, err := st.Claim(ctx, store.ClaimParams{Queue: "default", Claimer: testClaimer(15 * time.Second), Want: 1, Heads: 16, Candidates: store.Plain(id)})
		if err != nil || len(r.Got) != 1 || r.Got[0].Err != nil {
			b.Fatal("claim", err, r.Got)
		}
		f := &store.Finishing{Task: r.Got[0].Task, State: tasks.Succeeded, Ran: true, Result: []byte("null")}
		if _, err := st.Finish(ctx, store.FinishParams{Tasks: []*store.Finishing{f}, Heads: 16}); err != nil || f.Status != store.FinishDone {
			b.Fatal("finish", err, f.Status)
		}
	}
}

// BenchmarkRelease measures how long after its last parent's handler
// returned a child's handler starts: the parent's finish releases the child
// and announces it, and an idle loop claims it. Reports p50 and p99 in ms.
func BenchmarkRelease(b *testing.B) {
	rdb := benchRedis(b)
	reg := tasks.NewRegistry()
	var parentDone, childStart sync.Map
	reg.Register("parent", func(ctx context.Context, c *tasks.Call) (any, error) {
		parentDone.Store(c.Task.ID, time.Now())
		return nil, nil
	})
	reg.Register("child", func(ctx context.Context, c *tasks.Call) (any, error) {
		childStart.Store(c.Task.Parents[0], time.Now())
		return nil, nil
	})
	cfg := Config{Workers: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := New(rdb, reg, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(ctx)
	c, _ := NewClient(rdb, cfg)
	defer c.Close()
	var lat []time.Duration
	for b.Loop() {
		p, err := c.Submit(ctx, tasks.Spec{Name: "parent", In: 5 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := c.Submit(ctx, tasks.Spec{Name: "child", After: []string{p.ID}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Wait(ctx, ch.ID); err != nil {
			b.Fatal(err)
		}
		done, _ := parentDone.Load(p.ID)
		start, _ := childStart.Load(p.ID)
		lat = append(lat, start.(time.Time).Sub(done.(time.Time)))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
