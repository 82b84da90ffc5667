package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/client"
	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

// Real Redis caps what one Lua unpack may return (about 8000 values); a
// child of thousands of finished parents and a node of thousands of
// children must still be written whole.
func TestVeryWideGraphsOnRealRedis(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	d := startDaemon(t, r.URL, "--workers", "8")
	cl, err := client.New(r.client(t), client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	ctx := context.Background()

	parents := make([]string, 4500)
	for i := range parents {
		p, err := cl.Submit(ctx, tasks.Spec{Name: "echo"})
		require.NoError(t, err)
		parents[i] = p.ID
	}
	require.Eventually(t, func() bool {
		st, err := cl.Stats(ctx)
		return err == nil && st.States[tasks.Succeeded] == int64(len(parents))
	}, 60*time.Second, 20*time.Millisecond)
	child, err := cl.Submit(ctx, tasks.Spec{Name: "echo", After: parents}) // 9000 outcome values
	require.NoError(t, err)
	rec := waitDone(t, d.URL, child.ID)
	require.Equal(t, "succeeded", rec.State)

	w := &deps.Workflow{Nodes: []deps.Node{{Name: "root", Spec: tasks.Spec{Name: "echo", In: time.Hour}}}}
	for i := range 8500 {
		w.Nodes = append(w.Nodes, deps.Node{Name: fmt.Sprintf("n%d", i), Spec: tasks.Spec{Name: "echo"}, After: []string{"root"}})
	}
	sw, err := cl.SubmitWorkflow(ctx, w)
	require.NoError(t, err)
	root, err := cl.Get(ctx, sw.Tasks["root"])
	require.NoError(t, err)
	require.Len(t, root.Children, 8500)
}
