package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
	"github.com/dueq/dueq/wire"
)

// An echo chain nests each parent's result one outcome deeper. The node
// whose result would pass the depth that can be stored fails with that
// reason, its result is never stored, and its child fails by policy naming
// it: nobody fails as "corrupt" for reading what another task wrote.
func TestAResultThatCannotBeStoredFailsItsOwnTask(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	e.reg.Register("echo", tasks.Echo)
	e.start()
	// Root args nest 995 deep: its result 996, each child's 3 more.
	root := e.submit(tasks.Spec{Name: "echo", Args: json.RawMessage(strings.Repeat("[", 995) + strings.Repeat("]", 995))})
	ids := []string{root.ID}
	for range 3 {
		ids = append(ids, e.submit(tasks.Spec{Name: "echo", After: []string{ids[len(ids)-1]}}).ID)
	}
	got := make([]*tasks.Task, len(ids))
	for i, id := range ids {
		got[i] = e.wait(id, 10*time.Second)
	}
	require.Equal(t, tasks.Succeeded, got[0].State, "result nests 996 deep")
	require.Equal(t, tasks.Succeeded, got[1].State, "result nests 999 deep: %s", got[1].Error)
	require.Equal(t, tasks.Failed, got[2].State)
	require.Contains(t, got[2].Error, "handler result cannot be stored: result: JSON nested 1002 levels deep, more than the 1000 that can be stored")
	require.Empty(t, got[2].Result)
	require.Equal(t, 1, got[2].Attempts, "it ran, and failed with its own result")
	require.Equal(t, tasks.Failed, got[3].State)
	require.Contains(t, got[3].Error, ids[2], "the grandchild fails by policy, naming its parent")
	require.Zero(t, got[3].Attempts, "it never ran")
	for _, id := range ids {
		_, err := e.client.Get(context.Background(), id)
		require.NoError(t, err, "every record of the chain reads back")
	}
}

// A handler's result that is not valid UTF-8 fails its task (JSON readers
// would turn it into other text), and so does an unstorable result of a
// failing handler, which keeps the handler's own error first.
func TestAResultOfInvalidUTF8FailsItsTask(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	e.reg.Register("raw", func(context.Context, *tasks.Call) (any, error) {
		return json.RawMessage("\"\xff\""), nil
	})
	e.reg.Register("rawfail", func(context.Context, *tasks.Call) (any, error) {
		return json.RawMessage("[\"\xc3\"]"), errors.New("it broke")
	})
	e.start()
	tk := e.wait(e.submit(tasks.Spec{Name: "raw"}).ID, 10*time.Second)
	require.Equal(t, tasks.Failed, tk.State)
	require.Contains(t, tk.Error, "result: invalid UTF-8 at byte 1")
	require.Empty(t, tk.Result)
	tk = e.wait(e.submit(tasks.Spec{Name: "rawfail"}).ID, 10*time.Second)
	require.Equal(t, tasks.Failed, tk.State)
	require.True(t, strings.HasPrefix(tk.Error, "it broke; handler result cannot be stored: result: invalid UTF-8"), tk.Error)
	require.Empty(t, tk.Result)
}

// A record damaged in Redis (here its name emptied) fails as corrupt, and
// every events line published about it parses, with "?" for the name.
func TestEventsAboutADamagedRecordAllParse(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	evs, err := e.client.Events(ctx)
	require.NoError(t, err)
	tk := e.submit(tasks.Spec{Name: "record"}) // due now; no daemon runs yet
	require.NoError(t, e.rdb.HSet(ctx, e.keys.Task(tk.ID), transport.FName, "").Err())
	e.start()
	var kinds []string
	timeout := time.After(10 * time.Second)
	for len(kinds) == 0 || kinds[len(kinds)-1] != wire.EventFailed {
		select {
		case ev := <-evs:
			if ev.ID != tk.ID || ev.Kind == wire.EventQueued {
				continue
			}
			require.NotEmpty(t, ev.Name, "event %+v", ev)
			require.Equal(t, "?", ev.Name, "event %+v: a damaged name is written as ?", ev)
			kinds = append(kinds, ev.Kind)
		case <-timeout:
			t.Fatalf("no failed event for %s; saw %v", tk.ID, kinds)
		}
	}
	require.Equal(t, []string{wire.EventStarted, wire.EventFailed}, kinds)
}
