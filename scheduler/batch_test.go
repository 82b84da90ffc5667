package scheduler

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/internal/testutil"
	"github.com/dueq/dueq/tasks"
)

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
	e.rdb.AddHook(testutil.PipelineGate{Before: func(cmds []redis.Cmder) {
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

// finishCount is the number of tasks a pipeline finishes.
func finishCount(cmds []redis.Cmder) int {
	return store.ScriptArg(cmds, "finish", 5) // ARGV[6]: N
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
