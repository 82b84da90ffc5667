package scheduler

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

// noops submits n no-op tasks due now with the bulk path, a round trip
// at a time (1,000 tasks), so the index holds them in submit order: two
// trips on their way at once may run in either order, and the benchmarks
// name the tasks to claim in submit order.
func noops(b *testing.B, c *client.Client, n int) []*tasks.Task {
	b.Helper()
	var ts []*tasks.Task
	for lo := 0; lo < n; lo += 1000 {
		specs := make([]tasks.Spec, min(1000, n-lo))
		for i := range specs {
			specs[i] = tasks.Spec{Name: "noop"}
		}
		got, err := c.SubmitMany(context.Background(), specs)
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, got...)
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
	rdb := testutil.BenchRedis(b)
	c, err := client.New(rdb, client.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ts := noops(b, c, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	defer testutil.ScriptCost(b, rdb)()
	claimAll(b, benchStore(rdb), ts)
}

// BenchmarkFinish measures completions written 8 per call, as a daemon's
// loops hand them in; ns/op is per task.
func BenchmarkFinish(b *testing.B) {
	rdb := testutil.BenchRedis(b)
	c, err := client.New(rdb, client.Config{})
	if err != nil {
		b.Fatal(err)
	}
	st := benchStore(rdb)
	ts := claimAll(b, st, noops(b, c, b.N))
	b.ReportAllocs()
	b.ResetTimer()
	defer testutil.ScriptCost(b, rdb)()
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

// BenchmarkClaimFinish measures the Redis work per task of a daemon with
// one busy loop: each round trip writes the outcome of the task it ran
// and claims the next (one finish_claim.lua call).
func BenchmarkClaimFinish(b *testing.B) {
	rdb := testutil.BenchRedis(b)
	c, err := client.New(rdb, client.Config{})
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
	defer testutil.ScriptCost(b, rdb)()
	var running *tasks.Task
	for i := 0; i <= len(ids); i++ {
		var fp store.FinishParams
		var f *store.Finishing
		if running != nil {
			f = &store.Finishing{Task: running, State: tasks.Succeeded, Ran: true, Result: []byte("null")}
			fp.Tasks = []*store.Finishing{f}
		}
		var cp store.ClaimParams
		if i < len(ids) {
			cp = store.ClaimParams{Queue: "default", Claimer: testClaimer(15 * time.Second), Want: 1, Heads: 16, Candidates: store.Plain(ids[i])}
		}
		r := st.FinishAndClaim(ctx, fp, cp)
		if f != nil && (r.FinishErr != nil || f.Status != store.FinishDone) {
			b.Fatal("finish", r.FinishErr, f.Status)
		}
		if i < len(ids) {
			if r.ClaimErr != nil || len(r.Claim.Got) != 1 || r.Claim.Got[0].Err != nil {
				b.Fatal("claim", r.ClaimErr, r.Claim.Got)
			}
			running = r.Claim.Got[0].Task
		}
	}
}

// BenchmarkRound measures a busy daemon's round with 8 loops: one
// finish_claim.lua call writes the outcomes of the 8 tasks the loops ran
// and claims the next 8; ns/op and kinstr/op are per task.
func BenchmarkRound(b *testing.B) {
	rdb := testutil.BenchRedis(b)
	c, err := client.New(rdb, client.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st := benchStore(rdb)
	ts := noops(b, c, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	defer testutil.ScriptCost(b, rdb)()
	var running []*tasks.Task
	for lo := 0; lo <= len(ts); lo += 8 {
		fs := make([]*store.Finishing, 0, 8)
		for _, t := range running {
			fs = append(fs, &store.Finishing{Task: t, State: tasks.Succeeded, Ran: true, Result: []byte("null")})
		}
		var cp store.ClaimParams
		if lo < len(ts) {
			var ids []string
			for _, t := range ts[lo:min(lo+8, len(ts))] {
				ids = append(ids, t.ID)
			}
			cp = store.ClaimParams{Queue: "default", Claimer: testClaimer(time.Minute), Want: len(ids), Heads: 16, Candidates: store.Plain(ids...)}
		}
		r := st.FinishAndClaim(ctx, store.FinishParams{Tasks: fs}, cp)
		for _, f := range fs {
			if r.FinishErr != nil || f.Status != store.FinishDone {
				b.Fatal("finish", r.FinishErr, f.Status)
			}
		}
		running = running[:0]
		if cp.Queue != "" {
			if r.ClaimErr != nil || len(r.Claim.Got) != len(cp.Candidates) {
				b.Fatal("claim", r.ClaimErr, len(r.Claim.Got))
			}
			for _, g := range r.Claim.Got {
				running = append(running, g.Task)
			}
		}
	}
}

// BenchmarkRelease measures how long after its last parent's handler
// returned a child's handler starts: the parent's finish releases the child
// and announces it, and an idle loop claims it. Reports p50 and p99 in ms.
func BenchmarkRelease(b *testing.B) {
	rdb := testutil.BenchRedis(b)
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
	c, _ := client.New(rdb, clientConfig(cfg))
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
