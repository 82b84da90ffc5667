package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/deps"
	"github.com/dueq/dueq/tasks"
)

// The prelude's doomed is the Lua of deps.Verdict: for every final state
// of a parent and every on_parent_failure policy of its child, the
// scripts stop the child (schedule it at once, for its claimer to end
// without running it) exactly when Verdict, given the child's record as
// the scripts left it, says it does not run. Both ways a parent's outcome
// reaches a child are run: a parent that finishes while its child waits
// (release, in finish.lua and cancel.lua), and a child submitted after its
// parent finished (submit.lua).
func TestDoomedAgreesWithVerdict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, state := range []tasks.State{tasks.Succeeded, tasks.Failed, tasks.Canceled} {
		for _, policy := range []tasks.Policy{tasks.PolicyFail, tasks.PolicySkip, tasks.PolicyRun} {
			e := setup(t)
			parent, later := newTask("default"), newTask("default")
			later.Delay = time.Hour // never finishes here: the child waits for it
			e.submit(t, parent, later)
			child := e.child(t, policy, parent.ID, later.ID)
			e.end(t, parent, state)
			after := e.child(t, policy, parent.ID, later.ID)

			for how, id := range map[string]string{"released": child.ID, "submitted after": after.ID} {
				rec, err := e.store.Get(ctx, id)
				require.NoError(t, err)
				require.Len(t, rec.Outcomes, 1, "%s %s %s", how, state, policy)
				stopped := rec.State == tasks.Scheduled // else it waits for its other parent
				run, _, _ := deps.Verdict(rec)
				require.Equal(t, !run, stopped, "%s child of a %s parent under %s: Lua stops it: %v, Verdict runs it: %v",
					how, state, policy, stopped, run)
			}
		}
	}
}

// child submits a task with parents under policy, and returns it.
func (e *env) child(t *testing.T, policy tasks.Policy, parents ...string) *tasks.Task {
	t.Helper()
	c := newTask("default")
	c.Parents, c.OnParentFailure = parents, policy
	e.submit(t, c)
	return c
}

// end makes t, which is due, end in state: claimed and finished, or
// canceled.
func (e *env) end(t *testing.T, task *tasks.Task, state tasks.State) {
	t.Helper()
	ctx := context.Background()
	if state == tasks.Canceled {
		r, err := e.store.Cancel(ctx, CancelParams{ID: task.ID})
		require.NoError(t, err)
		require.True(t, r.Canceled)
		return
	}
	r, err := e.store.Claim(ctx, ClaimParams{Queue: task.Queue, Claimer: NewClaimer("d", []string{task.Name}, time.Minute),
		Want: 1, Heads: 1, Candidates: Plain(task.ID)})
	require.NoError(t, err)
	require.Len(t, r.Got, 1)
	claimed := r.Got[0].Task
	kids, err := e.rdb.LRange(ctx, e.store.Keys().Kids(task.ID), 0, -1).Result()
	require.NoError(t, err)
	f := &Finishing{Task: claimed, State: state, Result: []byte(`1`), Err: map[bool]string{true: "broke"}[state == tasks.Failed], Kids: kids, Ran: true}
	_, err = e.store.Finish(ctx, FinishParams{Tasks: []*Finishing{f}})
	require.NoError(t, err)
	require.Equal(t, FinishDone, f.Status)
}
