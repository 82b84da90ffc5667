package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// startOther runs a second daemon on e's Redis with its own registry: it
// serves queue "other" with one loop and has only "hold", which holds its
// loop until the test ends.
func (e *env) startOther() *scheduler.Scheduler {
	e.t.Helper()
	reg := tasks.NewRegistry()
	release := make(chan struct{})
	reg.Register("hold", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return "held", nil
	})
	s := e.startWith(reg, scheduler.Config{Workers: 1, Queues: []string{"other"}})
	e.t.Cleanup(func() { close(release) }) // runs before Stop
	return s
}

func TestDaemonsListsEachDaemonsQueuesAndHandlers(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 2})
	a, b := e.start(), e.startOther()
	ctx := context.Background()

	ds, err := e.client.Daemons(ctx)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	byID := map[string]wire.Daemon{ds[0].ID: ds[0], ds[1].ID: ds[1]}
	require.Less(t, ds[0].ID, ds[1].ID, "sorted by id")
	require.Equal(t, &wire.DaemonInfo{Queues: []string{"default"}, Handlers: []string{"record"}, Workers: 2}, byID[a.ID()].Info)
	require.Equal(t, &wire.DaemonInfo{Queues: []string{"other"}, Handlers: []string{"hold"}, Workers: 1}, byID[b.ID()].Info)
	for _, d := range ds {
		require.WithinDuration(t, time.Now(), d.LastSeen, 10*time.Second)
	}

	st, err := e.client.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{ds[0].ID, ds[1].ID}, st.Daemons)
	require.Equal(t, ds, st.DaemonInfo)
	require.Empty(t, st.Stranded)
}

func TestDaemonsShowsABadOrMissingInfoAsUnknown(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	now := time.Now()
	k := e.keys
	for id, seen := range map[string]time.Time{"garbled": now, "silent": now, "listless": now, "gone": now.Add(-time.Minute)} {
		require.NoError(t, e.rdb.ZAdd(ctx, k.Daemons(), redis.Z{Score: float64(seen.UnixMilli()), Member: id}).Err())
	}
	require.NoError(t, e.rdb.Set(ctx, k.Daemon("garbled"), `{"queues": 7`, 0).Err())
	require.NoError(t, e.rdb.Set(ctx, k.Daemon("listless"), `{"queues":["default","a b"],"handlers":["echo",""],"workers":-3}`, 0).Err())
	require.NoError(t, e.rdb.Set(ctx, k.Daemon("gone"), `{"queues":["default"],"handlers":["echo"],"workers":1}`, 0).Err())

	ds, err := e.client.Daemons(ctx)
	require.NoError(t, err)
	require.Len(t, ds, 3, "a daemon not seen within 3 safety waits is not alive")
	require.Equal(t, "garbled", ds[0].ID)
	require.Nil(t, ds[0].Info, "unreadable info is unknown")
	require.Equal(t, "listless", ds[1].ID)
	require.Equal(t, &wire.DaemonInfo{Queues: []string{"default"}, Handlers: []string{"echo"}, Workers: 0}, ds[1].Info, "names that cannot be names are left out")
	require.Equal(t, "silent", ds[2].ID)
	require.Nil(t, ds[2].Info, "missing info is unknown")

	// A due task no known daemon can run is not reported: a daemon of
	// unknown info may run it.
	e.submit(tasks.Spec{Name: "ghost", Queue: "nobody"})
	st, err := e.client.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"garbled", "listless", "silent"}, st.Daemons)
	require.Empty(t, st.Stranded)
}

func TestStatsReportsDueTasksNoLiveDaemonRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 2})
	e.start()
	e.startOther()
	ctx := context.Background()

	// The other daemon's one loop is held, so what is due in its queue
	// stays due: a task of its own handler, and two it does not have.
	held := e.submit(tasks.Spec{Name: "hold", Queue: "other"})
	e.waitRun(held.ID, 10*time.Second)
	e.submit(tasks.Spec{Name: "hold", Queue: "other"})
	e.submit(tasks.Spec{Name: "record", Queue: "other"})
	e.submit(tasks.Spec{Name: "record", Queue: "other"})
	// A queue no daemon serves, and a task not due yet.
	e.submit(tasks.Spec{Name: "ghost", Queue: "nobody"})
	e.submit(tasks.Spec{Name: "ghost", Queue: "nobody", In: time.Hour})

	st, err := e.client.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.DaemonInfo, 2)
	require.Equal(t, []wire.Stranded{
		{Queue: "nobody", Handler: "ghost", Count: 1, Reason: "no live daemon serves queue nobody"},
		{Queue: "other", Handler: "record", Count: 2, Reason: "no live daemon serving other can run record"},
	}, st.Stranded)
	require.Equal(t, "2 due tasks of handler record in queue other: no live daemon serving other can run record", st.Stranded[1].String())
	require.Equal(t, "1 due task of handler ghost in queue nobody: no live daemon serves queue nobody", st.Stranded[0].String())
	require.EqualValues(t, 3, st.Queues["other"].Scheduled)
	require.EqualValues(t, 1, st.Queues["other"].Running)
}

func TestStatsCountsStrandedTasksOfASample(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	specs := make([]tasks.Spec, StrandedSample+50)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "ghost", Queue: "nobody"}
	}
	_, err := e.client.SubmitMany(context.Background(), specs)
	require.NoError(t, err)
	st, err := e.client.Stats(context.Background())
	require.NoError(t, err)
	require.Empty(t, st.Daemons)
	require.Equal(t, []wire.Stranded{{Queue: "nobody", Handler: "ghost", Count: StrandedSample, Reason: "no daemon is alive"}}, st.Stranded)
}

func TestReachOf(t *testing.T) {
	t.Parallel()
	known := func(queues, handlers []string) wire.Daemon {
		return wire.Daemon{ID: "d", Info: &wire.DaemonInfo{Queues: queues, Handlers: handlers}}
	}
	a := known([]string{"default"}, []string{"echo", "sleep"})
	b := known([]string{"slow"}, []string{"shell"})
	for _, c := range []struct {
		name           string
		ds             []wire.Daemon
		queue, handler string
		want           Reach
		problem        string
	}{
		{"none alive", nil, "default", "echo", Reach{}, "no daemon is alive"},
		{"runs", []wire.Daemon{a, b}, "default", "echo", Reach{Alive: true, Handler: true, Queue: true, Runs: true}, ""},
		{"elsewhere", []wire.Daemon{a, b}, "default", "shell", Reach{Alive: true, Handler: true, Queue: true}, "no live daemon serving default can run shell"},
		{"nowhere", []wire.Daemon{a, b}, "default", "http", Reach{Alive: true, Queue: true}, "no live daemon serving default can run http"},
		{"queue unserved", []wire.Daemon{a, b}, "fast", "echo", Reach{Alive: true, Handler: true}, "no live daemon serves queue fast"},
		{"unknown may run anything", []wire.Daemon{a, {ID: "old"}}, "fast", "http", Reach{Alive: true, Handler: true, Queue: true, Runs: true}, ""},
	} {
		got := ReachOf(c.ds, c.queue, c.handler)
		require.Equal(t, c.want, got, c.name)
		require.Equal(t, c.problem, got.Problem(c.queue, c.handler), c.name)
	}
}

func TestRetryableFollowsRetry(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 2})
	e.reg.Register("fail", func(context.Context, *tasks.Call) (any, error) { return nil, errors.New("boom") })
	e.start()
	ctx := context.Background()
	parent := e.submit(tasks.Spec{Name: "fail"})
	child := e.submit(tasks.Spec{Name: "record", After: []string{parent.ID}})
	later := e.submit(tasks.Spec{Name: "record", In: time.Hour})

	for _, c := range []struct {
		id        string
		retryable bool
	}{{later.ID, false}, {e.wait(parent.ID, 10*time.Second).ID, true}, {e.wait(child.ID, 10*time.Second).ID, false}} {
		tk, err := e.client.Get(ctx, c.id)
		require.NoError(t, err)
		verdict := Retryable(tk)
		_, err = e.client.Retry(ctx, c.id)
		if c.retryable {
			require.NoError(t, verdict, tk.State)
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, verdict, wire.ErrNotRetryable, tk.State)
			require.ErrorIs(t, err, wire.ErrNotRetryable)
			require.ErrorContains(t, err, verdict.Error())
		}
	}
}
