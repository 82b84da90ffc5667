package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// env is one test's Redis, a client of it, and a registry for the daemons
// a test starts there.
type env struct {
	t      *testing.T
	mr     *miniredis.Miniredis
	rdb    *redis.Client
	reg    *tasks.Registry
	client *Client
	keys   store.Keys
	cfg    scheduler.Config // of the daemons; the client's is its part of it
	runs   *runLog
}

// runLog counts each handler run, by task id.
type runLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *runLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[id]++
}

func (l *runLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[id]
}

// setup starts a miniredis and a client of it, configured as the daemons
// of cfg are, and registers handler "record" (logs the run and returns its
// args) for the daemons e.start runs.
func setup(t *testing.T, cfg scheduler.Config) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	e := &env{t: t, mr: mr, rdb: rdb, reg: tasks.NewRegistry(), cfg: cfg, runs: &runLog{seen: map[string]int{}}}
	e.reg.Register("record", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		return c.Task.Args, nil
	})
	var err error
	e.client, err = New(rdb, Config{Namespace: cfg.Namespace, ResultTTL: cfg.ResultTTL, SafetyWait: cfg.SafetyWait, Logger: cfg.Logger, Clock: cfg.Clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.client.Close() })
	e.keys, err = store.NewKeys(e.client.cfg.Namespace)
	require.NoError(t, err)
	return e
}

// start runs a daemon with e's config and registry until the test ends.
func (e *env) start() *scheduler.Scheduler {
	e.t.Helper()
	return e.startWith(e.reg, e.cfg)
}

// startWith runs a daemon with reg and cfg until the test ends.
func (e *env) startWith(reg *tasks.Registry, cfg scheduler.Config) *scheduler.Scheduler {
	e.t.Helper()
	s, err := scheduler.New(e.rdb, reg, cfg)
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

// pendingOf returns the id of schedule id's pending occurrence, as its
// record in Redis names it.
func (e *env) pendingOf(id string) string {
	e.t.Helper()
	s, err := e.client.schedule(context.Background(), id)
	require.NoError(e.t, err)
	return s.Pending
}

// waitRun waits until the handler of task id has started.
func (e *env) waitRun(id string, d time.Duration) {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return e.runs.count(id) > 0 }, d, time.Millisecond)
}
