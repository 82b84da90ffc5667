package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
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
	key := e.client.x.keys.Workflow(sw.ID)
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
	require.ErrorIs(t, err, ErrNotFound, "expired with its records")
}
