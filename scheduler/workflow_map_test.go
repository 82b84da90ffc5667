package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// A workflow node whose record is damaged is failed under its claim (the
// corrupt-record fallback of parseClaim). It is the workflow's last open
// node, so the node map should get its TTL like after any other finish.
func TestCorruptWorkflowNodeLetsItsMapExpire(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ResultTTL: time.Hour})
	ctx := context.Background()
	sw, err := e.client.SubmitWorkflow(ctx, &deps.Workflow{Nodes: []deps.Node{{Name: "a", Spec: tasks.Spec{Name: "record"}}}})
	require.NoError(t, err)
	id := sw.Tasks["a"]
	require.NoError(t, e.rdb.HSet(ctx, e.client.x.keys.Task(id), transport.FArgs, "[").Err()) // damaged
	e.start()
	require.Eventually(t, func() bool {
		st, _ := e.rdb.HGet(ctx, e.client.x.keys.Task(id), transport.FState).Result()
		return st == string(tasks.Failed)
	}, 10*time.Second, 5*time.Millisecond)
	key := e.client.x.keys.Workflow(sw.ID)
	open, _ := e.rdb.HGet(ctx, key, "#open").Result()
	require.Equal(t, time.Hour, e.mr.TTL(key), "the only node failed: the map should expire (#open is %s)", open)
}

// A node failed by policy (its parent failed) decrements the map too, and
// a node canceled while it runs is counted once, not again when its
// handler's late finish is refused.
func TestWorkflowMapCountsEachNodeOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ResultTTL: time.Hour})
	ctx := context.Background()
	e.reg.Register("fail", func(context.Context, *tasks.Call) (any, error) { return nil, errors.New("no") })
	sw, err := e.client.SubmitWorkflow(ctx, &deps.Workflow{Nodes: []deps.Node{
		{Name: "p", Spec: tasks.Spec{Name: "fail"}},
		{Name: "c", Spec: tasks.Spec{Name: "record"}, After: []string{"p"}},
		{Name: "g", Spec: tasks.Spec{Name: "gated"}},
		{Name: "later", Spec: tasks.Spec{Name: "record", In: time.Hour}},
	}})
	require.NoError(t, err)
	key := e.client.x.keys.Workflow(sw.ID)
	e.start()
	require.Equal(t, tasks.Failed, e.wait(sw.Tasks["c"], 10*time.Second).State)
	e.waitRun(sw.Tasks["g"], 10*time.Second)
	_, err = e.client.Cancel(ctx, sw.Tasks["g"])
	require.NoError(t, err)
	close(e.gate)
	time.Sleep(300 * time.Millisecond) // the refused late finish
	open, _ := e.rdb.HGet(ctx, key, "#open").Result()
	require.Equal(t, "1", open, "only 'later' is open")
	require.Zero(t, e.mr.TTL(key))
	_, err = e.client.Cancel(ctx, sw.Tasks["later"])
	require.NoError(t, err)
	require.Equal(t, time.Hour, e.mr.TTL(key))
}

// A node retried just before its workflow's map expired reopens it: the
// workflow reads back after the hour, and expires an hour after the node's
// new end.
func TestARetryJustBeforeTheMapExpiresReopensIt(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ResultTTL: time.Hour})
	ctx := context.Background()
	e.reg.Register("fail", func(context.Context, *tasks.Call) (any, error) { return nil, errors.New("no") })
	sw, err := e.client.SubmitWorkflow(ctx, &deps.Workflow{Nodes: []deps.Node{
		{Name: "a", Spec: tasks.Spec{Name: "record"}},
		{Name: "b", Spec: tasks.Spec{Name: "fail", In: 30 * time.Minute}},
	}})
	require.NoError(t, err)
	e.start()
	require.Equal(t, tasks.Succeeded, e.wait(sw.Tasks["a"], 10*time.Second).State)
	_, err = e.client.Cancel(ctx, sw.Tasks["b"])
	require.NoError(t, err)
	// a's record and the map expire after an hour; b's record lives on
	// because b is retried just before the map goes.
	e.mr.FastForward(59 * time.Minute)
	_, err = e.client.Retry(ctx, sw.Tasks["b"])
	require.NoError(t, err)
	require.Equal(t, tasks.Failed, e.wait(sw.Tasks["b"], 10*time.Second).State, "it ran again")
	key := e.client.x.keys.Workflow(sw.ID)
	require.Equal(t, time.Hour, e.mr.TTL(key), "reopened, and closed again by b's new end")
	_, err = e.client.GetWorkflow(ctx, sw.ID)
	require.NoError(t, err)
}

// The task a handler receives says which daemon runs it, as its record
// does once claimed.
func TestHandlerSeesTheDaemonThatRunsIt(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	var mu sync.Mutex
	var seen string
	done := make(chan struct{})
	e.reg.Register("who", func(_ context.Context, c *tasks.Call) (any, error) {
		mu.Lock()
		seen = c.Task.Daemon
		mu.Unlock()
		close(done)
		return nil, nil
	})
	tk := e.submit(tasks.Spec{Name: "who", In: time.Hour})
	// As after an attempt that another daemon handed back.
	require.NoError(t, e.rdb.HSet(ctx, e.client.x.keys.Task(tk.ID), transport.FDaemon, "other-daemon").Err())
	require.NoError(t, e.rdb.ZAdd(ctx, e.client.x.keys.Due(tasks.DefaultQueue), redisZ(tk.ID)).Err())
	s := e.start()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("never ran")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, s.ID(), seen, "c.Task.Daemon during the run")
}

func redisZ(id string) redis.Z { return redis.Z{Score: 0, Member: id} }
