package client

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/internal/store"
	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

func TestCancelScheduleStopsFutureOccurrences(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{Workers: 1})
	ctx := context.Background()
	sc, err := e.client.SubmitSchedule(ctx, wire.ScheduleSpec{Task: tasks.Spec{Name: "record"}, Cron: "@hourly"})
	require.NoError(t, err)
	pending := e.pendingOf(sc.ID)
	require.Equal(t, store.OccurrenceID(sc.ID, sc.NextAt), pending)
	got, err := e.client.CancelSchedule(ctx, sc.ID)
	require.NoError(t, err)
	require.Equal(t, wire.ScheduleCanceled, got.State)
	occ, err := e.client.Get(ctx, pending)
	require.NoError(t, err)
	require.Equal(t, tasks.Canceled, occ.State)
	due, err := e.rdb.ZCard(ctx, e.keys.Due("default")).Result()
	require.NoError(t, err)
	require.Zero(t, due)
	list, err := e.client.Schedules(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = e.client.CancelSchedule(ctx, sc.ID)
	require.ErrorIs(t, err, wire.ErrFinished)
}

func TestNamedSchedulesUpsertWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	spec := wire.ScheduleSpec{Name: "nightly", Task: tasks.Spec{Name: "record"}, Cron: "0 3 * * *"}
	var wg sync.WaitGroup
	ids := make([]string, 5)
	for i := range ids { // five daemons starting at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.client.SubmitSchedule(ctx, spec)
			if err == nil {
				ids[i] = s.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	again, err := e.client.SubmitSchedule(ctx, spec) // a restart
	require.NoError(t, err)
	require.Equal(t, ids[0], again.ID)
	againPending := e.pendingOf(again.ID)
	list, err := e.client.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	due, err := e.rdb.ZRange(ctx, e.keys.Due("default"), 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{againPending}, due)

	spec.Cron = "0 4 * * *" // the config changed
	changed, err := e.client.SubmitSchedule(ctx, spec)
	require.NoError(t, err)
	require.Equal(t, ids[0], changed.ID)
	require.Equal(t, 4, changed.NextAt.Hour())
	due, err = e.rdb.ZRange(ctx, e.keys.Due("default"), 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{e.pendingOf(changed.ID)}, due, "the old slot is gone")
	require.False(t, e.mr.Exists(e.keys.Task(againPending)))
}

func TestInvalidSchedulesAreRejectedWithoutPanicOrWrites(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	for name, spec := range map[string]wire.ScheduleSpec{
		"no rule":       {Task: tasks.Spec{Name: "record"}},
		"both":          {Task: tasks.Spec{Name: "record"}, Every: time.Second, Cron: "* * * * *"},
		"tz only":       {Task: tasks.Spec{Name: "record"}, Cron: "TZ=Europe/Berlin"},
		"bad cron":      {Task: tasks.Spec{Name: "record"}, Cron: "61 * * * *"},
		"tiny interval": {Task: tasks.Spec{Name: "record"}, Every: time.Millisecond},
		"with in":       {Task: tasks.Spec{Name: "record", In: time.Second}, Every: time.Second},
		"bad misfire":   {Task: tasks.Spec{Name: "record"}, Every: time.Second, Misfire: "sometimes"},
		"bad name":      {Name: "a b", Task: tasks.Spec{Name: "record"}, Every: time.Second},
		"bad task":      {Task: tasks.Spec{Name: ""}, Every: time.Second},
	} {
		_, err := e.client.SubmitSchedule(context.Background(), spec)
		require.ErrorIs(t, err, tasks.ErrInvalid, name)
		require.False(t, strings.Contains(err.Error(), "panic:"), name)
	}
	require.Empty(t, e.mr.Keys())
}

// A client whose clock is far behind schedules a recurring task's first
// slot by Redis's clock.
func TestASkewedClientSchedulesByRedisClock(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	c, err := New(e.rdb, Config{Clock: skewedClock{-50 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	sc, err := c.SubmitSchedule(context.Background(), wire.ScheduleSpec{Every: time.Minute, Task: tasks.Spec{Name: "record"}})
	require.NoError(t, err)
	require.Greater(t, time.Until(sc.NextAt), 55*time.Second, "an every-minute schedule's first slot is a minute away")
}

// skewedClock is the system clock off by a fixed offset.
type skewedClock struct{ off time.Duration }

func (c skewedClock) Now() time.Time { return time.Now().Add(c.off) }
