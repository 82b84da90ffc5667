package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// A claim.lua call gives a task to one claimer of the many that name it.
func TestClaimScriptGivesATaskToOneClaimer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := e.put(t, "default", nil)
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := e.claim("default", testClaimer(time.Minute), 1, task.ID)
			if err == nil && len(got) == 1 {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, won.Load())
	rec, err := e.store.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Running, rec.State)
	require.EqualValues(t, 1, rec.Run)
}

// A candidate that is not due yet is not claimed, and comes back as the
// head of its queue.
func TestClaimSkipsTasksNotYetDue(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := e.put(t, "default", func(t *tasks.Task) { t.Delay = time.Hour })
	got, hs, err := e.claim("default", testClaimer(time.Minute), 1, task.ID)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Len(t, hs, 1)
	require.Equal(t, task.ID, hs[0].ID)
}

// recover.lua re-queues a task whose lease expired, and fails it once it
// has lost its daemon more than max_recoveries times.
func TestTaskThatKeepsLosingItsDaemonFails(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := e.put(t, "default", nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		got, _, err := e.claim("default", testClaimer(0), 1, task.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		n, err := e.store.Recover(ctx, RecoverParams{Queue: "default", ID: task.ID, MaxRecoveries: 1})
		require.NoError(t, err)
		if i == 0 {
			require.EqualValues(t, RecoverRequeued, n)
		} else {
			require.EqualValues(t, RecoverFailed, n)
		}
	}
	rec, err := e.store.Get(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Failed, rec.State)
	require.Contains(t, rec.Error, "max_recoveries")
}

// testClaimer claims, under lease, tasks of handler "t", as a daemon
// named "test".
func testClaimer(lease time.Duration) Claimer {
	return NewClaimer("test", []string{"t"}, lease)
}

// put submits a task of handler "t" in queue, changed by mod (when not
// nil), and returns it as stored.
func (e *env) put(t *testing.T, queue string, mod func(*tasks.Task)) *tasks.Task {
	t.Helper()
	task := newTask(queue)
	if mod != nil {
		mod(task)
	}
	e.submit(t, task)
	return task
}

// claim claims up to want of ids in queue for cl with claim.lua, as a
// daemon does, and returns what it got and 4 heads of the queue.
func (e *env) claim(queue string, cl Claimer, want int, ids ...string) ([]Claimed, []Head, error) {
	r, err := e.store.Claim(context.Background(), ClaimParams{Queue: queue, Claimer: cl, Want: want, Heads: 4, Candidates: Plain(ids...)})
	return r.Got, r.Heads, err
}

// finish writes fs with one finish.lua call, as a daemon does, and returns
// nHeads heads of each of their queues.
func (e *env) finish(fs []*Finishing, nHeads int) (map[string][]Head, error) {
	r, err := e.store.Finish(context.Background(), FinishParams{Tasks: fs, Heads: nHeads})
	return r.Heads, err
}
