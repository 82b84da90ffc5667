package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
)

// skewedClock is the system clock off by a fixed offset.
type skewedClock struct{ off time.Duration }

func (c skewedClock) Now() time.Time { return time.Now().Add(c.off) }

// A task's outcome is written when its handler returns, even when the claim
// that went with it gave the freed loop to another task: here A gains a
// child after its claim (so its first finish call is refused for a stale
// children list) while the only other loop is busy.
func TestAnOutcomeIsWrittenWhileEveryLoopIsBusy(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, ShutdownGrace: new(time.Millisecond)})
	release := make(chan struct{})
	e.reg.Register("held", func(ctx context.Context, c *tasks.Call) (any, error) {
		e.runs.add(c.Task.ID)
		<-release
		return "a", nil
	})
	e.start()
	a := e.submit(tasks.Spec{Name: "held"})
	e.waitRun(a.ID, 5*time.Second)
	child := e.submit(tasks.Spec{Name: "record", After: []string{a.ID}})
	busy := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(busy.ID, 5*time.Second)
	next := e.submit(tasks.Spec{Name: "block"}) // takes A's loop when A returns
	close(release)
	done := e.wait(a.ID, 5*time.Second) // the lease is 15 s: no recovery is involved
	require.Equal(t, tasks.Succeeded, done.State)
	require.Zero(t, done.Recoveries)
	e.waitRun(next.ID, 5*time.Second)
	rec, err := e.client.Get(context.Background(), child.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Scheduled, rec.State, "released with A's outcome, waiting for a free loop")
	require.Equal(t, 1, e.runs.count(a.ID))
}

// A lease is renewed only under the claim that holds it: once another claim
// takes the task (here the record's claim token moves on, as a re-claim by
// another daemon does), this daemon stops renewing it, cancels its run, and
// the task's lease expires as any other.
func TestALeaseIsRenewedOnlyUnderItsClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	clk := e.fakeTime()
	s := e.start()
	task := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(task.ID, 5*time.Second)
	e.mr.HSet(e.keys.Task(task.ID), "run", "99") // another claim holds it now
	advanceWhen(t, clk, 1, 5*time.Second)        // the renewal finds it lost
	require.Eventually(t, func() bool { return s.Counters().LostClaims == 1 }, 5*time.Second, time.Millisecond)
	// Nobody renews it now: the lease expires, and the task is re-queued and
	// runs again, under a claim of its own.
	advanceWhen(t, clk, 2, 10*time.Second+time.Millisecond)
	require.Eventually(t, func() bool { return e.runs.count(task.ID) == 2 }, 5*time.Second, time.Millisecond)
	rec, err := e.client.Get(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, 1, rec.Recoveries)
	_, err = e.client.Cancel(context.Background(), task.ID)
	require.NoError(t, err)
}

// Redis's clock decides what is due: daemons whose clocks are seconds ahead
// or behind never start a task early, and run each once.
func TestSkewedClocksNeverStartATaskEarly(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	var mu sync.Mutex
	started := map[string][]time.Time{}
	e.reg.Register("stamp", func(ctx context.Context, c *tasks.Call) (any, error) {
		mu.Lock()
		started[c.Task.ID] = append(started[c.Task.ID], time.Now()) // miniredis's clock is the system's
		mu.Unlock()
		return nil, nil
	})
	e.start(func(c *Config) { c.Clock = skewedClock{3 * time.Second} })
	e.start(func(c *Config) { c.Clock = skewedClock{-3 * time.Second} })
	var ids []string
	for range 10 {
		ids = append(ids, e.submit(tasks.Spec{Name: "stamp", In: 500 * time.Millisecond}).ID)
	}
	for _, id := range ids {
		done := e.wait(id, 10*time.Second)
		mu.Lock()
		runs := started[id]
		mu.Unlock()
		require.Len(t, runs, 1, "task %s ran once", id)
		require.False(t, runs[0].Before(done.DueAt), "task %s started %s before it was due", id, done.DueAt.Sub(runs[0]))
		require.False(t, done.StartedAt.Before(done.DueAt), "its record agrees: started_at is Redis's time")
	}
}

// A daemon whose clock is far ahead does not take the lease of a task a
// healthy daemon runs: leases expire by Redis's clock.
func TestAFastClockNeverTakesAHealthyLease(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1, Lease: 2 * time.Second, SafetyWait: 100 * time.Millisecond})
	healthy := e.start()
	task := e.submit(tasks.Spec{Name: "gated"})
	e.waitRun(task.ID, 5*time.Second)
	fast := e.start(func(c *Config) { c.Clock = skewedClock{20 * time.Second} })
	// Several of the fast daemon's looks at the lease go by (it re-reads it
	// at each safety wake).
	require.Eventually(t, func() bool { return fast.Counters().Peeks+fast.Counters().DeadlineWakes >= 5 }, 10*time.Second, time.Millisecond)
	close(e.gate)
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Zero(t, done.Recoveries)
	require.Equal(t, 1, e.runs.count(task.ID))
	require.Zero(t, fast.Counters().Recovered+healthy.Counters().Recovered)
}

// A daemon that lost a claim while frozen and then claimed the same task
// again holds the new claim: the old run is canceled and dropped, and its
// end does not stop the new run's lease from being renewed.
func TestAThawedRunDoesNotCutOffItsDaemonsNewerClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, Lease: time.Second})
	first := make(chan struct{})
	var mu sync.Mutex
	runs := 0
	e.reg.Register("twice", func(ctx context.Context, c *tasks.Call) (any, error) {
		mu.Lock()
		runs++
		n := runs
		mu.Unlock()
		e.runs.add(c.Task.ID)
		if n == 1 {
			<-first // frozen: ignores its context
			return "first", nil
		}
		select { // the later run takes several leases
		case <-time.After(2500 * time.Millisecond):
			return "later", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	s := e.start()
	task := e.submit(tasks.Spec{Name: "twice"})
	e.waitRun(task.ID, 5*time.Second)
	// Its lease lapses, as if the daemon had frozen, and it is recovered
	// (again, should the daemon's keeper renew it in between).
	require.Eventually(t, func() bool {
		e.mr.ZAdd(e.keys.Lease("default"), 1, task.ID)
		n, err := e.store.Recover(context.Background(), store.RecoverParams{Queue: "default", ID: task.ID, MaxRecoveries: 5})
		require.NoError(t, err)
		return n == store.RecoverRequeued
	}, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return e.runs.count(task.ID) == 2 }, 5*time.Second, time.Millisecond, "claimed again here")
	close(first) // the old run ends now
	done := e.wait(task.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.JSONEq(t, `"later"`, string(done.Result))
	require.Equal(t, 2, e.runs.count(task.ID), "the new claim kept its lease: no third run")
	require.Equal(t, 1, done.Recoveries)
	require.EqualValues(t, 1, s.Counters().LostClaims)
}

// A small step of a daemon's clock (under the jump that resets its
// estimate of Redis's clock at once) does not cost a run of empty claims:
// a claim that finds nothing due corrects the estimate.
func TestASmallClockStepCostsNoRunOfEmptyClaims(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	var off atomic.Int64
	s := e.start(func(c *Config) { c.Clock = stepClock{&off} })
	e.wait(e.submit(tasks.Spec{Name: "record"}).ID, 5*time.Second)
	off.Store(int64(40 * time.Millisecond))
	before := s.Counters().ClaimCalls
	for range 5 {
		e.wait(e.submit(tasks.Spec{Name: "record", In: 200 * time.Millisecond}).ID, 5*time.Second)
	}
	require.Less(t, s.Counters().ClaimCalls-before, int64(15), "about one claim per task")
}

// stepClock is the system clock plus an offset that a test can step.
type stepClock struct{ off *atomic.Int64 }

func (c stepClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// A scheduled parent whose record vanished is recorded as failed, and its
// waiting child hears of it (and fails by its policy) instead of waiting
// for ever.
func TestAVanishedScheduledParentReleasesItsChild(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	p := e.submit(tasks.Spec{Name: "record", In: 300 * time.Millisecond})
	child := e.submit(tasks.Spec{Name: "record", After: []string{p.ID}})
	e.mr.Del(e.keys.Task(p.ID))
	s := e.start()
	var done *tasks.Task
	require.Eventually(t, func() bool { // Wait would answer "not found" until it is recorded
		var err error
		done, err = e.client.Get(context.Background(), p.ID)
		return err == nil && done.State.Finished()
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, tasks.Failed, done.State)
	require.Contains(t, done.Error, "vanished")
	c := e.wait(child.ID, 5*time.Second)
	require.Equal(t, tasks.Failed, c.State)
	require.Contains(t, c.Error, "vanished")
	require.EqualValues(t, 1, s.Counters().Vanished)
	require.Zero(t, e.runs.count(child.ID))
}

// A retry that is claimed again at once, by the daemon whose attempt just
// failed, is the task's next attempt, not a claim lost to another daemon.
func TestARetryClaimedAtOnceIsNotALostClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2, RetryBase: time.Millisecond, RetryCap: time.Millisecond})
	e.reg.Register("flaky", func(_ context.Context, c *tasks.Call) (any, error) {
		if c.Task.Attempts < 5 {
			return nil, errors.New("not yet")
		}
		return "done", nil
	})
	s := e.start()
	for range 5 {
		done := e.wait(e.submit(tasks.Spec{Name: "flaky", MaxAttempts: 5}).ID, 10*time.Second)
		require.Equal(t, tasks.Succeeded, done.State)
		require.Equal(t, 5, done.Attempts)
		require.Len(t, done.AttemptErrors, 4, "each failed attempt's error")
	}
	require.Zero(t, s.Counters().LostClaims)
}
