package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// A paused queue is claimed by no daemon: its tasks wait, scheduled, while
// the other queues run; on resume every daemon claims them again, woken at
// once, and each runs once.
func TestAPausedQueueIsClaimedByNoDaemonUntilResumed(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 4} {
		cfg := Config{Partitions: n, Queues: []string{"held", "free"}, Workers: 2, SafetyWait: time.Minute}
		e := setup(t, cfg)
		ctx := context.Background()
		require.NoError(t, e.client.PauseQueue(ctx, "held"))
		ds := []*Scheduler{e.start(), e.start(), e.start()}
		var held []*tasks.Task
		for range 20 {
			held = append(held, e.submit(tasks.Spec{Name: "record", Queue: "held"}))
		}
		free := e.submit(tasks.Spec{Name: "record", Queue: "free"})
		require.Equal(t, tasks.Succeeded, e.wait(free.ID, 5*time.Second).State, "another queue runs beside it")
		require.Eventually(t, func() bool {
			var p int64
			for _, d := range ds {
				p += d.Counters().PausedClaims
			}
			return p > 0
		}, 5*time.Second, time.Millisecond, "the daemons tried, and were refused")
		for _, task := range held {
			require.Zero(t, e.runs.count(task.ID), "partitions %d", n)
		}
		qs, err := e.client.Queues(ctx)
		require.NoError(t, err)
		require.Equal(t, []wire.Queue{{Name: "free", QueueStats: wire.QueueStats{}}, {Name: "held", QueueStats: wire.QueueStats{Scheduled: 20, Paused: true}}}, qs)
		st, err := e.client.Stats(ctx)
		require.NoError(t, err)
		require.True(t, st.Queues["held"].Paused)

		require.NoError(t, e.client.ResumeQueue(ctx, "held"))
		for _, task := range held {
			require.Equal(t, tasks.Succeeded, e.wait(task.ID, 5*time.Second).State, "woken by the resume, not the one-minute safety wait")
			require.Equal(t, 1, e.runs.count(task.ID))
		}
	}
}

// Pausing takes effect when it returns: no task of the queue starts
// after, on any daemon, even under a steady stream of due tasks.
func TestNoTaskStartsAfterPauseReturns(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 4})
	for range 3 {
		e.start()
	}
	ctx := context.Background()
	specs := make([]tasks.Spec, 300)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "record", In: time.Duration(i) * time.Millisecond}
	}
	ts, err := e.client.SubmitMany(ctx, specs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.runs.order()) >= 50 }, 5*time.Second, time.Millisecond)
	require.NoError(t, e.client.PauseQueue(ctx, tasks.DefaultQueue))
	paused := time.Now()
	started := len(e.runs.order())
	require.Less(t, started, 300, "paused before the stream ended")
	for _, task := range ts {
		got, err := e.client.Get(ctx, task.ID)
		require.NoError(t, err)
		if !got.StartedAt.IsZero() {
			require.False(t, got.StartedAt.After(paused), "task %s started %s after the pause returned at %s", got.ID, got.StartedAt, paused)
		}
	}
	require.NoError(t, e.client.ResumeQueue(ctx, tasks.DefaultQueue))
	for _, task := range ts {
		require.Equal(t, tasks.Succeeded, e.wait(task.ID, 10*time.Second).State)
		require.Equal(t, 1, e.runs.count(task.ID))
	}
}

// A paused schedule fires no occurrence, on any daemon, until resumed; on
// resume it goes on from its next slot after now (the slots it missed do
// not run), and a cancel of a paused one works as of an active one.
func TestAPausedScheduleFiresNothingUntilResumed(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Partitions: 4, SafetyWait: 100 * time.Millisecond})
	e.start()
	e.start()
	ctx := context.Background()
	sc, err := e.client.SubmitSchedule(ctx, wire.ScheduleSpec{Name: "tick", Task: tasks.Spec{Name: "record"}, Every: 200 * time.Millisecond})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.runs.order()) >= 2 }, 5*time.Second, time.Millisecond)

	got, err := e.client.PauseSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.SchedulePaused, got.State)
	// Nothing of it is left to fire: no occurrence is due in any
	// partition (one claimed before the pause may still run), and only a
	// claim of an occurrence of an active schedule writes the next one.
	sp := e.space()
	for p := range sp.N() {
		due, err := e.rdb.ZRange(ctx, sp.Part(p).Due(tasks.DefaultQueue), 0, -1).Result()
		require.NoError(t, err)
		require.Empty(t, due, "partition %d has an occurrence due", p)
	}
	raw, err := e.rdb.HGetAll(ctx, sp.KeysOf(sc.ID).Schedule(sc.ID)).Result()
	require.NoError(t, err)
	require.Equal(t, "", raw["pending"], "it names no pending occurrence")
	again, err := e.client.SubmitSchedule(ctx, wire.ScheduleSpec{Name: "tick", Task: tasks.Spec{Name: "record"}, Every: 200 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, wire.SchedulePaused, again.State, "upserting the same spec (a daemon's restart) keeps it paused")
	list, err := e.client.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1, "the listing shows it, paused")
	require.Equal(t, wire.SchedulePaused, list[0].State)

	resumed := time.Now()
	got, err = e.client.ResumeSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.ScheduleActive, got.State)
	require.False(t, got.NextAt.Before(resumed.Truncate(time.Millisecond)), "it goes on from its next slot after now")
	n := len(e.runs.order())
	require.Eventually(t, func() bool { return len(e.runs.order()) >= n+2 }, 5*time.Second, time.Millisecond, "it fires again")

	_, err = e.client.PauseSchedule(ctx, sc.ID)
	require.NoError(t, err)
	canceled, err := e.client.CancelSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.ScheduleCanceled, canceled.State)
	_, err = e.client.ResumeSchedule(ctx, sc.ID)
	require.ErrorIs(t, err, wire.ErrFinished)
}
