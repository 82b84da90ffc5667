package client

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
	"github.com/dueq/dueq/wire"
)

// With several partitions, Stats sums each queue's counts over them, and
// its stranded count is of the queue's first StrandedSample due tasks of
// all of them together, as with one.
func TestStatsOfSeveralPartitionsCountsOneSample(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	c, err := New(e.rdb, Config{Partitions: 4})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	specs := make([]tasks.Spec, StrandedSample+50)
	for i := range specs {
		specs[i] = tasks.Spec{Name: "ghost", Queue: "nobody"}
	}
	_, err = c.SubmitMany(context.Background(), specs)
	require.NoError(t, err)
	st, err := c.Stats(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, StrandedSample+50, st.Queues["nobody"].Scheduled)
	require.Equal(t, []wire.Stranded{{Queue: "nobody", Handler: "ghost", Count: StrandedSample, Reason: "no daemon is alive"}}, st.Stranded)
}

// A listing of several partitions is in the order of one: scheduled tasks
// by due time, whatever partition each is in.
func TestAListingOfSeveralPartitionsIsMergedInDueOrder(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	c, err := New(e.rdb, Config{Partitions: 4})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	var want []string
	for i := range 40 {
		task, err := c.Submit(context.Background(), tasks.Spec{Name: "ghost", In: ms(40 - i)})
		require.NoError(t, err)
		want = append([]string{task.ID}, want...)
	}
	got, err := c.List(context.Background(), wire.ListOptions{State: tasks.Scheduled, Limit: 40})
	require.NoError(t, err)
	ids := make([]string, len(got))
	for i, task := range got {
		ids[i] = task.ID
	}
	require.Equal(t, want, ids)
	parts := map[int]bool{}
	for _, id := range ids {
		parts[c.space.Of(id)] = true
	}
	require.Greater(t, len(parts), 1, "the tasks are in several partitions")
}

func ms(n int) time.Duration { return time.Duration(n) * 10 * time.Minute }
