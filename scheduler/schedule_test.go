package scheduler

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// pendingOf returns the id of schedule id's pending occurrence, as its
// record in Redis names it.
func (e *env) pendingOf(id string) string {
	e.t.Helper()
	h, err := e.rdb.HGetAll(context.Background(), e.keys.Schedule(id)).Result()
	require.NoError(e.t, err)
	s, err := store.DecodeSchedule(id, h)
	require.NoError(e.t, err)
	return s.Pending
}

// fakeClock is a Clock a test sets.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) Now() time.Time       { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Set(t time.Time)      { c.ms.Store(t.UnixMilli()) }
func newFakeClock(t time.Time) *fakeClock { c := &fakeClock{}; c.Set(t); return c }

func TestEveryScheduleFiresEachSlotOnceAcrossDaemons(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 2})
	for range 3 {
		e.start()
	}
	ctx := context.Background()
	sc, err := e.client.SubmitSchedule(ctx, wire.ScheduleSpec{Task: tasks.Spec{Name: "record"}, Every: 200 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, store.IsScheduleID(sc.ID))
	require.Eventually(t, func() bool { return len(e.runs.order()) >= 6 }, 10*time.Second, 5*time.Millisecond)
	_, err = e.client.CancelSchedule(ctx, sc.ID)
	require.NoError(t, err)

	ran := e.runs.order()
	var fires []int64
	for _, id := range ran {
		sid, fire, ok := store.ParseOccurrence(id)
		require.True(t, ok, id)
		require.Equal(t, sc.ID, sid)
		require.Equal(t, 1, e.runs.count(id), "slot %s ran more than once", id)
		fires = append(fires, fire.UnixMilli())
	}
	for i := 1; i < len(fires); i++ {
		require.EqualValues(t, 200, fires[i]-fires[i-1], "slots are exactly one interval apart")
	}
	done, err := e.client.Get(ctx, ran[0])
	require.NoError(t, err)
	require.Equal(t, sc.ID, done.Schedule)
	require.False(t, done.StartedAt.Before(done.DueAt))
	// Each slot's run is logged as it starts, its outcome written after.
	require.Eventually(t, func() bool {
		named, err := e.client.List(ctx, wire.ListOptions{Name: "record", State: tasks.Succeeded})
		return err == nil && len(named) >= 6
	}, 10*time.Second, 5*time.Millisecond)
}

func TestCronWithSecondsRunsAndNamesItsSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{Workers: 1})
	e.start()
	sc, err := e.client.SubmitSchedule(context.Background(), wire.ScheduleSpec{
		Task: tasks.Spec{Name: "record", Args: json.RawMessage(`{"tick":true}`)}, Cron: "* * * * * *"})
	require.NoError(t, err)
	require.Equal(t, sc.NextAt, sc.NextAt.Truncate(time.Second), "second slots")
	first := e.wait(e.pendingOf(sc.ID), 5*time.Second)
	require.Equal(t, tasks.Succeeded, first.State)
	require.JSONEq(t, `{"tick":true}`, string(first.Result))
	require.Equal(t, sc.ID, first.Schedule)
}

func TestMisfirePolicies(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		misfire wire.Misfire
		runs    int
		state   tasks.State
	}{{wire.MisfireRunOnce, 1, tasks.Succeeded}, {wire.MisfireSkip, 0, tasks.Canceled}} {
		t.Run(string(c.misfire), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(t0)
			e := setup(t, Config{Workers: 2, Clock: clock})
			e.mr.SetTime(t0) // Redis's clock decides; the daemons' agree with it here
			ctx := context.Background()
			sc, err := e.client.SubmitSchedule(ctx, wire.ScheduleSpec{Task: tasks.Spec{Name: "record"}, Every: time.Hour, Misfire: c.misfire})
			require.NoError(t, err)
			require.Equal(t, t0.Add(time.Hour), sc.NextAt)
			// Every daemon was down for five slots.
			clock.Set(t0.Add(5*time.Hour + 30*time.Minute))
			e.mr.SetTime(t0.Add(5*time.Hour + 30*time.Minute))
			e.start()
			missed := e.wait(store.OccurrenceID(sc.ID, t0.Add(time.Hour)), 5*time.Second)
			require.Equal(t, c.state, missed.State)
			if c.misfire == wire.MisfireSkip {
				require.Contains(t, missed.Error, "misfire is skip")
			}
			require.Len(t, e.runs.order(), c.runs, "one catch-up run at most, not one per missed slot")
			now, err := e.client.GetSchedule(ctx, sc.ID)
			require.NoError(t, err)
			require.Equal(t, t0.Add(6*time.Hour), now.NextAt, "the next slot after now")
			require.True(t, e.mr.Exists(e.keys.Task(store.OccurrenceID(sc.ID, t0.Add(6*time.Hour)))))
			for h := 2; h <= 5; h++ {
				require.False(t, e.mr.Exists(e.keys.Task(store.OccurrenceID(sc.ID, t0.Add(time.Duration(h)*time.Hour)))))
			}
		})
	}
}
