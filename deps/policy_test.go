package deps

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	ok := tasks.Outcome{ID: "a", Name: "one", State: tasks.Succeeded}
	failed := tasks.Outcome{ID: "b", Name: "two", State: tasks.Failed, Error: "boom"}
	canceled := tasks.Outcome{ID: "c", Name: "three", State: tasks.Canceled}
	for _, c := range []struct {
		policy   tasks.Policy
		outcomes []tasks.Outcome
		run      bool
		state    tasks.State
		reason   string
	}{
		{tasks.PolicyFail, []tasks.Outcome{ok}, true, "", ""},
		{tasks.PolicyFail, []tasks.Outcome{ok, failed}, false, tasks.Failed, "parent b (two) failed: boom"},
		{tasks.PolicySkip, []tasks.Outcome{failed}, false, tasks.Canceled, "parent b (two) failed and on_parent_failure is skip: boom"},
		{tasks.PolicyRun, []tasks.Outcome{failed, ok}, true, "", ""},
		{tasks.PolicyRun, []tasks.Outcome{failed, canceled}, true, "", ""}, // run waits for every parent, however it ended
		{tasks.PolicyFail, []tasks.Outcome{ok, canceled}, false, tasks.Canceled, "parent c (three) was canceled"},
		{tasks.PolicySkip, []tasks.Outcome{canceled}, false, tasks.Canceled, "parent c (three) was canceled"},
		{tasks.PolicyFail, nil, true, "", ""},
	} {
		run, state, reason := Verdict(&tasks.Task{OnParentFailure: c.policy, Outcomes: c.outcomes})
		require.Equal(t, c.run, run, "%v %v", c.policy, c.outcomes)
		require.Equal(t, c.state, state)
		require.Equal(t, c.reason, reason)
	}
}
