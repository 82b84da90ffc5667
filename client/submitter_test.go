package client

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Concurrent Submits of one client share a round trip: those arriving
// while one is on its way go together next, as one script call.
func TestConcurrentSubmitsShareOneCall(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	e.submit(tasks.Spec{Name: "record"}) // loads the script
	var calls, first atomic.Int64
	release := make(chan struct{})
	e.rdb.AddHook(testutil.PipelineGate{Before: func(cmds []redis.Cmder) {
		if n := store.ScriptArg(cmds, "submit", 0); n > 0 {
			if calls.Add(1) == 1 {
				first.Store(int64(n))
				<-release
			}
		}
	}})
	const n = 50
	var wg sync.WaitGroup
	ids := make([]string, n)
	submit := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task, err := e.client.Submit(ctx, tasks.Spec{Name: "record", Args: json.RawMessage(strconv.Itoa(i))})
			if err == nil {
				ids[i] = task.ID
			}
		}()
	}
	submit(0)
	require.Eventually(t, func() bool { return first.Load() == 1 }, 10*time.Second, time.Millisecond)
	for i := 1; i < n; i++ {
		submit(i) // while the first is on its way
	}
	require.Eventually(t, func() bool {
		e.client.sub.mu.Lock()
		defer e.client.sub.mu.Unlock()
		return len(e.client.sub.queue) == n-1
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, 2, calls.Load(), "the first submit, then the other %d together", n-1)
	for i, id := range ids {
		rec, err := e.client.Get(ctx, id)
		require.NoError(t, err, "submit %d", i)
		require.JSONEq(t, strconv.Itoa(i), string(rec.Args))
	}
}

// One refused task in a bulk submit does not stop the others.
func TestSubmitManyStoresTheTasksAroundARefusedOne(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	ts, err := e.client.SubmitMany(ctx, []tasks.Spec{
		{Name: "record", Args: json.RawMessage(`1`)},
		{Name: "record", After: []string{"01NOSUCHTASK0000000000000"}},
		{Name: "record", Args: json.RawMessage(`3`)},
	})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.ErrorContains(t, err, "spec 1: ")
	require.ErrorContains(t, err, "parent 01NOSUCHTASK0000000000000 not found")
	require.Len(t, ts, 3)
	require.Nil(t, ts[1])
	for _, task := range []*tasks.Task{ts[0], ts[2]} {
		rec, err := e.client.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, tasks.Scheduled, rec.State)
	}
}

// Within one submit.lua call, a later task sees what an earlier one wrote:
// its idempotency key, and itself as a parent.
func TestOneSubmitCallKeepsTheOrderOfItsTasks(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	mk := func(spec tasks.Spec) *tasks.Task {
		require.NoError(t, spec.Normalize())
		return newTask(spec)
	}
	parent := mk(tasks.Spec{Name: "record", Key: "k", In: time.Hour})
	same := mk(tasks.Spec{Name: "record", Key: "k"})
	child := mk(tasks.Spec{Name: "record", After: []string{parent.ID}})
	out, err := e.client.stores.Part(0).Submit(ctx, store.SubmitParams{Tasks: []*tasks.Task{parent, same, child}, NewQueue: e.client.newQueue})
	require.NoError(t, err)
	require.Equal(t, []store.Submitted{{ID: parent.ID, Created: true}, {ID: parent.ID}, {ID: child.ID, Created: true}}, out)
	require.False(t, parent.CreatedAt.IsZero(), "the times Redis gave it")
	require.Equal(t, parent.CreatedAt.Add(time.Hour), parent.DueAt)
	rec, err := e.client.Get(ctx, child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Waiting, rec.State)
	rec, err = e.client.Get(ctx, parent.ID)
	require.NoError(t, err)
	require.Equal(t, []string{child.ID}, rec.Children)
}

// tripCount counts the pipelines a client sends: each submit group is one.
type tripCount struct{ n atomic.Int64 }

func (*tripCount) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*tripCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *tripCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// Under load a group waits for company: after a group of four, the next
// one waits until four submits are there (here the wait is long enough
// to see it), so it goes as one round trip, not four.
func TestSubmitGroupsWaitForCompanyUnderLoad(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	trips := &tripCount{}
	e.rdb.AddHook(trips)
	e.submit(tasks.Spec{Name: "record"}) // loads the script
	e.client.sub.wait = time.Hour
	e.client.sub.mu.Lock()
	e.client.sub.last = 4 // as if the last group held four
	e.client.sub.mu.Unlock()
	before := trips.n.Load()
	var wg sync.WaitGroup
	ids := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids <- e.submit(tasks.Spec{Name: "record"}).ID
		}()
		time.Sleep(time.Millisecond) // arriving one by one, as callers do
	}
	wg.Wait()
	close(ids)
	require.Equal(t, int64(1), trips.n.Load()-before, "four submits, one round trip")
	for id := range ids {
		_, err := e.client.Get(context.Background(), id)
		require.NoError(t, err)
	}
}

// A lone submit never waits for company, however long the wait may be:
// with no group before it, it is sent at once.
func TestALoneSubmitIsSentAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	e.client.sub.wait = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 { // one after another: each the only one
		_, err := e.client.Submit(ctx, tasks.Spec{Name: "record"})
		require.NoError(t, err, "a lone submit waited for company")
	}
}
