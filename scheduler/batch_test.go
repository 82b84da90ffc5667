package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

// One finish.lua call answers each of its tasks on its own: written,
// refused (the claim is lost), already final, or "its children changed".
func TestFinishBatchAnswersEachTask(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		ids = append(ids, e.submit(tasks.Spec{Name: "record", Args: json.RawMessage(strconv.Itoa(i))}).ID)
	}
	other := e.submit(tasks.Spec{Name: "record", Queue: "other"})
	got, _, err := e.claim("default", testClaimer(time.Minute), 4, ids...)
	require.NoError(t, err)
	require.Len(t, got, 4)
	gotOther, _, err := e.claim("other", testClaimer(time.Minute), 1, other.ID)
	require.NoError(t, err)
	require.Len(t, gotOther, 1)

	stale := *got[1].Task
	stale.Run++ // a claim this worker no longer holds
	_, err = e.client.Cancel(ctx, got[2].ID)
	require.NoError(t, err)
	child := e.submit(tasks.Spec{Name: "record", After: []string{got[3].ID}})
	later := e.submit(tasks.Spec{Name: "record", In: time.Hour})

	fs := []*store.Finishing{
		{Task: got[0].Task, State: tasks.Succeeded, Result: []byte(`"zero"`), Ran: true},
		{Task: &stale, State: tasks.Succeeded},
		{Task: got[2].Task, State: tasks.Succeeded},
		{Task: got[3].Task, State: tasks.Failed, Err: "broke"},
		{Task: gotOther[0].Task, State: tasks.Succeeded},
	}
	hs, err := e.finish(fs, 4)
	require.NoError(t, err)
	require.Equal(t, store.FinishDone, fs[0].Status)
	require.Equal(t, store.FinishRefused, fs[1].Status)
	require.Equal(t, store.FinishFinal, fs[2].Status, "canceled while running: nothing to write")
	require.Equal(t, store.FinishKids, fs[3].Status)
	require.Equal(t, []string{"default " + child.ID}, fs[3].Kids)
	require.Equal(t, store.FinishDone, fs[4].Status)
	require.Equal(t, map[string][]store.Head{"default": {{ID: later.ID, Due: later.DueAt.UnixMilli()}}, "other": {}}, hs,
		"the heads of each queue of the batch")

	_, err = e.finish(fs[3:4], 0)
	require.NoError(t, err)
	require.Equal(t, store.FinishDone, fs[3].Status, "sent again with its children's keys")

	for id, want := range map[string]tasks.State{
		ids[0]: tasks.Succeeded, ids[1]: tasks.Running, ids[2]: tasks.Canceled, ids[3]: tasks.Failed,
		other.ID: tasks.Succeeded, child.ID: tasks.Scheduled, // released, to be failed unrun by its claimer
	} {
		rec, err := e.client.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, rec.State, id)
	}
	rec, _ := e.client.Get(ctx, ids[0])
	require.JSONEq(t, `"zero"`, string(rec.Result))
	rec, _ = e.client.Get(ctx, child.ID)
	require.Equal(t, tasks.Failed, rec.Outcomes[0].State, "the child holds its parent's outcome")
}

// The loops' outcomes that arrive while a finish call is on its way are
// written together by the next one.
func TestOutcomesOfManyLoopsShareOneFinishCall(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 8})
	var ids []string
	for range 8 {
		ids = append(ids, e.submit(tasks.Spec{Name: "gated"}).ID)
	}
	var s *Scheduler
	var held atomic.Bool
	var first atomic.Int64 // outcomes in the first finish call
	e.rdb.AddHook(pipelineGate{before: func(cmds []redis.Cmder) {
		// Hold the first pipeline that writes outcomes until every other
		// loop has handed its outcome in.
		if k := finishCount(cmds); k > 0 && held.CompareAndSwap(false, true) {
			first.Store(int64(k))
			for end := time.Now().Add(10 * time.Second); len(s.ready) < 8-k && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
		}
	}})
	s = e.start()
	for _, id := range ids {
		e.waitRun(id, 10*time.Second)
	}
	close(e.gate)
	for _, id := range ids {
		require.Equal(t, tasks.Succeeded, e.wait(id, 10*time.Second).State)
	}
	// The waits end on the events message, published inside the script; the
	// daemon counts once the script's reply is back.
	require.Eventually(t, func() bool { return s.Counters().Succeeded == 8 }, 10*time.Second, time.Millisecond)
	c := s.Counters()
	want := int64(1)
	if first.Load() < 8 {
		want = 2
	}
	require.Equal(t, want, c.FinishCalls, "one call for the first %d outcomes, one for those that waited", first.Load())
}

// Concurrent Submits of one client share a round trip: those arriving
// while one is on its way go together next, as one script call.
func TestConcurrentSubmitsShareOneCall(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	e.submit(tasks.Spec{Name: "record"}) // loads the script
	var calls, first atomic.Int64
	release := make(chan struct{})
	e.rdb.AddHook(pipelineGate{before: func(cmds []redis.Cmder) {
		if n := submitCount(cmds); n > 0 {
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
	e := setup(t, Config{})
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
	e := setup(t, Config{})
	ctx := context.Background()
	mk := func(spec tasks.Spec) *tasks.Task {
		require.NoError(t, spec.Normalize())
		return newTask(spec)
	}
	parent := mk(tasks.Spec{Name: "record", Key: "k", In: time.Hour})
	same := mk(tasks.Spec{Name: "record", Key: "k"})
	child := mk(tasks.Spec{Name: "record", After: []string{parent.ID}})
	out, err := e.store.Submit(ctx, store.SubmitParams{Tasks: []*tasks.Task{parent, same, child}, NewQueue: e.client.newQueue})
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

// pipelineGate calls before with each pipeline's commands before sending it.
type pipelineGate struct{ before func([]redis.Cmder) }

func (pipelineGate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (pipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g pipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.before(cmds)
		return next(ctx, cmds)
	}
}

// finishCount is the number of tasks a pipeline finishes.
func finishCount(cmds []redis.Cmder) int {
	return scriptArg(cmds, "finish", 5) // ARGV[6]: N
}

// submitCount is the number of tasks a pipeline submits.
func submitCount(cmds []redis.Cmder) int {
	return scriptArg(cmds, "submit", 0) // ARGV[1]: N
}

// scriptArg sums the numeric ARGV[i+1] of a pipeline's calls of script
// name.
func scriptArg(cmds []redis.Cmder, name string, i int) int {
	n := 0
	for _, c := range cmds {
		a := c.Args()
		if len(a) < 3 || a[0] != "evalsha" || store.ScriptName(fmt.Sprint(a[1])) != name {
			continue
		}
		nkeys, _ := strconv.Atoi(fmt.Sprint(a[2]))
		k, _ := strconv.Atoi(fmt.Sprint(a[3+nkeys+i]))
		n += k
	}
	return n
}

// An outcome handed in while Redis is down is written once it is back: the
// task does not run again.
func TestOutcomeWaitsOutARedisOutage(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, SafetyWait: 200 * time.Millisecond})
	s := e.start()
	task := e.submit(tasks.Spec{Name: "gated"})
	e.waitRun(task.ID, 10*time.Second)
	e.mr.Close()
	close(e.gate)
	require.Eventually(t, func() bool { return s.Counters().RedisErrors > 0 }, 10*time.Second, time.Millisecond,
		"the outcome could not be written")
	require.NoError(t, e.mr.Restart())
	done := e.wait(task.ID, 20*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `"done"`, string(done.Result))
	require.Zero(t, done.Recoveries)
	require.Equal(t, 1, e.runs.count(task.ID), "it ran once")
}

// A record keeps the length of its children list (field kids), so a finish
// need not read it; a record of format 1, written before that field
// existed, has its list measured instead, and its children are not missed.
func TestFinishCountsChildrenWithOrWithoutTheKidsField(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	for _, old := range []bool{false, true} {
		p := e.submit(tasks.Spec{Name: "record"})
		got, _, err := e.claim("default", testClaimer(time.Minute), 1, p.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		child := e.submit(tasks.Spec{Name: "record", After: []string{p.ID}})
		if old { // a format 1 record: no count
			e.mr.HDel(e.keys.Task(p.ID), transport.FKids)
			e.mr.HSet(e.keys.Task(p.ID), transport.FVersion, "1")
		} else {
			require.Equal(t, "1", e.mr.HGet(e.keys.Task(p.ID), transport.FKids))
		}
		f := &store.Finishing{Task: got[0].Task, State: tasks.Succeeded, Result: []byte(`1`), Ran: true}
		_, err = e.finish([]*store.Finishing{f}, 0)
		require.NoError(t, err)
		require.Equal(t, store.FinishKids, f.Status, "old record: %v", old)
		_, err = e.finish([]*store.Finishing{f}, 0)
		require.NoError(t, err)
		require.Equal(t, store.FinishDone, f.Status)
		rec, err := e.client.Get(ctx, child.ID)
		require.NoError(t, err)
		require.Equal(t, tasks.Scheduled, rec.State, "released")
	}
}
