package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// A workflow's node map lives while any node is unfinished, expires result
// TTL after the last node finished, by any path (run, cancel), and stops
// expiring when a finished node is retried.
func TestAWorkflowsNodeMapExpiresAfterItsLastNode(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{ResultTTL: time.Hour})
	ctx := context.Background()
	w := &deps.Workflow{Nodes: []deps.Node{
		{Name: "first", Spec: tasks.Spec{Name: "record"}},
		{Name: "later", Spec: tasks.Spec{Name: "gated", In: time.Hour}},
	}}
	sw, err := e.client.SubmitWorkflow(ctx, w)
	require.NoError(t, err)
	key := e.keys.Workflow(sw.ID)
	nodes, err := e.client.GetWorkflow(ctx, sw.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"first", "later"}, []string{nodes[0].Name, nodes[1].Name})
	require.Equal(t, tasks.Scheduled, nodes[0].Task.State)

	e.start()
	require.Equal(t, tasks.Succeeded, e.wait(sw.Tasks["first"], 10*time.Second).State)
	require.Zero(t, e.mr.TTL(key), "a node still scheduled keeps the map")

	_, err = e.client.Cancel(ctx, sw.Tasks["later"])
	require.NoError(t, err)
	require.Equal(t, time.Hour, e.mr.TTL(key), "the last node finished (canceled): the map expires with the records")

	e.mr.FastForward(59 * time.Minute)
	_, err = e.client.Retry(ctx, sw.Tasks["later"]) // it runs at once, and waits at the gate
	require.NoError(t, err)
	e.waitRun(sw.Tasks["later"], 10*time.Second)
	require.Zero(t, e.mr.TTL(key), "a retried node reopens the workflow")
	close(e.gate)
	require.Equal(t, tasks.Succeeded, e.wait(sw.Tasks["later"], 10*time.Second).State)
	require.Equal(t, time.Hour, e.mr.TTL(key), "an hour from the retried node's end, not from the first")

	nodes, err = e.client.GetWorkflow(ctx, sw.ID)
	require.NoError(t, err)
	for _, n := range nodes {
		require.Equal(t, tasks.Succeeded, n.Task.State, n.Name)
		require.Equal(t, sw.ID, n.Task.Workflow)
		require.Equal(t, n.Name, n.Task.Node)
	}
	e.mr.FastForward(time.Hour + time.Second)
	_, err = e.client.GetWorkflow(ctx, sw.ID)
	require.ErrorIs(t, err, wire.ErrNotFound, "expired with its records")
}

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
	require.NoError(t, e.rdb.HSet(ctx, e.keys.Task(id), transport.FImmutable, "[").Err()) // damaged
	e.start()
	require.Eventually(t, func() bool {
		st, _ := e.rdb.HGet(ctx, e.keys.Task(id), transport.FState).Result()
		return st == string(tasks.Failed)
	}, 10*time.Second, 5*time.Millisecond)
	key := e.keys.Workflow(sw.ID)
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
	key := e.keys.Workflow(sw.ID)
	sched := e.start()
	require.Equal(t, tasks.Failed, e.wait(sw.Tasks["c"], 10*time.Second).State)
	e.waitRun(sw.Tasks["g"], 10*time.Second)
	_, err = e.client.Cancel(ctx, sw.Tasks["g"])
	require.NoError(t, err)
	close(e.gate)
	require.Eventually(t, func() bool { return sched.runningCount() == 0 }, 10*time.Second, time.Millisecond,
		"the handler returned, and its daemon is done with it")
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
	key := e.keys.Workflow(sw.ID)
	require.Equal(t, time.Hour, e.mr.TTL(key), "reopened, and closed again by b's new end")
	_, err = e.client.GetWorkflow(ctx, sw.ID)
	require.NoError(t, err)
}

func redisZ(id string) redis.Z { return redis.Z{Score: 0, Member: id} }
