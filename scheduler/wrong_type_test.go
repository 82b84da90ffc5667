package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

// A key of the wrong type where a task's record should be (written by
// hand) is a damaged record: README promises that such a record "is
// failed with the reason and never blocks the tasks behind it". The claim
// script's HMGET fails with WRONGTYPE, so every claim of the queue fails
// and no task of it runs again.
func TestARecordKeyOfTheWrongTypeDoesNotBlockTheTasksBehindIt(t *testing.T) {
	t.Parallel()
	e := setup(t, Config{})
	k := e.keys
	require.NoError(t, e.mr.Set(k.Task("01WRONGTYPE"), "not a hash"))
	_, err := e.mr.ZAdd(k.Due("default"), 1, "01WRONGTYPE")
	require.NoError(t, err)
	e.start()
	behind := e.submit(tasks.Spec{Name: "record"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := e.client.Wait(ctx, behind.ID)
	require.NoError(t, err, "the task behind it is still %s", got.State)
	require.Equal(t, tasks.Succeeded, got.State)
}
