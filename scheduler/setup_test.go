package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/clock"
	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
)

// env is one test's Redis, registry and client, and a store of its
// namespace for calling the scripts directly.
type env struct {
	t      *testing.T
	mr     *miniredis.Miniredis
	rdb    *redis.Client
	reg    *tasks.Registry
	client *client.Client
	store  *store.Store
	keys   store.Keys
	cfg    Config
	runs   *runLog
	gate   chan struct{} // "gated" tasks return once it is closed
}

// runLog records each handler run, so tests can count them.
type runLog struct {
	mu   sync.Mutex
	ids  []string
	seen map[string]int
	ch   chan string
}

func (l *runLog) add(id string) {
	l.mu.Lock()
	l.ids = append(l.ids, id)
	l.seen[id]++
	l.mu.Unlock()
	select {
	case l.ch <- id:
	default:
	}
}

func (l *runLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[id]
}

func (l *runLog) order() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// setup starts a miniredis and registers the test handlers: "record" (logs
// the run and returns its args), "block" (waits for its context), "gated"
// (logs the run, waits for e.gate to close, returns "done").
func setup(t *testing.T, cfg Config) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	e := &env{t: t, mr: mr, rdb: rdb, reg: tasks.NewRegistry(), cfg: cfg,
		runs: &runLog{seen: map[string]int{}, ch: make(chan string, 1000)}, gate: make(chan struct{})}
	e.reg.Register("record", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		return c.Task.Args, nil
	})
	e.reg.Register("block", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	e.reg.Register("gated", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		<-e.gate
		return "done", nil
	})
	var err error
	e.client, err = client.New(rdb, clientConfig(cfg))
	require.NoError(t, err)
	full := cfg.WithDefaults()
	e.keys, err = store.NewKeys(full.Namespace)
	require.NoError(t, err)
	e.store = store.New(rdb, e.keys, full.ResultTTL, full.Clock)
	t.Cleanup(func() { _ = e.client.Close() })
	return e
}

// clientConfig is the configuration of a client of the daemons that cfg
// configures.
func clientConfig(cfg Config) client.Config {
	return client.Config{Namespace: cfg.Namespace, Partitions: cfg.Partitions, ResultTTL: cfg.ResultTTL, SafetyWait: cfg.SafetyWait, Logger: cfg.Logger, Clock: cfg.Clock}
}

// fakeTime gives the daemons e starts a clock moved by hand (clock.Fake),
// which moves miniredis's clock, Redis's, with it: leases are renewed and
// expire when the test advances it, not after real time went by.
func (e *env) fakeTime() *clock.Fake {
	clk := clock.NewFake(time.Now().Truncate(time.Millisecond), e.mr.SetTime)
	e.cfg.Clock = clk
	return clk
}

// advanceWhen moves clk on by d once n timers wait on it (the lease
// keeper's ticker; and the dispatcher's, when it waits for a deadline), so
// none misses the move.
func advanceWhen(t *testing.T, clk *clock.Fake, n int, d time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return clk.Waiters() >= n }, 5*time.Second, time.Millisecond)
	clk.Advance(d)
}

// start runs a Scheduler with e's config and registry until the test ends.
func (e *env) start(mod ...func(*Config)) *Scheduler {
	e.t.Helper()
	cfg := e.cfg
	for _, m := range mod {
		m(&cfg)
	}
	return e.startWith(e.reg, cfg)
}

// startWith runs a Scheduler with reg and cfg until the test ends.
func (e *env) startWith(reg *tasks.Registry, cfg Config) *Scheduler {
	e.t.Helper()
	s, err := New(e.rdb, reg, cfg)
	require.NoError(e.t, err)
	require.NoError(e.t, s.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func (e *env) submit(spec tasks.Spec) *tasks.Task {
	e.t.Helper()
	task, err := e.client.Submit(context.Background(), spec)
	require.NoError(e.t, err)
	return task
}

// wait waits for a task to finish, for at most d.
func (e *env) wait(id string, d time.Duration) *tasks.Task {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	task, err := e.client.Wait(ctx, id)
	require.NoError(e.t, err, "task %s did not finish within %s", id, d)
	return task
}

// waitRun waits until the handler of task id has started.
func (e *env) waitRun(id string, d time.Duration) {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return e.runs.count(id) > 0 }, d, time.Millisecond)
}

// testClaimer claims, under lease, the tasks of the test handlers, as a
// daemon named "test".
func testClaimer(lease time.Duration) store.Claimer {
	return store.NewClaimer("test", []string{"record", "block", "gated", "parents", "noop"}, lease)
}

// claim claims up to want of ids in queue for cl with claim.lua, as a
// daemon does, and returns what it got and 4 heads of the queue.
func (e *env) claim(queue string, cl store.Claimer, want int, ids ...string) ([]store.Claimed, []store.Head, error) {
	r, err := e.store.Claim(context.Background(), store.ClaimParams{Queue: queue, Claimer: cl, Want: want, Heads: 4, Candidates: store.Plain(ids...)})
	return r.Got, r.Heads, err
}
