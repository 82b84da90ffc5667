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

// A listing skips a key of the wrong type where a record should be, as it
// skips a corrupt record.
func TestAListingSkipsARecordKeyOfTheWrongType(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	k := e.keys
	good := e.submit(tasks.Spec{Name: "record", In: time.Hour})
	require.NoError(t, e.mr.Set(k.Task("01WRONGTYPE"), "not a hash"))
	_, err := e.mr.ZAdd(k.Due("default"), 1, "01WRONGTYPE")
	require.NoError(t, err)
	listed, err := e.client.List(context.Background(), wire.ListOptions{})
	require.NoError(t, err)
	require.Contains(t, ids(listed), good.ID)
}
