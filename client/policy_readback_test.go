package client

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/scheduler"
	"github.com/dueq/dueq/tasks"
)

// Submit answers the task's record, and the record reads back the same:
// a task given on_parent_failure without parents keeps it.
func TestATaskWithOnParentFailureButNoParentsReadsBackAsSubmitted(t *testing.T) {
	t.Parallel()
	e := setup(t, scheduler.Config{})
	for _, p := range []tasks.Policy{tasks.PolicySkip, tasks.PolicyRun} {
		sub := e.submit(tasks.Spec{Name: "record", OnParentFailure: p})
		got, err := e.client.Get(context.Background(), sub.ID)
		require.NoError(t, err)
		require.Equal(t, sub.OnParentFailure, got.OnParentFailure, "Submit answered %s", p)
	}
}
