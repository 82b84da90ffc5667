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

// ids returns the ids of ts.
func ids(ts []*tasks.Task) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// A queue enters the queue set with the first task of it that is stored,
// whatever was refused before it in the same call (an unknown parent, a
// key already taken), so its tasks are in unfiltered listings and stats.
// Grouped Submits of different callers share a call: one caller's bad
// parent does not hide another's queue.
func TestAQueueIsListedWhenTheFirstTaskOfItInACallWasRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	got, err := e.client.SubmitMany(ctx, []tasks.Spec{
		{Name: "record", Queue: "reports", After: []string{"01JZZZZZZZZZZZZZZZZZZZZZZZ"}},
		{Name: "record", Queue: "reports"},
	})
	require.ErrorIs(t, err, tasks.ErrInvalid)
	require.Nil(t, got[0])
	require.NotNil(t, got[1])
	later := e.submit(tasks.Spec{Name: "record", Queue: "reports"})

	listed, err := e.client.List(ctx, wire.ListOptions{})
	require.NoError(t, err)
	require.Contains(t, ids(listed), got[1].ID, "the stored task of the call is listed")
	require.Contains(t, ids(listed), later.ID, "a later task of its queue is listed")
}

// The same when the task whose idempotency key was taken is the first of
// its queue: the key's task lives in another queue, so nothing of this
// queue was stored, yet the client marks the queue known and never adds it.
func TestAQueueIsListedWhenItsFirstSubmitReturnedAKeyedTaskOfAnotherQueue(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	first := e.submit(tasks.Spec{Name: "record", Queue: "default", Key: "nightly"})
	again := e.submit(tasks.Spec{Name: "record", Queue: "reports", Key: "nightly"})
	require.Equal(t, first.ID, again.ID)
	other := e.submit(tasks.Spec{Name: "record", Queue: "reports"})

	listed, err := e.client.List(ctx, wire.ListOptions{})
	require.NoError(t, err)
	require.Contains(t, ids(listed), other.ID, "a task of queue reports is listed")
}

// Two callers whose Submits are grouped into one call: the first names an
// unknown parent, the second's task is stored, and its queue must still be
// listed.
func TestAQueueIsListedWhenAnotherCallersRefusedSubmitWasGroupedBeforeIt(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	ctx := context.Background()
	e.submit(tasks.Spec{Name: "record"}) // loads the script
	e.client.sub.wait = time.Hour
	e.client.sub.mu.Lock()
	e.client.sub.last = 2 // as if the last group held two: the next waits for two
	e.client.sub.mu.Unlock()
	refused := make(chan error, 1)
	go func() {
		_, err := e.client.Submit(ctx, tasks.Spec{Name: "record", Queue: "reports", After: []string{"01JZZZZZZZZZZZZZZZZZZZZZZZ"}})
		refused <- err
	}()
	require.Eventually(t, func() bool {
		e.client.sub.mu.Lock()
		defer e.client.sub.mu.Unlock()
		return len(e.client.sub.queue) == 1
	}, 5*time.Second, time.Millisecond)
	stored := e.submit(tasks.Spec{Name: "record", Queue: "reports"})
	require.ErrorIs(t, <-refused, tasks.ErrInvalid)

	listed, err := e.client.List(ctx, wire.ListOptions{})
	require.NoError(t, err)
	require.Contains(t, ids(listed), stored.ID, "the other caller's task is listed")
}
