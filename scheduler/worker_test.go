package scheduler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/transport"
)

func TestFailedAttemptsAreRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, RetryBase: 10 * time.Millisecond, RetryCap: 20 * time.Millisecond})
	var calls atomic.Int32
	e.reg.Register("flaky", func(ctx context.Context, c *tasks.Call) (any, error) {
		if calls.Add(1) < 3 {
			return nil, errors.New("not yet")
		}
		return "ok", nil
	})
	e.start()
	task := e.submit(tasks.Spec{Name: "flaky", MaxAttempts: 3})
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Equal(t, 3, done.Attempts)
	require.Empty(t, done.Error)

	calls.Store(-10)
	task = e.submit(tasks.Spec{Name: "flaky", MaxAttempts: 2})
	done = e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Equal(t, 2, done.Attempts)
	require.Equal(t, "not yet", done.Error)
}

func TestTimeoutCancelsTheHandler(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	e.start()
	task := e.submit(tasks.Spec{Name: "block", Timeout: 50 * time.Millisecond})
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, "timed out after 50ms")
}

func TestHandlerPanicFailsTheTask(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	e.reg.Register("panics", func(ctx context.Context, c *tasks.Call) (any, error) { panic("boom") })
	e.start()
	done := e.wait(e.submit(tasks.Spec{Name: "panics"}).ID, 5*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, "panicked: boom")
}

// A daemon claims only tasks whose handler it has: the others stay due,
// unclaimed and unfailed, for a daemon that has the handler, and the tasks
// behind them are not held up.
func TestADaemonClaimsOnlyTasksWhoseHandlerItHas(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	a := e.start()
	var special []string
	for range 20 { // many more than the heads a 2-loop daemon reads
		special = append(special, e.submit(tasks.Spec{Name: "special"}).ID)
	}
	behind := e.submit(tasks.Spec{Name: "record"})
	require.Equal(t, tasks.Succeeded, e.wait(behind.ID, 10*time.Second).State)
	ctx := context.Background()
	for _, id := range special {
		rec, err := e.client.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tasks.Scheduled, rec.State, "a daemon without its handler leaves it due")
		require.Zero(t, rec.Attempts)
	}

	reg := tasks.NewRegistry()
	reg.Register("special", func(ctx context.Context, c *tasks.Call) (any, error) { return "special", nil })
	b := e.startWith(reg, e.cfg)
	for _, id := range special {
		rec := e.wait(id, 10*time.Second)
		require.Equal(t, tasks.Succeeded, rec.State)
		require.Equal(t, b.ID(), rec.Daemon, "run by the daemon that has its handler")
	}
	require.Zero(t, a.Counters().Failed)
}

func TestFailedTaskKeepsWhatItsHandlerReturned(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	e.reg.Register("exit1", func(ctx context.Context, c *tasks.Call) (any, error) {
		return map[string]int{"exit": 1}, errors.New("exit status 1")
	})
	e.start()
	done := e.wait(e.submit(tasks.Spec{Name: "exit1"}).ID, 5*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.JSONEq(t, `{"exit":1}`, string(done.Result))
	require.Equal(t, "exit status 1", done.Error)
}

func TestHandlerIgnoringItsContextIsReportedAndTheLoopMovesOn(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.reg.Register("stubborn", func(ctx context.Context, c *tasks.Call) (any, error) {
		<-release // ignores ctx
		return "too late", nil
	})
	e.start()
	stubborn := e.submit(tasks.Spec{Name: "stubborn", Timeout: 50 * time.Millisecond})
	next := e.submit(tasks.Spec{Name: "record"})
	done := e.wait(stubborn.ID, 10*time.Second)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, "timed out after 50ms")
	require.Contains(t, done.Error, "did not return")
	require.Equal(t, tasks.Succeeded, e.wait(next.ID, 10*time.Second).State, "the only loop is free again")
}

func TestARetryIsVisibleInTheRecord(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, RetryBase: time.Hour, RetryCap: time.Hour})
	e.reg.Register("broken", func(ctx context.Context, c *tasks.Call) (any, error) {
		return nil, errors.New("disk full")
	})
	e.start()
	task := e.submit(tasks.Spec{Name: "broken", MaxAttempts: 3})
	var rec *tasks.Task
	require.Eventually(t, func() bool {
		var err error
		rec, err = e.client.Get(context.Background(), task.ID)
		return err == nil && rec.Attempts == 1 && rec.State == tasks.Scheduled
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, "disk full", rec.Error, "the last error")
	wait := time.Until(rec.DueAt)
	require.Greater(t, wait, 29*time.Minute, "the next due time: backoff with jitter, at least half the base")
	require.LessOrEqual(t, wait, time.Hour)
}

func TestBackoffGrowsExponentiallyWithJitterUpToTheCap(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{RetryBase: time.Second, RetryCap: 10 * time.Second})
	s, err := New(e.rdb, e.reg, e.cfg)
	require.NoError(t, err)
	for n, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 40: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := s.backoff(n)
			require.GreaterOrEqual(t, d, full/2, "attempt %d", n)
			require.LessOrEqual(t, d, full, "attempt %d", n)
			seen[d] = true
		}
		require.Greater(t, len(seen), 1, "attempt %d: jitter varies the wait", n)
	}
}

// A daemon claims only for free loops: a task released while every loop is
// busy waits in the index, unleased, instead of waiting in the daemon with a
// lease nobody renews (which would expire and count as a recovery).
func TestNoClaimWithoutAFreeLoop(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	s := e.start()
	h := e.submit(tasks.Spec{Name: "gated"})
	e.waitRun(h.ID, 10*time.Second)
	p := e.submit(tasks.Spec{Name: "record", In: 50 * time.Millisecond})
	b := e.submit(tasks.Spec{Name: "gated", After: []string{p.ID}})
	c := e.submit(tasks.Spec{Name: "gated", After: []string{p.ID}})
	// p ran on the second loop and released b and c; one of them now holds
	// that loop, and the other must wait in the index.
	// A claim for more tasks than free loops would have leased both at once.
	require.Eventually(t, func() bool { return e.runs.count(b.ID)+e.runs.count(c.ID) == 1 }, 10*time.Second, time.Millisecond)
	waiting := c
	if e.runs.count(c.ID) == 1 {
		waiting = b
	}
	rec, err := e.client.Get(context.Background(), waiting.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State, "no loop is free: it is not claimed")
	require.False(t, e.mr.Exists(e.keys.Lease("default")) &&
		slices.Contains(mustMembers(t, e, e.keys.Lease("default")), waiting.ID), "and holds no lease")
	close(e.gate)
	for _, id := range []string{h.ID, p.ID, b.ID, c.ID} {
		rec := e.wait(id, 10*time.Second)
		require.Equal(t, tasks.Succeeded, rec.State)
		require.Zero(t, rec.Recoveries, "%s", id)
	}
	require.Zero(t, s.Counters().Recovered)
}

func mustMembers(t *testing.T, e *env, key string) []string {
	t.Helper()
	ms, err := e.mr.ZMembers(key)
	require.NoError(t, err)
	return ms
}

// A task canceled while due far ahead and then retried is announced as due
// now; the dispatcher takes that over what it knew of the task, so it
// starts at once, not at the next safety wake.
func TestARetriedTaskStartsWithoutWaitingForTheSafetyWake(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, SafetyWait: time.Minute})
	s := e.start()
	task := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.Eventually(t, s.disp.idleWaiting, 5*time.Second, time.Millisecond, "it knows the task is due in an hour")
	ctx := context.Background()
	_, err := e.client.Cancel(ctx, task.ID)
	require.NoError(t, err)
	_, err = e.client.Retry(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, e.wait(task.ID, 10*time.Second).State, "well before the safety wake, a minute away")
}

// More due tasks of a handler this daemon lacks than it looks past: it
// claims from the queue once per wake, never in a loop.
func TestManyTasksOfAMissingHandlerDoNotSpinTheClaims(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, SafetyWait: 100 * time.Millisecond})
	specs := make([]tasks.Spec, maxForeign+10)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "special"}
	}
	_, err := e.client.SubmitMany(context.Background(), specs)
	require.NoError(t, err)
	s := e.start()
	// Each claim reads past a thousand tasks, which the race detector
	// makes slow on miniredis: the deadlines are generous, the assertion is
	// the count of claims per wake.
	require.Eventually(t, func() bool { return s.Counters().SafetyWakes >= 2 }, time.Minute, time.Millisecond)
	c1 := s.Counters()
	require.Eventually(t, func() bool { return s.Counters().SafetyWakes >= c1.SafetyWakes+5 }, time.Minute, time.Millisecond)
	c2 := s.Counters()
	require.LessOrEqual(t, c2.ClaimCalls-c1.ClaimCalls, 3*(c2.SafetyWakes-c1.SafetyWakes+1), "a claim or so per wake, not a loop")
}

// The task a handler receives says which daemon runs it, as its record
// does once claimed.
func TestHandlerSeesTheDaemonThatRunsIt(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	ctx := context.Background()
	var mu sync.Mutex
	var seen string
	done := make(chan struct{})
	e.reg.Register("who", func(_ context.Context, c *tasks.Call) (any, error) {
		mu.Lock()
		seen = c.Task.Daemon
		mu.Unlock()
		close(done)
		return nil, nil
	})
	tk := e.submit(tasks.Spec{Name: "who", In: time.Hour})
	// As after an attempt that another daemon handed back.
	require.NoError(t, e.rdb.HSet(ctx, e.keys.Task(tk.ID), transport.FDaemon, "other-daemon").Err())
	require.NoError(t, e.rdb.ZAdd(ctx, e.keys.Due(tasks.DefaultQueue), redisZ(tk.ID)).Err())
	s := e.start()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("never ran")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, s.ID(), seen, "c.Task.Daemon during the run")
}
