package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	e := setup(t, Config{Workers: 2, ShutdownGrace: time.Millisecond})
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
	e := setup(t, Config{Workers: 1, Lease: 300 * time.Millisecond})
	s := e.start()
	task := e.submit(tasks.Spec{Name: "block"})
	e.waitRun(task.ID, 5*time.Second)
	e.mr.HSet(e.client.x.keys.Task(task.ID), "run", "99") // another claim holds it now
	require.Eventually(t, func() bool { return s.Counters().LostClaims == 1 }, 5*time.Second, time.Millisecond)
	// Nobody renews it now: the lease expires, and the task is re-queued and
	// runs again, under a claim of its own.
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
	e := setup(t, Config{Workers: 1, Lease: 300 * time.Millisecond})
	healthy := e.start()
	task := e.submit(tasks.Spec{Name: "gated"})
	e.waitRun(task.ID, 5*time.Second)
	fast := e.start(func(c *Config) { c.Clock = skewedClock{20 * time.Second} })
	// Several of the fast daemon's looks at the lease go by (it wakes for
	// the lease deadline it reads, a lease or less away).
	require.Eventually(t, func() bool { return fast.Counters().Peeks+fast.Counters().DeadlineWakes >= 5 }, 10*time.Second, time.Millisecond)
	close(e.gate)
	done := e.wait(task.ID, 5*time.Second)
	require.Equal(t, tasks.Succeeded, done.State)
	require.Zero(t, done.Recoveries)
	require.Equal(t, 1, e.runs.count(task.ID))
	require.Zero(t, fast.Counters().Recovered+healthy.Counters().Recovered)
}
