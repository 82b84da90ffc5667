package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/scheduler"
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
	e := setup(t, scheduler.Config{})
	w := &deps.Workflow{}
	for i := range width {
		w.Nodes = append(w.Nodes, deps.Node{Name: fmt.Sprintf("n%d", i), Spec: tasks.Spec{Name: "record"}})
	}
	msgs := e.mr.NewSubscriber()
	msgs.Subscribe(e.keys.EventsChannel())
	got := make(chan string, 1)
	go func() { got <- (<-msgs.Messages()).Message }() // miniredis delivers while the script runs
	// Its Lua is slow under the race detector: wait for the answer.
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr(), ReadTimeout: 2 * time.Minute})
	t.Cleanup(func() { _ = rdb.Close() })
	c, err := New(rdb, Config{})
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

func TestRejectedWorkflowWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	for name, w := range map[string]*deps.Workflow{
		"cycle": {Nodes: []deps.Node{
			{Name: "a", Spec: tasks.Spec{Name: "record"}, After: []string{"c"}},
			{Name: "b", Spec: tasks.Spec{Name: "record"}, After: []string{"a"}},
			{Name: "c", Spec: tasks.Spec{Name: "record"}, After: []string{"b"}},
		}},
		"unknown": {Nodes: []deps.Node{{Name: "a", Spec: tasks.Spec{Name: "record"}, After: []string{"zz"}}}},
		"duplicate": {Nodes: []deps.Node{
			{Name: "a", Spec: tasks.Spec{Name: "record"}}, {Name: "a", Spec: tasks.Spec{Name: "record"}},
		}},
		"bad spec": {Nodes: []deps.Node{{Name: "a", Spec: tasks.Spec{Name: "record", In: -time.Second}}}},
	} {
		_, err := e.client.SubmitWorkflow(context.Background(), w)
		require.ErrorIs(t, err, tasks.ErrInvalid, name)
		if name == "cycle" {
			require.ErrorIs(t, err, deps.ErrCycle)
			require.ErrorContains(t, err, "->")
		}
	}
	require.Empty(t, e.mr.Keys())
}

func TestUnknownParentIsRejectedAndNothingIsWritten(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	p := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	before := e.mr.Keys()
	_, err := e.client.Submit(context.Background(), tasks.Spec{Name: "parents", After: []string{p.ID, "NO-SUCH-TASK"}, Key: "k"})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "parent NO-SUCH-TASK not found")
	require.Equal(t, before, e.mr.Keys())
	_, err = e.client.Submit(context.Background(), tasks.Spec{Name: "parents", After: []string{p.ID, p.ID}})
	require.ErrorIs(t, err, tasks.ErrInvalid)
}

func TestSubmitReturnsTheChildAsStored(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	p := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	c := e.submit(tasks.Spec{Name: "parents", After: []string{p.ID}})
	require.Equal(t, tasks.Waiting, c.State)
	require.Equal(t, 1, c.Pending)
	require.Equal(t, []string{p.ID}, c.Parents)
}
