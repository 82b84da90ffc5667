package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// A Redis that evicts keys (maxmemory-policy allkeys-lru) can drop a task's
// record while the index still names it. These tests delete the record with
// miniredis's Del, as an eviction would, and follow the task through the
// daemon's real paths: claim.lua, finish.lua and recover.lua.

// waitState polls until task id's record exists in state, and returns it.
func (e *env) waitState(id string, state tasks.State, d time.Duration) *tasks.Task {
	e.t.Helper()
	var rec *tasks.Task
	require.Eventually(e.t, func() bool {
		got, err := e.client.Get(context.Background(), id)
		if err != nil {
			return false
		}
		rec = got
		return got.State == state
	}, d, time.Millisecond, "task %s never reached %s", id, state)
	return rec
}

// A scheduled task whose record vanishes before it is due does not vanish
// without a trace: at its due time the claim records it as failed, says so
// on the events stream, and the daemon counts it.
func TestScheduledTaskWhoseRecordVanishedIsRecordedAsFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.client.Events(ctx)
	require.NoError(t, err)
	s := e.start()

	task := e.submit(tasks.Spec{Name: "record", In: 300 * time.Millisecond})
	require.Equal(t, wire.EventQueued, nextEvent(t, stream, task.ID).Kind)
	require.True(t, e.mr.Del(e.keys.Task(task.ID)), "the record was there to delete")

	ev := nextEvent(t, stream, task.ID)
	require.Equal(t, wire.EventFailed, ev.Kind)
	require.Equal(t, "default", ev.Queue)
	require.Equal(t, "?", ev.Name, "its name went with its record")

	rec, err := e.client.Get(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Failed, rec.State)
	require.Contains(t, rec.Error, "its record vanished from Redis while it was scheduled")
	require.Zero(t, e.runs.count(task.ID), "nothing is left to run")
	require.Eventually(t, func() bool { return s.Counters().Vanished == 1 }, 5*time.Second, time.Millisecond)

	_, err = e.rdb.ZScore(ctx, e.keys.Done(tasks.Failed), task.ID).Result()
	require.NoError(t, err, "it is in the failed set")
	require.Zero(t, e.rdb.ZCard(ctx, e.keys.Due("default")).Val(), "it left the index")
	ttl := e.mr.TTL(e.keys.Task(task.ID))
	require.Positive(t, ttl, "the new record expires like any finished one")
	require.LessOrEqual(t, ttl, 24*time.Hour)
}

// A running task whose record vanishes keeps running: its daemon goes on
// renewing its lease (no other daemon can claim it: it is in no index), and
// its outcome is written anew when it ends, naming the vanishing, so its
// children still hear of it and run.
func TestRunningParentWhoseRecordVanishedStillReleasesItsChild(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	clk := e.fakeTime()
	s := e.start()
	ctx := context.Background()
	parent := e.submit(tasks.Spec{Name: "gated"})
	child := e.submit(tasks.Spec{Name: "parents", After: []string{parent.ID}})
	e.waitRun(parent.ID, 5*time.Second)

	require.True(t, e.mr.Del(e.keys.Task(parent.ID)))
	// Let two leases go by, a third of one at a time, so a daemon that
	// stopped renewing the lease of a task without a record would have
	// lost it: its heartbeat's time is the daemon's score in the daemon
	// set, by Redis's clock.
	gone := clk.Now().UnixMilli()
	for range 7 {
		at := clk.Now().Add(s.cfg.Lease / 3).UnixMilli()
		advanceWhen(t, clk, 2, s.cfg.Lease/3)
		require.Eventually(t, func() bool {
			beat, err := e.rdb.ZScore(ctx, e.keys.Daemons(), s.ID()).Result()
			return err == nil && int64(beat) >= at
		}, 5*time.Second, time.Millisecond, "the heartbeat of the renewal")
	}
	beat, err := e.rdb.ZScore(ctx, e.keys.Daemons(), s.ID()).Result()
	require.NoError(t, err)
	require.Greater(t, int64(beat), gone+2*s.cfg.Lease.Milliseconds())
	require.Zero(t, s.Counters().LostClaims, "its daemon still holds the claim")
	close(e.gate)

	done := e.wait(child.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State, done.Error)
	require.Equal(t, 1, e.runs.count(child.ID))
	os := outcomes(t, done)
	require.Len(t, os, 1)
	require.Equal(t, parent.ID, os[0].ID)
	require.Equal(t, tasks.Succeeded, os[0].State)
	require.JSONEq(t, `"done"`, string(os[0].Result))
	require.Contains(t, os[0].Error, "its record vanished from Redis while it ran")

	rec, err := e.client.Get(ctx, parent.ID)
	require.NoError(t, err)
	require.Equal(t, tasks.Succeeded, rec.State)
	require.Equal(t, "gated", rec.Name, "its name is known to its daemon")
	require.JSONEq(t, `"done"`, string(rec.Result))
	require.Contains(t, rec.Error, "its record vanished from Redis while it ran (evicted, or deleted by hand): only its outcome was kept")
	require.Equal(t, 1, e.runs.count(parent.ID), "it ran once: no recovery re-ran it")
	require.Equal(t, []string{child.ID}, rec.Children)
	require.Positive(t, e.mr.TTL(e.keys.Task(parent.ID)))
	require.Eventually(t, func() bool { return s.Counters().Vanished == 1 }, 5*time.Second, time.Millisecond)
	require.Zero(t, s.Counters().LostClaims)
	require.Zero(t, s.Counters().Recovered)
}

// claimExpired claims task id for a daemon that is not there, under a
// lease that has already expired: as if its daemon died right after the
// claim.
func (e *env) claimExpired(id string) {
	e.t.Helper()
	got, _, err := e.claim("default", testClaimer(0), 1, id)
	require.NoError(e.t, err)
	require.Len(e.t, got, 1)
	require.NoError(e.t, got[0].Err)
}

// A running task whose record vanishes and whose daemon stops renewing its
// lease is recorded as failed by the daemon that finds the lease expired.
func TestExpiredLeaseWhoseRecordVanishedIsRecordedAsFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	ctx := context.Background()
	task := e.submit(tasks.Spec{Name: "record"})
	e.claimExpired(task.ID)
	require.True(t, e.mr.Del(e.keys.Task(task.ID)))
	s := e.start()

	rec := e.waitState(task.ID, tasks.Failed, 10*time.Second)
	require.Contains(t, rec.Error, "its record vanished from Redis while it ran (evicted, or deleted by hand), and its daemon stopped renewing its lease")
	require.Eventually(t, func() bool { return s.Counters().Vanished == 1 }, 5*time.Second, time.Millisecond)
	require.Zero(t, s.Counters().Recovered, "it was not re-run: there is nothing to run")
	require.Zero(t, e.runs.count(task.ID))
	require.Zero(t, e.rdb.ZCard(ctx, e.keys.Lease("default")).Val(), "its lease is gone")
	_, err := e.rdb.ZScore(ctx, e.keys.Done(tasks.Failed), task.ID).Result()
	require.NoError(t, err, "it is in the failed set")
	require.Positive(t, e.mr.TTL(e.keys.Task(task.ID)))
}

// The children of such a task hear that it failed: a run child runs with
// its outcome, a fail child fails without running.
func TestExpiredLeaseWhoseRecordVanishedReleasesItsChildren(t *testing.T) {
	t.Parallel()
	e := depsSetup(t, Config{Workers: 2})
	task := e.submit(tasks.Spec{Name: "record"})
	runs := e.submit(tasks.Spec{Name: "parents", After: []string{task.ID}, OnParentFailure: tasks.PolicyRun})
	fails := e.submit(tasks.Spec{Name: "parents", After: []string{task.ID}})
	e.claimExpired(task.ID)
	require.True(t, e.mr.Del(e.keys.Task(task.ID)))
	s := e.start()

	done := e.wait(runs.ID, 10*time.Second)
	require.Equal(t, tasks.Succeeded, done.State, done.Error)
	os := outcomes(t, done)
	require.Len(t, os, 1)
	require.Equal(t, task.ID, os[0].ID)
	require.Equal(t, tasks.Failed, os[0].State)
	require.Contains(t, os[0].Error, "its record vanished from Redis while it ran")

	failed := e.wait(fails.ID, 10*time.Second)
	require.Equal(t, tasks.Failed, failed.State)
	require.Contains(t, failed.Error, task.ID)
	require.Zero(t, e.runs.count(fails.ID))
	require.Zero(t, e.rdb.ZCard(context.Background(), e.keys.Waiting()).Val(), "no child is left waiting")
	require.Eventually(t, func() bool { return s.Counters().Vanished == 1 }, 5*time.Second, time.Millisecond)
}
