package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// A wide workflow is written whole on miniredis (the embedded Redis of
// `dueq serve`), whose Lua could not join thousands of events lines at
// once: the call failed after writing everything. (Its Lua is slow too: at
// deps.MaxNodes the call outlasts the client's read timeout, so the width
// here is the one that broke.)
func TestAWideWorkflowIsWrittenOnMiniredis(t *testing.T) {
	const width = 4000
	t.Parallel()
	e := setup(t, Config{})
	w := &deps.Workflow{}
	for i := range width {
		w.Nodes = append(w.Nodes, deps.Node{Name: fmt.Sprintf("n%d", i), Spec: tasks.Spec{Name: "record"}})
	}
	msgs := e.mr.NewSubscriber()
	msgs.Subscribe(e.client.x.keys.EventsChannel())
	got := make(chan string, 1)
	go func() { got <- (<-msgs.Messages()).Message }() // miniredis delivers while the script runs
	// Its Lua is slow under the race detector: wait for the answer.
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr(), ReadTimeout: 2 * time.Minute})
	t.Cleanup(func() { _ = rdb.Close() })
	c, err := NewClient(rdb, Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	sw, err := c.SubmitWorkflow(context.Background(), w)
	require.NoError(t, err)
	nodes, err := c.GetWorkflow(context.Background(), sw.ID)
	require.NoError(t, err)
	require.Len(t, nodes, width)
	select {
	case m := <-got:
		es, err := transport.ParseEvents(m)
		require.NoError(t, err)
		require.Len(t, es, width, "one queued line per node, in one message")
	case <-time.After(10 * time.Second):
		t.Fatal("no events message")
	}
}
